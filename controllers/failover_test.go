package controllers

import (
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

func TestReadyElsewhere(t *testing.T) {
	sync := func(app, cluster string, ready bool, annotations map[string]string) *flotillav1.ClusterSync {
		cs := &flotillav1.ClusterSync{ObjectMeta: metav1.ObjectMeta{Name: syncName(app, cluster), Generation: 1, Annotations: annotations}}
		cs.Spec.App, cs.Spec.Cluster = app, cluster
		status := metav1.ConditionFalse
		if ready {
			status = metav1.ConditionTrue
		}
		cs.Status.Conditions = []metav1.Condition{{Type: meta.ReadyCondition, Status: status, ObservedGeneration: 1, Reason: "Test"}}
		return cs
	}
	byName := func(syncs ...*flotillav1.ClusterSync) map[string]*flotillav1.ClusterSync {
		m := map[string]*flotillav1.ClusterSync{}
		for _, cs := range syncs {
			m[cs.Name] = cs
		}
		return m
	}
	failedOverMark := map[string]string{failedOverAnnotation: "2026-01-01T00:00:00Z"}
	cases := []struct {
		name     string
		placedOn []string
		syncs    map[string]*flotillav1.ClusterSync
		want     bool
	}{
		{name: "Ready on the one cluster it moved to", placedOn: []string{"b"}, syncs: byName(sync("app", "b", true, nil)), want: true},
		{name: "not Ready yet where it moved", placedOn: []string{"b"}, syncs: byName(sync("app", "b", false, nil))},
		{name: "the new sync is not created yet", placedOn: []string{"b"}, syncs: byName()},
		{name: "Ready on one of two", placedOn: []string{"b", "c"}, syncs: byName(sync("app", "b", true, nil), sync("app", "c", false, nil))},
		{name: "Ready on both", placedOn: []string{"b", "c"}, syncs: byName(sync("app", "b", true, nil), sync("app", "c", true, nil)), want: true},
		{name: "placed nowhere else", placedOn: nil, syncs: byName(sync("app", "b", true, nil))},
		{name: "a sync it failed over from does not count", placedOn: []string{"b"}, syncs: byName(sync("app", "b", true, failedOverMark))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := readyElsewhere("app", tc.placedOn, tc.syncs); got != tc.want {
				t.Errorf("readyElsewhere = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRecheckTimes(t *testing.T) {
	var r recheckTimes
	repo := types.NamespacedName{Namespace: "fleet", Name: "repo"}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	if r.due(repo, now) || r.within(repo, now, time.Minute) != time.Minute {
		t.Fatalf("an unknown repository is not due and keeps its wait")
	}
	r.set(repo, now.Add(10*time.Second))
	if r.due(repo, now) {
		t.Errorf("due before the toleration ends")
	}
	if got := r.within(repo, now, time.Minute); got < 10*time.Second || got > 11*time.Second {
		t.Errorf("within = %v, want just over 10s", got)
	}
	if !r.due(repo, now.Add(10*time.Second)) {
		t.Errorf("not due when the toleration ends")
	}
	r.set(repo, time.Time{})
	if r.due(repo, now.Add(time.Hour)) {
		t.Errorf("due after being cleared")
	}
}
