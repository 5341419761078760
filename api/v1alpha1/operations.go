package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Day-to-day operations on the hub: suspending and resuming syncs, and
// asking for a sync now. The Cluster and App objects on the hub mirror the
// fleet repository, so hub-side switches on them are annotations, which the
// mirror leaves alone (it owns labels and spec only).
const (
	// AnnotationSuspended, set to "true" on a Cluster or an App, stops the
	// applies and drift corrections of every ClusterSync the object covers
	// (for pull clusters, the Bundle is frozen and the agent stops too).
	// Removing it (or any other value) resumes them. A FleetRepository is
	// suspended with spec.suspend instead.
	AnnotationSuspended = "flotilla.dev/suspended"

	// AnnotationReconcileRequestedAt, set to a new value (the CLI writes the
	// time) on a FleetRepository, Cluster, App or ClusterSync, asks for a
	// sync now instead of at the next interval: a FleetRepository fetches
	// again, and every ClusterSync the object covers checks for drift.
	AnnotationReconcileRequestedAt = "flotilla.dev/reconcile-requested-at"

	// SuspendedCondition is True on a FleetRepository or ClusterSync whose
	// syncing is suspended; it is removed on resume. Suspension leaves the
	// Ready condition as it was.
	SuspendedCondition = "Suspended"
)

// HasSuspendedAnnotation reports whether obj carries
// flotilla.dev/suspended: "true".
func HasSuspendedAnnotation(obj metav1.Object) bool {
	return obj.GetAnnotations()[AnnotationSuspended] == "true"
}
