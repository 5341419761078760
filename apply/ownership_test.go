package apply

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// handmadeConfigMap creates a ConfigMap the way an operator would, without
// Flotilla, and returns it as stored.
func handmadeConfigMap(t *testing.T, ns, name string) *corev1.ConfigMap {
	t.Helper()
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"team": "ops"}},
		Data:       map[string]string{"owner": "operator"},
	}
	if err := member.Client().Create(context.Background(), cm, client.FieldOwner("kubectl-create")); err != nil {
		t.Fatalf("create the hand-made ConfigMap %s/%s: %v", ns, name, err)
	}
	t.Cleanup(func() { _ = member.Client().Delete(context.Background(), cm) })
	return cm
}

// configMapManifest renders a ConfigMap as an app would, annotated
// flotilla.dev/adopt: "true" when adopt.
func configMapManifest(ns, name string, adopt bool) []*unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"data":     map[string]any{"owner": "git"},
	}}
	if adopt {
		u.SetAnnotations(map[string]string{flotillav1.AnnotationAdopt: "true"})
	}
	return []*unstructured.Unstructured{u}
}

// assertUntouched fails when the ConfigMap changed since before was read.
func assertUntouched(t *testing.T, before *corev1.ConfigMap) {
	t.Helper()
	got := getObject(t, "v1", "ConfigMap", before.Namespace, before.Name)
	if got == nil {
		t.Fatalf("ConfigMap %s/%s was deleted", before.Namespace, before.Name)
	}
	if got.GetUID() != before.UID || got.GetResourceVersion() != before.ResourceVersion {
		t.Errorf("ConfigMap %s/%s was modified: resourceVersion %s -> %s, labels %v", before.Namespace, before.Name,
			before.ResourceVersion, got.GetResourceVersion(), got.GetLabels())
	}
}

// A ConfigMap made by hand in kube-system is not taken over by an app that
// happens to render one of the same name: the sync fails with an error
// naming the object and the opt-ins, and the object is not modified.
func TestSyncRefusesToTakeOverAnObjectFlotillaDidNotCreate(t *testing.T) {
	ctx := testCtx(t)
	name := uniqueName("cluster-info")
	before := handmadeConfigMap(t, "kube-system", name)
	ns := uniqueName("refuse")
	objs := append(readObjects(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mine\ndata: {a: b}\n"),
		configMapManifest("kube-system", name, false)...)

	res, err := Sync(ctx, member, baseRequest(ns, objs))
	if !errors.Is(err, ErrNotCreatedByFlotilla) {
		t.Fatalf("Sync: err = %v, want ErrNotCreatedByFlotilla", err)
	}
	var oerr *ObjectError
	if !errors.As(err, &oerr) {
		t.Fatalf("err %T is not an *ObjectError", err)
	}
	t.Logf("error: %v", err)
	msg := err.Error()
	if want := "ConfigMap/kube-system/" + name + " on cluster member-1: "; !strings.HasPrefix(msg, want) {
		t.Errorf("error %q does not start with %q", msg, want)
	}
	for _, want := range []string{"not created by Flotilla", flotillav1.AnnotationAdopt, "spec.adoptExisting"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	assertUntouched(t, before)
	// Nothing was applied: the app's own new object neither.
	if getObject(t, "v1", "ConfigMap", ns, "mine") != nil {
		t.Errorf("a refused sync applied the rest of the set")
	}
	if len(res.Inventory) != 0 {
		t.Errorf("Inventory = %v, want empty", res.Inventory)
	}
}

// With the annotation in Git, or spec.adoptExisting, the object is adopted:
// applied, marked in the inventory; when the app stops rendering it, it is
// released (left in place without Flotilla's labels and field ownership),
// not deleted.
func TestSyncAdoptsOnOptInAndReleasesInsteadOfPruning(t *testing.T) {
	for _, tc := range []struct {
		name       string
		annotation bool
		appField   bool
		removeApp  bool
	}{
		{name: "annotation", annotation: true},
		{name: "app field", appField: true},
		{name: "app removed", appField: true, removeApp: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			name := uniqueName("adopted")
			before := handmadeConfigMap(t, "kube-system", name)
			ns := uniqueName("adopt")
			mine := readObjects(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mine\ndata: {a: b}\n")
			req := baseRequest(ns, append(mine, configMapManifest("kube-system", name, tc.annotation)...))
			req.AdoptExisting = tc.appField
			req.Prune = true
			first, err := Sync(ctx, member, req)
			if err != nil {
				t.Fatalf("adopting Sync: %v", err)
			}
			got := getObject(t, "v1", "ConfigMap", "kube-system", name)
			if got.GetUID() != before.UID || got.GetLabels()[flotillav1.LabelApp] != "adc" || got.Object["data"].(map[string]any)["owner"] != "git" {
				t.Fatalf("the ConfigMap was not adopted in place: uid %s (was %s), labels %v, data %v", got.GetUID(), before.UID, got.GetLabels(), got.Object["data"])
			}
			if _, ok := got.GetAnnotations()[flotillav1.AnnotationAdopt]; ok {
				t.Errorf("the adopt annotation was applied to the cluster: %v", got.GetAnnotations())
			}
			adoptedRef := flotillav1.ObjectRef{ID: "kube-system_" + name + "__ConfigMap", Version: "v1", Adopted: true}
			wantInv := []flotillav1.ObjectRef{{ID: ns + "_mine__ConfigMap", Version: "v1"}, adoptedRef} // sorted by ID
			if !reflect.DeepEqual(first.Inventory, wantInv) {
				t.Fatalf("Inventory = %+v, want %+v", first.Inventory, wantInv)
			}

			// A second sync keeps the mark.
			req.PreviousInventory = first.Inventory
			second, err := Sync(ctx, member, req)
			if err != nil {
				t.Fatalf("second Sync: %v", err)
			}
			if !reflect.DeepEqual(second.Inventory, wantInv) {
				t.Fatalf("second Sync: Inventory = %+v, want %+v", second.Inventory, wantInv)
			}

			// The app stops rendering it (or is removed): released.
			req.PreviousInventory = second.Inventory
			req.Objects = mine
			if tc.removeApp {
				req.Objects, req.AllowEmpty, req.Namespace = nil, true, ""
			}
			third, err := Sync(ctx, member, req)
			if err != nil {
				t.Fatalf("Sync without the adopted object: %v", err)
			}
			subject := "ConfigMap/kube-system/" + name
			if !reflect.DeepEqual(third.Released, []string{subject}) || strings.Contains(strings.Join(third.Pruned, ","), name) {
				t.Fatalf("Released = %v, Pruned = %v; want %s released, not pruned", third.Released, third.Pruned, subject)
			}
			got = getObject(t, "v1", "ConfigMap", "kube-system", name)
			if got == nil || got.GetDeletionTimestamp() != nil || got.GetUID() != before.UID {
				t.Fatalf("the released ConfigMap was deleted or replaced: %v", got)
			}
			for k := range OwnerLabels("adc", testRepo) {
				if _, ok := got.GetLabels()[k]; ok {
					t.Errorf("the released ConfigMap still carries %s: %v", k, got.GetLabels())
				}
			}
			if got.GetLabels()["team"] != "ops" {
				t.Errorf("the release removed a label that is not Flotilla's: %v", got.GetLabels())
			}
			if hasManager(got.GetManagedFields(), flotillav1.FieldManager) {
				t.Errorf("the released ConfigMap still has field manager %s: %v", flotillav1.FieldManager, got.GetManagedFields())
			}
			if got.Object["data"].(map[string]any)["owner"] != "git" {
				t.Errorf("the release changed the data: %v", got.Object["data"])
			}
			for _, r := range third.Inventory {
				if r.ID == adoptedRef.ID {
					t.Errorf("the released object is still in the inventory: %v", third.Inventory)
				}
			}
			if tc.removeApp && getObject(t, "v1", "ConfigMap", ns, "mine") != nil {
				t.Errorf("removing the app did not prune the object it created")
			}
		})
	}
}

// App B rendering an object app A applied is refused, even with
// spec.adoptExisting, and A's object is not modified.
func TestSyncRefusesAnObjectOfAnotherApp(t *testing.T) {
	ctx := testCtx(t)
	ns := uniqueName("two-apps")
	objs := readObjects(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\ndata: {owner: a}\n")
	if _, err := Sync(ctx, member, baseRequest(ns, objs)); err != nil {
		t.Fatalf("Sync of app adc: %v", err)
	}
	var before corev1.ConfigMap
	if err := member.Client().Get(ctx, client.ObjectKey{Namespace: ns, Name: "shared"}, &before); err != nil {
		t.Fatal(err)
	}

	reqB := baseRequest(ns, readObjects(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  annotations: {flotilla.dev/adopt: \"true\"}\ndata: {owner: b}\n"))
	reqB.App = "inspector"
	reqB.AdoptExisting = true
	_, err := Sync(ctx, member, reqB)
	if !errors.Is(err, ErrOwnedByAnotherApp) {
		t.Fatalf("Sync of app inspector: err = %v, want ErrOwnedByAnotherApp", err)
	}
	t.Logf("error: %v", err)
	for _, want := range []string{"ConfigMap/" + ns + "/shared on cluster member-1: ", "app adc of FleetRepository flotilla-system/fleet"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	assertUntouched(t, &before)
}

// The direct path (no read, no dry-run) must not skip the check: an object
// this process applied before but that is not in the inventory is read
// before it is applied again, and refused when someone else's now.
func TestDirectSyncChecksObjectsMissingFromTheInventory(t *testing.T) {
	ctx := testCtx(t)
	ns := uniqueName("direct-check")
	req := baseRequest(ns, readObjects(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata: {a: b}\n"))
	first, err := Sync(ctx, member, req)
	if err != nil {
		t.Fatalf("first Sync: %v", err)
	}
	// The object is replaced by a hand-made one, and the inventory was
	// not recorded (a failed status write); the process still remembers
	// its last apply.
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cfg"}}
	if err := member.Client().Delete(ctx, cm); err != nil {
		t.Fatal(err)
	}
	before := handmadeConfigMap(t, ns, "cfg")
	req.LastApplied = first.Applied
	req.Objects = readObjects(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata: {a: c}\n")
	_, err = Sync(ctx, member, req)
	if !errors.Is(err, ErrNotCreatedByFlotilla) {
		t.Fatalf("Sync: err = %v, want ErrNotCreatedByFlotilla", err)
	}
	assertUntouched(t, before)
}
