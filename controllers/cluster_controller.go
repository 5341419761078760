package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/apply/clusterclient"
)

// ClusterReconciler probes each member cluster on a heartbeat (reachability,
// version, nodes, allocatable capacity) and summarises the apps it runs.
type ClusterReconciler struct {
	client.Client
	Recorder record.EventRecorder
	Clients  *clusterClients
	Reach    *reachability
	Options  Options
	// Summaries limits how often one Cluster's app summary is recomputed.
	Summaries *debounce

	states clusterStates
}

// SetupWithManager registers the reconciler; a ClusterSync change refreshes
// its cluster's app summary without probing the cluster again.
func (r *ClusterReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&flotillav1.Cluster{}).
		Watches(&flotillav1.ClusterSync{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []reconcile.Request {
			cs, ok := obj.(*flotillav1.ClusterSync)
			if !ok {
				return nil
			}
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: cs.Namespace, Name: cs.Spec.Cluster}}}
		})).
		// A pull cluster's heartbeat is its agent's.
		Watches(&flotillav1.Agent{}, handler.EnqueueRequestsFromMapFunc(r.clusterOfAgent)).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(2, r.Options.SyncWorkers/4)}).
		Named("cluster").
		Complete(r)
}

// Reconcile refreshes one cluster's status.
func (r *ClusterReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	c := &flotillav1.Cluster{}
	if err := r.Get(ctx, req.NamespacedName, c); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !c.DeletionTimestamp.IsZero() {
		r.states.set(memberKey(c.Namespace, c.Name), "")
		return r.finalize(ctx, c)
	}
	ctx = ctrl.LoggerInto(ctx, ctrl.LoggerFrom(ctx).WithValues("cluster", c.Name))
	before := c.DeepCopy()
	defer func() {
		if wait := r.taintUnreachable(c); wait > 0 && retErr == nil && (result.RequeueAfter == 0 || result.RequeueAfter > wait) {
			result.RequeueAfter = wait
		}
		c.Status.ObservedGeneration = c.Generation
		retErr = errors.Join(retErr, writeStatus(ctx, r.Client, c, before.Status, c.Status))
	}()

	summaryWait := r.Summaries.wait(req.NamespacedName)
	if summaryWait == 0 {
		if err := r.summariseApps(ctx, c); err != nil {
			return ctrl.Result{}, err
		}
	}
	defer func() {
		if summaryWait > 0 && retErr == nil && (result.RequeueAfter == 0 || result.RequeueAfter > summaryWait) {
			result.RequeueAfter = summaryWait
		}
	}()

	if err := r.reconcileAgentNamespace(ctx, c); err != nil {
		return ctrl.Result{}, err
	}
	if c.Spec.Access.Mode == flotillav1.AccessPull {
		return r.pullHeartbeat(ctx, c)
	}

	due := r.Options.HeartbeatInterval
	if last := c.Status.LastHeartbeatTime; last != nil && conditions.IsTrue(c, flotillav1.ReachableCondition) {
		if wait := time.Until(last.Add(due)); wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, nil
		}
	}
	key := memberKey(c.Namespace, c.Name)
	if wait, _, blocked := r.Reach.blocked(key); blocked && !conditions.IsTrue(c, flotillav1.ReachableCondition) {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	return r.heartbeat(ctx, c)
}

func (r *ClusterReconciler) heartbeat(ctx context.Context, c *flotillav1.Cluster) (ctrl.Result, error) {
	key := memberKey(c.Namespace, c.Name)
	cl, err := r.Clients.get(ctx, c, true)
	if err != nil {
		conditions.MarkFalse(c, flotillav1.ReachableCondition, flotillav1.ReasonKubeconfigInvalid, "%s", err)
		conditions.MarkFalse(c, meta.ReadyCondition, flotillav1.ReasonKubeconfigInvalid, "%s", err)
		return ctrl.Result{RequeueAfter: r.Options.HeartbeatInterval}, nil
	}
	probeCtx, cancel := context.WithTimeout(withPurpose(ctx, "heartbeat"), r.Options.ClusterTimeout)
	defer cancel()
	info, err := clusterclient.Probe(probeCtx, cl)
	if reason, bad := accessFailure(err); bad {
		// The cluster answered but refused the kubeconfig: not a network
		// problem to back off from, a Secret to fix.
		r.Reach.succeeded(key)
		msg := accessFailureMessage(c.Name, reason, kubeconfigSource(c), err)
		if conditions.GetReason(c, flotillav1.ReachableCondition) != reason {
			r.Recorder.Event(c, corev1.EventTypeWarning, reason, msg)
		}
		conditions.MarkFalse(c, flotillav1.ReachableCondition, reason, "%s", msg)
		conditions.MarkFalse(c, meta.ReadyCondition, reason, "%s", msg)
		conditions.MarkStalled(c, reason, "%s", msg)
		r.states.set(key, "misconfigured")
		return ctrl.Result{RequeueAfter: jittered(r.Options.HeartbeatInterval)}, nil
	}
	if err != nil {
		wait := r.Reach.failed(key, err)
		if !conditions.IsFalse(c, flotillav1.ReachableCondition) {
			r.Recorder.Event(c, corev1.EventTypeWarning, flotillav1.ReasonClusterUnreachable, err.Error())
		}
		since := "never seen"
		if c.Status.LastHeartbeatTime != nil {
			since = "last seen " + c.Status.LastHeartbeatTime.UTC().Format(time.RFC3339)
		}
		conditions.MarkFalse(c, flotillav1.ReachableCondition, flotillav1.ReasonClusterUnreachable, "%s: %s", since, err)
		conditions.MarkFalse(c, meta.ReadyCondition, flotillav1.ReasonClusterUnreachable, "unreachable (%s)", since)
		r.states.set(key, "unreachable")
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	if r.Reach.succeeded(key) || !conditions.IsTrue(c, flotillav1.ReachableCondition) {
		r.Recorder.Event(c, corev1.EventTypeNormal, flotillav1.ReasonReachable, "cluster is reachable")
	}
	now := metav1.Now()
	c.Status.LastHeartbeatTime = &now
	c.Status.KubernetesVersion = info.KubernetesVersion
	c.Status.Capacity = info.Capacity
	c.Status.Capacity.CPU, c.Status.Capacity.Memory, c.Status.Capacity.GPU = &info.CPU, &info.Memory, &info.GPU
	c.Status.GPU = clusterclient.GPUColumn(info.Capacity)
	r.recordHold(c, info, now)
	conditions.MarkTrue(c, flotillav1.ReachableCondition, flotillav1.ReasonReachable, "Kubernetes %s, %d node(s)", info.KubernetesVersion, info.Nodes)
	conditions.Delete(c, meta.StalledCondition)
	r.states.set(key, "reachable")
	r.markReady(c)
	return ctrl.Result{RequeueAfter: r.Options.HeartbeatInterval}, nil
}

// recordHold keeps status.hold in step with the site's hold ConfigMap,
// with an event when a hold starts or ends.
func (r *ClusterReconciler) recordHold(c *flotillav1.Cluster, info clusterclient.Info, now metav1.Time) {
	switch {
	case info.Held && c.Status.Hold == nil:
		c.Status.Hold = &flotillav1.ClusterHold{Since: now, Reason: info.HoldReason}
		r.Recorder.Event(c, corev1.EventTypeNormal, "HoldSet", "the site holds new revisions: "+holdReason(info.HoldReason))
	case info.Held:
		c.Status.Hold.Reason = info.HoldReason
	case c.Status.Hold != nil:
		c.Status.Hold = nil
		r.Recorder.Event(c, corev1.EventTypeNormal, "HoldReleased", "the site accepts new revisions again")
	}
}

func holdReason(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}

// finalize lets a deleted Cluster go once no ClusterSync of it is left:
// until then their finalizers may still need its access settings to prune.
// A ClusterSync's deletion wakes the Cluster (see SetupWithManager).
func (r *ClusterReconciler) finalize(ctx context.Context, c *flotillav1.Cluster) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(c, clusterFinalizer) {
		return ctrl.Result{}, nil
	}
	list := &flotillav1.ClusterSyncList{}
	if err := r.List(ctx, list, client.InNamespace(c.Namespace), client.MatchingFields{indexSyncCluster: c.Name}, client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, fmt.Errorf("list ClusterSyncs of deleted cluster %s: %w", c.Name, err)
	}
	if n := len(list.Items); n > 0 {
		ctrl.LoggerFrom(ctx).V(1).Info("deleted cluster waits for its ClusterSyncs", "cluster", c.Name, "syncs", n)
		return ctrl.Result{}, nil
	}
	if err := r.removeAgentNamespace(ctx, c, "cluster "+c.Name+" left the fleet"); err != nil {
		return ctrl.Result{}, err
	}
	p := client.MergeFrom(c.DeepCopy())
	controllerutil.RemoveFinalizer(c, clusterFinalizer)
	if err := r.Patch(ctx, c, p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	r.forget(client.ObjectKeyFromObject(c))
	return ctrl.Result{}, nil
}

// forget drops what this process holds for a deleted cluster: its client
// (and its connections), its reachability record, its state in the gauge,
// its request counters and its summary timer.
func (r *ClusterReconciler) forget(key client.ObjectKey) {
	member := memberKey(key.Namespace, key.Name)
	r.states.set(member, "")
	r.Summaries.forget(key)
	r.Reach.forget(member)
	r.Clients.forget(member)
	memberRequests.DeletePartialMatch(prometheus.Labels{"cluster": member})
}

// summariseApps counts the cluster's apps from its ClusterSyncs (hub only).
func (r *ClusterReconciler) summariseApps(ctx context.Context, c *flotillav1.Cluster) error {
	list := &flotillav1.ClusterSyncList{}
	if err := r.List(ctx, list, client.InNamespace(c.Namespace), client.MatchingFields{indexSyncCluster: c.Name}, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("list ClusterSyncs of cluster %s: %w", c.Name, err)
	}
	agg := aggregateCluster(list.Items)
	c.Status.AppsTotal, c.Status.AppsReady = agg.Total, agg.Ready
	c.Status.Apps = fmt.Sprintf("%d/%d", agg.Ready, agg.Total)
	if conditions.Has(c, flotillav1.ReachableCondition) {
		r.markReady(c)
	}
	return nil
}

// markReady sets Ready from reachability and the app summary.
func (r *ClusterReconciler) markReady(c *flotillav1.Cluster) {
	switch {
	case !conditions.IsTrue(c, flotillav1.ReachableCondition):
		// Reachable=False already set Ready=False with the reason.
	case c.Status.AppsReady < c.Status.AppsTotal:
		conditions.MarkFalse(c, meta.ReadyCondition, flotillav1.ReasonProgressing, "%d of %d apps ready", c.Status.AppsReady, c.Status.AppsTotal)
	default:
		conditions.MarkTrue(c, meta.ReadyCondition, flotillav1.ReasonSynced, "%d of %d apps ready", c.Status.AppsReady, c.Status.AppsTotal)
	}
}

// clusterStates feeds the flotilla_clusters gauge: the state of every
// cluster, counted per namespace and state.
type clusterStates struct {
	mu     sync.Mutex
	states map[string]string
}

// set records a cluster's state ("" forgets it) and refreshes the gauge.
func (s *clusterStates) set(key, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.states == nil {
		s.states = map[string]string{}
	}
	if state == "" {
		delete(s.states, key)
	} else {
		s.states[key] = state
	}
	counts := map[[2]string]float64{}
	for k, st := range s.states {
		ns, _, _ := strings.Cut(k, "/")
		counts[[2]string{ns, st}]++
	}
	clustersByState.Reset()
	for k, n := range counts {
		clustersByState.WithLabelValues(k[0], k[1]).Set(n)
	}
}
