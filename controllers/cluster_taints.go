package controllers

import (
	"slices"
	"time"

	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// Reasons of the events recorded when the hub taints a cluster
// unreachable or lifts the taint.
const (
	reasonTainted   = "TaintedUnreachable"
	reasonUntainted = "UntaintedUnreachable"
)

// unreachableSince returns when the cluster was last known reachable: its
// last heartbeat, or, for a cluster never seen, when Reachable turned
// False. ok is false while the cluster is not known to be unreachable
// (Reachable True, Unknown or not set).
func unreachableSince(c *flotillav1.Cluster) (since time.Time, ok bool) {
	cond := conditions.Get(c, flotillav1.ReachableCondition)
	if cond == nil || cond.Status != metav1.ConditionFalse {
		return time.Time{}, false
	}
	if c.Status.LastHeartbeatTime != nil {
		return c.Status.LastHeartbeatTime.Time, true
	}
	return cond.LastTransitionTime.Time, true
}

// updateUnreachableTaint keeps the hub's flotilla.dev/unreachable NoExecute
// taint in status.taints in step with reachability, the way Kubernetes'
// node lifecycle taints a node: a cluster unreachable for longer than
// grace since it was last seen is tainted (timeAdded is now); a reachable
// one, or one whose reachability is unknown, is not. It returns whether
// the taint was added or removed, and how long until the grace period of
// an untainted unreachable cluster ends (zero when no wait is pending).
func updateUnreachableTaint(c *flotillav1.Cluster, now time.Time, grace time.Duration) (added, removed bool, wait time.Duration) {
	i := slices.IndexFunc(c.Status.Taints, func(t corev1.Taint) bool {
		return t.Key == flotillav1.TaintUnreachable && t.Effect == corev1.TaintEffectNoExecute
	})
	since, down := unreachableSince(c)
	switch {
	case !down && i >= 0:
		c.Status.Taints = slices.Delete(c.Status.Taints, i, i+1)
		if len(c.Status.Taints) == 0 {
			c.Status.Taints = nil
		}
		return false, true, 0
	case !down || i >= 0:
		return false, false, 0
	}
	if left := since.Add(grace).Sub(now); left > 0 {
		return false, false, left
	}
	c.Status.Taints = append(c.Status.Taints, corev1.Taint{
		Key:       flotillav1.TaintUnreachable,
		Effect:    corev1.TaintEffectNoExecute,
		TimeAdded: &metav1.Time{Time: now},
	})
	return true, false, 0
}

// taintUnreachable applies updateUnreachableTaint to a reconciled cluster
// with an event for each change, and returns how long until it must look
// again.
func (r *ClusterReconciler) taintUnreachable(c *flotillav1.Cluster) time.Duration {
	added, removed, wait := updateUnreachableTaint(c, r.Options.Clock.Now(), r.Options.UnreachableGrace)
	switch {
	case added:
		r.Recorder.Eventf(c, corev1.EventTypeWarning, reasonTainted,
			"cluster unreachable for longer than %s: tainted %s:NoExecute; apps with placement.failover leave after their tolerationSeconds",
			r.Options.UnreachableGrace, flotillav1.TaintUnreachable)
	case removed:
		r.Recorder.Eventf(c, corev1.EventTypeNormal, reasonUntainted, "cluster reachable again: taint %s removed", flotillav1.TaintUnreachable)
	}
	return wait
}
