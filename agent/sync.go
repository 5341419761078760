package agent

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/apply"
)

// never is how long an app with nothing to do waits (a hub change or the
// resync wakes it sooner).
const never = 24 * time.Hour

// step does what one app needs now and returns when it needs the next
// step: remove it, apply a new desired state, wait for its dependencies or
// its health, or check it for drift.
func (a *Agent) step(ctx context.Context, st *appState) time.Duration {
	if st.deletion != "" {
		return a.remove(ctx, st)
	}
	if st.b.Spec.Suspend {
		// The hub suspended the app (its App, Cluster or FleetRepository):
		// no apply, no drift correction until the hub clears spec.suspend.
		suspend(st.b)
		return never
	}
	conditions.Delete(st.b, flotillav1.SuspendedCondition)
	next := a.sync(ctx, st)
	if st.refused != "" {
		// The cluster stays at the last good desired state (kept correct
		// above), but the hub must hear why the new one is not applied.
		st.b.Status.LastError = st.refused
		conditions.MarkFalse(st.b, meta.ReadyCondition, ReasonBundleRefused, "%s", st.refused)
		conditions.MarkStalled(st.b, ReasonBundleRefused, "%s", st.refused)
		next = min(next, a.opts.ResyncInterval)
	} else {
		conditions.Delete(st.b, meta.StalledCondition)
	}
	return next
}

func (a *Agent) sync(ctx context.Context, st *appState) time.Duration {
	b := st.b
	if b.Spec.Digest == "" {
		// Nothing valid received yet.
		return never
	}
	synced := b.Status.AppliedDigest == b.Spec.Digest
	healthy := conditions.IsTrue(b, flotillav1.HealthyCondition)
	// A reconcile request from the hub not handled yet checks drift now.
	driftNow := b.Spec.ReconcileRequestedAt != b.Status.LastHandledReconcileAt
	b.Status.LastHandledReconcileAt = b.Spec.ReconcileRequestedAt
	if synced && healthy && conditions.IsTrue(b, meta.ReadyCondition) {
		apply.MarkSynced(b, &b.Status.ClusterSyncStatus, b.Spec.Revision)
		if due := apply.DriftDue(&b.Status.ClusterSyncStatus, a.driftInterval(b)); due > 0 && !driftNow {
			return due
		}
	}
	if !synced {
		if dep := a.waitingFor(st); dep != "" {
			b.Status.WaitingFor = dep
			conditions.MarkFalse(b, meta.ReadyCondition, flotillav1.ReasonDependencyNotReady, "waiting for %s to be Ready on %s", dep, a.opts.Cluster)
			conditions.MarkReconciling(b, flotillav1.ReasonDependencyNotReady, "waiting for dependency %s", dep)
			return a.opts.HealthPollInterval
		}
		b.Status.WaitingFor = ""
		return a.apply(ctx, st)
	}
	if !healthy {
		return a.checkHealth(ctx, st)
	}
	return a.correctDrift(ctx, st)
}

// waitingFor returns the first dependsOn app not Ready on this cluster at
// its own desired state.
func (a *Agent) waitingFor(st *appState) string {
	for _, dep := range st.b.Spec.DependsOn {
		other, ok := a.apps[dep]
		if !ok || other.deletion != "" || other.b.Spec.Digest == "" ||
			other.b.Status.AppliedDigest != other.b.Spec.Digest || !conditions.IsTrue(other.b, meta.ReadyCondition) {
			return dep
		}
	}
	return ""
}

func (a *Agent) driftInterval(b *flotillav1.Bundle) time.Duration {
	if b.Spec.DriftInterval != nil && b.Spec.DriftInterval.Duration > 0 {
		return b.Spec.DriftInterval.Duration
	}
	return a.opts.DefaultDriftInterval
}

func (a *Agent) healthTimeout(b *flotillav1.Bundle) time.Duration {
	if b.Spec.HealthTimeout != nil && b.Spec.HealthTimeout.Duration > 0 {
		return b.Spec.HealthTimeout.Duration
	}
	return apply.DefaultHealthTimeout
}

func (a *Agent) request(st *appState) apply.Request {
	b := st.b
	return apply.Request{
		App:               b.Spec.App,
		Repository:        types.NamespacedName{Namespace: a.opts.FleetNamespace, Name: b.Spec.Repository},
		Namespace:         b.Spec.Namespace,
		Namespaces:        a.namespaces,
		Objects:           st.objects,
		PreviousInventory: b.Status.Inventory,
		LastApplied:       st.applied,
		Prune:             b.Spec.Prune,
		HealthTimeout:     a.healthTimeout(b),
		AdoptExisting:     b.Spec.AdoptExisting,
		ApplyTimeout:      4 * a.opts.Timeout,
	}
}

func (a *Agent) apply(ctx context.Context, st *appState) time.Duration {
	log := ctrl.LoggerFrom(ctx)
	b := st.b
	res, err := apply.Sync(ctx, a.member, a.request(st))
	st.applied = res.AppliedOrNil()
	if err != nil {
		// A partial apply may have created objects: keep them in the
		// inventory so a later prune can still find them.
		if res != nil && len(res.Inventory) > 0 {
			b.Status.Inventory = res.Inventory
		}
		b.Status.LastError = err.Error()
		conditions.MarkFalse(b, meta.ReadyCondition, flotillav1.ReasonApplyFailed, "%s", err)
		log.Error(err, "apply failed", "revision", b.Spec.Revision)
		return 5 * a.opts.HealthPollInterval
	}
	now := metav1.Now()
	b.Status.AppliedDigest = b.Spec.Digest
	b.Status.AppliedRevision = b.Spec.Revision
	b.Status.LastAppliedTime = &now
	b.Status.LastDriftCheckTime = &now
	b.Status.DriftedObjects = nil
	b.Status.Inventory = res.Inventory
	b.Status.LastError = ""
	if res.Changed() {
		log.Info("applied", "revision", b.Spec.Revision, "changes", res.Summary())
	}
	return a.checkHealth(ctx, st)
}

func (a *Agent) checkHealth(ctx context.Context, st *appState) time.Duration {
	b := st.b
	health, err := apply.CheckHealth(ctx, a.member, b.Status.Inventory, apply.ReadyWhenStored(st.objects))
	if err != nil {
		b.Status.LastError = err.Error()
		ctrl.LoggerFrom(ctx).Error(err, "health check failed")
		return a.opts.HealthPollInterval
	}
	if health.Ready {
		apply.MarkSynced(b, &b.Status.ClusterSyncStatus, b.Spec.Revision)
		due := apply.DriftDue(&b.Status.ClusterSyncStatus, a.driftInterval(b))
		if due <= 0 {
			due = a.opts.HealthPollInterval
		}
		return due
	}
	timeout := a.healthTimeout(b)
	waited := time.Duration(0)
	if since := apply.HealthWaitStart(&b.Status.ClusterSyncStatus); since != nil {
		waited = time.Since(since.Time)
	}
	msg := health.Summary()
	if waited >= timeout {
		conditions.MarkFalse(b, flotillav1.HealthyCondition, flotillav1.ReasonHealthCheckFailed, "not ready after %s: %s", timeout, msg)
		conditions.MarkFalse(b, meta.ReadyCondition, flotillav1.ReasonHealthCheckFailed, "not ready after %s: %s", timeout, msg)
		conditions.Delete(b, meta.ReconcilingCondition)
		return 5 * a.opts.HealthPollInterval
	}
	conditions.MarkUnknown(b, flotillav1.HealthyCondition, flotillav1.ReasonProgressing, "%s", msg)
	conditions.MarkUnknown(b, meta.ReadyCondition, flotillav1.ReasonProgressing, "waiting for readiness: %s", msg)
	conditions.MarkReconciling(b, flotillav1.ReasonProgressing, "waiting for readiness")
	return a.opts.HealthPollInterval
}

func (a *Agent) correctDrift(ctx context.Context, st *appState) time.Duration {
	b := st.b
	drifted, err := apply.CorrectDrift(ctx, a.member, a.request(st))
	if err != nil {
		b.Status.LastError = err.Error()
		ctrl.LoggerFrom(ctx).Error(err, "drift check failed")
		return a.opts.HealthPollInterval
	}
	now := metav1.Now()
	b.Status.LastDriftCheckTime = &now
	b.Status.DriftedObjects = drifted
	if len(drifted) > 0 {
		b.Status.DriftCorrections += int64(len(drifted))
		ctrl.LoggerFrom(ctx).Info("drift corrected", "objects", drifted,
			"message", fmt.Sprintf("restored %d object(s) changed on the cluster: %s", len(drifted), strings.Join(drifted, ", ")))
	}
	return a.checkHealth(ctx, st)
}

// remove acts on the hub's deletion request: prune (or leave in place) what
// the app applied, forget its persisted state and report it removed.
func (a *Agent) remove(ctx context.Context, st *appState) time.Duration {
	b := st.b
	if b.Status.Removed {
		return never
	}
	log := ctrl.LoggerFrom(ctx)
	repo := b.Spec.Repository
	if repo == "" && st.hub != nil {
		repo = repositoryOf(st.hub)
	}
	msg := fmt.Sprintf("%d object(s) left in place", len(b.Status.Inventory))
	if st.deletion == flotillav1.BundleDeletionPrune && len(b.Status.Inventory) > 0 {
		app := b.Spec.App
		if app == "" {
			app = b.Name
		}
		res, err := apply.Sync(ctx, a.member, apply.Request{
			App:               app,
			Repository:        types.NamespacedName{Namespace: a.opts.FleetNamespace, Name: repo},
			PreviousInventory: b.Status.Inventory,
			Prune:             true,
			AllowEmpty:        true,
			ApplyTimeout:      4 * a.opts.Timeout,
		})
		if err != nil {
			b.Status.LastError = err.Error()
			conditions.MarkFalse(b, meta.ReadyCondition, flotillav1.ReasonPruneFailed, "%s", err)
			log.Error(err, "prune failed")
			return 5 * a.opts.HealthPollInterval
		}
		msg = fmt.Sprintf("pruned %d object(s), released %d, left %d in place", len(res.Pruned), len(res.Released), len(res.PruneSkipped))
		log.Info("removed the app", "pruned", res.Pruned, "released", res.Released)
	} else {
		log.Info("removed the app: its objects are left in place", "objects", len(b.Status.Inventory))
	}
	if err := a.store.remove(ctx, b.Name); err != nil {
		b.Status.LastError = err.Error()
		log.Error(err, "forget the app's state")
		return a.opts.HealthPollInterval
	}
	st.saved, st.savedDigest = nil, ""
	b.Status.Removed = true
	b.Status.Inventory = nil
	b.Status.LastError = ""
	b.Status.WaitingFor = ""
	conditions.MarkFalse(b, meta.ReadyCondition, "Removed", "%s: %s", st.deletion, msg)
	conditions.Delete(b, meta.ReconcilingCondition)
	conditions.Delete(b, flotillav1.HealthyCondition)
	return never
}
