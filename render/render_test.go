package render

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/flotilla-gitops/flotilla/placement"
)

func webVars(cluster string) map[string]string {
	return clusterVars(cluster,
		map[string]string{"region": "eu-west"},
		map[string]string{"registry": "harbor." + cluster + ".local"})
}

// A plain kustomize folder renders byte for byte as `kustomize build`.
func TestRenderMatchesKustomizeBuild(t *testing.T) {
	root, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	r := New(Options{})

	t.Run("plain folder", func(t *testing.T) {
		want := kustomizeBuild(t, filepath.Join(root, "plain"))
		m := mustRender(t, r, root, placement.Target{App: "shop", Cluster: "c1", Base: "plain"})
		if string(m.YAML) != string(want) {
			t.Fatalf("render differs from kustomize build\n--- render\n%s\n--- kustomize build\n%s", m.YAML, want)
		}
		if len(m.Objects) != 4 {
			t.Fatalf("got %d objects, want 4", len(m.Objects))
		}
		// Legacy order: Namespace first.
		if m.Objects[0].GetKind() != "Namespace" {
			t.Errorf("first object is %s, want the Namespace (kustomize's default order)", m.Objects[0].GetKind())
		}
		if m.Digest != Digest(want) {
			t.Errorf("digest %s, want sha256 of the YAML %s", m.Digest, Digest(want))
		}
	})

	t.Run("base, namespace and components", func(t *testing.T) {
		// testdata/fleet/wrapped/web-f1 is on disk the Kustomization that
		// render builds in memory for this target.
		want, err := Substitute(kustomizeBuild(t, filepath.Join(root, "fleet/wrapped/web-f1")), webVars("f1"))
		if err != nil {
			t.Fatal(err)
		}
		m := mustRender(t, r, filepath.Join(root, "fleet"), placement.Target{
			App: "web", Cluster: "f1", Namespace: "web-prod", Base: "apps/web/base",
			Overlays: overlays("apps/web/overlays/region-eu", "apps/web/overlays/gpu", "apps/web/overlays/f1"),
			Vars:     webVars("f1"),
		})
		if string(m.YAML) != string(want) {
			t.Fatalf("render differs from kustomize build + substitution\n--- render\n%s\n--- want\n%s", m.YAML, want)
		}
	})
}

// The in-memory kustomization is never written to the repository.
func TestRenderWritesNothing(t *testing.T) {
	root := copyTree(t, "testdata/fleet")
	before := listTree(t, root)
	r := New(Options{})
	mustRender(t, r, root, placement.Target{App: "web", Cluster: "f1", Namespace: "web", Base: "apps/web/base",
		Overlays: overlays("apps/web/overlays/gpu"), Vars: webVars("f1")})
	if after := listTree(t, root); after != before {
		t.Fatalf("render changed the repository:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func listTree(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		b.WriteString(rel + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// Components apply in the order given: a later one wins over an earlier
// one on the same field, and the per-cluster overlay (last) wins over all.
func TestComponentsOrder(t *testing.T) {
	root, _ := filepath.Abs("testdata/fleet")
	r := New(Options{})
	settings := func(m *Manifest) map[string]string {
		for _, o := range m.Objects {
			if o.GetKind() == "ConfigMap" {
				data, _, _ := unstructured.NestedStringMap(o.Object, "data")
				return data
			}
		}
		t.Fatal("no ConfigMap rendered")
		return nil
	}
	cases := []struct {
		name      string
		overlays  []string
		tier, col string
	}{
		{"base only", nil, "base", "blue"},
		{"region then gpu: gpu wins on tier", []string{"region-eu", "gpu"}, "gpu", "green"},
		{"gpu then region: region wins on tier", []string{"gpu", "region-eu"}, "region-eu", "green"},
		{"per-cluster overlay last wins on color", []string{"region-eu", "gpu", "f1"}, "gpu", "red"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var paths []string
			for _, o := range tc.overlays {
				paths = append(paths, "apps/web/overlays/"+o)
			}
			m := mustRender(t, r, root, placement.Target{App: "web", Cluster: "f1", Namespace: "web",
				Base: "apps/web/base", Overlays: overlays(paths...), Vars: webVars("f1")})
			got := settings(m)
			if got["tier"] != tc.tier || got["color"] != tc.col {
				t.Fatalf("tier=%q color=%q, want tier=%q color=%q", got["tier"], got["color"], tc.tier, tc.col)
			}
		})
	}
}

// Variables are substituted in the text and the object parsed again, so an
// unquoted number becomes an integer; $${ stays a literal ${.
func TestRenderSubstitutesVariables(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"apps/adc/base/kustomization.yaml": "resources:\n- deploy.yaml\n- cm.yaml\n",
		"apps/adc/base/deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: adc-${cluster.name}
spec:
  replicas: ${cluster.vars.lines}
  template:
    spec:
      containers:
      - name: adc
        image: ${cluster.vars.registry}/adc:${cluster.vars.model}
        env:
        - name: PORT
          value: "${cluster.vars.port}"
        - name: SHELL_STYLE
          value: $${HOME}
`,
		"apps/adc/base/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: static
data:
  plain: "no variables here, $ alone is fine"
`,
	})
	vars := clusterVars("f1", map[string]string{"topology.kubernetes.io/region": "eu"},
		map[string]string{"lines": "3", "registry": "harbor.f1.local", "model": "v7", "port": "8080"})
	r := New(Options{})
	m := mustRender(t, r, root, placement.Target{App: "adc", Cluster: "f1", Namespace: "adc", Base: "apps/adc/base", Vars: vars})

	var dep *unstructured.Unstructured
	for _, o := range m.Objects {
		if o.GetKind() == "Deployment" {
			dep = o
		}
	}
	if dep == nil {
		t.Fatal("no Deployment")
	}
	if dep.GetName() != "adc-f1" {
		t.Errorf("name %q, want adc-f1", dep.GetName())
	}
	replicas, found, err := unstructured.NestedFieldNoCopy(dep.Object, "spec", "replicas")
	if err != nil || !found {
		t.Fatalf("spec.replicas missing: %v", err)
	}
	if replicas != int64(3) {
		t.Errorf("spec.replicas = %#v (%T), want int64 3", replicas, replicas)
	}
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	c := containers[0].(map[string]any)
	if c["image"] != "harbor.f1.local/adc:v7" {
		t.Errorf("image %v", c["image"])
	}
	env := c["env"].([]any)
	if v := env[0].(map[string]any)["value"]; v != "8080" {
		t.Errorf("quoted PORT = %#v, want the string \"8080\"", v)
	}
	if v := env[1].(map[string]any)["value"]; v != "${HOME}" {
		t.Errorf("escaped value = %#v, want the literal ${HOME}", v)
	}
	wantContains(t, string(m.YAML), "replicas: 3\n", "name: adc-f1\n", "value: ${HOME}\n", `no variables here, $ alone is fine`)
	if m.Digest != Digest(m.YAML) {
		t.Error("digest does not match YAML")
	}
	wantVars := "cluster.name cluster.vars.lines cluster.vars.registry cluster.vars.model cluster.vars.port"
	if got := strings.Join(m.Variables, " "); got != wantVars {
		t.Errorf("Variables = %q, want %q", got, wantVars)
	}

	// Another cluster gets its own values from the same cached build.
	vars2 := clusterVars("f2", nil, map[string]string{"lines": "5", "registry": "harbor.f2.local", "model": "v8", "port": "9090"})
	m2 := mustRender(t, r, root, placement.Target{App: "adc", Cluster: "f2", Namespace: "adc", Base: "apps/adc/base", Vars: vars2})
	wantContains(t, string(m2.YAML), "replicas: 5\n", "harbor.f2.local/adc:v8")
	if got := r.Stats().Builds; got != 1 {
		t.Errorf("Builds = %d, want 1 (vars are applied after the cached build)", got)
	}
	// Manifests own their objects.
	m2.Objects[0].SetLabels(map[string]string{"changed": "yes"})
	m3 := mustRender(t, r, root, placement.Target{App: "adc", Cluster: "f2", Namespace: "adc", Base: "apps/adc/base", Vars: vars2})
	if m3.Objects[0].GetLabels()["changed"] != "" {
		t.Error("changing a manifest's object changed the cache")
	}
}

func TestUndefinedVariable(t *testing.T) {
	root, _ := filepath.Abs("testdata/fleet")
	r := New(Options{})
	vars := clusterVars("f9", map[string]string{"region": "eu"}, nil) // no vars.registry
	re, msg := renderErr(t, r, root, placement.Target{App: "web", Cluster: "f9", Namespace: "web",
		Base: "apps/web/base", Vars: vars}, ErrUndefinedVariable)
	wantContains(t, msg, `render app "web" for cluster "f9"`, "Deployment/web/web", "${cluster.vars.registry}",
		"is not defined", `add "registry" under the Cluster's spec.vars`)
	if re.Object != "Deployment/web/web" {
		t.Errorf("Object = %q", re.Object)
	}

	vars = clusterVars("f9", nil, map[string]string{"registry": "r"}) // no label region
	_, msg = renderErr(t, r, root, placement.Target{App: "web", Cluster: "f9", Namespace: "web",
		Base: "apps/web/base", Vars: vars}, ErrUndefinedVariable)
	wantContains(t, msg, "${cluster.labels.region}", `add the label "region" to the Cluster's metadata.labels`)
}

func TestUnknownVariableIsAnError(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"app/kustomization.yaml": "resources:\n- cm.yaml\n",
		"app/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  home: ${HOME}\n",
	})
	_, msg := renderErr(t, New(Options{}), root, placement.Target{App: "a", Cluster: "c", Base: "app",
		Vars: clusterVars("c", nil, nil)}, ErrInvalidVariable)
	wantContains(t, msg, "ConfigMap/x", "unknown variable ${HOME}", "$${HOME}")
}

func TestReplicas(t *testing.T) {
	root, _ := filepath.Abs("testdata/fleet")
	r := New(Options{})
	tg := placement.Target{App: "web", Cluster: "f1", Namespace: "web", Base: "apps/web/base", Vars: webVars("f1"),
		Replicas: []placement.Replicas{{Kind: "Deployment", Name: "web", Count: 7}}}
	m := mustRender(t, r, root, tg)
	for _, o := range m.Objects {
		if o.GetKind() == "Deployment" {
			n, _, _ := unstructured.NestedInt64(o.Object, "spec", "replicas")
			if n != 7 {
				t.Errorf("spec.replicas = %d, want 7", n)
			}
		}
	}
	wantContains(t, string(m.YAML), "replicas: 7\n")

	tg.Replicas = []placement.Replicas{{Kind: "Deployment", Name: "webb", Count: 2}}
	_, msg := renderErr(t, r, root, tg, ErrWorkloadNotFound)
	wantContains(t, msg, `render app "web" for cluster "f1"`, `Deployment "webb"`, "renders no Deployment")
}

func TestInvalidTarget(t *testing.T) {
	root, _ := filepath.Abs("testdata/fleet")
	r := New(Options{})
	for _, tc := range []struct {
		name string
		tg   placement.Target
		want string
	}{
		{"empty base", placement.Target{App: "a", Cluster: "c"}, "empty path"},
		{"absolute base", placement.Target{App: "a", Cluster: "c", Base: "/etc"}, "absolute path"},
		{"escaping base", placement.Target{App: "a", Cluster: "c", Base: "apps/../../x"}, "leaves the repository root"},
		{"root as base", placement.Target{App: "a", Cluster: "c", Base: "./"}, "repository root itself"},
		{"escaping overlay", placement.Target{App: "a", Cluster: "c", Base: "apps/web/base",
			Overlays: overlays("../outside")}, `overlays[0]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, msg := renderErr(t, r, root, tc.tg, ErrInvalidTarget)
			wantContains(t, msg, tc.want)
		})
	}
}

func TestRenderCancelled(t *testing.T) {
	root, _ := filepath.Abs("testdata/fleet")
	r := New(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.Render(ctx, root, placement.Target{App: "web", Cluster: "f1", Base: "apps/web/base", Vars: webVars("f1")})
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("err = %v, want context canceled", err)
	}
	if r.Stats().CachedBuilds != 0 {
		t.Error("a cancelled build was cached")
	}
	mustRender(t, r, root, placement.Target{App: "web", Cluster: "f1", Base: "apps/web/base", Vars: webVars("f1")})
}

// kustomize's schema is parsed once per process: builds (with strategic
// merge patches, which use it) never parse it again.
func TestSchemaInitialisedOnce(t *testing.T) {
	deployment := kyaml.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}
	New(Options{})
	before := openapi.SchemaForResourceType(deployment)
	if before == nil {
		t.Fatal("no schema for Deployment after New")
	}
	root := t.TempDir()
	g := generateFleet(t, root, fleetSpec{clusters: 5, apps: 2})
	for range 3 {
		for _, res := range New(Options{}).RenderAll(t.Context(), root, g.targets) {
			if res.Err != nil {
				t.Fatal(res.Err)
			}
		}
	}
	after := openapi.SchemaForResourceType(deployment)
	if after == nil || after.Schema != before.Schema {
		t.Fatal("kustomize's schema was parsed again during builds")
	}
	t.Logf("schema initialisation took %v, once", SchemaInitDuration())
}
