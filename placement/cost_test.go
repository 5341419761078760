package placement

import (
	"runtime"
	"strconv"
	"testing"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// TestPlaceDoesNotBuildADecisionPerPair places 200 apps, each on one of
// 1,000 clusters, and checks that Place allocates less per (app, cluster)
// pair than one Decision takes: the decisions are rebuilt when asked for,
// not built for all 200,000 pairs up front.
func TestPlaceDoesNotBuildADecisionPerPair(t *testing.T) {
	const nClusters, nApps = 1000, 200
	clusters := make([]*flotillav1.Cluster, nClusters)
	for i := range clusters {
		clusters[i] = withVars(cl("c"+strconv.Itoa(i), "region=r"+strconv.Itoa(i%4)), "lines="+strconv.Itoa(i%7))
	}
	apps := make([]*flotillav1.App, nApps)
	for j := range apps {
		apps[j] = ap("app"+strconv.Itoa(j), flotillav1.Placement{ClusterNames: []string{"c" + strconv.Itoa(j*5)}})
	}
	f := fleetOf(clusters, apps...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res := Place(f)
	runtime.ReadMemStats(&after)
	if len(res.Targets) != nApps {
		t.Fatalf("%d targets, want %d", len(res.Targets), nApps)
	}
	perPair := float64(after.TotalAlloc-before.TotalAlloc) / (nClusters * nApps)
	const limit = 32 // bytes; a Decision alone is 88
	if perPair > limit {
		t.Errorf("Place allocated %.1f bytes per (app, cluster) pair, want at most %d", perPair, limit)
	}
	t.Logf("%.1f bytes per pair", perPair)
	if d := res.Decision("app7", "c35"); d == nil || !d.Placed {
		t.Errorf("Decision(app7, c35) = %+v, want placed", d)
	}
	if d := res.Decision("app7", "c36"); d == nil || d.Placed || len(d.Reasons) != 1 || d.Reasons[0] != "not selected: not listed in clusterNames" {
		t.Errorf("Decision(app7, c36) = %+v, want not selected", d)
	}
}
