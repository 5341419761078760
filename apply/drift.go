package apply

import (
	"context"
	"sort"

	"github.com/fluxcd/pkg/ssa"
	"github.com/fluxcd/pkg/ssa/utils"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
)

// Drift compares each of req.Objects with the cluster by a server-side
// dry-run apply and returns, sorted, the objects (as Kind/namespace/name)
// that are missing or whose fields managed by Flotilla differ. Fields owned
// by other managers (labels added by hand, replicas set by an autoscaler
// that Flotilla does not set) are not drift, nor are the fields an object
// lists in flotilla.dev/ignore-fields, nor a flotilla.dev/create-only
// object that exists. Drift changes nothing; only
// Objects, App, Repository, Namespace, Namespaces, ApplyTimeout and
// Concurrency of req are used. A missing target namespace is forgotten by
// req.Namespaces.
func Drift(ctx context.Context, cl ClusterClient, req Request) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, req.applyTimeout())
	defer cancel()
	drifted, _, err := drift(ctx, cl, &req)
	return subjects(drifted), err
}

// CorrectDrift runs Drift and re-applies only the drifted objects (creating
// the target namespace first if it was deleted). It returns the objects it
// corrected, sorted; an empty list means there was no drift and nothing was
// written.
func CorrectDrift(ctx context.Context, cl ClusterClient, req Request) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, req.applyTimeout())
	defer cancel()
	drifted, all, err := drift(ctx, cl, &req)
	if err != nil || len(drifted) == 0 {
		return nil, err
	}
	if _, err := ensureNamespace(ctx, cl, req.Namespaces, req.Namespace); err != nil {
		return nil, err
	}
	rm := newManager(cl, req.concurrency())
	if _, err := rm.ApplyAllStaged(ctx, drifted, applyOptions(&req)); err != nil {
		req.Namespaces.Forget(req.Namespace)
		return nil, wrapObjectError(cl.Name(), all, err)
	}
	list := subjects(drifted)
	ctrl.LoggerFrom(ctx).Info("corrected drift", "cluster", cl.Name(), "app", req.App, "objects", list)
	return list, nil
}

// drift returns the drifted prepared objects and all prepared objects.
func drift(ctx context.Context, cl ClusterClient, req *Request) (drifted, all []*unstructured.Unstructured, err error) {
	if err := req.validate(); err != nil {
		return nil, nil, err
	}
	all, err = prepare(cl, req)
	if err != nil {
		return nil, nil, err
	}
	if req.Namespace != "" {
		exists, err := namespaceExists(ctx, cl, req.Namespace)
		if err != nil {
			return nil, nil, err
		}
		if !exists {
			// Everything in it is gone with it, and whoever remembered
			// it must create it again.
			req.Namespaces.Forget(req.Namespace)
			return all, all, nil
		}
	}
	// A create-only object that exists is never drift; a field another
	// controller owns is compared with its own live value.
	leave, err := applyControls(ctx, cl, all, req.concurrency())
	if err != nil {
		return nil, nil, err
	}
	crdKinds := crdScopesOf(all)
	rm := newManager(cl, req.concurrency())
	isDrifted := make([]bool, len(all))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(req.concurrency())
	for i, obj := range all {
		if leave[i] {
			continue
		}
		g.Go(func() error {
			entry, _, _, err := rm.Diff(gctx, obj.DeepCopy(), ssa.DefaultDiffOptions())
			if _, defined := crdKinds[obj.GroupVersionKind().GroupKind()]; defined && meta.IsNoMatchError(err) {
				// Its CRD is missing too (and drifted): the object cannot exist.
				isDrifted[i] = true
				return nil
			}
			if err != nil {
				return wrapObjectError(cl.Name(), all, err)
			}
			isDrifted[i] = entry.Action == ssa.CreatedAction || entry.Action == ssa.ConfiguredAction
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	for i, obj := range all {
		if isDrifted[i] {
			drifted = append(drifted, obj)
		}
	}
	return drifted, all, nil
}

func subjects(objs []*unstructured.Unstructured) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, utils.FmtUnstructured(o))
	}
	sort.Strings(out)
	return out
}
