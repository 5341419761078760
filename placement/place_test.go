package placement

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/fleet"
)

func TestOverlaysApplyInDeclaredOrderThenPerCluster(t *testing.T) {
	clusters := []*flotillav1.Cluster{
		cl("eu-1", "region=eu", "gpu=true"),
		cl("eu-2", "region=eu"),
		cl("us-1", "region=us", "gpu=true"),
		cl("us-2", "region=us"),
	}
	web := ap("web", flotillav1.Placement{})
	web.Spec.Path = "deploy/base"
	web.Spec.Overlays = []flotillav1.Overlay{
		// Declared order is zeta, then alpha: not alphabetical.
		{Name: "zeta", ClusterSelector: sel("gpu=true")},
		{Name: "alpha", ClusterSelector: sel("region=eu")},
		{Name: "special", Path: "components/special", ClusterNames: []string{"us-1"}},
		{Name: "all", ClusterSelector: &metav1.LabelSelector{}},
	}
	f := fleetOf(clusters, web)
	f.ClusterOverlays["web"] = map[string]bool{"eu-1": true, "us-2": true}
	res := Place(f)

	paths := func(cluster string) []string {
		var out []string
		for _, o := range res.Target("web", cluster).Overlays {
			out = append(out, o.Path)
		}
		return out
	}
	want := map[string][]string{
		"eu-1": {"apps/web/overlays/zeta", "apps/web/overlays/alpha", "apps/web/overlays/all", "apps/web/overlays/eu-1"},
		"eu-2": {"apps/web/overlays/alpha", "apps/web/overlays/all"},
		"us-1": {"apps/web/overlays/zeta", "apps/web/components/special", "apps/web/overlays/all"},
		"us-2": {"apps/web/overlays/all", "apps/web/overlays/us-2"},
	}
	for cluster, w := range want {
		if got := paths(cluster); !reflect.DeepEqual(got, w) {
			t.Errorf("overlays on %s = %v, want %v", cluster, got, w)
		}
	}
	if got := res.Target("web", "eu-1").Base; got != "apps/web/deploy/base" {
		t.Errorf("Base = %q", got)
	}
	o := res.Target("web", "eu-1").Overlays
	if o[0].Name != "zeta" || o[0].Reason != "overlay zeta applies: clusterSelector gpu=true matched" {
		t.Errorf("first overlay = %+v", o[0])
	}
	if o[3].Name != "eu-1" || !strings.Contains(o[3].Reason, "applies last: per-cluster overlay folder apps/web/overlays/eu-1") {
		t.Errorf("per-cluster overlay = %+v", o[3])
	}
	assertReason(t, res, "web", "us-1", "overlay special applies: listed in clusterNames")
	assertReason(t, res, "web", "eu-2", "overlay zeta does not apply: clusterSelector gpu=true does not match")
	assertReason(t, res, "web", "eu-1", "overlay all applies: clusterSelector {} matched")
}

func TestTargetFields(t *testing.T) {
	clusters := []*flotillav1.Cluster{withVars(cl("f1", "region=eu"), "registry=harbor.f1.local", "lines=4")}
	db := ap("db", flotillav1.Placement{})
	cache := ap("cache", flotillav1.Placement{})
	cache.Spec.DependsOn = []string{"db"}
	web := ap("web", flotillav1.Placement{})
	web.Spec.DependsOn = []string{"cache", "db"}
	res := Place(fleetOf(clusters, web, db, cache))

	tg := res.Target("web", "f1")
	if tg == nil {
		t.Fatal("web not placed on f1")
	}
	wantVars := map[string]string{
		"cluster.name":          "f1",
		"cluster.labels.region": "eu",
		"cluster.vars.registry": "harbor.f1.local",
		"cluster.vars.lines":    "4",
	}
	if !reflect.DeepEqual(tg.Vars, wantVars) {
		t.Errorf("Vars = %v, want %v", tg.Vars, wantVars)
	}
	if tg.Namespace != "web" || tg.Base != "apps/web/base" || tg.App != "web" || tg.Cluster != "f1" {
		t.Errorf("target = %+v", tg)
	}
	waves := map[string]int{}
	for _, t := range res.Targets {
		waves[t.App] = t.Wave
	}
	if want := map[string]int{"db": 0, "cache": 1, "web": 2}; !reflect.DeepEqual(waves, want) {
		t.Errorf("waves = %v, want %v", waves, want)
	}
	// Each target owns its variables.
	tg.Vars["cluster.name"] = "changed"
	if res.Target("db", "f1").Vars["cluster.name"] != "f1" {
		t.Errorf("targets share their Vars map")
	}
}

func TestResultLookups(t *testing.T) {
	clusters := []*flotillav1.Cluster{cl("a", "x=1"), cl("b"), cl("c", "x=1")}
	res := Place(fleetOf(clusters,
		ap("one", flotillav1.Placement{ClusterSelector: sel("x=1")}),
		ap("two", flotillav1.Placement{ClusterNames: []string{"b"}}),
	))
	if got := res.Clusters("one"); !reflect.DeepEqual(got, []string{"a", "c"}) {
		t.Errorf("Clusters(one) = %v", got)
	}
	if got := len(res.ForCluster("b")); got != 1 || res.ForCluster("b")[0].App != "two" {
		t.Errorf("ForCluster(b) = %v", res.ForCluster("b"))
	}
	if res.Target("one", "b") != nil || res.Target("nope", "a") != nil || res.Target("one", "c") == nil {
		t.Errorf("Target lookups wrong")
	}
	if d := res.Decision("two", "a"); d == nil || d.Placed {
		t.Errorf("Decision(two, a) = %+v", d)
	}
	if res.Decision("two", "zz") != nil {
		t.Errorf("Decision of an unknown cluster must be nil")
	}
	decisions := res.Decisions()
	if len(decisions) != 6 {
		t.Errorf("want a decision for every app and cluster, got %d", len(decisions))
	}
	for i := 1; i < len(decisions); i++ {
		a, b := decisions[i-1], decisions[i]
		if a.App > b.App || (a.App == b.App && a.Cluster >= b.Cluster) {
			t.Errorf("decisions not sorted at %d", i)
		}
	}
	if got := Place(nil); len(got.Targets) != 0 {
		t.Errorf("Place(nil) = %+v", got)
	}
}

// fullFleet uses every placement rule at once.
func fullFleet() *fleet.Fleet {
	clusters := []*flotillav1.Cluster{
		withVars(cl("f1", "region=eu", "gpu=true", "gpus=8"), "lines=4", "model=1.10"),
		withVars(cl("f2", "region=eu", "gpus=4"), "lines=2"),
		withVars(cl("f3", "region=us", "gpu=true", "gpus=16"), "lines=6"),
		withTaints(withVars(cl("f4", "region=us", "gpu=true", "gpus=32"), "lines=1"), "maintenance=true:NoSchedule"),
		withVars(cl("f5", "region=ap"), "lines=3"),
		cl("central", "role=central"),
	}
	adc := ap("adc", flotillav1.Placement{
		ClusterSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "region", Operator: metav1.LabelSelectorOpExists}}},
		Replicas: []flotillav1.ReplicaDivision{
			{Workload: flotillav1.WorkloadRef{Name: "adc"}, Total: 13, WeightBy: &flotillav1.ValueSource{Var: "lines"}},
			{Workload: flotillav1.WorkloadRef{Name: "cache"}, Total: 5},
		},
	})
	adc.Spec.Overlays = []flotillav1.Overlay{
		{Name: "gpu", ClusterSelector: sel("gpu=true")},
		{Name: "eu", ClusterSelector: sel("region=eu")},
	}
	train := ap("train", flotillav1.Placement{
		ClusterSelector: sel("gpu=true"),
		Tolerations:     []corev1.Toleration{{Key: "maintenance", Operator: corev1.TolerationOpExists}},
		MaxClusters:     ptr[int32](2),
		Spread:          &flotillav1.SpreadConstraint{LabelKey: "region"},
		RankBy:          &flotillav1.RankBy{ValueSource: flotillav1.ValueSource{Label: "gpus"}, Descending: true},
	})
	train.Spec.DependsOn = []string{"adc"}
	dash := ap("dash", flotillav1.Placement{ClusterNames: []string{"central"}})
	mon := ap("mon", flotillav1.Placement{Exclude: []string{"f5"}})
	f := fleetOf(clusters, adc, train, dash, mon)
	f.ClusterOverlays["adc"] = map[string]bool{"f2": true, "f4": true}
	return f
}

func TestFullFleet(t *testing.T) {
	res := Place(fullFleet())
	assertClusters(t, res, "adc", "f1", "f2", "f3", "f5")
	assertClusters(t, res, "train", "f1", "f4")
	assertClusters(t, res, "dash", "central")
	assertClusters(t, res, "mon", "central", "f1", "f2", "f3")
	// Weights 4, 2, 6, 3: quotas 3.47, 1.73, 5.2, 2.6; floors sum to 11 and
	// the two left over go to the largest fractions, f2 and f5.
	if got := replicasOf(res, "adc", "adc"); !reflect.DeepEqual(got, map[string]int32{"f1": 3, "f2": 2, "f3": 5, "f5": 3}) {
		t.Errorf("adc replicas = %v", got)
	}
	if got := replicasOf(res, "adc", "cache"); !reflect.DeepEqual(got, map[string]int32{"f1": 2, "f2": 1, "f3": 1, "f5": 1}) {
		t.Errorf("cache replicas = %v", got)
	}
	assertReason(t, res, "train", "f3", "not chosen: spread region=us already has 1 of max 1")
	assertReason(t, res, "adc", "f4", "taint maintenance=true:NoSchedule not tolerated")
	assertReason(t, res, "train", "f4", "taint maintenance=true:NoSchedule tolerated")
	if len(res.Errors) != 0 {
		t.Errorf("errors: %v", res.Errors)
	}
	// f4 has a per-cluster overlay but adc is not placed there, and train
	// depends on adc but lands on f4.
	if len(res.Warnings) != 2 ||
		res.Warnings[0].File != "apps/adc/overlays/f4" || !strings.Contains(res.Warnings[0].Message, "not placed on cluster f4") ||
		res.Warnings[1].File != "apps/train/app.yaml" || !strings.Contains(res.Warnings[1].Message, "app train depends on adc, which is not placed on cluster f4") {
		t.Errorf("warnings = %v", res.Warnings)
	}
}

// TestDeterministic checks that the result does not depend on the order of
// clusters, apps, overlays in maps, or on repeated runs.
func TestDeterministic(t *testing.T) {
	want := Place(fullFleet())
	rng := rand.New(rand.NewPCG(7, 11))
	for i := 0; i < 50; i++ {
		f := fullFleet()
		rng.Shuffle(len(f.Clusters), func(a, b int) { f.Clusters[a], f.Clusters[b] = f.Clusters[b], f.Clusters[a] })
		rng.Shuffle(len(f.Apps), func(a, b int) { f.Apps[a], f.Apps[b] = f.Apps[b], f.Apps[a] })
		got := Place(f)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("run %d differs:\n got %+v\nwant %+v", i, got.Targets, want.Targets)
		}
	}
}

// TestWarningsNameTheAppFile loads a real fleet so that warnings carry the
// line of the field.
func TestWarningsNameTheAppFile(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"clusters/eu-1.yaml": "apiVersion: flotilla.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: eu-1\n  labels: {region: eu}\n",
		"clusters/us-1.yaml": "apiVersion: flotilla.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: us-1\n  labels: {region: us}\nspec:\n  taints: [{key: maintenance, effect: NoExecute}]\n",
		"apps/nowhere/app.yaml": `apiVersion: flotilla.dev/v1alpha1
kind: App
metadata:
  name: nowhere
spec:
  namespace: nowhere
  placement:
    clusterSelector:
      matchLabels: {region: asia}
`,
		"apps/blocked/app.yaml": `apiVersion: flotilla.dev/v1alpha1
kind: App
metadata:
  name: blocked
spec:
  namespace: blocked
  placement:
    clusterNames: [eu-1, us-1]
    exclude: [eu-1]
`,
		"apps/web/app.yaml": `apiVersion: flotilla.dev/v1alpha1
kind: App
metadata:
  name: web
spec:
  namespace: web
  dependsOn: [blocked]
  placement:
    clusterNames: [eu-1]
  overlays:
  - name: usa
    clusterSelector: {matchLabels: {region: us}}
`,
		"apps/web/overlays/usa/kustomization.yaml": "kind: Component\n",
	}
	for _, app := range []string{"nowhere", "blocked", "web"} {
		files["apps/"+app+"/base/kustomization.yaml"] = "resources: []\n"
	}
	for rel, content := range files {
		full := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, diags := fleet.Load(root)
	if len(diags) != 0 {
		t.Fatalf("load: %v", diags)
	}
	res := Place(f)
	var got []string
	for _, w := range res.Warnings {
		if w.Severity != fleet.SeverityWarning {
			t.Errorf("severity = %q", w.Severity)
		}
		got = append(got, w.String())
	}
	want := []string{
		"apps/blocked/app.yaml:7: warning: spec.placement: every cluster it selects is excluded or keeps the app off with a taint, so app blocked goes nowhere; run flotilla explain to see why",
		"apps/nowhere/app.yaml:8: warning: spec.placement: clusterSelector region=asia matches no cluster, so app nowhere goes nowhere; fix the selector or the names",
		"apps/web/app.yaml:7: warning: spec.dependsOn[0]: app web depends on blocked, which is not placed on cluster eu-1, so web can never become ready there; place blocked there too or remove the dependency",
		"apps/web/app.yaml:11: warning: spec.overlays[0]: overlay usa applies to none of the 1 clusters app web is placed on; fix its clusterSelector or clusterNames, or remove it",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
