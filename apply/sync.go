package apply

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/fluxcd/pkg/ssa"
	"github.com/fluxcd/pkg/ssa/utils"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// Sync applies req.Objects to the cluster, prunes what left them (when
// req.Prune) and waits for readiness (when req.Wait).
//
// The result is returned even on error, with an Inventory that covers
// everything that may carry our labels, so the caller should record it.
// Errors:
//   - *ValidationError: the request is unusable (including ErrEmptyPrune);
//     nothing was sent to the cluster.
//   - *ObjectError: one object failed (message starts with Kind/namespace/name).
//     Objects the app may not take over (ErrOwnedByAnotherApp,
//     ErrNotCreatedByFlotilla) fail the sync before anything is applied;
//     with several, the errors are joined.
//   - *UnhealthyError: everything was applied, but not everything became
//     ready within req.HealthTimeout; Result.Health says why.
//   - other errors wrap the cluster's error and name the cluster.
func Sync(ctx context.Context, cl ClusterClient, req Request) (*Result, error) {
	log := ctrl.LoggerFrom(ctx).WithValues("cluster", cl.Name(), "app", req.App)
	if err := req.validate(); err != nil {
		return nil, err
	}
	res := &Result{ChangeSet: ssa.NewChangeSet(), Inventory: sortInventory(append(req.PreviousInventory[:0:0], req.PreviousInventory...))}

	applyCtx, cancel := context.WithTimeout(ctx, req.applyTimeout())
	defer cancel()

	if len(req.Objects) > 0 {
		created, err := ensureNamespace(applyCtx, cl, req.Namespaces, req.Namespace)
		if err != nil {
			return res, err
		}
		res.NamespaceCreated = created
	}

	objects, err := prepare(cl, &req)
	if err != nil {
		return res, err
	}

	// Per-object controls: create-only objects that exist are left
	// alone, fields another controller owns keep their live values.
	leave, err := applyControls(applyCtx, cl, objects, req.concurrency())
	if err != nil {
		return res, err
	}
	ids, hashes, err := hashObjects(objects)
	if err != nil {
		return res, &ValidationError{Field: "Objects", Message: err.Error()}
	}
	// Before the first apply of an object (staged or direct), make sure
	// the app may own it.
	adopted, err := checkOwnership(applyCtx, cl, &req, req.Objects, objects, ids)
	if err != nil {
		return res, err
	}
	send, sendIDs, left := withoutLeft(objects, ids, leave)
	start := time.Now()
	rm := newManager(cl, req.concurrency())
	var cs *ssa.ChangeSet
	if idx, direct := directPlan(&req, send, sendIDs, hashes); direct {
		res.Direct = true
		cs, err = applyDirect(applyCtx, cl, send, idx, req.concurrency())
	} else {
		cs, err = rm.ApplyAllStaged(applyCtx, send, applyOptions(&req))
	}
	if cs != nil {
		addUnchanged(cs, left)
		res.ChangeSet = cs
	}
	applied := markAdopted(inventoryFromChangeSet(cs), adopted)
	if err != nil {
		// Someone may have deleted the namespace: read it next time.
		req.Namespaces.Forget(req.Namespace)
		// Keep everything that may exist with our labels in the inventory.
		res.Inventory = mergeInventories(res.Inventory, applied)
		return res, wrapObjectError(cl.Name(), objects, err)
	}
	res.Inventory = applied
	res.Applied = hashes
	log.V(1).Info("applied", "objects", len(objects), "direct", res.Direct, "duration", time.Since(start).String())

	if req.Prune {
		pr, err := prune(applyCtx, cl, &req, applied)
		res.Pruned, res.PruneSkipped, res.Released, res.NamespacesKept = pr.deleted, pr.skipped, pr.released, pr.kept
		res.Inventory = mergeInventories(res.Inventory, pr.remaining)
		if err != nil {
			return res, err
		}
		if len(pr.deleted) > 0 {
			log.Info("pruned", "objects", pr.deleted)
		}
		if len(pr.released) > 0 {
			log.Info("released adopted objects", "objects", pr.released)
		}
		if len(pr.kept) > 0 {
			log.Info("kept namespaces that hold objects Flotilla did not apply", "namespaces", pr.kept)
		}
	}

	if req.Wait {
		health, err := waitHealthy(ctx, cl, rm, &req, res.Inventory)
		res.Health = health
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// withoutLeft splits the prepared objects (and their IDs) into those to
// send and those per-object controls leave alone.
func withoutLeft(objects []*unstructured.Unstructured, ids []string, leave []bool) (send []*unstructured.Unstructured, sendIDs []string, left []*unstructured.Unstructured) {
	send = make([]*unstructured.Unstructured, 0, len(objects))
	sendIDs = make([]string, 0, len(objects))
	for i, o := range objects {
		if leave[i] {
			left = append(left, o)
			continue
		}
		send = append(send, o)
		sendIDs = append(sendIDs, ids[i])
	}
	return send, sendIDs, left
}

// addUnchanged records objects left alone as unchanged, so that they stay
// in the inventory.
func addUnchanged(cs *ssa.ChangeSet, objs []*unstructured.Unstructured) {
	for _, o := range objs {
		cs.Add(ssa.ChangeSetEntry{
			ObjMetadata:  object.UnstructuredToObjMetadata(o),
			GroupVersion: o.GroupVersionKind().Version,
			Subject:      utils.FmtUnstructured(o),
			Action:       ssa.UnchangedAction,
		})
	}
}

// applyOptions are the ssa options for one request. Objects that were
// first created with client-side `kubectl apply` (and that the app may own,
// see checkOwnership) are taken over: kubectl's last-applied annotation is
// removed and its field ownership is moved to Flotilla, so that fields
// removed from Git are removed from the cluster.
func applyOptions(req *Request) ssa.ApplyOptions {
	opts := ssa.DefaultApplyOptions()
	opts.Force = req.Force
	opts.WaitInterval = 500 * time.Millisecond
	opts.WaitTimeout = req.applyTimeout()
	opts.Cleanup = ssa.ApplyCleanupOptions{
		Annotations: []string{"kubectl.kubernetes.io/last-applied-configuration"},
		FieldManagers: []ssa.FieldManager{
			{Name: "kubectl-client-side-apply", ExactMatch: true, OperationType: "Update"},
			{Name: "before-first-apply", ExactMatch: true, OperationType: "Update"},
		},
	}
	return opts
}

// waitHealthy waits for the inventory to become ready and, when it does
// not, computes once why not.
func waitHealthy(ctx context.Context, cl ClusterClient, rm *ssa.ResourceManager, req *Request, inv []flotillav1.ObjectRef) (*Health, error) {
	set, err := objMetadataSet(inv)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	waitErr := rm.WaitForSetWithContext(ctx, set, ssa.WaitOptions{
		Interval: req.healthInterval(),
		Timeout:  req.healthTimeout(),
	})
	if waitErr == nil {
		return &Health{Ready: true, Checked: len(inv)}, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	// Describe what is not ready, under a short deadline of its own.
	checkCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	health, err := CheckHealth(checkCtx, cl, inv)
	if err != nil {
		return nil, fmt.Errorf("health check on cluster %s failed: %w", cl.Name(), errors.Join(waitErr, err))
	}
	if health.Ready {
		// Became ready between the last poll and the check.
		return health, nil
	}
	return health, &UnhealthyError{Cluster: cl.Name(), Waited: time.Since(start), Health: health}
}
