package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/apply/clusterclient"
)

// An app's spec.adoptExisting reaches the apply: on a real hub and member,
// a ClusterSync whose desired state renders a ConfigMap made by hand in
// kube-system fails with the ownership error without it, and adopts the
// ConfigMap with it; the adopted mark survives the status write (the CRD
// keeps status.inventory[].adopted).
func TestClusterSyncAdoptsOnlyWhenTheAppAllowsIt(t *testing.T) {
	hub, _, memberClient := hubAndMember(t)
	ctx := context.Background()
	ns := fleetNS
	must(t, hub.Create(ctx, &flotillav1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "member", Namespace: ns}}))
	cs := &flotillav1.ClusterSync{
		ObjectMeta: metav1.ObjectMeta{Name: "settings.member", Namespace: ns, Labels: map[string]string{flotillav1.LabelRepository: "repo"}},
		Spec:       flotillav1.ClusterSyncSpec{App: "settings", Cluster: "member"},
	}
	must(t, hub.Create(ctx, cs))
	handmade := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "site-settings"}, Data: map[string]string{"owner": "operator"}}
	must(t, memberClient.Create(ctx, handmade))

	rendered := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "site-settings", "namespace": "kube-system"},
		"data":     map[string]any{"owner": "git"},
	}}
	store := newDesiredStore()
	repo := types.NamespacedName{Namespace: ns, Name: "repo"}
	desire := func(digest string, adopt bool) {
		store.replaceRepo(repo, map[syncKey]*Desired{{Repo: repo, App: "settings", Cluster: "member"}: {
			Revision: "main@sha1:" + digest, Digest: "sha256:" + digest, Objects: []*unstructured.Unstructured{rendered},
			Prune: true, HealthTimeout: time.Minute, AdoptExisting: adopt,
		}}, nil)
	}
	r := &ClusterSyncReconciler{
		Client: hub, Recorder: record.NewFakeRecorder(100), Store: store, Options: Options{}.withDefaults(),
		Clients: newClusterClients(hub, clusterclient.Options{}, time.Minute),
		Reach:   newReachability(time.Second, time.Minute), Limits: newLimiter(2),
	}
	reconcile := func() *flotillav1.ClusterSync {
		t.Helper()
		_, _ = r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(cs)})
		got := &flotillav1.ClusterSync{}
		must(t, hub.Get(ctx, client.ObjectKeyFromObject(cs), got))
		return got
	}

	desire("one", false)
	got := reconcile()
	ready := conditions.Get(got, meta.ReadyCondition)
	if ready == nil || ready.Status != metav1.ConditionFalse || !strings.Contains(ready.Message, "ConfigMap/kube-system/site-settings") ||
		!strings.Contains(ready.Message, "not created by Flotilla") {
		t.Fatalf("without adoptExisting: Ready = %+v, want False naming the ConfigMap and the refusal", ready)
	}
	stored := &corev1.ConfigMap{}
	must(t, memberClient.Get(ctx, client.ObjectKeyFromObject(handmade), stored))
	if stored.Data["owner"] != "operator" || stored.Labels[flotillav1.LabelApp] != "" {
		t.Fatalf("the refused ConfigMap was modified: %v %v", stored.Labels, stored.Data)
	}

	desire("two", true)
	got = reconcile()
	if len(got.Status.Inventory) != 1 || !got.Status.Inventory[0].Adopted {
		t.Fatalf("with adoptExisting: inventory %+v, want the ConfigMap marked adopted (conditions %+v)", got.Status.Inventory, got.Status.Conditions)
	}
	must(t, memberClient.Get(ctx, client.ObjectKeyFromObject(handmade), stored))
	if stored.Data["owner"] != "git" || stored.Labels[flotillav1.LabelApp] != "settings" || stored.UID != handmade.UID {
		t.Fatalf("the ConfigMap was not adopted in place: %v %v", stored.Labels, stored.Data)
	}
}
