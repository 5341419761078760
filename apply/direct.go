package apply

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/maphash"

	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/fluxcd/pkg/ssa"
	"github.com/fluxcd/pkg/ssa/utils"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// Applied records what a successful Sync applied: a hash of each object as
// sent, by inventory ID. It is only meaningful inside the process that
// computed it (the hash seed is chosen per process), which is where the
// controller keeps it.
type Applied map[string]uint64

// hashSeed keys the object hashes of this process.
var hashSeed = maphash.MakeSeed()

// hashObjects hashes each prepared object as it is sent to the cluster.
func hashObjects(objects []*unstructured.Unstructured) (ids []string, hashes Applied, err error) {
	ids = make([]string, len(objects))
	hashes = make(Applied, len(objects))
	for i, o := range objects {
		data, err := json.Marshal(o.Object)
		if err != nil {
			return nil, nil, fmt.Errorf("encode %s: %w", utils.FmtUnstructured(o), err)
		}
		ids[i] = object.UnstructuredToObjMetadata(o).String()
		hashes[ids[i]] = maphash.Bytes(hashSeed, data)
	}
	return ids, hashes, nil
}

// directPlan decides whether the objects can be applied without the
// per-object read and dry-run that ssa's staged apply makes, and which of
// them to send. That holds when this process applied every one of them
// successfully before (req.LastApplied), so they exist and any takeover
// from kubectl is done; when no object to send defines cluster types
// (CRDs, Namespaces, ClusterRoles, classes), which must be applied and
// ready before the rest; and when recreating objects (req.Force) is not
// asked for. Objects unchanged since that apply are not sent at all: a
// change made on the cluster by hand is drift, found and corrected by the
// drift check.
func directPlan(req *Request, objects []*unstructured.Unstructured, ids []string, hashes Applied) (send []int, ok bool) {
	if req.Force || req.LastApplied == nil {
		return nil, false
	}
	for i, o := range objects {
		last, known := req.LastApplied[ids[i]]
		if !known {
			return nil, false
		}
		if last == hashes[ids[i]] {
			continue
		}
		if utils.IsClusterDefinition(o) || utils.IsClassDefinition(o) {
			return nil, false
		}
		send = append(send, i)
	}
	return send, true
}

// applyDirect server-side applies the objects listed in send (field
// manager flotilla, forcing ownership, as ssa does) at most concurrency at
// a time, and returns a change set with every object: configured when sent,
// unchanged otherwise.
func applyDirect(ctx context.Context, cl ClusterClient, objects []*unstructured.Unstructured, send []int, concurrency int) (*ssa.ChangeSet, error) {
	sent := make([]bool, len(objects))
	errs := make([]error, len(objects)) // each goroutine writes its own index
	var g errgroup.Group
	g.SetLimit(concurrency)
	for _, i := range send {
		sent[i] = true
		g.Go(func() error {
			o := objects[i]
			if err := cl.Client().Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.ForceOwnership, client.FieldOwner(flotillav1.FieldManager)); err != nil {
				errs[i] = fmt.Errorf("%s apply failed: %w", utils.FmtUnstructured(o), err)
			}
			return nil
		})
	}
	_ = g.Wait()
	cs := ssa.NewChangeSet()
	for i, o := range objects {
		if errs[i] != nil {
			continue
		}
		action := ssa.UnchangedAction
		if sent[i] {
			action = ssa.ConfiguredAction
		}
		cs.Add(ssa.ChangeSetEntry{
			ObjMetadata:  object.UnstructuredToObjMetadata(o),
			GroupVersion: o.GroupVersionKind().Version,
			Subject:      utils.FmtUnstructured(o),
			Action:       action,
		})
	}
	for _, i := range send {
		if errs[i] != nil {
			return cs, errs[i] // the first failed object, in order
		}
	}
	return cs, nil
}
