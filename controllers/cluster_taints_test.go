package controllers

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

func TestUpdateUnreachableTaint(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	grace := 40 * time.Second
	taint := corev1.Taint{Key: flotillav1.TaintUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &metav1.Time{Time: now.Add(-time.Minute)}}
	other := corev1.Taint{Key: "example.com/other", Effect: corev1.TaintEffectNoSchedule}
	cases := []struct {
		name                   string
		reachable              metav1.ConditionStatus // "" leaves the condition unset
		lastSeen               time.Duration          // before now; 0 means never seen
		taints                 []corev1.Taint
		wantAdded, wantRemoved bool
		wantWait               time.Duration
		wantTaints             int
	}{
		{name: "reachable, untainted", reachable: metav1.ConditionTrue, lastSeen: time.Second},
		{name: "unreachable within grace waits for its end", reachable: metav1.ConditionFalse, lastSeen: 10 * time.Second, wantWait: 30 * time.Second},
		{name: "unreachable past grace is tainted", reachable: metav1.ConditionFalse, lastSeen: 40 * time.Second, wantAdded: true, wantTaints: 1},
		{name: "already tainted stays tainted", reachable: metav1.ConditionFalse, lastSeen: time.Hour, taints: []corev1.Taint{other, taint}, wantTaints: 2},
		{name: "reachable again loses the taint only", reachable: metav1.ConditionTrue, lastSeen: time.Second, taints: []corev1.Taint{other, taint}, wantRemoved: true, wantTaints: 1},
		{name: "unknown reachability (pull) is not tainted", reachable: metav1.ConditionUnknown, taints: []corev1.Taint{taint}, wantRemoved: true},
		{name: "no condition yet", reachable: ""},
		{name: "never seen counts from Reachable=False", reachable: metav1.ConditionFalse, wantAdded: true, wantTaints: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &flotillav1.Cluster{}
			c.Status.Taints = append([]corev1.Taint(nil), tc.taints...)
			if tc.lastSeen > 0 {
				c.Status.LastHeartbeatTime = &metav1.Time{Time: now.Add(-tc.lastSeen)}
			}
			if tc.reachable != "" {
				c.Status.Conditions = []metav1.Condition{{
					Type: flotillav1.ReachableCondition, Status: tc.reachable, Reason: "Test",
					LastTransitionTime: metav1.Time{Time: now.Add(-time.Hour)},
				}}
			}
			added, removed, wait := updateUnreachableTaint(c, now, grace)
			if added != tc.wantAdded || removed != tc.wantRemoved || wait != tc.wantWait {
				t.Errorf("added, removed, wait = %v, %v, %v; want %v, %v, %v", added, removed, wait, tc.wantAdded, tc.wantRemoved, tc.wantWait)
			}
			if len(c.Status.Taints) != tc.wantTaints {
				t.Fatalf("taints = %v, want %d", c.Status.Taints, tc.wantTaints)
			}
			if tc.wantAdded {
				got := c.Status.Taints[len(c.Status.Taints)-1]
				if got.Key != flotillav1.TaintUnreachable || got.Effect != corev1.TaintEffectNoExecute || got.TimeAdded == nil || !got.TimeAdded.Time.Equal(now) {
					t.Errorf("added taint = %+v, want %s:NoExecute added now", got, flotillav1.TaintUnreachable)
				}
			}
		})
	}
}
