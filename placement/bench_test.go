package placement

import (
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/fleet"
)

// benchFleet builds a fleet of n clusters and 10 apps using selectors,
// overlays, taints, spread and replica division.
func benchFleet(n int) *fleet.Fleet {
	regions := []string{"eu", "us", "ap", "sa"}
	var clusters []*flotillav1.Cluster
	for i := 0; i < n; i++ {
		c := withVars(cl("f"+strconv.Itoa(i), "region="+regions[i%4], "gpu="+strconv.FormatBool(i%3 == 0), "tier="+strconv.Itoa(i%5)),
			"lines="+strconv.Itoa(1+i%7), "registry=harbor-"+strconv.Itoa(i)+".local")
		if i%50 == 0 {
			withTaints(c, "maintenance=true:NoSchedule")
		}
		clusters = append(clusters, c)
	}
	var apps []*flotillav1.App
	for j := 0; j < 10; j++ {
		a := ap("app"+strconv.Itoa(j), flotillav1.Placement{
			Replicas: []flotillav1.ReplicaDivision{{Workload: flotillav1.WorkloadRef{Name: "w"}, Total: 5000, WeightBy: &flotillav1.ValueSource{Var: "lines"}}},
		})
		if j%2 == 0 {
			a.Spec.Placement.ClusterSelector = sel("gpu=true")
			a.Spec.Placement.Tolerations = []corev1.Toleration{{Key: "maintenance", Operator: corev1.TolerationOpExists}}
		}
		if j == 9 {
			a.Spec.Placement.MaxClusters = ptr[int32](3)
			a.Spec.Placement.Spread = &flotillav1.SpreadConstraint{LabelKey: "region"}
			a.Spec.Placement.RankBy = &flotillav1.RankBy{ValueSource: flotillav1.ValueSource{Var: "lines"}, Descending: true}
		}
		a.Spec.Overlays = []flotillav1.Overlay{
			{Name: "eu", ClusterSelector: sel("region=eu")},
			{Name: "tier0", ClusterSelector: sel("tier=0")},
		}
		apps = append(apps, a)
	}
	return fleetOf(clusters, apps...)
}

func BenchmarkPlace1000x10(b *testing.B) {
	f := benchFleet(1000)
	b.ReportAllocs()
	for b.Loop() {
		res := Place(f)
		if len(res.Targets) == 0 {
			b.Fatal("no targets")
		}
	}
}
