package placement

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// failoverFleet: two GPU sites ranked by gpuCount (site-a first) and one
// app per failover setting, each on one cluster.
func failoverPlacement(fo *flotillav1.FailoverSpec) flotillav1.Placement {
	return flotillav1.Placement{
		ClusterSelector: sel("gpu=true"),
		RankBy:          &flotillav1.RankBy{ValueSource: flotillav1.ValueSource{Var: "gpuCount"}, Descending: true},
		MaxClusters:     ptr(int32(1)),
		Failover:        fo,
	}
}

func failoverClusters() []*flotillav1.Cluster {
	return []*flotillav1.Cluster{
		withVars(cl("site-a", "gpu=true"), "gpuCount=16"),
		withVars(cl("site-b", "gpu=true"), "gpuCount=8"),
	}
}

func unreachableSince(at time.Time) map[string][]corev1.Taint {
	return map[string][]corev1.Taint{"site-a": {{
		Key: flotillav1.TaintUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &metav1.Time{Time: at},
	}}}
}

func TestUnreachableTaintMovesOnlyFailoverAppsAfterTolerationSeconds(t *testing.T) {
	added := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	apps := func() []*flotillav1.App {
		return []*flotillav1.App{
			ap("stays", failoverPlacement(nil)),
			ap("moves", failoverPlacement(&flotillav1.FailoverSpec{TolerationSeconds: ptr(int64(30))})),
			ap("moves-at-once", failoverPlacement(&flotillav1.FailoverSpec{})),
		}
	}
	running := WithRunning(map[string][]string{"stays": {"site-a"}, "moves": {"site-a"}, "moves-at-once": {"site-a"}})

	// Within tolerationSeconds: the failover app stays and asks to be
	// placed again when its toleration ends.
	res := Place(fleetOf(failoverClusters(), apps()...), running, WithClusterTaints(unreachableSince(added)), WithNow(added.Add(29*time.Second)))
	assertClusters(t, res, "stays", "site-a")
	assertClusters(t, res, "moves", "site-a")
	assertClusters(t, res, "moves-at-once", "site-b")
	assertReason(t, res, "stays", "site-a", "sets no placement.failover, so it stays")
	assertReason(t, res, "moves", "site-a", "tolerated until 2026-01-01T12:00:30Z (failover.tolerationSeconds 30)")
	if want := added.Add(30 * time.Second); !res.RecheckAt.Equal(want) {
		t.Errorf("RecheckAt = %v, want %v", res.RecheckAt, want)
	}

	// At tolerationSeconds: it moves to the next candidate; the app
	// without failover still stays.
	res = Place(fleetOf(failoverClusters(), apps()...), running, WithClusterTaints(unreachableSince(added)), WithNow(added.Add(30*time.Second)))
	assertClusters(t, res, "stays", "site-a")
	assertClusters(t, res, "moves", "site-b")
	assertReason(t, res, "moves", "site-a", "failover.tolerationSeconds 30 expired at 2026-01-01T12:00:30Z")
	if !res.RecheckAt.IsZero() {
		t.Errorf("RecheckAt = %v, want zero: nothing tolerates the taint for a while any more", res.RecheckAt)
	}
}

func TestUnreachableTaintKeepsNewFailoverAppsOff(t *testing.T) {
	added := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	f := fleetOf(failoverClusters(), ap("new", failoverPlacement(&flotillav1.FailoverSpec{TolerationSeconds: ptr(int64(300))})))
	res := Place(f, WithClusterTaints(unreachableSince(added)), WithNow(added))
	assertClusters(t, res, "new", "site-b")
	assertReason(t, res, "new", "site-a", "keeps the app off an unreachable cluster")
}

func TestUnreachableTaintWithoutNowCountsAsExpired(t *testing.T) {
	added := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	f := fleetOf(failoverClusters(), ap("moves", failoverPlacement(&flotillav1.FailoverSpec{TolerationSeconds: ptr(int64(300))})))
	res := Place(f, WithRunning(map[string][]string{"moves": {"site-a"}}), WithClusterTaints(unreachableSince(added)))
	assertClusters(t, res, "moves", "site-b")
}

func TestUnreachableTaintIsNotMatchedByTolerations(t *testing.T) {
	added := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	pl := failoverPlacement(&flotillav1.FailoverSpec{})
	pl.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
	f := fleetOf(failoverClusters(), ap("moves", pl))
	res := Place(f, WithRunning(map[string][]string{"moves": {"site-a"}}), WithClusterTaints(unreachableSince(added)), WithNow(added))
	assertClusters(t, res, "moves", "site-b")
}

func TestFailback(t *testing.T) {
	// site-a is back (no taint); the app failed over to site-b and runs
	// there. site-a ranks first.
	cases := []struct {
		name     string
		failback flotillav1.FailbackPolicy
		want     string
	}{
		{name: "default is Stay", want: "site-b"},
		{name: "Stay", failback: flotillav1.FailbackStay, want: "site-b"},
		{name: "Return", failback: flotillav1.FailbackReturn, want: "site-a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := fleetOf(failoverClusters(), ap("app", failoverPlacement(&flotillav1.FailoverSpec{Failback: tc.failback})))
			res := Place(f, WithRunning(map[string][]string{"app": {"site-b"}}), WithNow(time.Now()))
			assertClusters(t, res, "app", tc.want)
			if tc.want == "site-b" {
				assertReason(t, res, "app", "site-b", "failback Stay keeps the app on the clusters it runs on")
			}
		})
	}
}

func TestFailbackStayLeavesAClusterThatNoLongerQualifies(t *testing.T) {
	// Stay keeps the app only where it still qualifies: a cluster that
	// lost its gpu label is no candidate, so the app goes to site-a.
	clusters := failoverClusters()
	clusters[1].Labels["gpu"] = "false"
	f := fleetOf(clusters, ap("app", failoverPlacement(&flotillav1.FailoverSpec{})))
	res := Place(f, WithRunning(map[string][]string{"app": {"site-b"}}), WithNow(time.Now()))
	assertClusters(t, res, "app", "site-a")
}

func TestWithoutFailoverRankingDecides(t *testing.T) {
	// Hysteresis is part of failback Stay only: an app without failover
	// follows its ranking.
	f := fleetOf(failoverClusters(), ap("app", failoverPlacement(nil)))
	res := Place(f, WithRunning(map[string][]string{"app": {"site-b"}}), WithNow(time.Now()))
	assertClusters(t, res, "app", "site-a")
}

func TestFailbackWithCapacityRanking(t *testing.T) {
	// Ranked by available GPUs: site-a (back, 8 free) has more room than
	// site-b, where the app runs (2 free plus the 4 it holds). Stay keeps
	// the app on site-b; Return takes it back to site-a.
	capacity := WithCapacity(map[string]Capacity{
		"site-a": {Available: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("8")}},
		"site-b": {Available: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("2")}},
	})
	held := WithHeld(map[string]map[string]corev1.ResourceList{"app": {"site-b": {"nvidia.com/gpu": resource.MustParse("4")}}})
	for _, tc := range []struct {
		failback flotillav1.FailbackPolicy
		want     string
	}{{flotillav1.FailbackStay, "site-b"}, {flotillav1.FailbackReturn, "site-a"}} {
		t.Run(string(tc.failback), func(t *testing.T) {
			pl := flotillav1.Placement{
				ClusterSelector: sel("gpu=true"),
				Requires:        corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("4")},
				RankBy:          &flotillav1.RankBy{ValueSource: flotillav1.ValueSource{Available: "nvidia.com/gpu"}, Descending: true},
				MaxClusters:     ptr(int32(1)),
				Failover:        &flotillav1.FailoverSpec{Failback: tc.failback},
			}
			res := Place(fleetOf(failoverClusters(), ap("app", pl)), capacity, held,
				WithRunning(map[string][]string{"app": {"site-b"}}), WithNow(time.Now()))
			assertClusters(t, res, "app", tc.want)
		})
	}
}
