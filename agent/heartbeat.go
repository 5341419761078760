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
// status of the Agent object on the hub.
func (a *Agent) heartbeat(ctx context.Context) error {
	info, probeErr := clusterclient.Probe(ctx, a.member)
	ag := &flotillav1.Agent{}
	if err := a.hub.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: flotillav1.AgentObjectName}, ag); err != nil {
		a.link.down(ctx, err)
		return fmt.Errorf("read Agent %s/%s on the hub: %w", a.ns, flotillav1.AgentObjectName, err)
	}
	patch := client.MergeFrom(ag.DeepCopy())
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
		a.link.down(ctx, err)
		return fmt.Errorf("write the heartbeat to Agent %s/%s: %w", a.ns, flotillav1.AgentObjectName, err)
	}
	if !a.link.isUp() {
		// The hub is back: report the apps' statuses now.
		a.poke()
	}
	return nil
}

// watchTimeout bounds one watch request; the agent then watches anew.
const watchTimeout = 5 * time.Minute

// watchLoop wakes the sync loop on every change of the agent namespace's
// Bundles; it reconnects when the watch ends (the hub restarted, or
// became unreachable).
func (a *Agent) watchLoop(ctx context.Context) {
	wait := time.Second
	for ctx.Err() == nil {
		timeout := int64(watchTimeout / time.Second)
		w, err := a.hubWatch.Watch(ctx, &flotillav1.BundleList{}, client.InNamespace(a.ns),
			&client.ListOptions{Raw: &metav1.ListOptions{TimeoutSeconds: &timeout}})
		if err == nil {
			wait = time.Second
			for range w.ResultChan() {
				a.poke()
			}
			w.Stop()
			a.poke()
		} else {
			wait = min(2*wait, 30*time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
