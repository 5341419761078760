package placement

import (
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

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

// capacityBenchFleet builds a fleet of n clusters and 100 apps; with
// capacity, a quarter of the apps require GPUs (and take the 2 sites with
// the most room), a quarter divide replicas by available CPU, a quarter
// rank by available memory; without it the same apps rank and weigh by
// vars, the same amount of work without live figures. It returns the
// clusters' capacities too.
func capacityBenchFleet(n int, withCapacity bool) (*fleet.Fleet, map[string]Capacity) {
	regions := []string{"eu", "us", "ap", "sa"}
	clusters := make([]*flotillav1.Cluster, 0, n)
	caps := make(map[string]Capacity, n)
	for i := 0; i < n; i++ {
		name := "f" + strconv.Itoa(i)
		c := withVars(cl(name, "region="+regions[i%4]), "lines="+strconv.Itoa(1+i%7), "mem="+strconv.Itoa(i%64))
		clusters = append(clusters, c)
		caps[name] = Capacity{
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64"), corev1.ResourceMemory: resource.MustParse("256Gi"), "nvidia.com/gpu": resource.MustParse("8")},
			Available: corev1.ResourceList{
				corev1.ResourceCPU:    *resource.NewMilliQuantity(int64(1000+(i*7919)%63000), resource.DecimalSI),
				corev1.ResourceMemory: *resource.NewQuantity(int64(1+i%200)<<30, resource.BinarySI),
				"nvidia.com/gpu":      *resource.NewQuantity(int64(i%9), resource.DecimalSI),
			},
		}
	}
	apps := make([]*flotillav1.App, 0, 100)
	for j := 0; j < 100; j++ {
		var pl flotillav1.Placement
		switch j % 4 {
		case 0:
			if withCapacity {
				pl.Requires = corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("4")}
			} else {
				pl.RankBy = &flotillav1.RankBy{ValueSource: flotillav1.ValueSource{Var: "lines"}, Descending: true}
			}
			pl.MaxClusters = ptr[int32](2)
		case 1:
			ws := &flotillav1.ValueSource{Var: "lines"}
			if withCapacity {
				ws = &flotillav1.ValueSource{Available: corev1.ResourceCPU}
			}
			pl.Replicas = []flotillav1.ReplicaDivision{{Workload: flotillav1.WorkloadRef{Name: "w"}, Total: 5000, WeightBy: ws}}
			pl.ClusterSelector = sel("region=" + regions[j%4])
		case 2:
			vs := flotillav1.ValueSource{Var: "mem"}
			if withCapacity {
				vs = flotillav1.ValueSource{Available: corev1.ResourceMemory}
			}
			pl.RankBy = &flotillav1.RankBy{ValueSource: vs, Descending: true}
			pl.MaxClusters = ptr[int32](3)
		default:
			pl.ClusterSelector = sel("region=" + regions[j%4])
		}
		apps = append(apps, ap("app"+strconv.Itoa(j), pl))
	}
	return fleetOf(clusters, apps...), caps
}

// BenchmarkPlaceWithCapacity places 100 apps on 10,000 clusters with live
// capacity (docs/benchmarks.md, goal: under 1 s on 2 cores).
func BenchmarkPlaceWithCapacity(b *testing.B) {
	f, caps := capacityBenchFleet(10000, true)
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		res := Place(f, WithCapacity(caps), WithMaxTargets(1_000_000))
		if len(res.Targets) == 0 || len(res.Errors) > 0 {
			b.Fatalf("%d targets, errors %v", len(res.Targets), res.Errors)
		}
	}
	b.ReportMetric(float64((processCPU()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
}

// BenchmarkPlaceWithoutCapacity is BenchmarkPlaceWithCapacity's baseline:
// the same fleet ranking and weighing by vars instead of live figures.
func BenchmarkPlaceWithoutCapacity(b *testing.B) {
	f, _ := capacityBenchFleet(10000, false)
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		res := Place(f, WithMaxTargets(1_000_000))
		if len(res.Targets) == 0 || len(res.Errors) > 0 {
			b.Fatalf("%d targets, errors %v", len(res.Targets), res.Errors)
		}
	}
	b.ReportMetric(float64((processCPU()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
}
