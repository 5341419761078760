package controllers

import (
	"context"
	"encoding/json"
	"fmt"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// writeStatus sends an object's status in one request at the end of a
// reconcile, and none when it did not change. Flotilla is the only writer
// of these statuses, so a merge patch against the status as read is safe;
// one write (rather than conditions and the rest apart) means watchers
// never see a half-updated status, such as Ready for a digest not yet
// recorded. The patch is computed from the two statuses alone, not from the
// whole objects. A deleted object is not an error.
func writeStatus(ctx context.Context, c client.Client, after client.Object, beforeStatus, afterStatus any) error {
	if equality.Semantic.DeepEqual(beforeStatus, afterStatus) {
		return nil
	}
	data, err := statusMergePatch(beforeStatus, afterStatus, after.GetResourceVersion())
	if err != nil {
		return fmt.Errorf("patch %T %s/%s status: %w", after, after.GetNamespace(), after.GetName(), err)
	}
	err = c.Status().Patch(ctx, after, client.RawPatch(types.MergePatchType, data), client.FieldOwner(flotillav1.FieldManager))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("patch %T %s/%s status: %w", after, after.GetNamespace(), after.GetName(), err)
	}
	return nil
}

// statusMergePatch returns the JSON merge patch {"status": ...} that turns
// before into after. The patch is computed against before, read from the
// informer cache, so it carries before's resourceVersion: when the cache
// was stale (a write of ours had not reached it yet), the API server refuses
// the patch with a conflict and the reconcile runs again on fresh data,
// instead of leaving a field that the stale copy already showed at its new
// value at the value the missed write set.
func statusMergePatch(before, after any, resourceVersion string) ([]byte, error) {
	b, err := json.Marshal(before)
	if err != nil {
		return nil, fmt.Errorf("encode the previous status: %w", err)
	}
	a, err := json.Marshal(after)
	if err != nil {
		return nil, fmt.Errorf("encode the new status: %w", err)
	}
	p, err := jsonpatch.CreateMergePatch(b, a)
	if err != nil {
		return nil, fmt.Errorf("compute the status patch: %w", err)
	}
	out := map[string]any{"status": json.RawMessage(p)}
	if resourceVersion != "" {
		out["metadata"] = map[string]string{"resourceVersion": resourceVersion}
	}
	return json.Marshal(out)
}
