package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/apply"
	"github.com/flotilla-gitops/flotilla/apply/clusterclient"
)

// ClusterSyncReconciler applies one app's desired state to one cluster:
// server-side apply, prune, readiness, drift correction. It makes no call
// to the member cluster when the applied digest already equals the desired
// one and no drift check is due.
type ClusterSyncReconciler struct {
	client.Client
	Recorder record.EventRecorder
	Store    *desiredStore
	Clients  *clusterClients
	Reach    *reachability
	Limits   *limiter
	Options  Options

	// applied remembers, per ClusterSync UID, what the last successful
	// apply in this process sent, so the next one sends only what changed.
	applied appliedObjects
	// namespaces remembers, per member cluster client, the target
	// namespaces seen there, so an apply does not read its namespace every
	// time; drift checks forget a namespace found missing.
	namespaces namespaceMemories

	// APIReader reads the hub without the cache, where a stale view would
	// do harm (collecting the BundleChunks of pull clusters); nil: the
	// client.
	APIReader client.Reader
	// bundleLocks serialises the Bundle writes of one agent namespace.
	bundleLocks keyedLock
}

// appliedObjects is a concurrency-safe map of apply.Applied by UID, each
// tied to the cluster client it was applied with.
type appliedObjects struct {
	mu sync.Mutex
	m  map[types.UID]appliedWith
}

type appliedWith struct {
	client  apply.ClusterClient
	applied apply.Applied
}

// get returns what was applied for uid through cl. A different client (the
// kubeconfig changed, perhaps to a rebuilt cluster) knows nothing: the next
// apply then reads and dry-runs every object again.
func (a *appliedObjects) get(uid types.UID, cl apply.ClusterClient) apply.Applied {
	a.mu.Lock()
	defer a.mu.Unlock()
	if w, ok := a.m[uid]; ok && w.client == cl {
		return w.applied
	}
	return nil
}

// set records what was applied for uid through cl; nil forgets it.
func (a *appliedObjects) set(uid types.UID, cl apply.ClusterClient, applied apply.Applied) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if applied == nil {
		delete(a.m, uid)
		return
	}
	if a.m == nil {
		a.m = map[types.UID]appliedWith{}
	}
	a.m[uid] = appliedWith{client: cl, applied: applied}
}

// SetupWithManager registers the reconciler. It watches ClusterSyncs and
// the desired-state store (a new render wakes its syncs), and wakes the
// syncs of a cluster when the cluster becomes reachable again and the
// dependants of an app on a cluster when that app's sync changes.
func (r *ClusterSyncReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		// Its own status writes do not wake a sync: what it does next
		// depends on the spec, metadata and the desired state, not on the
		// status it just wrote.
		For(&flotillav1.ClusterSync{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{},
			predicate.LabelChangedPredicate{}, deletionChanged{}))).
		WatchesRawSource(r.Store.changes.source()).
		Watches(&flotillav1.Cluster{}, handler.EnqueueRequestsFromMapFunc(r.syncsOfCluster)).
		Watches(&flotillav1.ClusterSync{}, handler.EnqueueRequestsFromMapFunc(r.dependantsOf)).
		// An agent's report on a pull cluster reaches its sync at once.
		Watches(&flotillav1.Bundle{}, handler.EnqueueRequestsFromMapFunc(syncOfBundle), builder.WithPredicates(bundleReported{})).
		// A changed driftInterval must take effect now, not at the next
		// check planned with the old interval.
		// So do a suspension, a resumption and a reconcile request
		// (suspend.go).
		Watches(&flotillav1.FleetRepository{}, handler.EnqueueRequestsFromMapFunc(r.syncsOfRepository),
			builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, operationsChanged{}))).
		Watches(&flotillav1.App{}, handler.EnqueueRequestsFromMapFunc(r.syncsOfApp), builder.WithPredicates(operationsChanged{})).
		Watches(&flotillav1.Cluster{}, handler.EnqueueRequestsFromMapFunc(r.allSyncsOfCluster), builder.WithPredicates(operationsChanged{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Options.SyncWorkers}).
		Named("clustersync").
		Complete(r)
}

// deletionChanged passes updates that set the deletion timestamp or
// change the finalizers.
type deletionChanged struct{ predicate.Funcs }

// Update reports whether the deletion timestamp or finalizers changed.
func (deletionChanged) Update(e event.UpdateEvent) bool {
	if e.ObjectOld == nil || e.ObjectNew == nil {
		return true
	}
	return !e.ObjectOld.GetDeletionTimestamp().Equal(e.ObjectNew.GetDeletionTimestamp()) ||
		!slices.Equal(e.ObjectOld.GetFinalizers(), e.ObjectNew.GetFinalizers())
}

func (r *ClusterSyncReconciler) syncsOfCluster(ctx context.Context, obj client.Object) []reconcile.Request {
	c, ok := obj.(*flotillav1.Cluster)
	if !ok || !conditions.IsTrue(c, flotillav1.ReachableCondition) {
		return nil
	}
	list := &flotillav1.ClusterSyncList{}
	if err := r.List(ctx, list, client.InNamespace(c.Namespace), client.MatchingFields{indexSyncCluster: c.Name}, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		cs := &list.Items[i]
		// Only syncs parked on reachability, or on a kubeconfig the
		// cluster refused, need waking.
		switch conditions.GetReason(cs, meta.ReadyCondition) {
		case flotillav1.ReasonClusterUnreachable, flotillav1.ReasonClusterTLSFailed, flotillav1.ReasonClusterAuthFailed:
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(cs)})
		}
	}
	return reqs
}

func (r *ClusterSyncReconciler) syncsOfRepository(ctx context.Context, obj client.Object) []reconcile.Request {
	list := &flotillav1.ClusterSyncList{}
	if err := r.List(ctx, list, client.InNamespace(obj.GetNamespace()), client.MatchingLabels{flotillav1.LabelRepository: obj.GetName()}, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}

func (r *ClusterSyncReconciler) dependantsOf(ctx context.Context, obj client.Object) []reconcile.Request {
	cs, ok := obj.(*flotillav1.ClusterSync)
	if !ok || !syncIsReady(cs, r.Store.of(cs)) {
		return nil
	}
	list := &flotillav1.ClusterSyncList{}
	if err := r.List(ctx, list, client.InNamespace(cs.Namespace), client.MatchingFields{indexSyncCluster: cs.Spec.Cluster}, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		other := &list.Items[i]
		if other.Status.WaitingFor == cs.Spec.App {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(other)})
		}
	}
	return reqs
}

// Reconcile syncs one (app, cluster) pair.
func (r *ClusterSyncReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	cs := &flotillav1.ClusterSync{}
	if err := r.Get(ctx, req.NamespacedName, cs); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	log := ctrl.LoggerFrom(ctx).WithValues("app", cs.Spec.App, "cluster", cs.Spec.Cluster)
	ctx = withPurpose(ctrl.LoggerInto(ctx, log), "sync")

	if !cs.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, cs)
	}
	if failedOver(cs) {
		// The app failed over to another cluster: nothing to apply here;
		// the FleetRepository reconciler deletes (and so prunes) the sync
		// once the cluster is back and the app Ready where it moved.
		log.V(1).Info("app failed over away from this cluster")
		return ctrl.Result{}, nil
	}

	repo := types.NamespacedName{Namespace: cs.Namespace, Name: cs.Labels[flotillav1.LabelRepository]}
	desired := r.Store.of(cs)
	if desired == nil && cs.Spec.Rollout != nil && r.Store.head(cs) != nil {
		return r.waitForRollout(ctx, cs)
	}
	if desired == nil {
		// This process has not rendered the repository yet (right after a
		// start, or its render of this pair failed since): the status still
		// tells what the cluster runs. The store wakes the sync once it has
		// a desired state.
		log.V(1).Info("no desired state rendered yet")
		return ctrl.Result{}, nil
	}

	before := cs.DeepCopy()
	defer func() {
		cs.Status.ObservedGeneration = cs.Generation
		retErr = errors.Join(retErr, writeStatus(ctx, r.Client, cs, before.Status, cs.Status))
	}()

	cluster := &flotillav1.Cluster{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: cs.Namespace, Name: cs.Spec.Cluster}, cluster); err != nil {
		if apierrors.IsNotFound(err) {
			conditions.MarkReconciling(cs, meta.ProgressingReason, "waiting for Cluster %s to be mirrored", cs.Spec.Cluster)
			return ctrl.Result{RequeueAfter: r.Options.HealthPollInterval}, nil
		}
		return ctrl.Result{}, err
	}
	request, err := r.reconcileRequest(ctx, cs, cluster, repo)
	if err != nil {
		return ctrl.Result{}, err
	}
	if who, err := r.suspendedBy(ctx, cs, cluster, repo); err != nil || who != "" {
		if err != nil {
			return ctrl.Result{}, err
		}
		// A reconcile request while suspended is answered (recorded as
		// handled) with nothing done; resuming checks drift anyway.
		cs.Status.LastHandledReconcileAt = request
		return r.holdSuspended(ctx, cs, cluster, who)
	}
	conditions.Delete(cs, flotillav1.SuspendedCondition)
	if cluster.Spec.Access.Mode == flotillav1.AccessPull {
		return r.reconcilePull(ctx, cs, cluster, desired, repo, request)
	}
	// A reconcile request not handled yet checks for drift now.
	driftNow := request != cs.Status.LastHandledReconcileAt
	cs.Status.LastHandledReconcileAt = request

	driftInterval := r.driftInterval(ctx, repo)
	synced := syncIsSynced(cs, desired)
	if synced {
		// A commit that renders what the cluster runs moves the applied
		// revision along without calling the cluster.
		cs.Status.AppliedRevision = desired.Revision
	}
	healthy := conditions.IsTrue(cs, flotillav1.HealthyCondition)
	if synced && healthy && conditions.IsTrue(cs, meta.ReadyCondition) {
		// Steady state: the new revision (if any) renders what the cluster
		// already runs. Record it without calling the cluster; nothing more
		// to do there until drift is due.
		markSynced(cs, desired)
		if due := apply.DriftDue(&cs.Status, driftInterval); due > 0 && !driftNow {
			return ctrl.Result{RequeueAfter: jittered(due)}, nil
		}
	}

	if !synced && cs.Spec.Rollout == nil {
		// An app without a rollout still honours the site's hold and
		// update windows (an app with one is gated by its rollout driver).
		if why, next := siteDeferral(cluster, r.Options.Clock.Now()); why != "" {
			conditions.MarkUnknown(cs, meta.ReadyCondition, flotillav1.ReasonDeferred, "revision %s waits: cluster %s is %s", desired.Revision, cs.Spec.Cluster, why)
			wait := r.Options.HeartbeatInterval
			if d := time.Until(next); !next.IsZero() && d > 0 && d < wait {
				wait = d
			}
			return ctrl.Result{RequeueAfter: jittered(wait)}, nil
		}
	}
	if wait, dep := r.waitingForDependency(ctx, cs); dep != "" {
		cs.Status.WaitingFor = dep
		conditions.MarkFalse(cs, meta.ReadyCondition, flotillav1.ReasonDependencyNotReady, "waiting for %s to be Ready on %s", dep, cs.Spec.Cluster)
		conditions.MarkReconciling(cs, flotillav1.ReasonDependencyNotReady, "waiting for dependency %s", dep)
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	cs.Status.WaitingFor = ""

	memberKey := memberKey(cs.Namespace, cs.Spec.Cluster)
	if wait, lastErr, blocked := r.Reach.blocked(memberKey); blocked {
		conditions.MarkFalse(cs, meta.ReadyCondition, flotillav1.ReasonClusterUnreachable, "cluster %s is unreachable, next try in %s: %s", cs.Spec.Cluster, wait.Round(time.Second), lastErr)
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	release, ok := r.Limits.acquire(memberKey)
	if !ok {
		return ctrl.Result{RequeueAfter: 200 * time.Millisecond}, nil
	}
	defer release()

	cl, err := r.Clients.get(ctx, cluster, false)
	if err != nil {
		cs.Status.LastError = err.Error()
		conditions.MarkStalled(cs, flotillav1.ReasonKubeconfigInvalid, "%s", err)
		conditions.MarkFalse(cs, meta.ReadyCondition, flotillav1.ReasonKubeconfigInvalid, "%s", err)
		return ctrl.Result{RequeueAfter: r.Options.HeartbeatInterval}, nil
	}
	conditions.Delete(cs, meta.StalledCondition)

	switch {
	case !synced:
		return r.apply(ctx, cs, cl, desired)
	case !healthy:
		return r.checkHealth(withPurpose(ctx, "health"), cs, cl, desired)
	default:
		return r.correctDrift(withPurpose(ctx, "drift"), cs, cl, desired)
	}
}

// nextDriftCheck returns when to wake a healthy sync for its drift check:
// never zero (which would mean "never" to controller-runtime), even when the
// check is already due because an apply took longer than driftInterval to
// become healthy; then the check runs one health poll interval from now.
func (r *ClusterSyncReconciler) nextDriftCheck(ctx context.Context, cs *flotillav1.ClusterSync) time.Duration {
	repo := types.NamespacedName{Namespace: cs.Namespace, Name: cs.Labels[flotillav1.LabelRepository]}
	due := apply.DriftDue(&cs.Status, r.driftInterval(ctx, repo))
	if due <= 0 {
		due = r.Options.HealthPollInterval
	}
	return jittered(due)
}

func (r *ClusterSyncReconciler) driftInterval(ctx context.Context, repo types.NamespacedName) time.Duration {
	fr := &flotillav1.FleetRepository{}
	if err := r.Get(ctx, repo, fr); err != nil {
		return r.Options.DefaultDriftInterval
	}
	return durationOr(fr.Spec.DriftInterval, r.Options.DefaultDriftInterval)
}

// waitingForDependency returns the first dependsOn app not Ready on the same
// cluster, reading only the hub.
func (r *ClusterSyncReconciler) waitingForDependency(ctx context.Context, cs *flotillav1.ClusterSync) (time.Duration, string) {
	for _, dep := range cs.Spec.DependsOn {
		other := &flotillav1.ClusterSync{}
		err := r.Get(ctx, types.NamespacedName{Namespace: cs.Namespace, Name: syncName(dep, cs.Spec.Cluster)}, other)
		// spec.dependsOn lists only dependencies placed on this cluster, so
		// a missing one is not created yet: wait for it too.
		if err != nil || !syncIsReady(other, r.Store.of(other)) {
			return 5 * r.Options.HealthPollInterval, dep
		}
	}
	return 0, ""
}

// clusterFailed records a call failure: unreachable clusters back off, and
// a kubeconfig the cluster refuses (TLS or credentials) stalls the sync with
// a message naming the Secret to fix.
func (r *ClusterSyncReconciler) clusterFailed(ctx context.Context, cs *flotillav1.ClusterSync, err error) (ctrl.Result, bool) {
	if reason, bad := accessFailure(err); bad {
		msg := accessFailureMessage(cs.Spec.Cluster, reason, r.kubeconfigOf(ctx, cs), err)
		if cs.Status.LastError != msg {
			r.Recorder.Event(cs, corev1.EventTypeWarning, reason, msg)
			ctrl.LoggerFrom(ctx).Error(err, "cluster refused the kubeconfig", "reason", reason)
		}
		cs.Status.LastError = msg
		conditions.MarkStalled(cs, reason, "%s", msg)
		conditions.MarkFalse(cs, meta.ReadyCondition, reason, "%s", msg)
		conditions.Delete(cs, meta.ReconcilingCondition)
		// The Secret is re-read at most once per heartbeat interval.
		return ctrl.Result{RequeueAfter: jittered(r.Options.HeartbeatInterval)}, true
	}
	if !isUnreachable(err) {
		return ctrl.Result{}, false
	}
	wait := r.Reach.failed(memberKey(cs.Namespace, cs.Spec.Cluster), err)
	conditions.MarkFalse(cs, meta.ReadyCondition, flotillav1.ReasonClusterUnreachable, "cluster %s is unreachable, next try in %s: %s", cs.Spec.Cluster, wait.Round(time.Second), err)
	cs.Status.LastError = err.Error()
	return ctrl.Result{RequeueAfter: wait}, true
}

// kubeconfigOf returns where the kubeconfig of the sync's cluster is read
// from, for messages; the default place when the Cluster cannot be read.
func (r *ClusterSyncReconciler) kubeconfigOf(ctx context.Context, cs *flotillav1.ClusterSync) clusterclient.KubeconfigSource {
	cluster := &flotillav1.Cluster{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: cs.Namespace, Name: cs.Spec.Cluster}, cluster); err != nil {
		cluster.Namespace, cluster.Name = cs.Namespace, cs.Spec.Cluster
	}
	return kubeconfigSource(cluster)
}

func (r *ClusterSyncReconciler) request(cs *flotillav1.ClusterSync, cl apply.ClusterClient, d *Desired) apply.Request {
	return apply.Request{
		App:               cs.Spec.App,
		Repository:        types.NamespacedName{Namespace: cs.Namespace, Name: cs.Labels[flotillav1.LabelRepository]},
		Namespace:         d.Namespace,
		Namespaces:        r.namespaces.of(memberKey(cs.Namespace, cs.Spec.Cluster), cl),
		Objects:           d.Objects,
		PreviousInventory: cs.Status.Inventory,
		LastApplied:       r.applied.get(cs.UID, cl),
		Prune:             d.Prune,
		HealthTimeout:     d.HealthTimeout,
		AdoptExisting:     d.AdoptExisting,
		ApplyTimeout:      r.Options.ClusterTimeout * 4,
	}
}

func (r *ClusterSyncReconciler) apply(ctx context.Context, cs *flotillav1.ClusterSync, cl apply.ClusterClient, d *Desired) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	start := time.Now()
	res, err := apply.Sync(ctx, cl, r.request(cs, cl, d))
	r.applied.set(cs.UID, cl, res.AppliedOrNil())
	if err != nil {
		// A partial apply may have created objects: keep them in the
		// inventory so a later prune can still find them.
		if res != nil && len(res.Inventory) > 0 {
			cs.Status.Inventory = res.Inventory
		}
		syncDuration.WithLabelValues("error").Observe(time.Since(start).Seconds())
		if result, ok := r.clusterFailed(ctx, cs, err); ok {
			return result, nil
		}
		applyErrors.WithLabelValues(cs.Spec.Cluster).Inc()
		cs.Status.LastError = err.Error()
		conditions.MarkFalse(cs, meta.ReadyCondition, flotillav1.ReasonApplyFailed, "%s", err)
		r.Recorder.Event(cs, corev1.EventTypeWarning, flotillav1.ReasonApplyFailed, err.Error())
		log.Error(err, "apply failed")
		return ctrl.Result{}, err
	}
	syncDuration.WithLabelValues("applied").Observe(time.Since(start).Seconds())
	r.Reach.succeeded(memberKey(cs.Namespace, cs.Spec.Cluster))
	now := metav1.Now()
	cs.Status.AppliedDigest = d.Digest
	cs.Status.AppliedRevision = d.Revision
	cs.Status.LastAppliedTime = &now
	cs.Status.LastDriftCheckTime = &now
	cs.Status.Inventory = res.Inventory
	cs.Status.LastError = ""
	if res.Changed() {
		msg := fmt.Sprintf("applied revision %s: %s", d.Revision, res.Summary())
		r.Recorder.Event(cs, corev1.EventTypeNormal, "Applied", msg)
		log.Info("applied", "revision", d.Revision, "changes", res.Summary())
	}
	// checkHealth sets Ready and Healthy once, so a condition that stays
	// True keeps its transition time across applies.
	return r.checkHealth(ctx, cs, cl, d)
}

func (r *ClusterSyncReconciler) checkHealth(ctx context.Context, cs *flotillav1.ClusterSync, cl apply.ClusterClient, d *Desired) (ctrl.Result, error) {
	health, err := apply.CheckHealth(ctx, cl, cs.Status.Inventory, apply.ReadyWhenStored(d.Objects))
	if err != nil {
		if result, ok := r.clusterFailed(ctx, cs, err); ok {
			return result, nil
		}
		return ctrl.Result{}, err
	}
	if health.Ready {
		markSynced(cs, d)
		return ctrl.Result{RequeueAfter: r.nextDriftCheck(ctx, cs)}, nil
	}
	waited := time.Duration(0)
	if since := apply.HealthWaitStart(&cs.Status); since != nil {
		waited = time.Since(since.Time)
	}
	msg := health.Summary()
	if waited >= d.HealthTimeout {
		if !conditions.IsFalse(cs, flotillav1.HealthyCondition) {
			r.Recorder.Event(cs, corev1.EventTypeWarning, flotillav1.ReasonHealthCheckFailed, msg)
		}
		conditions.MarkFalse(cs, flotillav1.HealthyCondition, flotillav1.ReasonHealthCheckFailed, "not ready after %s: %s", d.HealthTimeout, msg)
		conditions.MarkFalse(cs, meta.ReadyCondition, flotillav1.ReasonHealthCheckFailed, "not ready after %s: %s", d.HealthTimeout, msg)
		conditions.Delete(cs, meta.ReconcilingCondition)
		// Keep watching: the objects may still become ready.
		return ctrl.Result{RequeueAfter: jittered(5 * r.Options.HealthPollInterval)}, nil
	}
	conditions.MarkUnknown(cs, flotillav1.HealthyCondition, flotillav1.ReasonProgressing, "%s", msg)
	conditions.MarkUnknown(cs, meta.ReadyCondition, flotillav1.ReasonProgressing, "waiting for readiness: %s", msg)
	conditions.MarkReconciling(cs, flotillav1.ReasonProgressing, "waiting for readiness")
	return ctrl.Result{RequeueAfter: jittered(r.Options.HealthPollInterval)}, nil
}

func (r *ClusterSyncReconciler) correctDrift(ctx context.Context, cs *flotillav1.ClusterSync, cl apply.ClusterClient, d *Desired) (ctrl.Result, error) {
	drifted, err := apply.CorrectDrift(ctx, cl, r.request(cs, cl, d))
	if err != nil {
		if result, ok := r.clusterFailed(ctx, cs, err); ok {
			return result, nil
		}
		cs.Status.LastError = err.Error()
		return ctrl.Result{}, err
	}
	r.Reach.succeeded(memberKey(cs.Namespace, cs.Spec.Cluster))
	now := metav1.Now()
	cs.Status.LastDriftCheckTime = &now
	cs.Status.DriftedObjects = drifted
	if len(drifted) > 0 {
		cs.Status.DriftCorrections += int64(len(drifted))
		driftCorrections.WithLabelValues(cs.Spec.Cluster).Add(float64(len(drifted)))
		msg := fmt.Sprintf("restored %d object(s) changed on the cluster: %s", len(drifted), strings.Join(drifted, ", "))
		r.Recorder.Event(cs, corev1.EventTypeWarning, flotillav1.ReasonDriftCorrected, msg)
		ctrl.LoggerFrom(ctx).Info("drift corrected", "objects", drifted)
	}
	// Health is re-checked with drift, so a workload that broke on the
	// cluster (or a corrected object not ready yet) is reported within
	// driftInterval instead of staying Healthy from the last apply.
	return r.checkHealth(withPurpose(ctx, "health"), cs, cl, d)
}

// markSynced records that the cluster runs the desired state and it is
// healthy: Ready and Healthy at the current generation, nothing in progress.
func markSynced(cs *flotillav1.ClusterSync, d *Desired) {
	apply.MarkSynced(cs, &cs.Status, d.Revision)
}

// finalize prunes what the sync applied (unless orphaned) and lets the
// ClusterSync go. When the cluster leaves the fleet (its Cluster or the
// whole FleetRepository is being deleted), the cluster's pruneOnRemoval
// decides whether its objects are pruned or left in place; the Cluster's
// own finalizer keeps its access settings readable until then.
func (r *ClusterSyncReconciler) finalize(ctx context.Context, cs *flotillav1.ClusterSync) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(cs, syncFinalizer) {
		return ctrl.Result{}, nil
	}
	ctx = withPurpose(ctx, "prune")
	log := ctrl.LoggerFrom(ctx)
	pull, done, result, err := r.finalizePull(ctx, cs)
	if pull && (!done || err != nil) {
		return result, err
	}
	if !pull && cs.Annotations[orphanAnnotation] != "true" && len(cs.Status.Inventory) > 0 {
		cluster := &flotillav1.Cluster{}
		err := r.Get(ctx, types.NamespacedName{Namespace: cs.Namespace, Name: cs.Spec.Cluster}, cluster)
		var removal bool
		if err == nil {
			removal, err = r.clusterLeaving(ctx, cs, cluster)
		}
		switch {
		case apierrors.IsNotFound(err):
			// Only a Cluster mirrored before it carried its finalizer can be
			// gone first: there is no access left to prune with.
			log.Info("cluster mirror is gone: its objects are left in place", "objects", len(cs.Status.Inventory))
		case err != nil:
			return ctrl.Result{}, err
		case removal && !cluster.Spec.PruneOnRemoval:
			log.Info("cluster left the fleet without pruneOnRemoval: its objects are left in place", "objects", len(cs.Status.Inventory))
		case cluster.Spec.Access.Mode != flotillav1.AccessPull:
			if wait, _, blocked := r.Reach.blocked(memberKey(cs.Namespace, cs.Spec.Cluster)); blocked {
				return ctrl.Result{RequeueAfter: wait}, nil
			}
			cl, err := r.Clients.get(ctx, cluster, false)
			if err != nil {
				return ctrl.Result{}, err
			}
			req := apply.Request{
				App:               cs.Spec.App,
				Repository:        types.NamespacedName{Namespace: cs.Namespace, Name: cs.Labels[flotillav1.LabelRepository]},
				PreviousInventory: cs.Status.Inventory,
				Prune:             true,
				AllowEmpty:        true,
			}
			res, err := apply.Sync(ctx, cl, req)
			if err != nil {
				if result, ok := r.clusterFailed(ctx, cs, err); ok {
					return result, nil
				}
				return ctrl.Result{}, fmt.Errorf("prune app %s from cluster %s: %w", cs.Spec.App, cs.Spec.Cluster, err)
			}
			if len(res.Pruned) > 0 {
				r.Recorder.Event(cs, corev1.EventTypeNormal, "Pruned", fmt.Sprintf("deleted %d object(s) from cluster %s", len(res.Pruned), cs.Spec.Cluster))
			}
			if len(res.Released) > 0 {
				r.Recorder.Event(cs, corev1.EventTypeNormal, "Released", fmt.Sprintf("released %d adopted object(s) on cluster %s, left in place", len(res.Released), cs.Spec.Cluster))
			}
		}
	}
	r.applied.set(cs.UID, nil, nil)
	p := client.MergeFrom(cs.DeepCopy())
	controllerutil.RemoveFinalizer(cs, syncFinalizer)
	return ctrl.Result{}, client.IgnoreNotFound(r.Patch(ctx, cs, p))
}

// clusterLeaving reports whether the sync is deleted because its cluster
// leaves the fleet: the Cluster mirror or the sync's FleetRepository is
// gone or being deleted. Otherwise only the app left the cluster (removed
// from Git or placed elsewhere) and its objects are always pruned.
func (r *ClusterSyncReconciler) clusterLeaving(ctx context.Context, cs *flotillav1.ClusterSync, cluster *flotillav1.Cluster) (bool, error) {
	if !cluster.DeletionTimestamp.IsZero() {
		return true, nil
	}
	key := types.NamespacedName{Namespace: cs.Namespace, Name: cs.Labels[flotillav1.LabelRepository]}
	if key.Name == "" {
		return false, nil // not made by a FleetRepository
	}
	repo := &flotillav1.FleetRepository{}
	if err := r.Get(ctx, key, repo); err != nil {
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, fmt.Errorf("read FleetRepository %s of ClusterSync %s: %w", key, cs.Name, err)
	}
	return !repo.DeletionTimestamp.IsZero(), nil
}
