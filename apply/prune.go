package apply

import (
	"context"
	"sort"

	"github.com/fluxcd/pkg/ssa"
	"github.com/fluxcd/pkg/ssa/utils"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

type pruneResult struct {
	// deleted were deleted now.
	deleted []string
	// released were adopted and are now given back, left in place.
	released []string
	// skipped exist but no longer carry our owner labels; left in place.
	skipped []string
	// kept are the Namespace objects released instead of deleted because
	// they hold objects Flotilla did not apply, with why.
	kept []string
	// remaining could not be deleted and stay in the inventory for a retry.
	remaining []flotillav1.ObjectRef
}

// prune deletes the objects of req.PreviousInventory that are not in
// current. An object is deleted only if it still exists and carries all of
// this app's owner labels; the delete is conditional on the UID read, so an
// object recreated by someone else in between is never deleted. Objects the
// app adopted (inventory entries marked Adopted) are released instead:
// they lose Flotilla's labels and field ownership and stay in place, and so
// are objects annotated flotilla.dev/prune: disabled on the cluster and
// Namespace objects that hold objects Flotilla did not apply for this app
// (see foreignObjects). The target namespace is never deleted.
func prune(ctx context.Context, cl ClusterClient, req *Request, current []flotillav1.ObjectRef) (pruneResult, error) {
	var res pruneResult
	want := OwnerLabels(req.App, req.Repository)

	stale := staleRefs(req.PreviousInventory, current)
	objs := make([]*unstructured.Unstructured, 0, len(stale))
	refs := map[*unstructured.Unstructured]flotillav1.ObjectRef{}
	var errs []error
	for _, ref := range stale {
		obj, err := objectFromRef(ref)
		if err != nil {
			// A corrupt entry cannot name anything to delete; drop it.
			errs = append(errs, err)
			continue
		}
		if req.Namespace != "" && utils.IsNamespace(obj) && obj.GetName() == req.Namespace {
			continue
		}
		objs = append(objs, obj)
		refs[obj] = ref
	}
	// Delete in the reverse of apply order: workloads before CRDs and
	// namespaces.
	sort.Sort(sort.Reverse(ssa.SortableUnstructureds(objs)))

	for _, obj := range objs {
		subject := utils.FmtUnstructured(obj)
		existing := &unstructured.Unstructured{}
		existing.SetGroupVersionKind(obj.GroupVersionKind())
		err := cl.Client().Get(ctx, client.ObjectKeyFromObject(obj), existing)
		switch {
		case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
			// Already gone (or its kind is gone with its CRD).
			continue
		case err != nil:
			errs = append(errs, &ObjectError{Object: subject, Cluster: cl.Name(), Op: "get before prune", Err: err})
			res.remaining = append(res.remaining, refs[obj])
			continue
		}
		if !HasOwnerLabels(existing.GetLabels(), want) {
			res.skipped = append(res.skipped, subject)
			continue
		}
		if existing.GetDeletionTimestamp() != nil {
			res.deleted = append(res.deleted, subject)
			continue
		}
		if refs[obj].Adopted || existing.GetAnnotations()[flotillav1.AnnotationPrune] == flotillav1.PruneDisabled {
			if err := release(ctx, cl, existing, want); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, &ObjectError{Object: subject, Cluster: cl.Name(), Op: "release", Err: err})
				res.remaining = append(res.remaining, refs[obj])
				continue
			}
			res.released = append(res.released, subject)
			continue
		}
		if utils.IsNamespace(existing) {
			// Deleting a namespace deletes everything in it: only when
			// it holds nothing but what this app applied.
			found, err := foreignObjects(ctx, cl, existing.GetName(), want)
			if err != nil || len(found) > 0 {
				why := "holds " + describeForeign(found)
				if err != nil {
					why = "its contents could not be listed: " + err.Error()
				}
				if err := release(ctx, cl, existing, want); err != nil && !apierrors.IsNotFound(err) {
					errs = append(errs, &ObjectError{Object: subject, Cluster: cl.Name(), Op: "release", Err: err})
					res.remaining = append(res.remaining, refs[obj])
					continue
				}
				res.released = append(res.released, subject)
				res.kept = append(res.kept, subject+": "+why)
				continue
			}
		}
		uid := existing.GetUID()
		err = cl.Client().Delete(ctx, existing,
			client.PropagationPolicy(metav1.DeletePropagationBackground),
			client.Preconditions{UID: &uid})
		switch {
		case err == nil, apierrors.IsNotFound(err):
			res.deleted = append(res.deleted, subject)
		case apierrors.IsConflict(err):
			// Replaced by another object since the Get: not ours to delete.
			res.skipped = append(res.skipped, subject)
		default:
			errs = append(errs, &ObjectError{Object: subject, Cluster: cl.Name(), Op: "prune", Err: err})
			res.remaining = append(res.remaining, refs[obj])
		}
	}
	sort.Strings(res.deleted)
	sort.Strings(res.released)
	sort.Strings(res.skipped)
	return res, kerrors.NewAggregate(errs)
}
