package apply

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/ssa"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

const webManifest = `
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: NAMESPACE
data:
  model: v1
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: NAMESPACE
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.local/web:1
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
`

func TestSyncAppliesWithOwnerLabelsAndSortedInventory(t *testing.T) {
	ctx := testCtx(t)
	ns := uniqueName("apply")
	objs := readObjects(t, ns, webManifest)

	res, err := Sync(ctx, member, baseRequest(ns, objs))
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if !res.NamespaceCreated {
		t.Errorf("NamespaceCreated = false, want true for a new namespace")
	}
	if !res.Changed() {
		t.Errorf("Changed() = false after creating objects")
	}

	wantLabels := map[string]string{
		"app.kubernetes.io/managed-by":      "flotilla",
		"flotilla.dev/app":                  "adc",
		"flotilla.dev/repository":           "fleet",
		"flotilla.dev/repository-namespace": "flotilla-system",
	}
	for _, o := range []struct{ apiVersion, kind, name string }{
		{"v1", "ConfigMap", "web-config"}, {"apps/v1", "Deployment", "web"}, {"v1", "Service", "web"},
	} {
		got := getObject(t, o.apiVersion, o.kind, ns, o.name)
		if got == nil {
			t.Fatalf("%s %s/%s was not created", o.kind, ns, o.name)
		}
		for k, v := range wantLabels {
			if got.GetLabels()[k] != v {
				t.Errorf("%s/%s label %s = %q, want %q", o.kind, o.name, k, got.GetLabels()[k], v)
			}
		}
		if !hasManager(got.GetManagedFields(), "flotilla") {
			t.Errorf("%s/%s has no field manager flotilla: %v", o.kind, o.name, got.GetManagedFields())
		}
	}

	wantInv := []flotillav1.ObjectRef{
		{ID: ns + "_web-config__ConfigMap", Version: "v1"},
		{ID: ns + "_web__Service", Version: "v1"},
		{ID: ns + "_web_apps_Deployment", Version: "v1"},
	}
	if !reflect.DeepEqual(res.Inventory, wantInv) {
		t.Errorf("Inventory = %v, want %v (sorted by ID, without the namespace)", res.Inventory, wantInv)
	}

	// The caller's objects (which may come from a shared render cache) are
	// not modified: no labels were added, the Service got no namespace.
	for _, o := range objs {
		if len(o.GetLabels()) != 0 {
			t.Errorf("Sync modified the input %s: labels %v", o.GetKind(), o.GetLabels())
		}
	}
	if objs[2].GetNamespace() != "" {
		t.Errorf("Sync set the namespace of the input Service")
	}

	// The namespace was created without owner labels: no app owns it.
	var nsObj corev1.Namespace
	if err := member.Client().Get(ctx, client.ObjectKey{Name: ns}, &nsObj); err != nil {
		t.Fatalf("get namespace: %v", err)
	}
	if _, ok := nsObj.Labels[flotillav1.LabelApp]; ok {
		t.Errorf("namespace %s carries an app label: %v", ns, nsObj.Labels)
	}
}

func hasManager(entries []metav1.ManagedFieldsEntry, name string) bool {
	for _, e := range entries {
		if e.Manager == name {
			return true
		}
	}
	return false
}

func TestSyncTwiceChangesNothing(t *testing.T) {
	ctx := testCtx(t)
	ns := uniqueName("noop")
	req := baseRequest(ns, readObjects(t, ns, webManifest))
	first, err := Sync(ctx, member, req)
	if err != nil {
		t.Fatalf("first Sync: %v", err)
	}
	before := getObject(t, "apps/v1", "Deployment", ns, "web").GetResourceVersion()

	req.PreviousInventory = first.Inventory
	req.Prune = true
	second, err := Sync(ctx, member, req)
	if err != nil {
		t.Fatalf("second Sync: %v", err)
	}
	if len(second.ChangeSet.Entries) != 3 {
		t.Fatalf("second Sync change set has %d entries, want 3: %v", len(second.ChangeSet.Entries), second.ChangeSet)
	}
	for _, e := range second.ChangeSet.Entries {
		if e.Action != ssa.UnchangedAction {
			t.Errorf("second Sync: %s, want unchanged", e)
		}
	}
	if second.Changed() || second.NamespaceCreated || len(second.Pruned) != 0 {
		t.Errorf("second Sync reports a change: %+v", second)
	}
	if after := getObject(t, "apps/v1", "Deployment", ns, "web").GetResourceVersion(); after != before {
		t.Errorf("Deployment resourceVersion changed from %s to %s on a no-op sync", before, after)
	}
	if !reflect.DeepEqual(second.Inventory, first.Inventory) {
		t.Errorf("inventory changed on a no-op sync: %v -> %v", first.Inventory, second.Inventory)
	}
}

func TestSyncPrunesObjectsRemovedFromTheSet(t *testing.T) {
	ctx := testCtx(t)
	ns := uniqueName("prune")
	objs := readObjects(t, ns, webManifest)
	first, err := Sync(ctx, member, baseRequest(ns, objs))
	if err != nil {
		t.Fatalf("first Sync: %v", err)
	}

	req := baseRequest(ns, objs[:1]) // only the ConfigMap stays
	req.PreviousInventory = first.Inventory
	req.Prune = true
	res, err := Sync(ctx, member, req)
	if err != nil {
		t.Fatalf("pruning Sync: %v", err)
	}
	wantPruned := []string{"Deployment/" + ns + "/web", "Service/" + ns + "/web"}
	if !reflect.DeepEqual(res.Pruned, wantPruned) {
		t.Errorf("Pruned = %v, want %v", res.Pruned, wantPruned)
	}
	if d := getObject(t, "apps/v1", "Deployment", ns, "web"); d != nil && d.GetDeletionTimestamp() == nil {
		t.Errorf("Deployment %s/web still exists after prune", ns)
	}
	if s := getObject(t, "v1", "Service", ns, "web"); s != nil && s.GetDeletionTimestamp() == nil {
		t.Errorf("Service %s/web still exists after prune", ns)
	}
	if getObject(t, "v1", "ConfigMap", ns, "web-config") == nil {
		t.Errorf("ConfigMap web-config was deleted but is still in the set")
	}
	wantInv := []flotillav1.ObjectRef{{ID: ns + "_web-config__ConfigMap", Version: "v1"}}
	if !reflect.DeepEqual(res.Inventory, wantInv) {
		t.Errorf("Inventory = %v, want %v", res.Inventory, wantInv)
	}
	var nsObj corev1.Namespace
	if err := member.Client().Get(ctx, client.ObjectKey{Name: ns}, &nsObj); err != nil || nsObj.DeletionTimestamp != nil {
		t.Errorf("target namespace was touched by prune: err=%v deletion=%v", err, nsObj.DeletionTimestamp)
	}
}

func TestPruneNeverDeletesObjectsWithoutOurLabels(t *testing.T) {
	ctx := testCtx(t)
	ns := uniqueName("handmade")
	objs := readObjects(t, ns, webManifest)
	first, err := Sync(ctx, member, baseRequest(ns, objs))
	if err != nil {
		t.Fatalf("first Sync: %v", err)
	}

	// Someone replaces the managed ConfigMap with one made by hand (same
	// name, no owner labels), and relabels the Service for another app.
	cm := &corev1.ConfigMap{}
	if err := member.Client().Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-config"}, cm); err != nil {
		t.Fatal(err)
	}
	if err := member.Client().Delete(ctx, cm); err != nil {
		t.Fatal(err)
	}
	handmade := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-config"},
		Data:       map[string]string{"owner": "operator"},
	}
	if err := member.Client().Create(ctx, handmade, client.FieldOwner("kubectl-create")); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{}
	if err := member.Client().Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, svc); err != nil {
		t.Fatal(err)
	}
	svc.Labels[flotillav1.LabelApp] = "someone-else"
	if err := member.Client().Update(ctx, svc, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}

	// The next revision drops both from the set.
	req := baseRequest(ns, objs[1:2]) // only the Deployment stays
	req.PreviousInventory = first.Inventory
	req.Prune = true
	res, err := Sync(ctx, member, req)
	if err != nil {
		t.Fatalf("pruning Sync: %v", err)
	}
	if len(res.Pruned) != 0 {
		t.Errorf("Pruned = %v, want nothing: neither object carries our labels", res.Pruned)
	}
	wantSkipped := []string{"ConfigMap/" + ns + "/web-config", "Service/" + ns + "/web"}
	if !reflect.DeepEqual(res.PruneSkipped, wantSkipped) {
		t.Errorf("PruneSkipped = %v, want %v", res.PruneSkipped, wantSkipped)
	}
	got := getObject(t, "v1", "ConfigMap", ns, "web-config")
	if got == nil || got.GetDeletionTimestamp() != nil {
		t.Fatalf("the hand-made ConfigMap was deleted")
	}
	if got.GetUID() != handmade.UID {
		t.Errorf("the hand-made ConfigMap was replaced")
	}
	if s := getObject(t, "v1", "Service", ns, "web"); s == nil || s.GetDeletionTimestamp() != nil {
		t.Errorf("the Service relabelled for another app was deleted")
	}
	// Objects no longer ours leave the inventory: only the Deployment remains.
	wantInv := []flotillav1.ObjectRef{{ID: ns + "_web_apps_Deployment", Version: "v1"}}
	if !reflect.DeepEqual(res.Inventory, wantInv) {
		t.Errorf("Inventory = %v, want %v", res.Inventory, wantInv)
	}
}

func TestSyncRefusesToPruneEverythingForAnEmptySet(t *testing.T) {
	ctx := testCtx(t)
	ns := uniqueName("empty")
	first, err := Sync(ctx, member, baseRequest(ns, readObjects(t, ns, webManifest)))
	if err != nil {
		t.Fatalf("first Sync: %v", err)
	}

	req := baseRequest(ns, nil)
	req.PreviousInventory = first.Inventory
	req.Prune = true
	_, err = Sync(ctx, member, req)
	if !errors.Is(err, ErrEmptyPrune) {
		t.Fatalf("Sync with an empty set and Prune: err = %v, want ErrEmptyPrune", err)
	}
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Errorf("error %T is not a *ValidationError", err)
	}
	for _, kind := range []struct{ apiVersion, kind, name string }{
		{"v1", "ConfigMap", "web-config"}, {"apps/v1", "Deployment", "web"}, {"v1", "Service", "web"},
	} {
		if o := getObject(t, kind.apiVersion, kind.kind, ns, kind.name); o == nil || o.GetDeletionTimestamp() != nil {
			t.Errorf("%s %s was deleted by a refused empty prune", kind.kind, kind.name)
		}
	}

	// With AllowEmpty (the app was removed from Git) everything goes.
	req.AllowEmpty = true
	res, err := Sync(ctx, member, req)
	if err != nil {
		t.Fatalf("Sync with AllowEmpty: %v", err)
	}
	if len(res.Pruned) != 3 || len(res.Inventory) != 0 {
		t.Errorf("AllowEmpty: Pruned = %v, Inventory = %v; want 3 pruned, empty inventory", res.Pruned, res.Inventory)
	}
}

func TestPruneNeverDeletesTheTargetNamespace(t *testing.T) {
	ctx := testCtx(t)
	ns := uniqueName("keepns")
	// A revision that listed the namespace itself...
	withNS := readObjects(t, ns, `
apiVersion: v1
kind: Namespace
metadata:
  name: NAMESPACE
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  namespace: NAMESPACE
`)
	first, err := Sync(ctx, member, baseRequest(ns, withNS))
	if err != nil {
		t.Fatalf("first Sync: %v", err)
	}
	if first.Inventory[0].ID != "_"+ns+"__Namespace" {
		t.Fatalf("inventory %v does not list the Namespace object", first.Inventory)
	}
	// Sync created the namespace unlabelled before the apply; the Namespace
	// object takes it over as adopted, so even a later prune only releases it.
	if !first.Inventory[0].Adopted {
		t.Errorf("the target namespace, created before the apply, is not marked adopted: %+v", first.Inventory[0])
	}
	// ...then one that does not: the namespace is still the app's target.
	req := baseRequest(ns, withNS[1:])
	req.PreviousInventory = first.Inventory
	req.Prune = true
	res, err := Sync(ctx, member, req)
	if err != nil {
		t.Fatalf("second Sync: %v", err)
	}
	var nsObj corev1.Namespace
	if err := member.Client().Get(ctx, client.ObjectKey{Name: ns}, &nsObj); err != nil || nsObj.DeletionTimestamp != nil {
		t.Fatalf("target namespace was pruned: err=%v deletion=%v pruned=%v", err, nsObj.DeletionTimestamp, res.Pruned)
	}
}

func TestSyncErrorStartsWithTheFailingObject(t *testing.T) {
	ctx := testCtx(t)
	ns := uniqueName("immutable")
	job := `
apiVersion: batch/v1
kind: Job
metadata:
  name: train
  namespace: NAMESPACE
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: train
        image: registry.local/train:IMAGE
`
	v1 := readObjects(t, ns, strings.ReplaceAll(job, "IMAGE", "1"))
	first, err := Sync(ctx, member, baseRequest(ns, v1))
	if err != nil {
		t.Fatalf("first Sync: %v", err)
	}
	oldUID := getObject(t, "batch/v1", "Job", ns, "train").GetUID()

	// A Job's pod template is immutable.
	v2 := readObjects(t, ns, strings.ReplaceAll(job, "IMAGE", "2"))
	req := baseRequest(ns, v2)
	req.PreviousInventory = first.Inventory
	res, err := Sync(ctx, member, req)
	var oerr *ObjectError
	if !errors.As(err, &oerr) {
		t.Fatalf("Sync with an immutable change: err = %v (%T), want *ObjectError", err, err)
	}
	t.Logf("error: %v", err)
	wantPrefix := "Job/" + ns + "/train on cluster member-1: "
	if got := err.Error(); !strings.HasPrefix(got, wantPrefix) {
		t.Errorf("error %q does not start with %q", got, wantPrefix)
	}
	if len(res.Inventory) != 1 {
		t.Errorf("failed Sync lost the inventory: %v", res.Inventory)
	}

	// With Force the Job is recreated.
	req.Force = true
	if _, err := Sync(ctx, member, req); err != nil {
		t.Fatalf("Sync with Force: %v", err)
	}
	got := getObject(t, "batch/v1", "Job", ns, "train")
	if got == nil || got.GetUID() == oldUID {
		t.Errorf("Force did not recreate the Job")
	}
}

func TestSyncRejectsBadRequestsBeforeTouchingTheCluster(t *testing.T) {
	ctx := context.Background()
	for name, req := range map[string]Request{
		"no app":          {Repository: testRepo},
		"bad label":       {App: "has spaces", Repository: testRepo},
		"bad namespace":   {App: "a", Repository: testRepo, Namespace: "Not_A_Name"},
		"nameless object": {App: "a", Repository: testRepo, Objects: []*unstructured.Unstructured{{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap"}}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Sync(ctx, member, req)
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("err = %v, want *ValidationError", err)
			}
		})
	}
}
