package placement

import (
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

const gpu corev1.ResourceName = "nvidia.com/gpu"

// capa builds a capacity from "resource=available/allocatable" pairs.
func capa(t testing.TB, pairs ...string) Capacity {
	t.Helper()
	c := Capacity{Allocatable: corev1.ResourceList{}, Available: corev1.ResourceList{}}
	for _, p := range pairs {
		name, v, _ := cutLast(p, "=")
		avail, alloc, _ := cutLast(v, "/")
		c.Available[corev1.ResourceName(name)] = resource.MustParse(avail)
		c.Allocatable[corev1.ResourceName(name)] = resource.MustParse(alloc)
	}
	return c
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

func gpus(n int64) corev1.ResourceList {
	return corev1.ResourceList{gpu: *resource.NewQuantity(n, resource.DecimalSI)}
}

func TestRequiresKeepsAppOffClustersWithoutRoom(t *testing.T) {
	f := fleetOf([]*flotillav1.Cluster{cl("a"), cl("b"), cl("c")},
		ap("train", flotillav1.Placement{Requires: gpus(4)}))
	res := Place(f, WithCapacity(map[string]Capacity{
		"a": capa(t, "nvidia.com/gpu=2/8"),
		"b": capa(t, "nvidia.com/gpu=4/4"),
	}))
	assertClusters(t, res, "train", "b")
	assertReason(t, res, "train", "a", "does not meet requires nvidia.com/gpu=4: nvidia.com/gpu 2 available of 8 too little nvidia.com/gpu")
	assertReason(t, res, "train", "b", "meets requires nvidia.com/gpu=4: nvidia.com/gpu 4 available of 4")
	assertReason(t, res, "train", "c", "capacity unknown (the hub has no figures for it yet)")
	d := res.Decision("train", "a")
	if len(d.Figures) != 1 || d.Figures[0].Resource != gpu || d.Figures[0].Available.Value() != 2 || d.Figures[0].Allocatable.Value() != 8 || d.Figures[0].Required.Value() != 4 {
		t.Errorf("figures of train on a = %+v, want gpu 2 of 8, required 4", d.Figures)
	}
	if !res.CapacityUsed {
		t.Error("CapacityUsed is false with WithCapacity")
	}
}

func TestRequiresWithoutCapacitySaysLiveFiguresWereNotUsed(t *testing.T) {
	f := fleetOf([]*flotillav1.Cluster{cl("a")}, ap("train", flotillav1.Placement{Requires: gpus(1)}))
	res := Place(f)
	assertClusters(t, res, "train")
	assertReason(t, res, "train", "a", "capacity unknown (live capacity was not used)")
	if res.CapacityUsed {
		t.Error("CapacityUsed is true without WithCapacity")
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0].Message, "live capacity was not used") {
		t.Errorf("warnings = %v, want one saying live capacity was not used", res.Warnings)
	}
}

func TestMaxClustersTakesTheSitesWithTheMostRoom(t *testing.T) {
	f := fleetOf([]*flotillav1.Cluster{cl("a"), cl("b"), cl("c"), cl("d")},
		ap("train", flotillav1.Placement{Requires: gpus(2), MaxClusters: ptr[int32](2)}))
	caps := map[string]Capacity{
		"a": capa(t, "nvidia.com/gpu=2/8"),
		"b": capa(t, "nvidia.com/gpu=8/8"),
		"c": capa(t, "nvidia.com/gpu=6/8"),
		"d": capa(t, "nvidia.com/gpu=1/8"),
	}
	res := Place(f, WithCapacity(caps))
	assertClusters(t, res, "train", "b", "c")
	assertReason(t, res, "train", "b", "ranked 1 of 3 by room (how many times requires fits)=4 (descending)")
}

func TestRankByAvailable(t *testing.T) {
	f := fleetOf([]*flotillav1.Cluster{cl("a"), cl("b"), cl("c")},
		ap("web", flotillav1.Placement{MaxClusters: ptr[int32](1), RankBy: &flotillav1.RankBy{ValueSource: flotillav1.ValueSource{Available: corev1.ResourceMemory}, Descending: true}}))
	res := Place(f, WithCapacity(map[string]Capacity{
		"a": capa(t, "memory=10Gi/64Gi"),
		"b": capa(t, "memory=40Gi/64Gi"),
	}))
	assertClusters(t, res, "web", "b")
	assertReason(t, res, "web", "b", "ranked 1 of 3 by available memory=40Gi (descending)")
	assertReason(t, res, "web", "c", "capacity unknown, so it ranks after the clusters with figures")
}

func TestWeightByAvailable(t *testing.T) {
	f := fleetOf([]*flotillav1.Cluster{cl("a"), cl("b"), cl("c")},
		ap("web", flotillav1.Placement{Replicas: []flotillav1.ReplicaDivision{{
			Workload: flotillav1.WorkloadRef{Name: "w"}, Total: 10, WeightBy: &flotillav1.ValueSource{Available: corev1.ResourceCPU},
		}}}))
	res := Place(f, WithCapacity(map[string]Capacity{
		"a": capa(t, "cpu=1500m/4"),
		"b": capa(t, "cpu=6/8"),
		"c": capa(t, "cpu=0/8"),
	}))
	got := map[string]int32{}
	for _, tg := range res.ForApp("web") {
		got[tg.Cluster] = tg.Replicas[0].Count
	}
	// 1.5 : 6 : 0 of 10 is 2 : 8 : 0.
	if want := map[string]int32{"a": 2, "b": 8, "c": 0}; !reflect.DeepEqual(got, want) {
		t.Errorf("replicas = %v, want %v", got, want)
	}
	assertReason(t, res, "web", "a", "replicas w: 2 of 10 (weight 1.5/7.5 by available cpu)")
}

func TestWeightByAvailableWithRequiresCapsEachShare(t *testing.T) {
	f := fleetOf([]*flotillav1.Cluster{cl("a"), cl("b"), cl("c")},
		ap("train", flotillav1.Placement{Requires: gpus(2), Replicas: []flotillav1.ReplicaDivision{{
			Workload: flotillav1.WorkloadRef{Name: "w"}, Total: 6, WeightBy: &flotillav1.ValueSource{Available: gpu},
		}}}))
	// Proportional shares would be 1, 1, 4 (3:3:13 of 6 rounds to 1,1,4)
	// but a and b have room for only 1 each and c for 6.
	res := Place(f, WithCapacity(map[string]Capacity{
		"a": capa(t, "nvidia.com/gpu=3/8"),
		"b": capa(t, "nvidia.com/gpu=3/8"),
		"c": capa(t, "nvidia.com/gpu=13/16"),
	}))
	for _, tg := range res.ForApp("train") {
		have := map[string]int32{"a": 1, "b": 1, "c": 6}[tg.Cluster]
		if tg.Replicas[0].Count > have {
			t.Errorf("%s gets %d replicas, room for %d", tg.Cluster, tg.Replicas[0].Count, have)
		}
	}
	if n := sumReplicas(res, "train"); n != 6 {
		t.Errorf("replicas sum to %d, want 6", n)
	}
}

func sumReplicas(res *Result, app string) int64 {
	var n int64
	for _, tg := range res.ForApp(app) {
		for _, r := range tg.Replicas {
			n += int64(r.Count)
		}
	}
	return n
}

// TestHeldCapacityKeepsAnAppOnTheSiteItFills: an app whose own pods take
// the site's GPUs still fits there, so it does not leave at the next replan.
func TestHeldCapacityKeepsAnAppOnTheSiteItFills(t *testing.T) {
	f := fleetOf([]*flotillav1.Cluster{cl("a"), cl("b")},
		ap("train", flotillav1.Placement{Requires: gpus(4), MaxClusters: ptr[int32](1)}))
	caps := map[string]Capacity{"a": capa(t, "nvidia.com/gpu=0/4"), "b": capa(t, "nvidia.com/gpu=4/4")}
	without := Place(f, WithCapacity(caps), WithRunning(map[string][]string{"train": {"a"}}))
	assertClusters(t, without, "train", "b")
	with := Place(f, WithCapacity(caps), WithRunning(map[string][]string{"train": {"a"}}),
		WithHeld(map[string]map[string]corev1.ResourceList{"train": {"a": gpus(4)}}))
	assertClusters(t, with, "train", "a")
	assertReason(t, with, "train", "a", "nvidia.com/gpu 4 available of 4 (4 held by the app)")
}

// TestCapacityOscillatingAroundTheThresholdDoesNotMoveTheApp feeds a
// sequence of figures that wobble around the requirement and the other
// site's room, replanning each time with where the app runs now, and
// checks that the app moves only when its site no longer fits.
func TestCapacityOscillatingAroundTheThresholdDoesNotMoveTheApp(t *testing.T) {
	f := fleetOf([]*flotillav1.Cluster{cl("a"), cl("b")},
		ap("train", flotillav1.Placement{Requires: gpus(4), MaxClusters: ptr[int32](1)}))
	// a's free GPUs besides the app's own 4, and b's free GPUs.
	steps := []struct{ a, b int64 }{{4, 6}, {5, 3}, {0, 6}, {2, 8}, {1, 4}, {3, 7}, {0, 8}, {1, 6}}
	where := "a"
	moves := 0
	for i, s := range steps {
		caps := map[string]Capacity{
			"a": capa(t, "nvidia.com/gpu="+strconv.FormatInt(s.a, 10)+"/8"),
			"b": capa(t, "nvidia.com/gpu="+strconv.FormatInt(s.b, 10)+"/8"),
		}
		res := Place(f, WithCapacity(caps), WithRunning(map[string][]string{"train": {where}}),
			WithHeld(map[string]map[string]corev1.ResourceList{"train": {where: gpus(4)}}))
		got := res.Clusters("train")
		if len(got) != 1 {
			t.Fatalf("step %d: train placed on %v, want one cluster", i, got)
		}
		if got[0] != where {
			moves++
			where = got[0]
		}
	}
	// The other site always has more room at some steps, but the app's
	// site always fits with its own 4 GPUs: it never moves.
	if moves != 0 {
		t.Errorf("train moved %d times while its site kept fitting", moves)
	}
}

// TestPlacementMovesWhenTheSiteNoLongerFits: without the app's own GPUs
// held there (its pods were evicted or never started), a full site loses it.
func TestPlacementMovesWhenTheSiteNoLongerFits(t *testing.T) {
	f := fleetOf([]*flotillav1.Cluster{cl("a"), cl("b")},
		ap("train", flotillav1.Placement{Requires: gpus(4), MaxClusters: ptr[int32](1)}))
	res := Place(f, WithCapacity(map[string]Capacity{"a": capa(t, "nvidia.com/gpu=3/8"), "b": capa(t, "nvidia.com/gpu=5/8")}),
		WithRunning(map[string][]string{"train": {"a"}}))
	assertClusters(t, res, "train", "b")
}

// randomCapacityFleet builds a seeded random fleet and capacities.
func randomCapacityFleet(t testing.TB, rng *rand.Rand) (*Result, []*flotillav1.Cluster, map[string]Capacity, int64, int64) {
	n := 1 + rng.IntN(12)
	var clusters []*flotillav1.Cluster
	caps := map[string]Capacity{}
	for i := 0; i < n; i++ {
		name := "c" + strconv.Itoa(i)
		clusters = append(clusters, cl(name))
		if rng.IntN(6) > 0 {
			alloc := rng.Int64N(17)
			caps[name] = capa(t, "nvidia.com/gpu="+strconv.FormatInt(rng.Int64N(alloc+1), 10)+"/"+strconv.FormatInt(alloc, 10))
		}
	}
	req := 1 + rng.Int64N(4)
	total := rng.Int64N(40)
	pl := flotillav1.Placement{Replicas: []flotillav1.ReplicaDivision{{
		Workload: flotillav1.WorkloadRef{Name: "w"}, Total: int32(total), WeightBy: &flotillav1.ValueSource{Available: gpu},
	}}}
	if rng.IntN(2) == 0 {
		pl.Requires = gpus(req)
	} else {
		req = 0
	}
	if rng.IntN(3) == 0 {
		pl.MaxClusters = ptr(int32(1 + rng.IntN(n)))
	}
	f := fleetOf(clusters, ap("app", pl))
	return Place(f, WithCapacity(caps)), clusters, caps, req, total
}

// TestCapacityPlacementProperties checks, on seeded random fleets: the
// shares sum to the total whenever the app is placed and some cluster
// weighs more than 0; with requires, every placed cluster meets it and,
// when the room suffices, none gets more replicas than fit; and the same
// input gives the same output.
func TestCapacityPlacementProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 2026))
	for iter := 0; iter < 2000; iter++ {
		seed := rng.Uint64()
		res, clusters, caps, req, total := randomCapacityFleet(t, rand.New(rand.NewPCG(seed, 1)))
		again, _, _, _, _ := randomCapacityFleet(t, rand.New(rand.NewPCG(seed, 1)))
		if !reflect.DeepEqual(res, again) {
			t.Fatalf("seed %d: the same input gave two results", seed)
		}
		targets := res.ForApp("app")
		var weight, room int64
		for _, tg := range targets {
			q := caps[tg.Cluster].Available[gpu]
			weight += q.Value()
			if req > 0 {
				if q.Value() < req {
					t.Fatalf("seed %d: %s placed with %d GPUs available, requires %d", seed, tg.Cluster, q.Value(), req)
				}
				room += q.Value() / req
			}
		}
		if len(targets) > 0 && weight > 0 {
			if n := sumReplicas(res, "app"); n != total {
				t.Fatalf("seed %d: shares sum to %d, want %d (%d clusters)", seed, n, total, len(clusters))
			}
		}
		if req > 0 && room >= total {
			for _, tg := range targets {
				q := caps[tg.Cluster].Available[gpu]
				if int64(tg.Replicas[0].Count) > q.Value()/req {
					t.Fatalf("seed %d: %s gets %d replicas of %d GPUs with %d available", seed, tg.Cluster, tg.Replicas[0].Count, req, q.Value())
				}
			}
		}
	}
}
