package controllers

import (
	"context"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/apply/clusterclient"
)

// TestSteadyStateSyncRefreshesReadyWithoutCallingTheCluster reconciles, on a
// real hub, a ClusterSync whose applied digest is what a new revision
// renders, while a "waiting" Reconciling condition was left behind. It must
// record the new revision and become Ready at its generation (so dependants
// stop waiting) without a single request to the member cluster.
func TestSteadyStateSyncRefreshesReadyWithoutCallingTheCluster(t *testing.T) {
	hub, _, _ := hubAndMember(t)
	ctx := context.Background()
	ns := fleetNS
	must(t, hub.Create(ctx, &flotillav1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "member", Namespace: ns}}))
	cs := &flotillav1.ClusterSync{
		ObjectMeta: metav1.ObjectMeta{Name: "web.member", Namespace: ns, Labels: map[string]string{flotillav1.LabelRepository: "repo"}},
		Spec:       flotillav1.ClusterSyncSpec{App: "web", Cluster: "member"},
	}
	must(t, hub.Create(ctx, cs))
	now := metav1.Now()
	cs.Status = flotillav1.ClusterSyncStatus{
		AppliedDigest: "sha256:same", AppliedRevision: "main@sha1:old", LastAppliedTime: &now, LastDriftCheckTime: &now,
		Conditions: []metav1.Condition{
			{Type: meta.ReadyCondition, Status: metav1.ConditionTrue, Reason: "Synced", Message: "old", ObservedGeneration: 0, LastTransitionTime: now},
			{Type: flotillav1.HealthyCondition, Status: metav1.ConditionTrue, Reason: "Succeeded", Message: "ok", ObservedGeneration: 0, LastTransitionTime: now},
			{Type: meta.ReconcilingCondition, Status: metav1.ConditionTrue, Reason: "Progressing", Message: "waiting for revision", ObservedGeneration: 0, LastTransitionTime: now},
		},
	}
	must(t, hub.Status().Update(ctx, cs))

	store := newDesiredStore()
	repo := types.NamespacedName{Namespace: ns, Name: "repo"}
	store.replaceRepo(repo, map[syncKey]*Desired{{Repo: repo, App: "web", Cluster: "member"}: {Revision: "main@sha1:new", Digest: "sha256:same", HealthTimeout: time.Minute}}, nil)
	opts := Options{DefaultDriftInterval: time.Hour}.withDefaults()
	r := &ClusterSyncReconciler{
		Client: hub, Recorder: record.NewFakeRecorder(10), Store: store, Options: opts,
		Clients: newClusterClients(hub, clusterclient.Options{WrapTransport: countRequests}, time.Minute),
		Reach:   newReachability(time.Second, time.Minute), Limits: newLimiter(2),
	}
	before := MemberRequests(ns+"/member", "sync") + MemberRequests(ns+"/member", "drift")
	res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(cs)})
	if err != nil {
		t.Fatal(err)
	}
	if res.RequeueAfter < 30*time.Minute {
		t.Fatalf("a steady sync must next wake for its drift check, got requeue %v", res.RequeueAfter)
	}
	got := &flotillav1.ClusterSync{}
	must(t, hub.Get(ctx, client.ObjectKeyFromObject(cs), got))
	if !syncIsReady(got, store.of(got)) || conditions.Has(got, meta.ReconcilingCondition) || got.Status.AppliedRevision != "main@sha1:new" {
		t.Fatalf("want Ready at generation %d, no Reconciling, applied revision new; got %+v", got.Generation, got.Status)
	}
	if calls := MemberRequests(ns+"/member", "sync") + MemberRequests(ns+"/member", "drift") - before; calls != 0 {
		t.Fatalf("a steady-state reconcile made %v requests to the member; want 0", calls)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
