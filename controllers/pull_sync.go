package controllers

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// Pull clusters: the hub writes each app's desired state as a Bundle in
// the cluster's agent namespace and reads the agent's report back from the
// Bundle's status. It never connects to the cluster.

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=flotilla.dev,resources=bundles;bundlechunks,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=flotilla.dev,resources=agents,verbs=get;list;watch

// reconcilePull writes the Bundle of a sync whose cluster is in pull mode,
// when its content digest or options changed and the site accepts new
// revisions, and copies the agent's report into the sync's status.
//
// request is the reconcile request covering the sync (suspend.go): passed
// on in the Bundle's spec.reconcileRequestedAt, it makes the agent check
// for drift now.
func (r *ClusterSyncReconciler) reconcilePull(ctx context.Context, cs *flotillav1.ClusterSync, cluster *flotillav1.Cluster, d *Desired, repo types.NamespacedName, request string) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	content, digest, err := d.bundleContent()
	if err != nil {
		conditions.MarkFalse(cs, meta.ReadyCondition, flotillav1.ReasonApplyFailed, "%s", err)
		return ctrl.Result{}, fmt.Errorf("encode app %s for pull cluster %s: %w", cs.Spec.App, cs.Spec.Cluster, err)
	}
	ns, err := ensureAgentNamespace(ctx, r.Client, cs.Namespace, cs.Spec.Cluster)
	if err != nil {
		return ctrl.Result{}, err
	}
	if agentRevoked(ctx, r.Client, ns) {
		// Nothing new for a revoked agent, not even through a watch it
		// opened before the revocation.
		conditions.MarkFalse(cs, meta.ReadyCondition, flotillav1.ReasonAgentRevoked,
			"the agent identity of cluster %s is revoked: nothing is sent to it; approve a new registration with `flotilla cluster approve %s`", cs.Spec.Cluster, cs.Spec.Cluster)
		return ctrl.Result{RequeueAfter: jittered(r.Options.HeartbeatInterval)}, nil
	}
	have := &flotillav1.Bundle{}
	err = r.Get(ctx, types.NamespacedName{Namespace: ns, Name: cs.Spec.App}, have)
	if err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("read Bundle %s/%s: %w", ns, cs.Spec.App, err)
	}
	exists := err == nil
	if (!exists || have.Spec.Digest != digest) && cs.Spec.Rollout == nil {
		// As for push: an app without a rollout honours the site's hold
		// (reported by its agent) and update windows; an app with one is
		// gated by its rollout driver.
		if why, next := siteDeferral(cluster, r.Options.Clock.Now()); why != "" {
			conditions.MarkUnknown(cs, meta.ReadyCondition, flotillav1.ReasonDeferred, "revision %s waits: cluster %s is %s", d.Revision, cs.Spec.Cluster, why)
			wait := r.Options.HeartbeatInterval
			if until := time.Until(next); !next.IsZero() && until > 0 && until < wait {
				wait = until
			}
			return ctrl.Result{RequeueAfter: jittered(wait)}, nil
		}
	}
	want, chunks := bundleFor(cs, d, r.driftInterval(ctx, repo), ns, content, digest)
	want.Spec.ReconcileRequestedAt = request
	if !exists || !sameBundleSpec(have.Spec, want.Spec) || !sameLabels(have.Labels, want.Labels) {
		var previous []string
		if exists {
			previous = have.Spec.Chunks
		}
		written, err := r.writeBundle(ctx, have, exists, want, chunks, previous)
		if err != nil {
			return ctrl.Result{}, err
		}
		log.V(1).Info("bundle written", "namespace", ns, "digest", digest, "revision", d.Revision, "bytes", len(content), "chunks", len(chunks))
		have = written
	}
	copyBundleStatus(cs, have, d, digest, cluster)
	return ctrl.Result{}, nil
}

// writeBundle creates or updates a Bundle: its chunks first (immutable,
// content-addressed: one that exists already is the same data), then the
// Bundle pointing at them; chunks no Bundle of the namespace references any
// more are deleted afterwards. One agent namespace is written by one
// reconcile at a time, so a chunk just created for one app is never
// collected while another app's Bundle is written.
func (r *ClusterSyncReconciler) writeBundle(ctx context.Context, have *flotillav1.Bundle, exists bool, want *flotillav1.Bundle, chunks []*flotillav1.BundleChunk, previous []string) (*flotillav1.Bundle, error) {
	unlock := r.bundleLocks.lock(want.Namespace)
	defer unlock()
	for _, ch := range chunks {
		if err := r.Create(ctx, ch); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("create BundleChunk %s/%s: %w", ch.Namespace, ch.Name, err)
		}
	}
	if !exists {
		if err := r.Create(ctx, want); err != nil {
			return nil, fmt.Errorf("create Bundle %s/%s: %w", want.Namespace, want.Name, err)
		}
	} else {
		next := have.DeepCopy()
		next.Spec = want.Spec
		if next.Labels == nil {
			next.Labels = map[string]string{}
		}
		for k, v := range want.Labels {
			next.Labels[k] = v
		}
		if err := r.Update(ctx, next); err != nil {
			return nil, fmt.Errorf("update Bundle %s/%s: %w", want.Namespace, want.Name, err)
		}
		want = next
	}
	if len(previous) > 0 && !slices.Equal(previous, want.Spec.Chunks) {
		if err := r.collectChunks(ctx, want.Namespace); err != nil {
			return nil, err
		}
	}
	return want, nil
}

// collectChunks deletes the BundleChunks of an agent namespace that no
// Bundle there references. It reads the API server, not the cache: a
// Bundle written a moment ago must not lose its chunks to a stale view.
// Callers hold the namespace's lock.
func (r *ClusterSyncReconciler) collectChunks(ctx context.Context, ns string) error {
	reader := r.APIReader
	if reader == nil {
		reader = r.Client
	}
	bundles := &flotillav1.BundleList{}
	if err := reader.List(ctx, bundles, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("list Bundles in %s to collect chunks: %w", ns, err)
	}
	used := map[string]bool{}
	for i := range bundles.Items {
		for _, c := range bundles.Items[i].Spec.Chunks {
			used[c] = true
		}
	}
	chunks := &metav1.PartialObjectMetadataList{}
	chunks.SetGroupVersionKind(flotillav1.GroupVersion.WithKind("BundleChunkList"))
	if err := reader.List(ctx, chunks, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("list BundleChunks in %s: %w", ns, err)
	}
	for i := range chunks.Items {
		ch := &chunks.Items[i]
		if used[ch.Name] {
			continue
		}
		ch.SetGroupVersionKind(flotillav1.GroupVersion.WithKind("BundleChunk"))
		if err := r.Delete(ctx, ch); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete unreferenced BundleChunk %s/%s: %w", ns, ch.Name, err)
		}
		ctrl.LoggerFrom(ctx).V(1).Info("bundle chunk collected", "namespace", ns, "chunk", ch.Name)
	}
	return nil
}

// copyBundleStatus copies the agent's report on b into the sync's status
// when it reports on the content the hub wants (digest), so that kubectl,
// App aggregation, rollouts and the status branch read a pull cluster's
// syncs as they read a push cluster's. The agent reports digests of bundle
// content; the sync records the digest of the render d, as push does. A
// report on older content keeps the sync Reconciling.
func copyBundleStatus(cs *flotillav1.ClusterSync, b *flotillav1.Bundle, d *Desired, digest string, cluster *flotillav1.Cluster) {
	st := &b.Status
	if b.Spec.Digest != digest || st.ObservedDigest != digest {
		if conditions.IsFalse(cluster, flotillav1.ReachableCondition) {
			conditions.MarkFalse(cs, meta.ReadyCondition, flotillav1.ReasonClusterUnreachable,
				"revision %s waits for the agent of cluster %s, which is not reporting: %s", d.Revision, cs.Spec.Cluster, conditions.GetMessage(cluster, flotillav1.ReachableCondition))
		} else {
			conditions.MarkUnknown(cs, meta.ReadyCondition, flotillav1.ReasonProgressing, "waiting for the agent of cluster %s to apply revision %s", cs.Spec.Cluster, d.Revision)
		}
		conditions.MarkReconciling(cs, flotillav1.ReasonProgressing, "waiting for the agent of cluster %s", cs.Spec.Cluster)
		return
	}
	conds := make([]metav1.Condition, len(st.Conditions))
	for i, c := range st.Conditions {
		c.ObservedGeneration = cs.Generation
		conds[i] = c
	}
	cs.Status.Conditions = conds
	cs.Status.LastAppliedTime = st.LastAppliedTime
	cs.Status.LastDriftCheckTime = st.LastDriftCheckTime
	cs.Status.DriftCorrections = st.DriftCorrections
	cs.Status.DriftedObjects = st.DriftedObjects
	cs.Status.WaitingFor = st.WaitingFor
	cs.Status.LastError = st.LastError
	cs.Status.Inventory = st.Inventory
	cs.Status.LastHandledReconcileAt = st.LastHandledReconcileAt
	if st.AppliedDigest == digest {
		// A commit that renders what the agent applied moves the applied
		// revision along, as for push.
		cs.Status.AppliedDigest = d.Digest
		cs.Status.AppliedRevision = d.Revision
		if conditions.IsTrue(cs, meta.ReadyCondition) {
			cs.Status.LastReadyRevision = d.Revision
		}
	}
}

// syncOfBundle maps a Bundle to its ClusterSync by the Bundle's labels.
func syncOfBundle(_ context.Context, obj client.Object) []reconcile.Request {
	l := obj.GetLabels()
	ns, app, cluster := l[flotillav1.LabelAgentFleetNamespace], l[flotillav1.LabelApp], l[flotillav1.LabelAgentCluster]
	if ns == "" || app == "" || cluster == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: ns, Name: syncName(app, cluster)}}}
}

// bundleReported passes the Bundle events that carry news from the agent:
// status updates (the generation stays), and deletions. The hub's own
// writes of a Bundle's spec and its creations do not wake the sync again.
type bundleReported struct{ predicate.Funcs }

// Create ignores new Bundles: the hub made them.
func (bundleReported) Create(event.CreateEvent) bool { return false }

// Update passes changes that leave the spec's generation alone.
func (bundleReported) Update(e event.UpdateEvent) bool {
	if e.ObjectOld == nil || e.ObjectNew == nil {
		return true
	}
	return e.ObjectOld.GetGeneration() == e.ObjectNew.GetGeneration()
}

// Delete passes every deletion.
func (bundleReported) Delete(event.DeleteEvent) bool { return true }

// Generic passes generic events.
func (bundleReported) Generic(event.GenericEvent) bool { return true }

// finalizePull handles the removal of a sync whose cluster is in pull mode
// (pull is false for push clusters: the caller prunes as push does). It asks
// the agent, through the Bundle's spec.deletion, to prune or orphan what
// it applied (the same rule as push: the app leaving the cluster prunes,
// the cluster leaving the fleet follows its pruneOnRemoval, the orphan
// annotation orphans), waits for status.removed, then deletes the Bundle
// and the chunks no Bundle references. done says the finalizer may go.
func (r *ClusterSyncReconciler) finalizePull(ctx context.Context, cs *flotillav1.ClusterSync) (pull, done bool, result ctrl.Result, err error) {
	log := ctrl.LoggerFrom(ctx)
	cluster := &flotillav1.Cluster{}
	cerr := r.Get(ctx, types.NamespacedName{Namespace: cs.Namespace, Name: cs.Spec.Cluster}, cluster)
	if cerr != nil && !apierrors.IsNotFound(cerr) {
		return true, false, ctrl.Result{}, fmt.Errorf("read Cluster %s of deleted ClusterSync %s: %w", cs.Spec.Cluster, cs.Name, cerr)
	}
	ns := flotillav1.AgentNamespace(cs.Namespace, cs.Spec.Cluster)
	b := &flotillav1.Bundle{}
	berr := r.Get(ctx, types.NamespacedName{Namespace: ns, Name: cs.Spec.App}, b)
	if berr != nil && !apierrors.IsNotFound(berr) {
		return true, false, ctrl.Result{}, fmt.Errorf("read Bundle %s/%s: %w", ns, cs.Spec.App, berr)
	}
	switch {
	case cerr == nil && cluster.Spec.Access.Mode != flotillav1.AccessPull:
		return false, false, ctrl.Result{}, nil
	case cerr != nil && berr != nil:
		return false, false, ctrl.Result{}, nil // no Cluster, no Bundle: nothing of pull mode to undo
	case berr != nil:
		return true, true, ctrl.Result{}, nil // nothing was ever sent
	case cerr != nil:
		// Only a Cluster mirrored before it carried its finalizer can be
		// gone first: drop the Bundle; the agent leaves its objects.
		log.Info("cluster mirror is gone: the Bundle is deleted and the agent leaves its objects in place", "namespace", ns)
		if err := r.deleteBundle(ctx, b); err != nil {
			return true, false, ctrl.Result{}, err
		}
		return true, true, ctrl.Result{}, nil
	}

	mode := flotillav1.BundleDeletionPrune
	leaving, err := r.clusterLeaving(ctx, cs, cluster)
	if err != nil {
		return true, false, ctrl.Result{}, err
	}
	if cs.Annotations[orphanAnnotation] == "true" || (leaving && !cluster.Spec.PruneOnRemoval) {
		mode = flotillav1.BundleDeletionOrphan
	}
	if b.Spec.Deletion == "" {
		next := b.DeepCopy()
		next.Spec.Deletion = mode
		if err := r.Update(ctx, next); err != nil {
			return true, false, ctrl.Result{}, fmt.Errorf("ask the agent of cluster %s to remove app %s: %w", cs.Spec.Cluster, cs.Spec.App, err)
		}
		log.Info("asked the agent to remove the app", "deletion", mode, "namespace", ns)
		b = next
	}
	if !b.Status.Removed {
		// The Bundle's status update wakes the sync (see bundleReported);
		// the requeue refreshes the condition while the agent is away.
		before := cs.DeepCopy()
		verb := map[flotillav1.BundleDeletion]string{flotillav1.BundleDeletionPrune: "prune", flotillav1.BundleDeletionOrphan: "orphan"}[b.Spec.Deletion]
		if conditions.IsFalse(cluster, flotillav1.ReachableCondition) {
			conditions.MarkFalse(cs, meta.ReadyCondition, flotillav1.ReasonClusterUnreachable,
				"app %s leaves cluster %s once its agent has acted (%s), but the agent is not reporting: %s; the ClusterSync keeps its finalizer %s until then",
				cs.Spec.App, cs.Spec.Cluster, verb, conditions.GetMessage(cluster, flotillav1.ReachableCondition), syncFinalizer)
		} else {
			conditions.MarkUnknown(cs, meta.ReadyCondition, flotillav1.ReasonProgressing,
				"waiting for the agent of cluster %s to %s app %s (asked at %s)", cs.Spec.Cluster, verb, cs.Spec.App, cs.DeletionTimestamp.UTC().Format(time.RFC3339))
		}
		if err := writeStatus(ctx, r.Client, cs, before.Status, cs.Status); err != nil {
			return true, false, ctrl.Result{}, err
		}
		return true, false, ctrl.Result{RequeueAfter: jittered(r.Options.HeartbeatInterval)}, nil
	}
	if err := r.deleteBundle(ctx, b); err != nil {
		return true, false, ctrl.Result{}, err
	}
	reason := map[flotillav1.BundleDeletion]string{flotillav1.BundleDeletionPrune: "Pruned", flotillav1.BundleDeletionOrphan: "Orphaned"}[b.Spec.Deletion]
	r.Recorder.Event(cs, corev1.EventTypeNormal, reason, fmt.Sprintf("the agent of cluster %s removed app %s (%s)", cs.Spec.Cluster, cs.Spec.App, b.Spec.Deletion))
	return true, true, ctrl.Result{}, nil
}

// deleteBundle deletes a Bundle and the chunks left unreferenced.
func (r *ClusterSyncReconciler) deleteBundle(ctx context.Context, b *flotillav1.Bundle) error {
	unlock := r.bundleLocks.lock(b.Namespace)
	defer unlock()
	if err := r.Delete(ctx, b); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("delete Bundle %s/%s: %w", b.Namespace, b.Name, err)
	}
	return r.collectChunks(ctx, b.Namespace)
}
