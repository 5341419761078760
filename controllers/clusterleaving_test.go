package controllers

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// TestClusterLeaving checks the helper that tells a cluster leaving the
// fleet (pruneOnRemoval decides) from an app leaving a cluster (always
// pruned). A narrow helper: a fake client stands in for the hub; the
// behaviour itself is tested end to end in test/e2e
// (TestDeletingAFleetRepositoryFollowsPruneOnRemoval).
func TestClusterLeaving(t *testing.T) {
	scheme := runtime(t)
	now := metav1.Now()
	live := &flotillav1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "site", Namespace: "fleet"}}
	deleting := &flotillav1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "site", Namespace: "fleet", DeletionTimestamp: &now, Finalizers: []string{clusterFinalizer}}}
	repo := &flotillav1.FleetRepository{ObjectMeta: metav1.ObjectMeta{Name: "factories", Namespace: "fleet"}}
	sync := func(labels map[string]string) *flotillav1.ClusterSync {
		return &flotillav1.ClusterSync{ObjectMeta: metav1.ObjectMeta{Name: "web.site", Namespace: "fleet", Labels: labels}}
	}
	labelled := map[string]string{flotillav1.LabelRepository: "factories"}
	for _, tc := range []struct {
		name     string
		repo     bool
		cluster  *flotillav1.Cluster
		labels   map[string]string
		expected bool
	}{
		{"app removed, repository and cluster stay", true, live, labelled, false},
		{"cluster being deleted", true, deleting, labelled, true},
		{"repository gone", false, live, labelled, true},
		{"no repository label, cluster stays", false, live, nil, false},
		{"no repository label, cluster being deleted", false, deleting, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := fake.NewClientBuilder().WithScheme(scheme)
			if tc.repo {
				b = b.WithObjects(repo.DeepCopy())
			}
			r := &ClusterSyncReconciler{Client: b.Build()}
			got, err := r.clusterLeaving(context.Background(), sync(tc.labels), tc.cluster)
			if err != nil {
				t.Fatalf("clusterLeaving: %v", err)
			}
			if got != tc.expected {
				t.Fatalf("clusterLeaving = %v, want %v", got, tc.expected)
			}
		})
	}
}
