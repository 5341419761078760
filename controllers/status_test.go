package controllers

import (
	"context"
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// TestStatusMergePatch checks that the patch carries only what changed in
// the status: changed fields, cleared fields as null, nothing else.
func TestStatusMergePatch(t *testing.T) {
	before := flotillav1.ClusterSyncStatus{AppliedRevision: "r1", AppliedDigest: "d1", LastError: "boom", DriftCorrections: 2}
	after := flotillav1.ClusterSyncStatus{AppliedRevision: "r2", AppliedDigest: "d1", DriftCorrections: 2}
	data, err := statusMergePatch(before, after, "42")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("patch %s is not a status object: %v", data, err)
	}
	if rv := got["metadata"]["resourceVersion"]; rv != "42" {
		t.Fatalf("patch %s: want metadata.resourceVersion 42, the version the status was computed from", data)
	}
	status := got["status"]
	if len(got) != 2 || len(status) != 2 || status["appliedRevision"] != "r2" {
		t.Fatalf("patch %s: want only status.appliedRevision and status.lastError", data)
	}
	if v, ok := status["lastError"]; !ok || v != nil {
		t.Fatalf("patch %s: a cleared field must be sent as null", data)
	}
}

// TestWriteStatusFromAStaleCopyConflicts writes, on a real API server, a
// status computed from a copy that missed a write: the write must be
// refused, not merged into a status that mixes both (the stale copy already
// showed appliedRevision at the value the reconcile wants, so a plain merge
// patch would leave the missed write's value in place under a Ready
// condition that describes another revision).
func TestWriteStatusFromAStaleCopyConflicts(t *testing.T) {
	hubCluster := testenv.NewClusters(t, testenv.ClusterOptions{Name: "hub", CRDDirectoryPaths: []string{"../config/crd/bases"}})[0]
	hub, err := hubCluster.NewClient(runtime(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	must(t, hub.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fleet"}}))
	cs := &flotillav1.ClusterSync{ObjectMeta: metav1.ObjectMeta{Name: "web.a", Namespace: "fleet"}, Spec: flotillav1.ClusterSyncSpec{App: "web", Cluster: "a"}}
	must(t, hub.Create(ctx, cs))
	cs.Status.AppliedRevision = "r2"
	must(t, hub.Status().Update(ctx, cs))
	stale := cs.DeepCopy()

	// Another reconcile moves the sync back to r1.
	fresh := cs.DeepCopy()
	before := fresh.Status.DeepCopy()
	fresh.Status.AppliedRevision = "r1"
	must(t, writeStatus(ctx, hub, fresh, *before, fresh.Status))

	// A reconcile working from the stale copy sets r2 and Ready.
	staleBefore := stale.Status.DeepCopy()
	stale.Status.AppliedRevision = "r2"
	stale.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Synced", Message: "revision r2 applied and healthy", LastTransitionTime: metav1.Now()}}
	err = writeStatus(ctx, hub, stale, *staleBefore, stale.Status)
	if !apierrors.IsConflict(err) {
		t.Fatalf("a status computed from a stale copy was written (error %v); want a conflict", err)
	}
	got := &flotillav1.ClusterSync{}
	must(t, hub.Get(ctx, client.ObjectKeyFromObject(cs), got))
	if got.Status.AppliedRevision != "r1" || len(got.Status.Conditions) != 0 {
		t.Fatalf("status after the refused write: %+v; want the fresh write's r1 alone", got.Status)
	}
}
