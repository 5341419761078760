package apply

import (
	"context"
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestDriftIsDetectedAndCorrected(t *testing.T) {
	ctx := testCtx(t)
	ns := uniqueName("drift")
	req := baseRequest(ns, readObjects(t, ns, webManifest))
	if _, err := Sync(ctx, member, req); err != nil {
		t.Fatalf("Sync: %v", err)
	}

	drifted, err := Drift(ctx, member, req)
	if err != nil {
		t.Fatalf("Drift right after Sync: %v", err)
	}
	if len(drifted) != 0 {
		t.Fatalf("Drift right after Sync = %v, want none", drifted)
	}

	// By hand, with other field managers: change a managed ConfigMap key
	// and the Deployment's replicas, and delete the Service.
	c := member.Client()
	var cm corev1.ConfigMap
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-config"}, &cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["model"] = "hand-edited"
	if err := c.Update(ctx, &cm, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	var dep appsv1.Deployment
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &dep); err != nil {
		t.Fatal(err)
	}
	five := int32(5)
	dep.Spec.Replicas = &five
	if err := c.Update(ctx, &dep, client.FieldOwner("kubectl-scale")); err != nil {
		t.Fatal(err)
	}
	depVersion := dep.ResourceVersion
	svc := &corev1.Service{}
	svc.Namespace, svc.Name = ns, "web"
	if err := c.Delete(ctx, svc); err != nil {
		t.Fatal(err)
	}

	want := []string{"ConfigMap/" + ns + "/web-config", "Deployment/" + ns + "/web", "Service/" + ns + "/web"}
	drifted, err = Drift(ctx, member, req)
	if err != nil {
		t.Fatalf("Drift: %v", err)
	}
	if !reflect.DeepEqual(drifted, want) {
		t.Fatalf("Drift = %v, want %v", drifted, want)
	}
	// Drift changed nothing.
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &dep); err != nil {
		t.Fatal(err)
	}
	if dep.ResourceVersion != depVersion {
		t.Errorf("Drift wrote to the Deployment")
	}

	corrected, err := CorrectDrift(ctx, member, req)
	if err != nil {
		t.Fatalf("CorrectDrift: %v", err)
	}
	if !reflect.DeepEqual(corrected, want) {
		t.Errorf("CorrectDrift = %v, want %v", corrected, want)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-config"}, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Data["model"] != "v1" {
		t.Errorf("ConfigMap data.model = %q after CorrectDrift, want v1", cm.Data["model"])
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &dep); err != nil {
		t.Fatal(err)
	}
	if *dep.Spec.Replicas != 2 {
		t.Errorf("Deployment replicas = %d after CorrectDrift, want 2", *dep.Spec.Replicas)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, svc); err != nil {
		t.Errorf("Service not recreated by CorrectDrift: %v", err)
	}

	again, err := CorrectDrift(ctx, member, req)
	if err != nil || len(again) != 0 {
		t.Errorf("CorrectDrift after correction = %v, %v; want no drift", again, err)
	}
}

func TestDriftIgnoresFieldsFlotillaDoesNotManage(t *testing.T) {
	ctx := testCtx(t)
	ns := uniqueName("nodrift")
	req := baseRequest(ns, readObjects(t, ns, webManifest))
	if _, err := Sync(ctx, member, req); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	// Another tool adds a label and a ConfigMap key Flotilla never set.
	var cm corev1.ConfigMap
	if err := member.Client().Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-config"}, &cm); err != nil {
		t.Fatal(err)
	}
	cm.Labels["team"] = "vision"
	cm.Data["extra"] = "added by an operator"
	if err := member.Client().Update(ctx, &cm, client.FieldOwner("other-tool")); err != nil {
		t.Fatal(err)
	}
	drifted, err := Drift(ctx, member, req)
	if err != nil {
		t.Fatalf("Drift: %v", err)
	}
	if len(drifted) != 0 {
		t.Errorf("Drift = %v, want none: only fields Flotilla does not manage changed", drifted)
	}
}

// A missing target namespace means every object in it is missing: Drift
// reports them all and CorrectDrift creates the namespace first. (envtest
// has no namespace controller, so a deleted namespace would stay
// Terminating; a namespace that never existed stands in for it.)
func TestCorrectDriftCreatesAMissingNamespace(t *testing.T) {
	ctx := testCtx(t)
	other := uniqueName("nsnew")
	req2 := baseRequest(other, readObjects(t, other, webManifest))
	drifted, err := Drift(ctx, member, req2)
	if err != nil {
		t.Fatalf("Drift: %v", err)
	}
	if len(drifted) != 3 {
		t.Errorf("Drift into a missing namespace = %v, want all 3 objects", drifted)
	}
	if _, err := CorrectDrift(ctx, member, req2); err != nil {
		t.Fatalf("CorrectDrift: %v", err)
	}
	if getObject(t, "apps/v1", "Deployment", other, "web") == nil {
		t.Errorf("CorrectDrift did not create the namespace and its objects")
	}
}

// A namespace deleted on the cluster after a Sync remembered it must be
// created again by CorrectDrift, with everything that was in it. The
// namespace is deleted the way kube-controller-manager's namespace
// controller finishes it (envtest runs no controllers): its objects are
// deleted, then its finalizer is removed through the finalize subresource.
func TestCorrectDriftRecreatesADeletedNamespace(t *testing.T) {
	ctx := testCtx(t)
	ns := uniqueName("nsdeleted")
	req := baseRequest(ns, readObjects(t, ns, webManifest))
	req.Namespaces = NewNamespaces()
	if _, err := Sync(ctx, member, req); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if !req.Namespaces.Known(ns) {
		t.Fatalf("Sync did not remember namespace %s", ns)
	}
	deleteNamespace(ctx, t, ns)

	corrected, err := CorrectDrift(ctx, member, req)
	if err != nil {
		t.Fatalf("CorrectDrift after the namespace was deleted: %v", err)
	}
	want := []string{"ConfigMap/" + ns + "/web-config", "Deployment/" + ns + "/web", "Service/" + ns + "/web"}
	if !reflect.DeepEqual(corrected, want) {
		t.Errorf("CorrectDrift = %v, want %v", corrected, want)
	}
	if getObject(t, "v1", "Namespace", "", ns) == nil {
		t.Fatalf("CorrectDrift did not recreate namespace %s", ns)
	}
	for _, o := range []struct{ apiVersion, kind, name string }{{"v1", "ConfigMap", "web-config"}, {"apps/v1", "Deployment", "web"}, {"v1", "Service", "web"}} {
		if getObject(t, o.apiVersion, o.kind, ns, o.name) == nil {
			t.Errorf("CorrectDrift did not recreate %s %s/%s", o.kind, ns, o.name)
		}
	}
}

// deleteNamespace deletes ns and, as the namespace controller would, its
// objects, then finalizes it and waits until it is gone.
func deleteNamespace(ctx context.Context, t *testing.T, ns string) {
	t.Helper()
	c := member.Client()
	nsObj := &corev1.Namespace{}
	if err := c.Get(ctx, client.ObjectKey{Name: ns}, nsObj); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, nsObj); err != nil {
		t.Fatalf("delete namespace %s: %v", ns, err)
	}
	for _, obj := range []client.Object{&corev1.ConfigMap{}, &appsv1.Deployment{}, &corev1.Service{}} {
		if err := c.DeleteAllOf(ctx, obj, client.InNamespace(ns)); err != nil && !apierrors.IsMethodNotSupported(err) {
			t.Fatalf("delete %T in %s: %v", obj, ns, err)
		}
	}
	svcs := &corev1.ServiceList{}
	if err := c.List(ctx, svcs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for i := range svcs.Items {
		if err := c.Delete(ctx, &svcs.Items[i]); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
	}
	if err := c.Get(ctx, client.ObjectKey{Name: ns}, nsObj); err != nil {
		t.Fatal(err)
	}
	nsObj.Spec.Finalizers = nil
	if err := c.SubResource("finalize").Update(ctx, nsObj); err != nil {
		t.Fatalf("finalize namespace %s: %v", ns, err)
	}
	for getObject(t, "v1", "Namespace", "", ns) != nil {
		if ctx.Err() != nil {
			t.Fatalf("namespace %s still exists: %v", ns, ctx.Err())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
