package controllers

import (
	"context"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/apply/clusterclient"
)

// agentHeartbeatsMissed is how many heartbeat intervals an agent may stay
// silent before its cluster is reported unreachable.
const agentHeartbeatsMissed = 3

// pullHeartbeat refreshes a pull cluster's status from its agent's
// heartbeat (the Agent object in its agent namespace): Reachable while the
// last heartbeat is younger than three heartbeat intervals, and the
// versions, capacity and hold the agent reports. The hub never connects to
// the cluster. It wakes itself when the heartbeat would go stale.
func (r *ClusterReconciler) pullHeartbeat(ctx context.Context, c *flotillav1.Cluster) (ctrl.Result, error) {
	key := memberKey(c.Namespace, c.Name)
	ns := flotillav1.AgentNamespace(c.Namespace, c.Name)
	agent := &flotillav1.Agent{}
	err := r.Get(ctx, types.NamespacedName{Namespace: ns, Name: flotillav1.AgentObjectName}, agent)
	if err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	limit := agentHeartbeatsMissed * r.Options.HeartbeatInterval
	last := agent.Status.LastHeartbeatTime
	if err != nil || last == nil {
		// Not registered yet, or registered but silent: an Agent event
		// wakes the cluster when its first heartbeat arrives.
		conditions.MarkFalse(c, flotillav1.ReachableCondition, flotillav1.ReasonClusterUnreachable,
			"never seen: no heartbeat from the agent yet (it reports to Agent %s/%s once registered and approved)", ns, flotillav1.AgentObjectName)
		conditions.MarkFalse(c, meta.ReadyCondition, flotillav1.ReasonClusterUnreachable, "unreachable (never seen)")
		r.states.set(key, "unreachable")
		return ctrl.Result{RequeueAfter: jittered(r.Options.HeartbeatInterval)}, nil
	}
	c.Status.LastHeartbeatTime = last
	age := r.Options.Clock.Now().Sub(last.Time)
	if age >= limit {
		if !conditions.IsFalse(c, flotillav1.ReachableCondition) {
			r.Recorder.Event(c, corev1.EventTypeWarning, flotillav1.ReasonClusterUnreachable, "no heartbeat from the agent for "+age.Round(time.Second).String())
		}
		since := "last seen " + last.UTC().Format(time.RFC3339)
		conditions.MarkFalse(c, flotillav1.ReachableCondition, flotillav1.ReasonClusterUnreachable, "%s: no heartbeat from the agent for %s", since, age.Round(time.Second))
		conditions.MarkFalse(c, meta.ReadyCondition, flotillav1.ReasonClusterUnreachable, "unreachable (%s)", since)
		r.states.set(key, "unreachable")
		// The next heartbeat is an Agent event; the requeue is a safety net.
		return ctrl.Result{RequeueAfter: jittered(r.Options.HeartbeatInterval)}, nil
	}
	if !conditions.IsTrue(c, flotillav1.ReachableCondition) {
		r.Recorder.Event(c, corev1.EventTypeNormal, flotillav1.ReasonReachable, "the agent reports")
	}
	st := &agent.Status
	c.Status.KubernetesVersion = st.KubernetesVersion
	c.Status.Capacity = st.Capacity.DeepCopy()
	// The GPU column reads as for a push site: available/allocatable.
	c.Status.GPU = clusterclient.GPUColumn(st.Capacity)
	nodes := int32(0)
	if st.Capacity != nil {
		nodes = st.Capacity.Nodes
	}
	r.recordAgentHold(c, st.Hold)
	conditions.MarkTrue(c, flotillav1.ReachableCondition, flotillav1.ReasonReachable, "agent heartbeat: Kubernetes %s, %d node(s)", st.KubernetesVersion, nodes)
	conditions.Delete(c, meta.StalledCondition)
	r.states.set(key, "reachable")
	r.markReady(c)
	// Wake up when the heartbeat would be stale, to report it.
	return ctrl.Result{RequeueAfter: limit - age + time.Second}, nil
}

// recordAgentHold copies the hold an agent reports, with an event when a
// hold starts or ends, as recordHold does for push clusters.
func (r *ClusterReconciler) recordAgentHold(c *flotillav1.Cluster, hold *flotillav1.ClusterHold) {
	switch {
	case hold != nil && c.Status.Hold == nil:
		c.Status.Hold = hold.DeepCopy()
		r.Recorder.Event(c, corev1.EventTypeNormal, "HoldSet", "the site holds new revisions: "+holdReason(hold.Reason))
	case hold != nil:
		c.Status.Hold.Reason = hold.Reason
	case c.Status.Hold != nil:
		c.Status.Hold = nil
		r.Recorder.Event(c, corev1.EventTypeNormal, "HoldReleased", "the site accepts new revisions again")
	}
}

// clusterOfAgent maps an Agent to its Cluster: by the agent namespace's
// labels (the Agent's own, or else its namespace's).
func (r *ClusterReconciler) clusterOfAgent(ctx context.Context, obj client.Object) []reconcile.Request {
	l := obj.GetLabels()
	if l[flotillav1.LabelAgentCluster] == "" || l[flotillav1.LabelAgentFleetNamespace] == "" {
		ns := &corev1.Namespace{}
		if err := r.Get(ctx, types.NamespacedName{Name: obj.GetNamespace()}, ns); err != nil {
			return nil
		}
		l = ns.Labels
	}
	cluster, fleetNS := l[flotillav1.LabelAgentCluster], l[flotillav1.LabelAgentFleetNamespace]
	if cluster == "" || fleetNS == "" || flotillav1.AgentNamespace(fleetNS, cluster) != obj.GetNamespace() {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: fleetNS, Name: cluster}}}
}
