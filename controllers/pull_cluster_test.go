package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/apply/clusterclient"
	"github.com/flotilla-gitops/flotilla/status/report"
)

// TestPullClusterReachabilityFollowsTheAgentHeartbeat reconciles a pull
// cluster on a real hub: without an Agent heartbeat it is unreachable
// (never seen); a fresh heartbeat makes it Reachable with the version,
// capacity and hold the agent reports, and a wake-up before it goes stale;
// a heartbeat older than three intervals makes it unreachable again, and
// the status report shows it stale like an unreachable push site.
func TestPullClusterReachabilityFollowsTheAgentHeartbeat(t *testing.T) {
	hub, _ := pullHub(t)
	ctx := context.Background()
	key := types.NamespacedName{Namespace: fleetNS, Name: "site"}
	opts := Options{HeartbeatInterval: 30 * time.Second}.withDefaults()
	r := &ClusterReconciler{
		Client: hub, Recorder: &record.FakeRecorder{}, Options: opts,
		Clients:   newClusterClients(hub, clusterclient.Options{}, time.Minute),
		Reach:     newReachability(time.Second, time.Minute),
		Summaries: newDebounce(time.Hour),
	}
	// The app summary needs the manager's index; this test is about the
	// heartbeat, so the summary is not due.
	r.Summaries.wait(key)
	reconcileCluster := func() (*flotillav1.Cluster, ctrl.Result) {
		t.Helper()
		res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: key})
		must(t, err)
		c := &flotillav1.Cluster{}
		must(t, hub.Get(ctx, key, c))
		return c, res
	}

	c, _ := reconcileCluster()
	if !conditions.IsFalse(c, flotillav1.ReachableCondition) || !strings.Contains(conditions.GetMessage(c, flotillav1.ReachableCondition), "never seen") {
		t.Fatalf("without a heartbeat: Reachable %v", conditions.Get(c, flotillav1.ReachableCondition))
	}

	ns, err := ensureAgentNamespace(ctx, hub, fleetNS, "site")
	must(t, err)
	// ensureAgentNamespace created the Agent object, as it does for every
	// pull cluster.
	agent := &flotillav1.Agent{}
	must(t, hub.Get(ctx, client.ObjectKey{Name: flotillav1.AgentObjectName, Namespace: ns}, agent))
	beat := metav1.NewTime(time.Now().Add(-5 * time.Second).Truncate(time.Second))
	gpu := resource.MustParse("4")
	agent.Status = flotillav1.AgentStatus{
		LastHeartbeatTime: &beat, KubernetesVersion: "v1.37.2",
		Capacity: &flotillav1.ClusterCapacity{Nodes: 3, GPU: &gpu,
			Allocatable: corev1.ResourceList{"nvidia.com/gpu": gpu},
			Available:   corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}},
		Hold: &flotillav1.ClusterHold{Since: beat, Reason: "lot 4711"},
	}
	must(t, hub.Status().Update(ctx, agent))
	if reqs := r.clusterOfAgent(ctx, agent); len(reqs) != 1 || reqs[0].NamespacedName != key {
		t.Fatalf("the Agent maps to %v, want its Cluster %s", reqs, key)
	}

	c, res := reconcileCluster()
	if !conditions.IsTrue(c, flotillav1.ReachableCondition) || c.Status.KubernetesVersion != "v1.37.2" ||
		c.Status.Capacity == nil || c.Status.Capacity.Nodes != 3 || c.Status.GPU != "1/4" || c.Status.Capacity.Available.Name("nvidia.com/gpu", resource.DecimalSI).Value() != 1 ||
		c.Status.Hold == nil || c.Status.Hold.Reason != "lot 4711" || !c.Status.LastHeartbeatTime.Equal(&beat) {
		t.Fatalf("a fresh heartbeat: Reachable %v, status %+v", conditions.Get(c, flotillav1.ReachableCondition), c.Status)
	}
	if limit := 3 * opts.HeartbeatInterval; res.RequeueAfter <= 0 || res.RequeueAfter > limit {
		t.Fatalf("requeue after %s: the cluster must wake before the heartbeat goes stale (%s)", res.RequeueAfter, limit)
	}

	old := metav1.NewTime(time.Now().Add(-10 * time.Minute).Truncate(time.Second))
	must(t, hub.Get(ctx, types.NamespacedName{Namespace: ns, Name: flotillav1.AgentObjectName}, agent))
	agent.Status.LastHeartbeatTime = &old
	must(t, hub.Status().Update(ctx, agent))
	c, _ = reconcileCluster()
	if !conditions.IsFalse(c, flotillav1.ReachableCondition) || conditions.GetReason(c, flotillav1.ReachableCondition) != flotillav1.ReasonClusterUnreachable ||
		!strings.Contains(conditions.GetMessage(c, flotillav1.ReachableCondition), "no heartbeat from the agent") || !conditions.IsFalse(c, meta.ReadyCondition) {
		t.Fatalf("a stale heartbeat: Reachable %v", conditions.Get(c, flotillav1.ReachableCondition))
	}
	repo := &flotillav1.FleetRepository{ObjectMeta: metav1.ObjectMeta{Name: "repo", Namespace: fleetNS}}
	rep := report.Build(repo, []flotillav1.Cluster{*c}, nil)
	if st := rep.Clusters[0]; !st.Stale || st.Mode != "Pull" || st.LastSeen == nil || !st.LastSeen.Equal(&old) {
		t.Fatalf("the report must show the silent pull site stale since its last heartbeat: %+v", st)
	}
}
