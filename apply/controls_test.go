package apply

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// deployments are two Deployments with replicas 2; "scaled" lets an
// autoscaler own spec.replicas (flotilla.dev/ignore-fields), "plain" does
// not.
const deployments = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: scaled
  annotations:
    flotilla.dev/ignore-fields: /spec/replicas
spec:
  replicas: 2
  selector: {matchLabels: {app: scaled}}
  template:
    metadata: {labels: {app: scaled}}
    spec: {containers: [{name: c, image: IMAGE}]}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: plain
spec:
  replicas: 2
  selector: {matchLabels: {app: plain}}
  template:
    metadata: {labels: {app: plain}}
    spec: {containers: [{name: c, image: IMAGE}]}
`

func replicasOf(t *testing.T, ns, name string) int64 {
	t.Helper()
	d := getObject(t, "apps/v1", "Deployment", ns, name)
	if d == nil {
		t.Fatalf("Deployment %s/%s is missing", ns, name)
	}
	n, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
	return n
}

// scaleTo sets a Deployment's replicas through its scale subresource, as
// the horizontal pod autoscaler does.
func scaleTo(t *testing.T, ns, name string, n int) {
	t.Helper()
	d := &unstructured.Unstructured{}
	d.SetAPIVersion("apps/v1")
	d.SetKind("Deployment")
	d.SetNamespace(ns)
	d.SetName(name)
	patch := client.RawPatch(types.MergePatchType, []byte(fmt.Sprintf(`{"spec":{"replicas":%d}}`, n)))
	if err := member.Client().SubResource("scale").Patch(testCtx(t), d, patch, client.FieldOwner("horizontal-pod-autoscaler")); err != nil {
		t.Fatalf("scale %s/%s to %d: %v", ns, name, n, err)
	}
}

// An object listing /spec/replicas in flotilla.dev/ignore-fields gets
// Git's replicas when created; afterwards Flotilla neither resets what an
// autoscaler set (staged or direct apply) nor reports it as drift, while
// still applying the rest of the object. The same Deployment without the
// annotation is reset, which is what the annotation prevents.
func TestIgnoreFieldsLeavesAnAutoscalersReplicas(t *testing.T) {
	ctx := testCtx(t)
	ns := uniqueName("hpa")
	req := baseRequest(ns, readObjects(t, ns, strings.ReplaceAll(deployments, "IMAGE", "nginx:1")))
	req.Prune = true
	first, err := Sync(ctx, member, req)
	if err != nil {
		t.Fatalf("first Sync: %v", err)
	}
	if got := replicasOf(t, ns, "scaled"); got != 2 {
		t.Fatalf("created with %d replicas, want Git's 2", got)
	}
	scaleTo(t, ns, "scaled", 5)
	scaleTo(t, ns, "plain", 5)

	drifted, err := Drift(ctx, member, req)
	if err != nil {
		t.Fatalf("Drift: %v", err)
	}
	if want := []string{"Deployment/" + ns + "/plain"}; !reflect.DeepEqual(drifted, want) {
		t.Errorf("Drift = %v, want %v: the ignored replicas are not drift", drifted, want)
	}

	// A staged sync, then a direct one with a change in Git.
	req.PreviousInventory = first.Inventory
	second, err := Sync(ctx, member, req)
	if err != nil {
		t.Fatalf("second Sync: %v", err)
	}
	if got := replicasOf(t, ns, "scaled"); got != 5 {
		t.Errorf("staged Sync: scaled has %d replicas, want the autoscaler's 5", got)
	}
	if got := replicasOf(t, ns, "plain"); got != 2 {
		t.Errorf("staged Sync: plain has %d replicas, want Git's 2 (no annotation)", got)
	}
	scaleTo(t, ns, "scaled", 7)
	req.PreviousInventory, req.LastApplied = second.Inventory, second.Applied
	req.Objects = readObjects(t, ns, strings.ReplaceAll(deployments, "IMAGE", "nginx:2"))
	third, err := Sync(ctx, member, req)
	if err != nil {
		t.Fatalf("third Sync: %v", err)
	}
	if !third.Direct {
		t.Errorf("the third Sync was not direct; the test means to cover the direct path")
	}
	if got := replicasOf(t, ns, "scaled"); got != 7 {
		t.Errorf("direct Sync: scaled has %d replicas, want the autoscaler's 7", got)
	}
	d := getObject(t, "apps/v1", "Deployment", ns, "scaled")
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	if img := containers[0].(map[string]any)["image"]; img != "nginx:2" {
		t.Errorf("the rest of the object was not applied: image %v, want nginx:2", img)
	}
	if drifted, err := Drift(ctx, member, req); err != nil || len(drifted) != 0 {
		t.Errorf("Drift after the sync = %v, %v; want none", drifted, err)
	}
}

// A flotilla.dev/create-only object is created when missing and never
// updated: changes on the cluster and in Git leave it alone, it is not
// drift, and once deleted it is drift and created again.
func TestCreateOnlyObjectsAreNeverUpdated(t *testing.T) {
	ctx := testCtx(t)
	ns := uniqueName("create-only")
	manifest := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: seed\n  annotations:\n    flotilla.dev/create-only: \"true\"\ndata: {a: VALUE}\n"
	req := baseRequest(ns, readObjects(t, ns, strings.ReplaceAll(manifest, "VALUE", "git-1")))
	req.Prune = true
	first, err := Sync(ctx, member, req)
	if err != nil {
		t.Fatalf("first Sync: %v", err)
	}
	var cm corev1.ConfigMap
	if err := member.Client().Get(ctx, client.ObjectKey{Namespace: ns, Name: "seed"}, &cm); err != nil {
		t.Fatalf("the create-only ConfigMap was not created: %v", err)
	}
	if cm.Data["a"] != "git-1" || cm.Labels[flotillav1.LabelApp] != "adc" {
		t.Fatalf("created as data %v labels %v, want Git's data and the owner labels", cm.Data, cm.Labels)
	}
	cm.Data["a"] = "edited"
	if err := member.Client().Update(ctx, &cm, client.FieldOwner("operator")); err != nil {
		t.Fatal(err)
	}
	req.PreviousInventory = first.Inventory
	req.Objects = readObjects(t, ns, strings.ReplaceAll(manifest, "VALUE", "git-2"))
	second, err := Sync(ctx, member, req)
	if err != nil {
		t.Fatalf("second Sync: %v", err)
	}
	if got := getObject(t, "v1", "ConfigMap", ns, "seed").Object["data"].(map[string]any)["a"]; got != "edited" {
		t.Errorf("the create-only ConfigMap was updated to %v", got)
	}
	if !reflect.DeepEqual(second.Inventory, first.Inventory) {
		t.Errorf("Inventory = %v, want it kept: %v", second.Inventory, first.Inventory)
	}
	if drifted, err := Drift(ctx, member, req); err != nil || len(drifted) != 0 {
		t.Errorf("Drift = %v, %v; an existing create-only object is never drift", drifted, err)
	}
	if err := member.Client().Delete(ctx, &cm); err != nil {
		t.Fatal(err)
	}
	corrected, err := CorrectDrift(ctx, member, req)
	if err != nil {
		t.Fatalf("CorrectDrift: %v", err)
	}
	if want := []string{"ConfigMap/" + ns + "/seed"}; !reflect.DeepEqual(corrected, want) {
		t.Errorf("CorrectDrift = %v, want %v", corrected, want)
	}
	if got := getObject(t, "v1", "ConfigMap", ns, "seed"); got == nil || got.Object["data"].(map[string]any)["a"] != "git-2" {
		t.Errorf("the deleted create-only ConfigMap was not created again from Git: %v", got)
	}
}

// An object annotated flotilla.dev/prune: disabled is released, not
// deleted, when the app stops rendering it or is removed.
func TestPruneDisabledObjectsAreReleased(t *testing.T) {
	ctx := testCtx(t)
	ns := uniqueName("keep")
	req := baseRequest(ns, readObjects(t, ns, `apiVersion: v1
kind: ConfigMap
metadata:
  name: keep
  annotations: {flotilla.dev/prune: disabled}
data: {a: b}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: drop
data: {a: b}
`))
	req.Prune = true
	first, err := Sync(ctx, member, req)
	if err != nil {
		t.Fatalf("first Sync: %v", err)
	}
	req.PreviousInventory, req.Objects, req.AllowEmpty = first.Inventory, nil, true
	second, err := Sync(ctx, member, req)
	if err != nil {
		t.Fatalf("Sync of the removed app: %v", err)
	}
	if want := []string{"ConfigMap/" + ns + "/keep"}; !reflect.DeepEqual(second.Released, want) {
		t.Errorf("Released = %v, want %v", second.Released, want)
	}
	if want := []string{"ConfigMap/" + ns + "/drop"}; !reflect.DeepEqual(second.Pruned, want) {
		t.Errorf("Pruned = %v, want %v", second.Pruned, want)
	}
	kept := getObject(t, "v1", "ConfigMap", ns, "keep")
	if kept == nil || kept.GetDeletionTimestamp() != nil {
		t.Fatalf("the prune: disabled ConfigMap was deleted: %v", kept)
	}
	if _, ok := kept.GetLabels()[flotillav1.LabelApp]; ok {
		t.Errorf("the released ConfigMap still carries the owner labels: %v", kept.GetLabels())
	}
	if len(second.Inventory) != 0 {
		t.Errorf("Inventory = %v, want empty", second.Inventory)
	}
}

// A malformed control annotation fails the sync before anything is
// applied, naming the object, the annotation and the fix.
func TestControlAnnotationErrors(t *testing.T) {
	ctx := testCtx(t)
	ns := uniqueName("badctl")
	for _, tc := range []struct{ ann, want string }{
		{`flotilla.dev/ignore-fields: spec.replicas`, `Objects[0]: ConfigMap/bad: annotation flotilla.dev/ignore-fields: "spec.replicas" is not a JSON pointer to a field; write it as /spec/replicas`},
		{`flotilla.dev/ignore-fields: /metadata/labels`, `Flotilla always sets metadata`},
		{`flotilla.dev/create-only: "yes"`, `annotation flotilla.dev/create-only: "yes" is not "true" or "false"`},
		{`flotilla.dev/prune: "false"`, `annotation flotilla.dev/prune: "false" is not "disabled"`},
	} {
		req := baseRequest(ns, readObjects(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\n  annotations:\n    "+tc.ann+"\ndata: {a: b}\n"))
		_, err := Sync(ctx, member, req)
		var ve *ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want a *ValidationError containing %q", tc.ann, err, tc.want)
		}
		if getObject(t, "v1", "ConfigMap", ns, "bad") != nil {
			t.Errorf("%s: the object was applied", tc.ann)
		}
		if getObject(t, "v1", "Namespace", "", ns) != nil {
			t.Errorf("%s: the target namespace was created: nothing may reach the cluster", tc.ann)
		}
	}
}

// A Namespace object the app stops rendering is deleted only when it holds
// nothing but what the app applied: one that holds a ConfigMap made by hand
// is released and reported instead (deleting it would delete the
// ConfigMap).
func TestPruneKeepsANamespaceThatHoldsForeignObjects(t *testing.T) {
	for _, handmade := range []bool{true, false} {
		t.Run(fmt.Sprintf("handmade=%v", handmade), func(t *testing.T) {
			ctx := testCtx(t)
			team := uniqueName("team")
			req := baseRequest(uniqueName("app"), readObjects(t, team, `apiVersion: v1
kind: Namespace
metadata:
  name: NAMESPACE
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: from-git
  namespace: NAMESPACE
data: {a: b}
`))
			req.Prune = true
			first, err := Sync(ctx, member, req)
			if err != nil {
				t.Fatalf("first Sync: %v", err)
			}
			if handmade {
				cm := &corev1.ConfigMap{}
				cm.Namespace, cm.Name, cm.Data = team, "handmade", map[string]string{"k": "v"}
				if err := member.Client().Create(ctx, cm); err != nil {
					t.Fatal(err)
				}
			}
			req.PreviousInventory, req.Objects, req.AllowEmpty, req.Namespace = first.Inventory, nil, true, ""
			second, err := Sync(ctx, member, req)
			if err != nil {
				t.Fatalf("Sync of the removed app: %v", err)
			}
			subject := "Namespace/" + team
			got := getObject(t, "v1", "Namespace", "", team)
			if !handmade {
				if !reflect.DeepEqual(second.Pruned, []string{"ConfigMap/" + team + "/from-git", subject}) {
					t.Errorf("Pruned = %v, want the ConfigMap and the Namespace", second.Pruned)
				}
				if got != nil && got.GetDeletionTimestamp() == nil {
					t.Errorf("the empty Namespace was not deleted")
				}
				return
			}
			if !reflect.DeepEqual(second.Pruned, []string{"ConfigMap/" + team + "/from-git"}) {
				t.Errorf("Pruned = %v, want only the app's ConfigMap", second.Pruned)
			}
			want := []string{subject + ": holds ConfigMap/" + team + "/handmade"}
			if !reflect.DeepEqual(second.NamespacesKept, want) || !reflect.DeepEqual(second.Released, []string{subject}) {
				t.Errorf("NamespacesKept = %v, Released = %v; want %v and %s released", second.NamespacesKept, second.Released, want, subject)
			}
			if got == nil || got.GetDeletionTimestamp() != nil {
				t.Fatalf("the Namespace holding a hand-made ConfigMap was deleted")
			}
			if _, ok := got.GetLabels()[flotillav1.LabelApp]; ok {
				t.Errorf("the kept Namespace still carries the owner labels: %v", got.GetLabels())
			}
			if getObject(t, "v1", "ConfigMap", team, "handmade") == nil {
				t.Errorf("the hand-made ConfigMap is gone")
			}
		})
	}
}
