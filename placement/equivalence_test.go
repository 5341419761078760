package placement

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/fleet"
)

// randomFleet builds a seeded random fleet that uses every placement rule:
// selectors (labels, expressions, invalid), names, exclusions, declared
// and hub taints, tolerations, failover, requires, rankBy on labels, vars
// and live figures, maxClusters, spread, replica divisions of every kind,
// overlays and per-cluster overlays, dependsOn. It returns the fleet and
// the options to place it with.
func randomFleet(rng *rand.Rand) (*fleet.Fleet, []Option) {
	regions := []string{"eu", "us", "ap"}
	resources := []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, gpu}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	n := 1 + rng.IntN(9)
	var clusters []*flotillav1.Cluster
	caps := map[string]Capacity{}
	hubTaints := map[string][]corev1.Taint{}
	names := make([]string, n)
	for i := 0; i < n; i++ {
		name := "c" + strconv.Itoa(rng.IntN(12))
		names[i] = name
		var labels []string
		if rng.IntN(4) > 0 {
			labels = append(labels, "region="+regions[rng.IntN(len(regions))])
		}
		if rng.IntN(2) == 0 {
			labels = append(labels, "gpu=true")
		}
		if rng.IntN(3) == 0 {
			labels = append(labels, "rank="+[]string{"1", "2.5", "10", "x", " 3"}[rng.IntN(5)])
		}
		c := cl(name, labels...)
		var vars []string
		if rng.IntN(4) > 0 {
			vars = append(vars, "lines="+[]string{"0", "1", "2", "3.5", "7", "bad", "1e3"}[rng.IntN(7)])
		}
		if len(vars) > 0 {
			withVars(c, vars...)
		}
		switch rng.IntN(6) {
		case 0:
			withTaints(c, "maintenance=true:NoSchedule")
		case 1:
			withTaints(c, "drain:NoExecute")
		case 2:
			withTaints(c, "soft=yes:PreferNoSchedule", "maintenance=true:NoSchedule")
		}
		if rng.IntN(4) == 0 {
			t := corev1.Taint{Key: flotillav1.TaintUnreachable, Effect: corev1.TaintEffectNoExecute}
			if rng.IntN(3) > 0 {
				t.TimeAdded = &metav1.Time{Time: now.Add(-time.Duration(rng.IntN(120)) * time.Second)}
			}
			hubTaints[name] = append(hubTaints[name], t)
		}
		if rng.IntN(5) > 0 {
			capa := Capacity{Allocatable: corev1.ResourceList{}, Available: corev1.ResourceList{}}
			for _, r := range resources {
				if rng.IntN(5) == 0 {
					continue
				}
				alloc := rng.Int64N(20)
				avail := rng.Int64N(alloc + 1)
				switch r {
				case corev1.ResourceCPU:
					capa.Allocatable[r] = *resource.NewQuantity(alloc, resource.DecimalSI)
					capa.Available[r] = *resource.NewMilliQuantity(avail*1000-rng.Int64N(1000), resource.DecimalSI)
				case corev1.ResourceMemory:
					capa.Allocatable[r] = *resource.NewQuantity(alloc<<30, resource.BinarySI)
					capa.Available[r] = *resource.NewQuantity(avail<<29+rng.Int64N(3000), resource.BinarySI)
				default:
					capa.Allocatable[r] = *resource.NewQuantity(alloc, resource.DecimalSI)
					capa.Available[r] = *resource.NewQuantity(avail, resource.DecimalSI)
				}
			}
			caps[name] = capa
		}
		clusters = append(clusters, c)
	}
	pick := func() []string {
		var out []string
		for _, nm := range names {
			if rng.IntN(3) == 0 {
				out = append(out, nm)
			}
		}
		if rng.IntN(5) == 0 {
			out = append(out, "ghost")
		}
		return out
	}
	source := func(available bool) flotillav1.ValueSource {
		switch rng.IntN(4) {
		case 0:
			return flotillav1.ValueSource{Label: "rank"}
		case 1:
			return flotillav1.ValueSource{Var: "lines"}
		case 2:
			if available {
				return flotillav1.ValueSource{Available: resources[rng.IntN(len(resources))]}
			}
		}
		return flotillav1.ValueSource{Label: "region"}
	}
	nApps := 1 + rng.IntN(5)
	var apps []*flotillav1.App
	running := map[string][]string{}
	held := map[string]map[string]corev1.ResourceList{}
	for j := 0; j < nApps; j++ {
		name := "app" + strconv.Itoa(j)
		var pl flotillav1.Placement
		switch rng.IntN(6) {
		case 0:
			pl.ClusterSelector = sel("gpu=true")
		case 1:
			pl.ClusterSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "region", Operator: metav1.LabelSelectorOpIn, Values: []string{"eu", "us"}}}}
		case 2:
			pl.ClusterNames = pick()
		case 3:
			pl.ClusterSelector = sel("region=" + regions[rng.IntN(3)])
			pl.ClusterNames = pick()
		case 4:
			if rng.IntN(4) == 0 {
				pl.ClusterSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "region", Operator: "Bogus"}}}
			} else {
				pl.ClusterSelector = &metav1.LabelSelector{}
			}
		}
		if rng.IntN(4) == 0 {
			pl.Exclude = pick()
		}
		if rng.IntN(2) == 0 {
			pl.Tolerations = append(pl.Tolerations, corev1.Toleration{Key: "maintenance", Operator: corev1.TolerationOpExists})
		}
		if rng.IntN(4) == 0 {
			pl.Tolerations = append(pl.Tolerations, corev1.Toleration{Key: "drain", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute})
		}
		if rng.IntN(3) == 0 {
			fo := &flotillav1.FailoverSpec{}
			if rng.IntN(2) == 0 {
				fo.TolerationSeconds = ptr(int64(rng.IntN(90) - 5))
			}
			switch rng.IntN(3) {
			case 0:
				fo.Failback = flotillav1.FailbackReturn
			case 1:
				fo.Failback = flotillav1.FailbackStay
			}
			pl.Failover = fo
		}
		if rng.IntN(3) == 0 {
			pl.Requires = corev1.ResourceList{}
			for _, r := range resources {
				if rng.IntN(2) == 0 {
					switch r {
					case corev1.ResourceMemory:
						pl.Requires[r] = *resource.NewQuantity(rng.Int64N(8)<<29, resource.BinarySI)
					case corev1.ResourceCPU:
						pl.Requires[r] = *resource.NewMilliQuantity(rng.Int64N(6000), resource.DecimalSI)
					default:
						pl.Requires[r] = *resource.NewQuantity(rng.Int64N(5), resource.DecimalSI)
					}
				}
			}
		}
		if rng.IntN(2) == 0 {
			pl.RankBy = &flotillav1.RankBy{ValueSource: source(true), Descending: rng.IntN(2) == 0}
		}
		if rng.IntN(2) == 0 {
			pl.MaxClusters = ptr(int32(rng.IntN(4)))
		}
		if rng.IntN(3) == 0 {
			pl.Spread = &flotillav1.SpreadConstraint{LabelKey: "region", MaxPerValue: int32(rng.IntN(3))}
		}
		for k := rng.IntN(3); k > 0; k-- {
			d := flotillav1.ReplicaDivision{Workload: flotillav1.WorkloadRef{Name: "w" + strconv.Itoa(k)}, Total: int32(rng.IntN(30))}
			switch rng.IntN(4) {
			case 0:
				vs := source(true)
				d.WeightBy = &vs
			case 1:
				d.WeightBy = &flotillav1.ValueSource{Available: resources[rng.IntN(len(resources))]}
			case 2:
				d.StaticWeights = []flotillav1.StaticWeight{{Clusters: pick(), Weight: int32(rng.IntN(4))}, {Clusters: pick(), Weight: 2}}
			}
			pl.Replicas = append(pl.Replicas, d)
		}
		a := ap(name, pl)
		for k := rng.IntN(3); k > 0; k-- {
			o := flotillav1.Overlay{Name: "o" + strconv.Itoa(k)}
			switch rng.IntN(3) {
			case 0:
				o.ClusterSelector = sel("gpu=true")
			case 1:
				o.ClusterNames = pick()
			default:
				o.ClusterSelector = sel("region=" + regions[rng.IntN(3)])
				o.ClusterNames = pick()
			}
			a.Spec.Overlays = append(a.Spec.Overlays, o)
		}
		if j > 0 && rng.IntN(3) == 0 {
			a.Spec.DependsOn = []string{"app" + strconv.Itoa(rng.IntN(j))}
		}
		if rng.IntN(2) == 0 {
			running[name] = pick()
		}
		if rng.IntN(3) == 0 {
			held[name] = map[string]corev1.ResourceList{}
			for _, c := range pick() {
				held[name][c] = corev1.ResourceList{gpu: *resource.NewQuantity(rng.Int64N(3), resource.DecimalSI), corev1.ResourceCPU: *resource.NewMilliQuantity(rng.Int64N(2000), resource.DecimalSI)}
			}
		}
		apps = append(apps, a)
	}
	f := fleetOf(clusters, apps...)
	for _, a := range apps {
		if rng.IntN(3) == 0 {
			f.ClusterOverlays[a.Name] = map[string]bool{}
			for _, c := range pick() {
				f.ClusterOverlays[a.Name][c] = true
			}
		}
	}
	opts := []Option{WithRunning(running), WithHeld(held), WithClusterTaints(hubTaints)}
	if rng.IntN(4) > 0 {
		opts = append(opts, WithCapacity(caps))
	}
	if rng.IntN(3) > 0 {
		opts = append(opts, WithNow(now))
	}
	return f, opts
}

// dumpResult is a result with every decision, as JSON.
func dumpResult(res *Result) string {
	b, err := json.Marshal(struct {
		Targets      []Target
		Decisions    []Decision
		Warnings     []fleet.Diagnostic
		Errors       []fleet.Diagnostic
		RecheckAt    time.Time
		CapacityUsed bool
	}{res.Targets, res.Decisions(), res.Warnings, res.Errors, res.RecheckAt, res.CapacityUsed})
	if err != nil {
		panic(err)
	}
	return string(b)
}

var update = flag.Bool("update", false, "rewrite testdata/decisions.jsonl.gz from the current code")

// goldenFleets is how many random fleets testdata/decisions.jsonl.gz
// holds; it was written by the placement that built every decision up
// front, before decisions were rebuilt on demand.
const goldenFleets = 200

// TestDecisionsMatchGolden places random fleets that use every placement
// rule and compares the targets, every decision (reasons and figures),
// the warnings and errors with what they were.
func TestDecisionsMatchGolden(t *testing.T) {
	const path = "testdata/decisions.jsonl.gz"
	got := make([]string, goldenFleets)
	for seed := range got {
		f, opts := randomFleet(rand.New(rand.NewPCG(uint64(seed), 7)))
		got[seed] = dumpResult(Place(f, opts...))
	}
	if *update {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		for _, line := range got {
			fmt.Fprintln(zw, line)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	zr, err := gzip.NewReader(file)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 16<<20)
	seed := 0
	for ; sc.Scan(); seed++ {
		if seed >= len(got) {
			t.Fatalf("%s has more than %d fleets", path, len(got))
		}
		if want := sc.Text(); got[seed] != want {
			t.Errorf("fleet of seed %d differs (go test -run TestDecisionsMatchGolden -update rewrites the file):\n%s", seed, firstDifference(got[seed], want))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if seed != len(got) {
		t.Fatalf("%s has %d fleets, want %d", path, seed, len(got))
	}
}

// firstDifference shows where two dumps part.
func firstDifference(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(i-200, 0)
	return fmt.Sprintf(" got ...%s\nwant ...%s", got[from:min(i+200, len(got))], want[from:min(i+200, len(want))])
}

// TestDecisionAccessorsAgree checks that Decision, DecisionsFor and
// Decisions rebuild the same decisions, and that DecisionsFor lists the
// placed clusters first, then the others, each by name, up to its limit.
func TestDecisionAccessorsAgree(t *testing.T) {
	for seed := uint64(0); seed < 300; seed++ {
		f, opts := randomFleet(rand.New(rand.NewPCG(seed, 7)))
		res := Place(f, opts...)
		all := res.Decisions()
		byApp := map[string][]Decision{}
		for _, d := range all {
			if got := res.Decision(d.App, d.Cluster); !reflect.DeepEqual(*got, d) {
				t.Fatalf("seed %d: Decision(%s, %s) = %+v, Decisions has %+v", seed, d.App, d.Cluster, *got, d)
			}
			if d.Placed != (res.Target(d.App, d.Cluster) != nil) {
				t.Fatalf("seed %d: %s on %s placed %v, target %v", seed, d.App, d.Cluster, d.Placed, res.Target(d.App, d.Cluster))
			}
			byApp[d.App] = append(byApp[d.App], d)
		}
		for app, ds := range byApp {
			want := slices.Clone(ds)
			slices.SortStableFunc(want, func(a, b Decision) int {
				if a.Placed != b.Placed {
					if a.Placed {
						return -1
					}
					return 1
				}
				return strings.Compare(a.Cluster, b.Cluster)
			})
			for _, limit := range []int{-1, 0, 1, 3, len(want)} {
				got, omitted := res.DecisionsFor(app, limit)
				n := len(want)
				if limit >= 0 {
					n = min(limit, len(want))
				}
				if !reflect.DeepEqual(got, want[:n:n]) || omitted != len(want)-n {
					t.Fatalf("seed %d: DecisionsFor(%s, %d) = %+v (%d omitted), want %+v", seed, app, limit, got, omitted, want[:n])
				}
			}
		}
		if res.Decision("app0", "nowhere") != nil || res.Decision("nope", "c0") != nil {
			t.Fatalf("seed %d: a decision about an unknown app or cluster", seed)
		}
	}
}
