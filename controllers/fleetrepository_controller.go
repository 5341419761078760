package controllers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	"github.com/fluxcd/pkg/runtime/predicates"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/fleet"
	"github.com/flotilla-gitops/flotilla/internal/pipeline"
	"github.com/flotilla-gitops/flotilla/placement"
	"github.com/flotilla-gitops/flotilla/render"
	"github.com/flotilla-gitops/flotilla/source"
)

// FleetRepositoryReconciler fetches a fleet repository, loads, places and
// renders it, and keeps the hub's Cluster, App and ClusterSync objects in
// step with the fetched revision.
type FleetRepositoryReconciler struct {
	client.Client
	// APIReader reads Secrets without caching them.
	APIReader client.Reader
	Recorder  record.EventRecorder
	Fetcher   *source.Fetcher
	Renderer  *render.Renderer
	Store     *desiredStore
	Options   Options

	// loaded remembers, per repository, the revision and generation whose
	// desired state is in Store, so an unchanged revision costs one fetch.
	// It is locked: reconciles of different repositories may run at once.
	loaded loadedStamps
	// fetched remembers, per repository, the URL whose Git cache it fills,
	// so the cache goes when the repository does (see fleetrepository_cache.go).
	fetched loadedStamps
	// rechecks remembers, per repository, when a failover toleration ends
	// and the fleet must be placed again (see failover.go).
	rechecks recheckTimes
	// capacity remembers the clusters' figures each repository's last
	// placement used, to place again when they move enough (capacity.go).
	capacity capacityPlans
}

// +kubebuilder:rbac:groups=flotilla.dev,resources=fleetrepositories,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=flotilla.dev,resources=fleetrepositories/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=flotilla.dev,resources=clusters;apps;clustersyncs,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=flotilla.dev,resources=clusters/status;apps/status;clustersyncs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=flotilla.dev,resources=clusters/finalizers;clustersyncs/finalizers;fleetrepositories/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// SetupWithManager registers the reconciler.
func (r *FleetRepositoryReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&flotillav1.FleetRepository{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicates.ReconcileRequestedPredicate{}, operationsChanged{}),
		)).
		// A rollout that released a site to a revision not rendered here
		// asks for it (see pins.go).
		WatchesRawSource(r.Store.pinRequests.source()).
		// A cluster tainted or untainted unreachable places the fleet
		// again (see failover.go).
		Watches(&flotillav1.Cluster{}, handler.EnqueueRequestsFromMapFunc(repositoryOfCluster),
			builder.WithPredicates(taintsChanged{})).
		// A cluster whose live capacity moved enough since the last
		// placement places the repository again (not every heartbeat).
		Watches(&flotillav1.Cluster{}, handler.EnqueueRequestsFromMapFunc(r.capacityChanged)).
		Named("fleetrepository").
		Complete(r)
}

// Reconcile runs one fetch → load → place → render → mirror pass.
func (r *FleetRepositoryReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	log := ctrl.LoggerFrom(ctx)
	obj := &flotillav1.FleetRepository{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			r.Store.dropRepo(req.NamespacedName)
			r.loaded.forget(req.NamespacedName)
			r.capacity.forget(req.NamespacedName)
			return ctrl.Result{}, r.releaseCache(ctx, req.NamespacedName)
		}
		return ctrl.Result{}, err
	}
	if !obj.DeletionTimestamp.IsZero() {
		// Being deleted (another finalizer or foreground deletion holds it):
		// mirror nothing more; the garbage collector removes the Clusters,
		// Apps and ClusterSyncs, whose finalizers prune or orphan.
		r.Store.dropRepo(req.NamespacedName)
		r.loaded.forget(req.NamespacedName)
		return ctrl.Result{}, r.releaseCache(ctx, req.NamespacedName)
	}
	if err := r.switchCache(ctx, req.NamespacedName, obj.Spec.URL); err != nil {
		return ctrl.Result{}, err
	}
	before := obj.DeepCopy()
	defer func() {
		if v, ok := repositoryReconcileRequest(obj); ok {
			obj.Status.LastHandledReconcileAt = v
		}
		obj.Status.ObservedGeneration = obj.Generation
		retErr = errors.Join(retErr, writeStatus(ctx, r.Client, obj, before.Status, obj.Status))
	}()

	interval := durationOr(obj.Spec.Interval, r.Options.DefaultInterval)
	if obj.Spec.Suspend {
		// Ready keeps what it said: the clusters still run what they ran.
		conditions.MarkTrue(obj, flotillav1.SuspendedCondition, flotillav1.ReasonSuspended,
			"suspended: no fetch, no apply and no drift correction on its clusters until spec.suspend is false")
		conditions.Delete(obj, meta.ReconcilingCondition)
		return ctrl.Result{}, nil
	}
	conditions.Delete(obj, flotillav1.SuspendedCondition)

	fetchStart := time.Now()
	snap, err := r.fetch(ctx, obj)
	if err != nil {
		conditions.MarkFalse(obj, meta.ReadyCondition, flotillav1.ReasonFetchFailed, "%s", err)
		conditions.Delete(obj, meta.ReconcilingCondition)
		conditions.Delete(obj, meta.StalledCondition)
		r.event(obj, corev1.EventTypeWarning, flotillav1.ReasonFetchFailed, err.Error())
		log.Error(err, "fetch failed", "url", source.RedactURL(obj.Spec.URL))
		// Transient: retried with the controller's exponential backoff.
		return ctrl.Result{}, err
	}
	defer snap.Release()
	now := metav1.Now()
	obj.Status.LastFetchTime = &now

	// The hub's taints are placement input too: a cluster tainted or
	// untainted unreachable, or a failover toleration that ended, places
	// the fleet again.
	_, taints, err := r.hubTaints(ctx, obj)
	if err != nil {
		return ctrl.Result{}, err
	}
	stamp := fmt.Sprintf("%s/%d/%s", snap.Revision, obj.Generation, taints)
	if r.loaded.is(req.NamespacedName, stamp) && conditions.IsReady(obj) && !r.capacity.isDue(req.NamespacedName) &&
		!r.rechecks.due(req.NamespacedName, r.Options.Clock.Now()) {
		// Nothing new to render; a rollout may still have released a
		// site to a revision that is not rendered yet.
		if err := r.updatePins(ctx, obj, nil); err != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{RequeueAfter: r.rechecks.within(req.NamespacedName, r.Options.Clock.Now(), jittered(interval))}, nil
	}

	fetched, syncStart := time.Since(fetchStart), time.Now()
	cleanupPending, err := r.sync(ctx, obj, snap)
	if err != nil {
		var cfg *configError
		if errors.As(err, &cfg) {
			// Terminal until the repository changes: Stalled, no retry
			// storm; the next fetch interval looks again.
			conditions.MarkStalled(obj, cfg.reason, "%s", cfg.Error())
			conditions.MarkFalse(obj, meta.ReadyCondition, cfg.reason, "%s", cfg.Error())
			conditions.Delete(obj, meta.ReconcilingCondition)
			r.event(obj, corev1.EventTypeWarning, cfg.reason, cfg.Error())
			obj.Status.Revision = snap.Ref
			r.loaded.forget(req.NamespacedName)
			return ctrl.Result{RequeueAfter: jittered(interval)}, nil
		}
		conditions.MarkFalse(obj, meta.ReadyCondition, meta.ProgressingWithRetryReason, "%s", err)
		return ctrl.Result{}, err
	}
	if obj.Status.Revision != snap.Ref {
		r.event(obj, corev1.EventTypeNormal, "NewRevision", fmt.Sprintf("rendered revision %s for %d targets", snap.Ref, obj.Status.Targets))
	}
	log.Info("revision rendered", "revision", snap.Ref, "targets", obj.Status.Targets,
		"fetch", fetched.String(), "renderAndMirror", time.Since(syncStart).String())
	obj.Status.Revision = snap.Ref
	conditions.Delete(obj, meta.StalledCondition)
	conditions.Delete(obj, meta.ReconcilingCondition)
	conditions.MarkTrue(obj, meta.ReadyCondition, meta.SucceededReason,
		"revision %s: %d clusters, %d apps, %d targets", snap.Ref, obj.Status.Clusters, obj.Status.Apps, obj.Status.Targets)
	if cleanupPending {
		// Look again soon: removed clusters' syncs are still pruning.
		r.loaded.forget(req.NamespacedName)
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	}
	r.loaded.set(req.NamespacedName, stamp)
	return ctrl.Result{RequeueAfter: r.rechecks.within(req.NamespacedName, r.Options.Clock.Now(), jittered(interval))}, nil
}

// configError is an error in the fleet repository's content: retrying
// cannot fix it, a new commit can.
type configError struct {
	reason string
	msg    string
}

func (e *configError) Error() string { return e.msg }

// fetch brings the repository up to date and extracts the wanted revision.
func (r *FleetRepositoryReconciler) fetch(ctx context.Context, obj *flotillav1.FleetRepository) (*source.Snapshot, error) {
	var auth *source.Auth
	if obj.Spec.SecretRef != nil {
		secret := &corev1.Secret{}
		key := types.NamespacedName{Namespace: obj.Namespace, Name: obj.Spec.SecretRef.Name}
		if err := r.APIReader.Get(ctx, key, secret); err != nil {
			return nil, fmt.Errorf("read Git credentials Secret %s: %w", key, err)
		}
		a, err := source.AuthFromSecretData(secret.Data)
		if err != nil {
			return nil, fmt.Errorf("read Git credentials Secret %s: %w", key, err)
		}
		auth = a
	}
	return r.Fetcher.Fetch(ctx, source.FetchSpec{
		URL:     obj.Spec.URL,
		Ref:     source.Ref{Branch: obj.Spec.Ref.Branch, Tag: obj.Spec.Ref.Tag, Commit: obj.Spec.Ref.Commit},
		Auth:    auth,
		Timeout: durationOr(obj.Spec.Timeout, 0),
	})
}

// sync loads, places and renders the snapshot and brings the hub objects in
// step. A configuration error leaves everything already running untouched.
func (r *FleetRepositoryReconciler) sync(ctx context.Context, obj *flotillav1.FleetRepository, snap *source.Snapshot) (cleanupPending bool, err error) {
	repoKey := client.ObjectKeyFromObject(obj)
	out, err := r.runPipeline(ctx, obj, snap)
	if err != nil {
		return false, err
	}
	fl, placed := out.Fleet, out.Placement
	r.rechecks.set(repoKey, placed.RecheckAt)
	rendersTotal.Add(float64(len(out.Renders)))
	next, keep, renderErrs := desiredFrom(repoKey, out, snap.Ref)
	replaced := r.Store.replaceRepo(repoKey, next, keep)

	if err := r.mirror(ctx, obj, fl, placed, next, keep); err != nil && !errors.Is(err, errCleanupPending) {
		return false, err
	} else if err != nil {
		cleanupPending = true
	}
	if err := r.recordPlacement(ctx, obj, fl, placed, snap.Ref); err != nil {
		return false, err
	}
	// Sites a rollout has not moved yet keep running (and being
	// drift-corrected at) the revision they have.
	if err := r.updatePins(ctx, obj, replaced); err != nil {
		return false, err
	}
	obj.Status.Clusters = count32(len(fl.Clusters))
	obj.Status.Apps = count32(len(fl.Apps))
	obj.Status.Targets = count32(len(placed.Targets))
	if len(renderErrs) > 0 {
		return false, &configError{reason: flotillav1.ReasonRenderFailed, msg: summarize("render failed at "+snap.Ref, dedupe(renderErrs))}
	}
	return cleanupPending, nil
}

// runPipeline loads, places and renders a snapshot of the repository: the
// same pipeline as the offline commands. Loading and placement errors are
// configuration errors; render errors are in the output's renders.
func (r *FleetRepositoryReconciler) runPipeline(ctx context.Context, obj *flotillav1.FleetRepository, snap *source.Snapshot) (*pipeline.Output, error) {
	root := snap.Dir
	if p := strings.Trim(obj.Spec.Path, "/"); p != "" && p != "." {
		joined, err := securejoin.SecureJoin(snap.Dir, p)
		if err != nil {
			return nil, &configError{reason: flotillav1.ReasonInvalidFleet, msg: fmt.Sprintf("spec.path %q: %v", obj.Spec.Path, err)}
		}
		root = joined
	}
	// What runs now matters to placement: a NoSchedule taint keeps new apps
	// off a cluster but leaves the ones it already runs in place, and an
	// app that reads live capacity stays where it still fits.
	running, syncs, err := r.running(ctx, obj)
	if err != nil {
		return nil, err
	}
	// The hub's unreachable taints move apps with failover (failover.go).
	failover, err := r.failoverPlacementOptions(ctx, obj)
	if err != nil {
		return nil, err
	}
	caps, err := r.capacities(ctx, obj)
	if err != nil {
		return nil, err
	}
	held, err := r.heldBy(ctx, obj, syncs)
	if err != nil {
		return nil, err
	}
	r.capacity.set(client.ObjectKeyFromObject(obj), caps)
	out, err := pipeline.Run(ctx, root, r.Renderer, pipeline.RenderOnlyIfValid(),
		pipeline.WithLimits(r.Options.FleetLimits),
		pipeline.WithPlacementOptions(append(failover, placement.WithRunning(running), placement.WithCapacity(caps), placement.WithHeld(held))...))
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, &configError{reason: flotillav1.ReasonInvalidFleet, msg: fmt.Sprintf("load the fleet repository at %s: %v", snap.Ref, err)}
	}
	if len(out.Renders) == 0 && out.HasErrors() {
		// Loading or placement failed: nothing was rendered, nothing changes.
		return nil, &configError{reason: flotillav1.ReasonInvalidFleet, msg: "invalid fleet repository at " + snap.Ref + ": " + diagnosticsSummary(out.Errors())}
	}
	return out, nil
}

// desiredFrom turns a pipeline's renders into desired states of revision
// rev; keep marks the pairs whose render failed (their previous desired
// state stays), and renderErrs says why.
func desiredFrom(repoKey types.NamespacedName, out *pipeline.Output, rev string) (next map[syncKey]*Desired, keep map[syncKey]bool, renderErrs []string) {
	next = make(map[syncKey]*Desired, len(out.Renders))
	keep = map[syncKey]bool{}
	for _, res := range out.Renders {
		key := syncKey{Repo: repoKey, App: res.Target.App, Cluster: res.Target.Cluster}
		if res.Err == nil && len(res.Manifest.Objects) == 0 {
			res.Err = fmt.Errorf("app %s renders no objects for cluster %s: refusing to sync an empty set (it would prune everything); add resources to %s", res.Target.App, res.Target.Cluster, res.Target.Base)
		}
		if res.Err != nil {
			keep[key] = true
			renderErrs = append(renderErrs, res.Err.Error())
			continue
		}
		app := out.Fleet.App(res.Target.App)
		next[key] = &Desired{
			Revision:      rev,
			Digest:        res.Manifest.Digest,
			Namespace:     res.Target.Namespace,
			Objects:       res.Manifest.Objects,
			Prune:         app.Spec.Prune == nil || *app.Spec.Prune,
			HealthTimeout: durationOr(app.Spec.HealthTimeout, fleet.DefaultHealthTimeout),
			AdoptExisting: app.Spec.AdoptExisting,
		}
	}
	return next, keep, renderErrs
}

// running returns, per app, the clusters it is synced to now, and the
// repository's ClusterSyncs (shared with the cache: read only).
func (r *FleetRepositoryReconciler) running(ctx context.Context, obj *flotillav1.FleetRepository) (map[string][]string, []flotillav1.ClusterSync, error) {
	list := &flotillav1.ClusterSyncList{}
	if err := r.List(ctx, list, client.InNamespace(obj.Namespace), client.MatchingLabels(repoLabels(obj)), client.UnsafeDisableDeepCopy); err != nil {
		return nil, nil, fmt.Errorf("list ClusterSyncs of %s: %w", client.ObjectKeyFromObject(obj), err)
	}
	running := map[string][]string{}
	for i := range list.Items {
		cs := &list.Items[i]
		if !leftCluster(cs) && cs.Status.AppliedDigest != "" {
			running[cs.Spec.App] = append(running[cs.Spec.App], cs.Spec.Cluster)
		}
	}
	return running, list.Items, nil
}

// diagnosticsSummary joins the error diagnostics, or returns "".
func diagnosticsSummary(diags []fleet.Diagnostic) string {
	var errs []string
	for _, d := range diags {
		if d.Severity != fleet.SeverityWarning {
			errs = append(errs, d.String())
		}
	}
	if len(errs) == 0 {
		return ""
	}
	return summarize(fmt.Sprintf("%d error(s)", len(errs)), errs)
}

// summarize lists at most a few messages after a heading.
func summarize(heading string, msgs []string) string {
	const maxListed = 5
	if len(msgs) > maxListed {
		msgs = append(msgs[:maxListed:maxListed], fmt.Sprintf("and %d more", len(msgs)-maxListed))
	}
	return heading + ": " + strings.Join(msgs, "; ")
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	out := in[:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func (r *FleetRepositoryReconciler) event(obj client.Object, typ, reason, msg string) {
	if r.Recorder != nil {
		r.Recorder.Event(obj, typ, reason, msg)
	}
}

// durationOr returns d's value, or def when d is unset.
func durationOr(d *metav1.Duration, def time.Duration) time.Duration {
	if d == nil || d.Duration <= 0 {
		return def
	}
	return d.Duration
}

// count32 converts a count to the int32 of a status field, saturating at
// math.MaxInt32 rather than wrapping around.
func count32(n int) int32 {
	switch {
	case n > math.MaxInt32:
		return math.MaxInt32
	case n < 0:
		return 0
	default:
		return int32(n)
	}
}
