package agent

import (
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// suspend records on the agent's copy of a bundle that the hub suspended
// it (spec.suspend): the Suspended condition is True, Ready keeps its
// status, nothing is in progress.
func suspend(b *flotillav1.Bundle) {
	conditions.MarkTrue(b, flotillav1.SuspendedCondition, flotillav1.ReasonSuspended,
		"suspended on the hub: nothing is applied and drift is not corrected until it is resumed")
	conditions.Delete(b, meta.ReconcilingCondition)
}
