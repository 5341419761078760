package apply

import (
	"context"
	"errors"
	"fmt"

	"github.com/fluxcd/pkg/ssa/utils"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// ErrNotCreatedByFlotilla is wrapped by the *ObjectError of an object that
// already exists on the cluster without Flotilla owner labels, when the app
// did not opt in to adopting it.
var ErrNotCreatedByFlotilla = errors.New("exists on the cluster and was not created by Flotilla")

// ErrOwnedByAnotherApp is wrapped by the *ObjectError of an object that
// already exists on the cluster with the owner labels of another Flotilla
// app (or of the same app name from another FleetRepository).
var ErrOwnedByAnotherApp = errors.New("is owned by another Flotilla app")

// checkOwnership reads, before their first apply, the objects that are not
// in the previous inventory, and refuses those this app must not take over:
// objects of another Flotilla app always, objects without Flotilla owner
// labels unless adoption is allowed (req.AdoptExisting or the
// flotilla.dev/adopt annotation on the object in Git). Objects already in
// the inventory are not read again, so a steady-state sync sends no extra
// request. It returns the IDs of the objects that are (or stay) adopted.
//
// src and objects are the request's objects and their prepared copies, in
// the same order; ids are the prepared objects' inventory IDs.
func checkOwnership(ctx context.Context, cl ClusterClient, req *Request, src, objects []*unstructured.Unstructured, ids []string) (map[string]bool, error) {
	adopted := map[string]bool{}
	known := make(map[string]bool, len(req.PreviousInventory))
	for _, r := range req.PreviousInventory {
		known[r.ID] = true
		if r.Adopted {
			adopted[r.ID] = true
		}
	}
	want := OwnerLabels(req.App, req.Repository)
	errs := make([]error, len(objects)) // each goroutine writes its own index
	adopt := make([]bool, len(objects))
	var g errgroup.Group
	g.SetLimit(req.concurrency())
	for i, obj := range objects {
		if known[ids[i]] {
			continue
		}
		g.Go(func() error {
			adopt[i], errs[i] = checkNewObject(ctx, cl, req, want, obj, adoptAllowed(req, src[i]))
			return nil
		})
	}
	_ = g.Wait()
	for i := range objects {
		if adopt[i] {
			adopted[ids[i]] = true
		}
	}
	return adopted, errors.Join(errs...)
}

// checkNewObject reads one object not in the inventory and decides whether
// it may be applied, and whether that adopts it.
func checkNewObject(ctx context.Context, cl ClusterClient, req *Request, want map[string]string, obj *unstructured.Unstructured, allowAdopt bool) (adopt bool, err error) {
	subject := utils.FmtUnstructured(obj)
	existing := &unstructured.Unstructured{}
	existing.SetGroupVersionKind(obj.GroupVersionKind())
	err = cl.Client().Get(ctx, client.ObjectKeyFromObject(obj), existing)
	switch {
	case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
		// New (or its kind arrives with a CRD of the same set).
		return false, nil
	case err != nil:
		return false, &ObjectError{Object: subject, Cluster: cl.Name(), Op: "get before first apply", Err: err}
	}
	labels := existing.GetLabels()
	switch {
	case HasOwnerLabels(labels, want):
		// Ours already (an inventory lost after a failed sync).
		return false, nil
	case labels[flotillav1.LabelApp] != "":
		return false, &ObjectError{Object: subject, Cluster: cl.Name(), Op: "take over", Err: fmt.Errorf(
			"%w: it belongs to app %s of FleetRepository %s/%s, so app %s does not touch it; two apps must not render the same object: remove it from one of them",
			ErrOwnedByAnotherApp, labels[flotillav1.LabelApp], labels[flotillav1.LabelRepositoryNamespace], labels[flotillav1.LabelRepository], req.App)}
	case allowAdopt:
		return true, nil
	default:
		return false, &ObjectError{Object: subject, Cluster: cl.Name(), Op: "take over", Err: fmt.Errorf(
			"%w, so app %s does not take it over (it would be deleted when the app stops rendering it); to adopt it, annotate it in Git with %s: \"true\" or set spec.adoptExisting: true in the app's app.yaml (adopted objects are released, not deleted); or delete it from the cluster first",
			ErrNotCreatedByFlotilla, req.App, flotillav1.AnnotationAdopt)}
	}
}

// adoptAllowed reports whether the app may adopt obj (the object as
// rendered from Git) when it exists without Flotilla owner labels. The
// app's target namespace always may be: Sync creates it without labels
// before the apply, and never deletes it.
func adoptAllowed(req *Request, obj *unstructured.Unstructured) bool {
	if req.Namespace != "" && utils.IsNamespace(obj) && obj.GetName() == req.Namespace {
		return true
	}
	return req.AdoptExisting || obj.GetAnnotations()[flotillav1.AnnotationAdopt] == "true"
}

// markAdopted sets Adopted on the entries of inv listed in adopted.
func markAdopted(inv []flotillav1.ObjectRef, adopted map[string]bool) []flotillav1.ObjectRef {
	for i := range inv {
		if adopted[inv[i].ID] {
			inv[i].Adopted = true
		}
	}
	return inv
}

// removeAdoptAnnotation drops the flotilla.dev/adopt annotation from a
// prepared copy: it tells Flotilla what to do and is not sent to clusters.
func removeAdoptAnnotation(obj *unstructured.Unstructured) {
	ann := obj.GetAnnotations()
	if _, ok := ann[flotillav1.AnnotationAdopt]; !ok {
		return
	}
	delete(ann, flotillav1.AnnotationAdopt)
	if len(ann) == 0 {
		ann = nil
	}
	obj.SetAnnotations(ann)
}
