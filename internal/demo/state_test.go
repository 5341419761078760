package demo

import (
	"slices"
	"strings"
	"testing"

	fluxmeta "github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

const (
	testHead = "0123456789abcdef0123456789abcdef01234567"
	testRev  = "main@sha1:" + testHead
)

func cond(typ string, status metav1.ConditionStatus, reason, msg string, gen int64) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen}
}

func readySync(app, cluster string) flotillav1.ClusterSync {
	return flotillav1.ClusterSync{
		ObjectMeta: metav1.ObjectMeta{Name: app + "." + cluster, Generation: 2},
		Spec:       flotillav1.ClusterSyncSpec{App: app, Cluster: cluster},
		Status: flotillav1.ClusterSyncStatus{
			AppliedDigest:   "sha256:d-" + app + cluster,
			AppliedRevision: testRev,
			Conditions:      []metav1.Condition{cond(fluxmeta.ReadyCondition, metav1.ConditionTrue, flotillav1.ReasonSynced, "applied", 2)},
		},
	}
}

func reachableCluster(name string) flotillav1.Cluster {
	return flotillav1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: flotillav1.ClusterStatus{
			Conditions: []metav1.Condition{cond(flotillav1.ReachableCondition, metav1.ConditionTrue, flotillav1.ReasonReachable, "ok", 1)},
		},
	}
}

// syncedState is a fleet of two clusters and two apps, fully synced:
// web on a and b, gpu-job on a only.
func syncedState() *FleetState {
	return &FleetState{
		Head: testHead,
		Repository: &flotillav1.FleetRepository{
			ObjectMeta: metav1.ObjectMeta{Namespace: "flotilla-system", Name: "fleet", Generation: 1},
			Status: flotillav1.FleetRepositoryStatus{
				Revision:   testRev,
				Targets:    3,
				Conditions: []metav1.Condition{cond(fluxmeta.ReadyCondition, metav1.ConditionTrue, fluxmeta.SucceededReason, "ok", 1)},
			},
		},
		Clusters: []flotillav1.Cluster{reachableCluster("a"), reachableCluster("b")},
		Apps:     []flotillav1.App{{ObjectMeta: metav1.ObjectMeta{Name: "gpu-job"}}, {ObjectMeta: metav1.ObjectMeta{Name: "web"}}},
		Syncs:    []flotillav1.ClusterSync{readySync("gpu-job", "a"), readySync("web", "a"), readySync("web", "b")},
	}
}

func TestProblems(t *testing.T) {
	tests := []struct {
		name   string
		change func(s *FleetState)
		want   []string // substrings of the one expected problem; nil: synced
	}{
		{name: "synced", change: func(*FleetState) {}},
		{
			name: "repository not fetched yet",
			change: func(s *FleetState) {
				s.Repository.Status = flotillav1.FleetRepositoryStatus{}
				s.Syncs = nil
			},
			want: []string{"has not been fetched yet"},
		},
		{
			name: "repository stalled",
			change: func(s *FleetState) {
				s.Repository.Status.Conditions = []metav1.Condition{cond(fluxmeta.ReadyCondition, metav1.ConditionFalse, flotillav1.ReasonInvalidFleet, "clusters/a.yaml:3: bad", 1)}
			},
			want: []string{"is not Ready", "InvalidFleet", "clusters/a.yaml:3"},
		},
		{
			name: "repository Ready for an older generation",
			change: func(s *FleetState) {
				s.Repository.Generation = 2
			},
			want: []string{"is not Ready"},
		},
		{
			name: "a new commit not fetched yet",
			change: func(s *FleetState) {
				s.Head = "fedcba9876543210fedcba9876543210fedcba98"
			},
			want: []string{"has fetched", "branch is at fedcba9"},
		},
		{
			name: "a ClusterSync missing",
			change: func(s *FleetState) {
				s.Syncs = s.Syncs[:2]
			},
			want: []string{"2 ClusterSyncs", "3 targets"},
		},
		{
			name: "a ClusterSync still on the previous revision",
			change: func(s *FleetState) {
				s.Syncs[1].Status.AppliedRevision = "main@sha1:old"
			},
			want: []string{"web on a", "main@sha1:old", "not " + `"` + testRev + `" yet`},
		},
		{
			name: "the new revision failed to apply",
			change: func(s *FleetState) {
				s.Syncs[2].Status.AppliedRevision = "main@sha1:old"
				s.Syncs[2].Status.Conditions = []metav1.Condition{cond(fluxmeta.ReadyCondition, metav1.ConditionFalse, flotillav1.ReasonDependencyNotReady, "waiting for monitoring", 2)}
			},
			want: []string{"web on b", "not applied", "DependencyNotReady", "waiting for monitoring"},
		},
		{
			name: "applied but unhealthy",
			change: func(s *FleetState) {
				s.Syncs[0].Status.Conditions = []metav1.Condition{cond(fluxmeta.ReadyCondition, metav1.ConditionFalse, flotillav1.ReasonHealthCheckFailed, "Deployment trainer: 0/1 available", 2)}
			},
			want: []string{"gpu-job on a", "not Ready", "HealthCheckFailed", "trainer"},
		},
		{
			name: "Ready for an older generation",
			change: func(s *FleetState) {
				s.Syncs[0].Generation = 3
			},
			want: []string{"gpu-job on a", "not Ready"},
		},
		{
			name: "a cluster unreachable",
			change: func(s *FleetState) {
				s.Clusters[1].Status.Conditions = []metav1.Condition{cond(flotillav1.ReachableCondition, metav1.ConditionFalse, flotillav1.ReasonClusterUnreachable, "connection refused", 1)}
			},
			want: []string{"cluster b is not reachable", "connection refused"},
		},
		{
			name: "a cluster without heartbeat yet",
			change: func(s *FleetState) {
				s.Clusters[0].Status.Conditions = nil
			},
			want: []string{"cluster a is not reachable", "no status yet"},
		},
		{
			name: "a pull-mode cluster whose agent reports",
			change: func(s *FleetState) {
				s.Clusters[0].Spec.Access.Mode = flotillav1.AccessPull
			},
		},
		{
			name: "a pull-mode cluster whose agent has not reported yet",
			change: func(s *FleetState) {
				s.Clusters[0].Spec.Access.Mode = flotillav1.AccessPull
				s.Clusters[0].Status.Conditions = []metav1.Condition{cond(flotillav1.ReachableCondition, metav1.ConditionFalse, flotillav1.ReasonClusterUnreachable, "never seen: no heartbeat from the agent yet", 1)}
			},
			want: []string{"cluster a is not reachable", "no heartbeat from the agent"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := syncedState()
			tt.change(s)
			got := s.Problems()
			if tt.want == nil {
				if len(got) != 0 || !s.Synced() {
					t.Fatalf("Problems = %q, want none", got)
				}
				return
			}
			if len(got) != 1 || s.Synced() {
				t.Fatalf("Problems = %q, want exactly one with %q", got, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(got[0], w) {
					t.Fatalf("problem %q lacks %q", got[0], w)
				}
			}
		})
	}
}

func TestCountsAndSummary(t *testing.T) {
	s := syncedState()
	s.Syncs[0].Status.Conditions = []metav1.Condition{cond(fluxmeta.ReadyCondition, metav1.ConditionFalse, flotillav1.ReasonDependencyNotReady, "waiting", 2)}
	s.Syncs = s.Syncs[:2]
	ready, targets := s.Counts()
	if ready != 1 || targets != 3 {
		t.Fatalf("Counts = %d, %d; want 1, 3", ready, targets)
	}
	if got, want := summarize(s), "fetched main@0123456: 1/3 ready, 1 waiting"; got != want {
		t.Fatalf("summarize = %q, want %q", got, want)
	}
}

func TestRevisionHelpers(t *testing.T) {
	if got := commitOf(testRev); got != testHead {
		t.Errorf("commitOf = %q", got)
	}
	if got := shortRevision(testRev); got != "main@0123456" {
		t.Errorf("shortRevision = %q", got)
	}
	if got := shortRevision(""); got != "-" {
		t.Errorf("shortRevision(\"\") = %q", got)
	}
	if !slices.Equal([]string{repositoryName("/x/examples/factory-fleet"), repositoryName("/x/My Fleet_2"), repositoryName("/x/2024")},
		[]string{"factory-fleet", "my-fleet-2", "fleet-2024"}) {
		t.Errorf("repositoryName = %q %q %q", repositoryName("/x/examples/factory-fleet"), repositoryName("/x/My Fleet_2"), repositoryName("/x/2024"))
	}
}
