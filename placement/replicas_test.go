package placement

import (
	"math/big"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// replicasOf returns, per cluster, the count of the named workload.
func replicasOf(res *Result, app, workload string) map[string]int32 {
	out := map[string]int32{}
	for _, t := range res.ForApp(app) {
		for _, r := range t.Replicas {
			if r.Name == workload {
				out[t.Cluster] = r.Count
			}
		}
	}
	return out
}

func TestReplicaDivision(t *testing.T) {
	lines := func(name, n string) *flotillav1.Cluster { return withVars(cl(name, "lines="+n), "lines="+n) }
	cases := []struct {
		name     string
		clusters []*flotillav1.Cluster
		division flotillav1.ReplicaDivision
		want     map[string]int32
		reasons  map[string]string
	}{
		{
			name:     "equal shares, remainder to the first names",
			clusters: []*flotillav1.Cluster{cl("c"), cl("a"), cl("b")},
			division: flotillav1.ReplicaDivision{Workload: flotillav1.WorkloadRef{Name: "web"}, Total: 10},
			want:     map[string]int32{"a": 4, "b": 3, "c": 3},
			reasons:  map[string]string{"a": "replicas web: 4 of 10 (weight 1/3 equal)"},
		},
		{
			name:     "fewer replicas than clusters",
			clusters: []*flotillav1.Cluster{cl("a"), cl("b"), cl("c")},
			division: flotillav1.ReplicaDivision{Workload: flotillav1.WorkloadRef{Name: "web"}, Total: 2},
			want:     map[string]int32{"a": 1, "b": 1, "c": 0},
		},
		{
			name:     "weighted by var",
			clusters: []*flotillav1.Cluster{lines("f1", "4"), lines("f2", "2"), lines("f3", "0"), cl("f4")},
			division: flotillav1.ReplicaDivision{Workload: flotillav1.WorkloadRef{Name: "adc-inference"}, Total: 12, WeightBy: &flotillav1.ValueSource{Var: "lines"}},
			want:     map[string]int32{"f1": 8, "f2": 4, "f3": 0, "f4": 0},
			reasons: map[string]string{
				"f1": "replicas adc-inference: 8 of 12 (weight 4/6 by var lines)",
				"f4": "replicas adc-inference: 0 of 12 (weight 0/6 by var lines)",
			},
		},
		{
			name:     "weighted by label with remainders to the largest fractions",
			clusters: []*flotillav1.Cluster{lines("a", "3"), lines("b", "3"), lines("c", "1")},
			division: flotillav1.ReplicaDivision{Workload: flotillav1.WorkloadRef{Name: "web"}, Total: 5, WeightBy: &flotillav1.ValueSource{Label: "lines"}},
			// Quotas 2.14, 2.14, 0.71: c has the largest fraction.
			want:    map[string]int32{"a": 2, "b": 2, "c": 1},
			reasons: map[string]string{"c": "replicas web: 1 of 5 (weight 1/7 by label lines)"},
		},
		{
			name:     "decimal weights",
			clusters: []*flotillav1.Cluster{lines("a", "1.5"), lines("b", "0.5")},
			division: flotillav1.ReplicaDivision{Workload: flotillav1.WorkloadRef{Name: "web"}, Total: 4, WeightBy: &flotillav1.ValueSource{Var: "lines"}},
			want:     map[string]int32{"a": 3, "b": 1},
			reasons:  map[string]string{"a": "(weight 1.5/2 by var lines)"},
		},
		{
			name:     "static weights, unlisted clusters weigh 0",
			clusters: []*flotillav1.Cluster{cl("a"), cl("b"), cl("c"), cl("d")},
			division: flotillav1.ReplicaDivision{Workload: flotillav1.WorkloadRef{Kind: "StatefulSet", Name: "db"}, Total: 7, StaticWeights: []flotillav1.StaticWeight{
				{Clusters: []string{"a"}, Weight: 2},
				{Clusters: []string{"b", "c"}, Weight: 1},
			}},
			// Quotas 3.5, 1.75, 1.75, 0: the two leftovers go to b and c.
			want:    map[string]int32{"a": 3, "b": 2, "c": 2, "d": 0},
			reasons: map[string]string{"a": "replicas db: 3 of 7 (weight 2/4 static)"},
		},
		{
			name:     "total 0 gives 0 everywhere",
			clusters: []*flotillav1.Cluster{cl("a"), cl("b")},
			division: flotillav1.ReplicaDivision{Workload: flotillav1.WorkloadRef{Name: "web"}, Total: 0},
			want:     map[string]int32{"a": 0, "b": 0},
		},
		{
			name:     "total 0 with all weights 0 is fine",
			clusters: []*flotillav1.Cluster{cl("a"), cl("b")},
			division: flotillav1.ReplicaDivision{Workload: flotillav1.WorkloadRef{Name: "web"}, Total: 0, WeightBy: &flotillav1.ValueSource{Var: "lines"}},
			want:     map[string]int32{"a": 0, "b": 0},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := Place(fleetOf(tc.clusters, ap("app", flotillav1.Placement{Replicas: []flotillav1.ReplicaDivision{tc.division}})))
			if len(res.Errors) != 0 {
				t.Fatalf("errors: %v", res.Errors)
			}
			got := replicasOf(res, "app", tc.division.Workload.Name)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("replicas = %v, want %v", got, tc.want)
			}
			var sum int32
			for _, n := range got {
				sum += n
			}
			if sum != tc.division.Total {
				t.Errorf("shares sum to %d, want %d", sum, tc.division.Total)
			}
			wantKind := tc.division.Workload.Kind
			if wantKind == "" {
				wantKind = "Deployment"
			}
			for _, tg := range res.ForApp("app") {
				if tg.Replicas[0].Kind != wantKind {
					t.Errorf("kind = %q, want %q", tg.Replicas[0].Kind, wantKind)
				}
			}
			for c, r := range tc.reasons {
				assertReason(t, res, "app", c, r)
			}
		})
	}
}

func TestReplicaDivisionErrors(t *testing.T) {
	t.Run("weight that is not a number", func(t *testing.T) {
		clusters := []*flotillav1.Cluster{withVars(cl("f1"), "lines=four"), withVars(cl("f2"), "lines=2")}
		res := Place(fleetOf(clusters, ap("adc", flotillav1.Placement{Replicas: []flotillav1.ReplicaDivision{
			{Workload: flotillav1.WorkloadRef{Name: "adc"}, Total: 6, WeightBy: &flotillav1.ValueSource{Var: "lines"}},
		}})))
		if len(res.Errors) != 1 {
			t.Fatalf("errors = %v, want 1", res.Errors)
		}
		e := res.Errors[0]
		for _, want := range []string{"spec.placement.replicas[0].weightBy", `cluster f1 has var lines="four"`, "not a non-negative number", "clusters/f1.yaml"} {
			if !strings.Contains(e.Message, want) {
				t.Errorf("message %q lacks %q", e.Message, want)
			}
		}
		if e.File != "apps/adc/app.yaml" {
			t.Errorf("file = %q", e.File)
		}
		if got := replicasOf(res, "adc", "adc"); len(got) != 0 {
			t.Errorf("no replicas may be set when the weights are invalid, got %v", got)
		}
	})
	t.Run("every weight zero", func(t *testing.T) {
		clusters := []*flotillav1.Cluster{cl("f1"), cl("f2")}
		res := Place(fleetOf(clusters, ap("adc", flotillav1.Placement{Replicas: []flotillav1.ReplicaDivision{
			{Workload: flotillav1.WorkloadRef{Name: "adc"}, Total: 6, StaticWeights: []flotillav1.StaticWeight{{Clusters: []string{"f3"}, Weight: 2}}},
		}})))
		if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Message, "weighs 0 static, so the 6 replicas of Deployment adc cannot be divided") ||
			res.Errors[0].File != "apps/adc/app.yaml" {
			t.Fatalf("errors = %v", res.Errors)
		}
	})
}

// TestDivideProperties checks on random inputs that the shares always sum
// to the total and each share is its exact quota rounded down or up.
func TestDivideProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 2000; iter++ {
		n := 1 + rng.IntN(12)
		total := int64(rng.IntN(1000))
		weights := make([]*big.Rat, n)
		names := make([]string, n)
		zero := true
		for i := range weights {
			weights[i] = big.NewRat(int64(rng.IntN(20)), int64(1+rng.IntN(4)))
			names[i] = "c" + strconv.Itoa(i)
			zero = zero && weights[i].Sign() == 0
		}
		shares, sum := divide(total, weights, names)
		if zero {
			if shares != nil {
				t.Fatalf("all-zero weights must give nil")
			}
			continue
		}
		var got int64
		for i, s := range shares {
			got += s
			quota := new(big.Rat).Quo(new(big.Rat).Mul(weights[i], big.NewRat(total, 1)), sum)
			lo := new(big.Int).Quo(quota.Num(), quota.Denom()).Int64()
			if s != lo && (s != lo+1 || quota.IsInt()) {
				t.Fatalf("share %d of quota %s", s, quota.FloatString(3))
			}
		}
		if got != total {
			t.Fatalf("shares %v sum to %d, want %d", shares, got, total)
		}
	}
}
