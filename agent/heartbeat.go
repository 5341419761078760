package agent

import (
	"context"
	"fmt"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/apply/clusterclient"
	"github.com/flotilla-gitops/flotilla/internal/version"
)

// heartbeatLoop writes the Agent status every HeartbeatInterval.
func (a *Agent) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(a.opts.HeartbeatInterval)
	defer t.Stop()
	for {
		if err := a.heartbeat(ctx); err != nil {
			ctrl.LoggerFrom(ctx).V(1).Info("heartbeat not delivered", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// heartbeat probes the member (version, capacity, hold) and patches the
// status of the Agent object on the hub: one request, a merge patch of
// what changed since the status the last heartbeat wrote (the agent is the
// only writer of that status). The Agent is read only when there is no
// such status yet, at the start and after a failed write.
func (a *Agent) heartbeat(ctx context.Context) error {
	info, probeErr := clusterclient.Probe(ctx, a.member)
	if a.lastAgent == nil {
		ag := &flotillav1.Agent{}
		if err := a.hub.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: flotillav1.AgentObjectName}, ag); err != nil {
			a.link.down(ctx, err)
			return fmt.Errorf("read Agent %s/%s on the hub: %w", a.ns, flotillav1.AgentObjectName, err)
		}
		a.lastAgent = ag
	}
	ag := a.lastAgent.DeepCopy()
	patch := client.MergeFrom(a.lastAgent)
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	s := &ag.Status
	s.LastHeartbeatTime = &now
	s.AgentVersion = version.Version
	if probeErr != nil {
		apimeta.SetStatusCondition(&s.Conditions, metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: flotillav1.ReasonClusterUnreachable, Message: probeErr.Error(), ObservedGeneration: ag.Generation})
	} else {
		s.KubernetesVersion = info.KubernetesVersion
		// The same figures a push heartbeat records: allocatable and
		// available per resource, plus the node totals.
		s.Capacity = info.Capacity
		if s.Capacity == nil {
			s.Capacity = &flotillav1.ClusterCapacity{Nodes: info.Nodes}
		}
		s.Capacity.CPU, s.Capacity.Memory, s.Capacity.GPU = &info.CPU, &info.Memory, &info.GPU
		switch {
		case info.Held && a.holdSince == nil:
			t := now.Time
			a.holdSince = &t
		case !info.Held:
			a.holdSince = nil
		}
		if a.holdSince != nil {
			s.Hold = &flotillav1.ClusterHold{Since: metav1.NewTime(*a.holdSince), Reason: info.HoldReason}
		} else {
			s.Hold = nil
		}
		apimeta.SetStatusCondition(&s.Conditions, metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: flotillav1.ReasonReachable, Message: "the agent reaches the hub and its cluster", ObservedGeneration: ag.Generation})
	}
	if err := a.hub.Status().Patch(ctx, ag, patch); err != nil {
		// Read the Agent again next time: it may have been re-created.
		a.lastAgent = nil
		a.link.down(ctx, err)
		return fmt.Errorf("write the heartbeat to Agent %s/%s: %w", a.ns, flotillav1.AgentObjectName, err)
	}
	a.lastAgent = ag
	if !a.link.isUp() {
		// The hub answers (again): report the apps' statuses now.
		a.link.up(ctx)
		a.poke()
	}
	return nil
}
