package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// writeStatus sends an object's status in one request at the end of a
// reconcile, and none when it did not change. Flotilla is the only writer
// of these statuses, so a merge patch against the object as read is safe;
// one write (rather than conditions and the rest apart) means watchers
// never see a half-updated status, such as Ready for a digest not yet
// recorded. A deleted object is not an error.
func writeStatus(ctx context.Context, c client.Client, before, after client.Object, beforeStatus, afterStatus any) error {
	if equality.Semantic.DeepEqual(beforeStatus, afterStatus) {
		return nil
	}
	err := c.Status().Patch(ctx, after, client.MergeFrom(before), client.FieldOwner(flotillav1.FieldManager))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("patch %T %s/%s status: %w", after, after.GetNamespace(), after.GetName(), err)
	}
	return nil
}
