package controllers

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// fleetNS is the hub namespace of the hub-and-member tests.
const fleetNS = "fleet"

// hubAndMember starts a real hub (with Flotilla's CRDs) and a real member
// cluster, creates namespace fleetNS on the hub and the member's kubeconfig
// Secret "member-kubeconfig" in it, and returns clients of both.
func hubAndMember(t *testing.T) (hub client.Client, member *testenv.Cluster, memberClient client.Client) {
	t.Helper()
	clusters := testenv.NewClusters(t,
		testenv.ClusterOptions{Name: "hub", CRDDirectoryPaths: []string{"../config/crd/bases"}},
		testenv.ClusterOptions{Name: "member"})
	member = clusters[1]
	scheme := runtime(t)
	hub, err := clusters[0].NewClient(scheme)
	if err != nil {
		t.Fatal(err)
	}
	memberClient, err = member.NewClient(scheme)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	must(t, hub.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fleetNS}}))
	must(t, hub.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "member-kubeconfig", Namespace: fleetNS}, Data: map[string][]byte{"value": member.Kubeconfig()}}))
	return hub, member, memberClient
}
