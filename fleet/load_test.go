package fleet

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

func TestLoadValidFleetAppliesDefaults(t *testing.T) {
	root := writeFleet(t, with(map[string]string{
		"clusters/pull-1.yaml": `apiVersion: flotilla.dev/v1alpha1
kind: Cluster
metadata:
  name: pull-1
  labels: {region: eu, gpu: true}
spec:
  vars:
    modelVersion: 1.10
    lines: 04
  access:
    mode: Pull
`,
		"clusters/custom.yml": `apiVersion: flotilla.dev/v1alpha1
kind: Cluster
metadata:
  name: custom
spec:
  access:
    kubeconfigSecretRef: {name: shared-kubeconfig}
`,
		"apps/web/app.yaml": appHeader + `  placement:
    spread: {labelKey: region}
    replicas:
    - workload: {name: web}
      total: 3
  overlays:
  - name: gpu
    clusterSelector: {matchLabels: {gpu: "true"}}
`,
		"apps/web/overlays/gpu/kustomization.yaml":    "kind: Component\n",
		"apps/web/overlays/eu-1/kustomization.yaml":   "kind: Component\n",
		"apps/web/overlays/pull-1/kustomization.yaml": "kind: Component\n",
	}))
	f, diags := Load(root)
	// A Pull cluster is as valid as a Push one: no diagnostic.
	if len(diags) != 0 {
		t.Fatalf("want no diagnostic, got %v", diags)
	}
	wantRoot, _ := filepath.EvalSymlinks(root)
	if f.Root != wantRoot {
		t.Errorf("Root = %q, want %q", f.Root, wantRoot)
	}
	var names []string
	for _, c := range f.Clusters {
		names = append(names, c.Name)
	}
	if want := []string{"custom", "eu-1", "pull-1", "us-1"}; !reflect.DeepEqual(names, want) {
		t.Errorf("clusters = %v, want %v", names, want)
	}
	if got := f.ClusterFiles["custom"]; got != "clusters/custom.yml" {
		t.Errorf("ClusterFiles[custom] = %q", got)
	}
	if got := f.AppFiles["web"]; got != "apps/web/app.yaml" {
		t.Errorf("AppFiles[web] = %q", got)
	}

	eu := f.Cluster("eu-1")
	if eu == nil || eu.Spec.Access.Mode != flotillav1.AccessPush ||
		!reflect.DeepEqual(eu.Spec.Access.KubeconfigSecretRef, &flotillav1.SecretKeyRef{Name: "eu-1-kubeconfig", Key: "value"}) {
		t.Errorf("eu-1 access defaults = %+v", eu.Spec.Access)
	}
	custom := f.Cluster("custom")
	if !reflect.DeepEqual(custom.Spec.Access.KubeconfigSecretRef, &flotillav1.SecretKeyRef{Name: "shared-kubeconfig", Key: "value"}) {
		t.Errorf("custom kubeconfig = %+v", custom.Spec.Access.KubeconfigSecretRef)
	}
	pull := f.Cluster("pull-1")
	if pull.Spec.Access.Mode != flotillav1.AccessPull || pull.Spec.Access.KubeconfigSecretRef != nil {
		t.Errorf("pull-1 access = %+v, want Pull without kubeconfig", pull.Spec.Access)
	}
	// Unquoted scalars keep their literal text in string fields.
	if pull.Labels["gpu"] != "true" || pull.Spec.Vars["modelVersion"] != "1.10" || pull.Spec.Vars["lines"] != "04" {
		t.Errorf("literal values not kept: labels %v vars %v", pull.Labels, pull.Spec.Vars)
	}

	web := f.App("web")
	if web == nil {
		t.Fatal("App(web) = nil")
	}
	s := web.Spec
	if s.Path != "base" || s.Overlays[0].Path != "overlays/gpu" || s.Placement.Replicas[0].Workload.Kind != "Deployment" ||
		s.Placement.Spread.MaxPerValue != 1 || s.HealthTimeout.Duration != 5*time.Minute || s.Prune == nil || !*s.Prune {
		t.Errorf("app defaults not applied: %+v", s)
	}
	wantOverlays := map[string]map[string]bool{"web": {"eu-1": true, "pull-1": true}}
	if !reflect.DeepEqual(f.ClusterOverlays, wantOverlays) {
		t.Errorf("ClusterOverlays = %v, want %v", f.ClusterOverlays, wantOverlays)
	}
	if !f.HasClusterOverlay("web", "eu-1") || f.HasClusterOverlay("web", "us-1") {
		t.Errorf("HasClusterOverlay wrong")
	}
	if f.Cluster("nope") != nil || f.App("nope") != nil {
		t.Errorf("lookups of unknown names must return nil")
	}
	if got := f.Line("apps/web/app.yaml", "spec", "overlays", 0, "clusterSelector"); got != 14 {
		t.Errorf("Line(overlays[0].clusterSelector) = %d, want 14", got)
	}
	if got := f.Line("apps/web/app.yaml", "spec", "overlays", 3); got != 12 {
		t.Errorf("Line of a missing index = %d, want the line of the list, 12", got)
	}
	if got := f.Line("nope.yaml", "spec"); got != 0 {
		t.Errorf("Line(unknown file) = %d", got)
	}
}

func TestLoadLookupsWithoutIndex(t *testing.T) {
	f := &Fleet{
		Clusters: []*flotillav1.Cluster{{}, {}},
		Apps:     []*flotillav1.App{{}},
	}
	f.Clusters[1].Name = "b"
	f.Apps[0].Name = "a"
	if f.Cluster("b") != f.Clusters[1] || f.App("a") != f.Apps[0] || f.Cluster("a") != nil {
		t.Errorf("lookups on a hand-built fleet failed")
	}
	var nilFleet *Fleet
	if nilFleet.Cluster("a") != nil || nilFleet.App("a") != nil || nilFleet.Line("x") != 0 || nilFleet.HasClusterOverlay("a", "b") {
		t.Errorf("nil fleet lookups must be safe")
	}
}

func TestLoadWarnings(t *testing.T) {
	root := writeFleet(t, with(map[string]string{
		"apps/web/app.yaml": appHeader + `  placement:
    clusterNames: [eu-1, eu-7]
    exclude: [us-9]
  overlays:
  - name: gpu
    clusterNames: [ap-1]
`,
		"apps/web/overlays/gpu/kustomization.yaml":  "kind: Component\n",
		"apps/web/overlays/typo/kustomization.yaml": "kind: Component\n",
		"apps/shared/base/kustomization.yaml":       "resources: []\n",
		"clusters/notes/":                           "",
		"clusters/README.md":                        "docs are ignored\n",
	}))
	_, diags := Load(root)
	if errs := errorsOf(diags); len(errs) != 0 {
		t.Fatalf("want no errors, got %v", errs)
	}
	assertDiagnostics(t, warningsOf(diags), []expect{
		{"apps/web/app.yaml", 8, []string{`spec.placement.clusterNames[1]: cluster "eu-7" does not exist`, "selects nothing"}},
		{"apps/web/app.yaml", 9, []string{`spec.placement.exclude[0]: cluster "us-9" does not exist`}},
		{"apps/web/app.yaml", 12, []string{`spec.overlays[0].clusterNames[0]: cluster "ap-1" does not exist`}},
		{"apps/web/overlays/typo", 0, []string{"not used", "no cluster is named typo"}},
		{"apps/shared", 0, []string{"has no app.yaml", "not loaded as an app"}},
		{"clusters/notes", 0, []string{"folders under clusters/ are ignored"}},
	})
	if HasErrors(diags) {
		t.Errorf("warnings alone must not count as errors")
	}
	if AsError(diags) != nil {
		t.Errorf("AsError of warnings = %v, want nil", AsError(diags))
	}
}

func TestLoadNoClusters(t *testing.T) {
	root := writeFleet(t, map[string]string{"apps/": ""})
	f, diags := Load(root)
	if f == nil || len(f.Clusters) != 0 {
		t.Fatalf("unexpected fleet %+v", f)
	}
	assertDiagnostics(t, diags, []expect{{"clusters", 0, []string{"no cluster is declared"}}})
}

func TestLoadMissingRoot(t *testing.T) {
	f, diags := Load(filepath.Join(t.TempDir(), "nope"))
	if f != nil {
		t.Errorf("want nil fleet")
	}
	if len(diags) != 1 || !strings.Contains(diags[0].Message, "cannot read the fleet repository") || !HasErrors(diags) {
		t.Errorf("diags = %v", diags)
	}
}

// TestLoadReportsAllErrorsSorted checks that errors from several files come
// back at once, sorted by file and line, and that broken files do not cause
// knock-on errors in the files that refer to them.
func TestLoadReportsAllErrorsSorted(t *testing.T) {
	root := writeFleet(t, with(map[string]string{
		"clusters/eu-1.yaml": "kind: [\n",
		"clusters/us-1.yaml": `apiVersion: flotilla.dev/v1alpha1
kind: Cluster
metadata:
  name: us-1
spec:
  taints:
  - {key: a, effect: Never}
  colour: red
`,
		"apps/web/app.yaml": appHeader + `  dependsOn: [db]
  placement:
    clusterNames: [eu-1]
  rollout:
    canary: [eu-1]
`,
		"apps/db/app.yaml": "spec: [\n",
	}))
	_, diags := Load(root)
	var got []string
	for _, d := range diags {
		got = append(got, d.File+":"+strconv.Itoa(d.Line))
	}
	want := []string{"apps/db/app.yaml:1", "clusters/eu-1.yaml:1", "clusters/us-1.yaml:7", "clusters/us-1.yaml:8"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("diagnostics at %v, want %v:\n%v", got, want, diags)
	}
	err := AsError(diags)
	var verr *ValidationError
	if !errors.As(err, &verr) || len(verr.Diagnostics) != 4 || !strings.Contains(err.Error(), "clusters/us-1.yaml:8: spec.colour: unknown field") {
		t.Errorf("AsError = %v", err)
	}
}

func TestLoadAliases(t *testing.T) {
	root := writeFleet(t, with(map[string]string{
		"clusters/eu-1.yaml": `apiVersion: flotilla.dev/v1alpha1
kind: Cluster
metadata:
  name: eu-1
  labels: &labels
    region: eu
spec:
  vars: *labels
`,
	}))
	f, diags := Load(root)
	if len(diags) != 0 {
		t.Fatalf("diags = %v", diags)
	}
	if got := f.Cluster("eu-1").Spec.Vars["region"]; got != "eu" {
		t.Errorf("alias not expanded: vars = %v", f.Cluster("eu-1").Spec.Vars)
	}
}

// TestLoadAliasBomb checks that alias expansion that multiplies (here
// 200 overlays x 200 expressions x 200 values) is cut off with an error
// instead of exhausting time and memory.
func TestLoadAliasBomb(t *testing.T) {
	const n = 200
	var b strings.Builder
	b.WriteString(appHeader + "  overlays:\n  - &o\n    name: a\n    clusterSelector:\n      matchExpressions:\n")
	b.WriteString("      - &r\n        key: k\n        operator: In\n        values: [")
	for i := 0; i < n; i++ {
		b.WriteString("v" + strconv.Itoa(i) + ", ")
	}
	b.WriteString("v]\n")
	for i := 0; i < n; i++ {
		b.WriteString("      - *r\n")
	}
	for i := 0; i < n; i++ {
		b.WriteString("  - *o\n")
	}
	root := writeFleet(t, with(map[string]string{"apps/web/app.yaml": b.String()}))
	start := time.Now()
	f, diags := Load(root)
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("Load took %s", took)
	}
	assertDiagnostics(t, diags, []expect{{"apps/web/app.yaml", 0, []string{"expands to more than", "too many aliases"}}})
	if f.App("web") != nil {
		t.Errorf("a file cut off by the alias budget must not enter the fleet")
	}
}

func TestDiagnosticsPerFileAreCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString(clusterHeader + "spec:\n")
	for i := 0; i < 300; i++ {
		b.WriteString("  unknown" + strconv.Itoa(i) + ": x\n")
	}
	root := writeFleet(t, with(map[string]string{"clusters/eu-1.yaml": b.String()}))
	_, diags := Load(root)
	if len(diags) != maxDiagnosticsPerFile+1 {
		t.Fatalf("got %d diagnostics, want %d", len(diags), maxDiagnosticsPerFile+1)
	}
	// The notice has no line, so it sorts first.
	if !strings.Contains(diags[0].Message, "more than 100 problems in this file") {
		t.Errorf("first diagnostic = %s, want the notice", diags[0])
	}
}

func TestLoadSymlinkInsideRootIsAllowed(t *testing.T) {
	root := writeFleet(t, with(map[string]string{
		"shared/eu-1.yaml":   baseFiles()["clusters/eu-1.yaml"],
		"clusters/eu-1.yaml": "",
	}))
	if err := os.Symlink(filepath.Join(root, "shared", "eu-1.yaml"), filepath.Join(root, "clusters", "eu-1.yaml")); err != nil {
		t.Fatal(err)
	}
	f, diags := Load(root)
	if len(diags) != 0 || f.Cluster("eu-1") == nil {
		t.Fatalf("diags = %v", diags)
	}
}

func TestLoadWarnsThatTolerationsOfTheUnreachableTaintDoNothing(t *testing.T) {
	root := writeFleet(t, with(map[string]string{
		"apps/web/app.yaml": appHeader + `  placement:
    tolerations:
    - key: flotilla.dev/unreachable
      operator: Exists
`,
	}))
	_, diags := Load(root)
	if errs := errorsOf(diags); len(errs) != 0 {
		t.Fatalf("want no errors, got %v", errs)
	}
	assertDiagnostics(t, warningsOf(diags), []expect{
		{"apps/web/app.yaml", 9, []string{"spec.placement.tolerations[0].key", "decided by spec.placement.failover", "does nothing"}},
	})
}
