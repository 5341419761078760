package controllers

import (
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// syncFixture builds a ClusterSync for cluster with the given state.
func syncFixture(cluster string, synced bool, ready *metav1.ConditionStatus, reason string, healthy bool) flotillav1.ClusterSync {
	cs := flotillav1.ClusterSync{
		ObjectMeta: metav1.ObjectMeta{Name: "app." + cluster, Generation: 1},
		Spec:       flotillav1.ClusterSyncSpec{App: "app", Cluster: cluster},
	}
	if synced {
		cs.Status.AppliedDigest = "sha256:new"
		cs.Status.AppliedRevision = "main@sha1:new"
	} else {
		cs.Status.AppliedDigest = "sha256:old"
		cs.Status.AppliedRevision = "main@sha1:old"
	}
	if ready != nil {
		cs.Status.Conditions = append(cs.Status.Conditions, metav1.Condition{
			Type: meta.ReadyCondition, Status: *ready, Reason: reason, Message: reason + " message", ObservedGeneration: 1,
		})
	}
	h := metav1.ConditionFalse
	if healthy {
		h = metav1.ConditionTrue
	}
	cs.Status.Conditions = append(cs.Status.Conditions, metav1.Condition{Type: flotillav1.HealthyCondition, Status: h, Reason: "x", ObservedGeneration: 1})
	return cs
}

func status(s metav1.ConditionStatus) *metav1.ConditionStatus { return &s }

// newRender is the desired state every fixture is compared with.
func newRender(*flotillav1.ClusterSync) *Desired {
	return &Desired{Revision: "main@sha1:new", Digest: "sha256:new"}
}

func TestAggregateApp(t *testing.T) {
	tests := []struct {
		name                      string
		syncs                     []flotillav1.ClusterSync
		selected, synced, healthy int32
		failures                  []string
		progressing               bool
		message                   string
	}{
		{
			name:     "all ready",
			syncs:    []flotillav1.ClusterSync{syncFixture("b", true, status(metav1.ConditionTrue), "Synced", true), syncFixture("a", true, status(metav1.ConditionTrue), "Synced", true)},
			selected: 2, synced: 2, healthy: 2,
			message: "ready on 2 of 2 clusters",
		},
		{
			name: "one unreachable, one unhealthy, one syncing",
			syncs: []flotillav1.ClusterSync{
				syncFixture("c", false, status(metav1.ConditionFalse), flotillav1.ReasonClusterUnreachable, false),
				syncFixture("a", true, status(metav1.ConditionFalse), flotillav1.ReasonHealthCheckFailed, false),
				syncFixture("b", false, nil, "", false),
				syncFixture("d", true, status(metav1.ConditionTrue), "Synced", true),
			},
			selected: 4, synced: 2, healthy: 1,
			failures:    []string{"a", "c"},
			progressing: true,
			message:     "2 of 4 clusters not ready: a (HealthCheckFailed), c (ClusterUnreachable)",
		},
		{
			name:     "ready but stale digest is not ready",
			syncs:    []flotillav1.ClusterSync{syncFixture("a", false, status(metav1.ConditionTrue), "Synced", true)},
			selected: 1, synced: 0, healthy: 0,
			progressing: true,
			message:     "0 of 1 clusters ready, the others are syncing",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agg := aggregateApp(tt.syncs, newRender)
			if agg.Selected != tt.selected || agg.Synced != tt.synced || agg.Healthy != tt.healthy {
				t.Fatalf("selected/synced/healthy = %d/%d/%d, want %d/%d/%d", agg.Selected, agg.Synced, agg.Healthy, tt.selected, tt.synced, tt.healthy)
			}
			var failed []string
			for _, f := range agg.Failures {
				failed = append(failed, f.Cluster)
				if f.Reason == "" || !strings.Contains(f.Message, f.Reason) {
					t.Errorf("failure %+v lacks its reason and message", f)
				}
			}
			if strings.Join(failed, ",") != strings.Join(tt.failures, ",") {
				t.Fatalf("failures = %v, want %v", failed, tt.failures)
			}
			if agg.Progressing != tt.progressing {
				t.Fatalf("progressing = %v, want %v", agg.Progressing, tt.progressing)
			}
			if got := agg.readyMessage(); got != tt.message {
				t.Fatalf("message = %q, want %q", got, tt.message)
			}
			if agg.Revision != "main@sha1:new" {
				t.Fatalf("revision = %q, want the desired state's", agg.Revision)
			}
		})
	}
}

func TestAggregateCluster(t *testing.T) {
	ready := status(metav1.ConditionTrue)
	all := aggregateCluster([]flotillav1.ClusterSync{syncFixture("x", true, ready, "Synced", true), syncFixture("y", true, ready, "Synced", true)})
	if all.Total != 2 || all.Ready != 2 {
		t.Fatalf("all ready: got %+v", all)
	}
	failed := aggregateCluster([]flotillav1.ClusterSync{syncFixture("x", true, ready, "Synced", true), syncFixture("y", false, status(metav1.ConditionFalse), flotillav1.ReasonApplyFailed, true)})
	if failed.Total != 2 || failed.Ready != 1 {
		t.Fatalf("one failed: got %+v", failed)
	}
	stale := syncFixture("x", true, ready, "Synced", true)
	stale.Generation = 2 // Ready was set for generation 1
	if got := aggregateCluster([]flotillav1.ClusterSync{stale}); got.Ready != 0 {
		t.Fatalf("Ready for an older generation is not ready: got %+v", got)
	}
}

// TestAggregateAppRevision takes the revision most desired states share:
// a pair whose render failed keeps an older one.
func TestAggregateAppRevision(t *testing.T) {
	ready := status(metav1.ConditionTrue)
	syncs := []flotillav1.ClusterSync{syncFixture("a", true, ready, "Synced", true), syncFixture("b", true, ready, "Synced", true), syncFixture("c", false, ready, "Synced", true)}
	agg := aggregateApp(syncs, func(cs *flotillav1.ClusterSync) *Desired {
		if cs.Spec.Cluster == "c" {
			return &Desired{Revision: "main@sha1:old", Digest: "sha256:old"}
		}
		return newRender(cs)
	})
	if agg.Revision != "main@sha1:new" || agg.Synced != 3 {
		t.Fatalf("got revision %q, synced %d; want main@sha1:new, 3", agg.Revision, agg.Synced)
	}
}
