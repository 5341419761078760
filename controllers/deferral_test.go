package controllers

import (
	"context"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/apply/clusterclient"
)

// fixedClock is a Clock that says what the test sets.
type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t }

// TestAppWithoutRolloutWaitsForTheSitesWindowAndHold reconciles, on a real
// hub and member, the first revision of an app without a rollout on a
// cluster whose update window is closed: nothing reaches the member and the
// sync says why; when the window opens a hold still keeps it; once the
// hold is lifted the revision is applied.
func TestAppWithoutRolloutWaitsForTheSitesWindowAndHold(t *testing.T) {
	hub, _, memberCl := hubAndMember(t)
	ctx := context.Background()
	ns := fleetNS
	cluster := &flotillav1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: "member", Namespace: ns},
		Spec: flotillav1.ClusterSpec{UpdateWindows: []flotillav1.UpdateWindow{
			{Start: "22:00", Duration: metav1.Duration{Duration: 2 * time.Hour}},
		}},
	}
	must(t, hub.Create(ctx, cluster))
	cs := &flotillav1.ClusterSync{
		ObjectMeta: metav1.ObjectMeta{Name: "web.member", Namespace: ns, Labels: map[string]string{flotillav1.LabelRepository: "repo"}},
		Spec:       flotillav1.ClusterSyncSpec{App: "web", Cluster: "member"},
	}
	must(t, hub.Create(ctx, cs))

	cm := &unstructured.Unstructured{}
	cm.SetAPIVersion("v1")
	cm.SetKind("ConfigMap")
	cm.SetName("settings")
	cm.SetNamespace("web")
	cm.Object["data"] = map[string]any{"mode": "fast"}
	store := newDesiredStore()
	repo := types.NamespacedName{Namespace: ns, Name: "repo"}
	store.replaceRepo(repo, map[syncKey]*Desired{{Repo: repo, App: "web", Cluster: "member"}: {
		Revision: "main@sha1:new", Digest: "sha256:new", Namespace: "web", Objects: []*unstructured.Unstructured{cm}, Prune: true, HealthTimeout: time.Minute,
	}}, nil)
	clock := &fixedClock{t: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	opts := Options{DefaultDriftInterval: time.Hour, Clock: clock}.withDefaults()
	r := &ClusterSyncReconciler{
		Client: hub, Recorder: record.NewFakeRecorder(10), Store: store, Options: opts,
		Clients: newClusterClients(hub, clusterclient.Options{}, time.Minute),
		Reach:   newReachability(time.Second, time.Minute), Limits: newLimiter(2),
	}
	reconcile := func() *flotillav1.ClusterSync {
		t.Helper()
		if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(cs)}); err != nil {
			t.Fatal(err)
		}
		got := &flotillav1.ClusterSync{}
		must(t, hub.Get(ctx, client.ObjectKeyFromObject(cs), got))
		return got
	}
	applied := func() bool {
		t.Helper()
		err := memberCl.Get(ctx, client.ObjectKey{Namespace: "web", Name: "settings"}, &corev1.ConfigMap{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		return err == nil
	}

	got := reconcile()
	if reason := conditions.GetReason(got, meta.ReadyCondition); reason != flotillav1.ReasonDeferred || applied() {
		t.Fatalf("outside the window: Ready reason %q (%s), applied %v; want Deferred and nothing on the member",
			reason, conditions.GetMessage(got, meta.ReadyCondition), applied())
	}

	// The window opens, but the site holds new revisions.
	clock.t = time.Date(2026, 12, 3, 22, 30, 0, 0, time.UTC)
	must(t, hub.Get(ctx, client.ObjectKeyFromObject(cluster), cluster))
	cluster.Status.Hold = &flotillav1.ClusterHold{Since: metav1.Now(), Reason: "lot 4711"}
	must(t, hub.Status().Update(ctx, cluster))
	got = reconcile()
	if msg := conditions.GetMessage(got, meta.ReadyCondition); conditions.GetReason(got, meta.ReadyCondition) != flotillav1.ReasonDeferred || applied() {
		t.Fatalf("held: Ready %q, applied %v; want Deferred and nothing on the member", msg, applied())
	}

	must(t, hub.Get(ctx, client.ObjectKeyFromObject(cluster), cluster))
	cluster.Status.Hold = nil
	must(t, hub.Status().Update(ctx, cluster))
	got = reconcile()
	if !applied() || got.Status.AppliedRevision != "main@sha1:new" {
		t.Fatalf("inside the window without a hold the revision must be applied: applied %v, status %+v", applied(), got.Status)
	}
}
