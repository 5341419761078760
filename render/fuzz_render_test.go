package render

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flotilla-gitops/flotilla/placement"
)

// fuzzSeeds seed FuzzRender with small fleets: a base kustomization, its
// manifest, an overlay Component and a variable's value.
var fuzzSeeds = []struct{ base, resource, overlay, varValue string }{
	{"resources:\n- res.yaml\n", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  region: ${cluster.vars.region}\n",
		"apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n- patch: |\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: cm\n    data:\n      tier: gold\n", "eu"},
	{"resources:\n- res.yaml\nnamePrefix: p-\nlabels:\n- pairs:\n    app: web\n", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: ${cluster.vars.region}\n  template:\n    spec:\n      containers:\n      - name: c\n        image: nginx\n",
		"apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nimages:\n- name: nginx\n  newTag: \"1.27\"\n", "3"},
	{"configMapGenerator:\n- name: g\n  literals:\n  - a=${cluster.name}\n  files:\n  - res.yaml\n", "a: &x [1, 2]\nb: [*x, *x]\n",
		"apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nreplacements:\n- source:\n    kind: ConfigMap\n    name: g\n    fieldPath: metadata.name\n  targets:\n  - select:\n      kind: ConfigMap\n    fieldPaths:\n    - data.b\n    options:\n      create: true\n", "$${escaped}"},
	{"resources:\n- res.yaml\ncomponents:\n- ../overlay\n", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  k: \"${cluster.labels.env}\"\n",
		"apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ntransformers:\n- |\n  apiVersion: builtin\n  kind: PatchTransformer\n  metadata:\n    name: p\n  path: http://127.0.0.1:1/x\n", "x"},
}

// fuzzMaxInput caps each text FuzzRender builds a fleet from: larger
// inputs test nothing small ones do not (the limits are tested on their
// own), and a few KiB of patches and objects keep one render well under
// a second, so the fuzz run in make test never stalls a fuzz worker.
const fuzzMaxInput = 4 << 10

// FuzzRender renders a one-app fleet (a base with a manifest, an overlay
// Component, a cluster variable) built from arbitrary text. Whatever the
// input, render never panics, every error is an *Error within a bounded
// length, the output stays under its limit, and one render stays fast.
// It renders in-process (no worker processes) under small limits.
//
// make test runs it for 20s with -fuzzminimizetime 10x: the default
// minimizes every new interesting input for up to 60s inside a fuzz
// worker, during which the run reports no progress (and kustomize finds
// new coverage on almost every input).
func FuzzRender(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s.base, s.resource, s.overlay, s.varValue)
	}
	r := New(Options{MaxFileReads: 50, MaxOutputSize: 1 << 20, MaxTotalRead: 1 << 20,
		MaxNestingDepth: 4, MaxObjects: 200, MaxCacheBytes: 8 << 20})
	f.Fuzz(func(t *testing.T, base, resource, overlay, varValue string) {
		if max(len(base), len(resource), len(overlay), len(varValue)) > fuzzMaxInput {
			t.Skip("input larger than fuzzMaxInput")
		}
		root := t.TempDir()
		for p, content := range map[string]string{
			"apps/a/base/kustomization.yaml":    base,
			"apps/a/base/res.yaml":              resource,
			"apps/a/overlay/kustomization.yaml": overlay,
		} {
			full := filepath.Join(root, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		tg := placement.Target{App: "a", Cluster: "c1", Namespace: "ns", Base: "apps/a/base",
			Overlays: overlays("apps/a/overlay"),
			Vars:     clusterVars("c1", map[string]string{"env": varValue}, map[string]string{"region": varValue}),
			Replicas: []placement.Replicas{{Kind: "Deployment", Name: "web", Count: 2}}}
		start := time.Now()
		m, err := r.Render(t.Context(), root, tg)
		// Generous for a loaded machine and a coverage-instrumented
		// binary; a runaway build takes minutes.
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("one render took %v", d)
		}
		if err != nil {
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("error %T is not a *render.Error: %v", err, err)
			}
			if n := len(err.Error()); n > maxErrorText+4096+2*len(base+resource+overlay+varValue) {
				t.Fatalf("the error is %d bytes long", n)
			}
			return
		}
		if int64(len(m.YAML)) > r.Options().MaxOutputSize {
			t.Fatalf("the output is %d bytes, over the %d-byte limit", len(m.YAML), r.Options().MaxOutputSize)
		}
	})
}
