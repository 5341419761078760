package render

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flotilla-gitops/flotilla/placement"
)

// renderFleet renders every target, fails on any error and returns the
// digests by app/cluster.
func renderFleet(t *testing.T, r *Renderer, root string, targets []placement.Target) map[string]string {
	t.Helper()
	out := map[string]string{}
	for i, res := range r.RenderAll(context.Background(), root, targets) {
		if res.Target.App != targets[i].App || res.Target.Cluster != targets[i].Cluster {
			t.Fatalf("result %d is for %s/%s, want %s/%s", i, res.Target.App, res.Target.Cluster, targets[i].App, targets[i].Cluster)
		}
		if res.Err != nil {
			t.Fatalf("%s/%s: %v", res.Target.App, res.Target.Cluster, res.Err)
		}
		out[res.Target.App+"/"+res.Target.Cluster] = res.Manifest.Digest
	}
	return out
}

// changedTargets lists the app/cluster whose digest differs.
func changedTargets(before, after map[string]string) []string {
	var out []string
	for k, d := range after {
		if before[k] != d {
			out = append(out, k)
		}
	}
	return out
}

// A commit that changes one factory's overlay re-renders that factory's
// targets only: the build count grows by exactly the builds that read the
// changed file.
func TestCacheRebuildsOnlyWhatChanged(t *testing.T) {
	root := t.TempDir()
	g := generateFleet(t, root, fleetSpec{clusters: 40, apps: 3, clusterOverlays: 3})
	r := New(Options{Parallelism: 4})

	keys := distinctKeys(t, g.targets, nil)
	if keys != 3*5+3*3 {
		t.Fatalf("generator made %d distinct builds, want 24", keys)
	}
	digests := renderFleet(t, r, root, g.targets)
	st := r.Stats()
	if st.Builds != uint64(keys) {
		t.Fatalf("first render: Builds = %d, want %d (one per distinct base+overlays+namespace)", st.Builds, keys)
	}
	if st.CacheHits != uint64(len(g.targets)-keys) {
		t.Errorf("first render: CacheHits = %d, want %d", st.CacheHits, len(g.targets)-keys)
	}

	step := func(name string, change func(), affected func(placement.Target) bool) {
		t.Helper()
		change()
		before := r.Stats()
		after := renderFleet(t, r, root, g.targets)
		d := r.Stats().Sub(before)
		want := 0
		if affected != nil {
			want = distinctKeys(t, g.targets, affected)
		}
		if d.Builds != uint64(want) {
			t.Errorf("%s: Builds grew by %d, want %d", name, d.Builds, want)
		}
		if d.Renders != uint64(len(g.targets)) || d.Errors != 0 {
			t.Errorf("%s: Renders %d Errors %d", name, d.Renders, d.Errors)
		}
		changed := changedTargets(digests, after)
		if affected != nil && len(changed) == 0 {
			t.Errorf("%s: no target renders differently after the change", name)
		}
		for _, k := range changed {
			app, cluster, _ := strings.Cut(k, "/")
			if affected == nil || !affected(placement.Target{App: app, Cluster: cluster, Base: "apps/" + app + "/base", Overlays: overlaysOf(g.targets, app, cluster)}) {
				t.Errorf("%s: %s changed but reads none of the changed files", name, k)
			}
		}
		digests = after
	}

	step("no change", func() {}, nil)

	overlay := "apps/app-01/overlays/factory-0002"
	step("one factory's overlay", func() {
		writeFiles(t, root, map[string]string{overlay + "/kustomization.yaml": clusterOverlay("app-01", "relocated")})
	}, usesPath(overlay))

	step("a shared overlay's patch file", func() {
		writeFiles(t, root, map[string]string{"apps/app-00/overlays/gpu/gpu-patch.yaml": strings.Replace(
			readFile(t, filepath.Join(root, "apps/app-00/overlays/gpu/gpu-patch.yaml")), "nvidia.com/gpu: 1", "nvidia.com/gpu: 2", 1)})
	}, usesPath("apps/app-00/overlays/gpu"))

	step("an app's base", func() {
		p := filepath.Join(root, "apps/app-02/base/service.yaml")
		writeFiles(t, root, map[string]string{"apps/app-02/base/service.yaml": strings.Replace(readFile(t, p), "port: 80", "port: 8080", 1)})
	}, usesPath("apps/app-02/base"))

	step("same bytes rewritten", func() {
		p := filepath.Join(root, "apps/app-00/base/deployment.yaml")
		writeFiles(t, root, map[string]string{"apps/app-00/base/deployment.yaml": readFile(t, p)})
	}, nil)
}

func overlaysOf(targets []placement.Target, app, cluster string) []placement.Overlay {
	for _, t := range targets {
		if t.App == app && t.Cluster == cluster {
			return t.Overlays
		}
	}
	return nil
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A file that appears where a build only looked (a second kustomization
// file) invalidates the build: the cache records every question asked,
// not only the files read.
func TestCacheSeesNewFiles(t *testing.T) {
	root, _ := filepath.Abs("testdata/fleet")
	root = copyTree(t, root)
	r := New(Options{})
	tg := placement.Target{App: "web", Cluster: "f1", Namespace: "web", Base: "apps/web/base", Vars: webVars("f1")}
	first := mustRender(t, r, root, tg)

	extra := filepath.Join(root, "apps/web/base/kustomization.yml")
	writeFiles(t, root, map[string]string{"apps/web/base/kustomization.yml": "resources: []\n"})
	_, err := r.Render(context.Background(), root, tg)
	if err == nil || !errors.Is(err, ErrBuild) || !strings.Contains(err.Error(), "multiple kustomization files") {
		t.Fatalf("err = %v, want kustomize's multiple kustomization files error", err)
	}
	if strings.Contains(err.Error(), root) {
		t.Errorf("the message names the absolute root: %v", err)
	}
	if err := os.Remove(extra); err != nil {
		t.Fatal(err)
	}
	again := mustRender(t, r, root, tg)
	if again.Digest != first.Digest {
		t.Error("digest changed after the extra file was removed")
	}
	if got := r.Stats().Builds; got != 3 {
		t.Errorf("Builds = %d, want 3 (build, rebuild on the new file, rebuild once it is gone)", got)
	}
}

// Builds are validated by content, not by path: a second checkout of the
// same content reuses them, and a change in one checkout does not leak
// into the other.
func TestCacheAcrossCheckouts(t *testing.T) {
	rootA := t.TempDir()
	g := generateFleet(t, rootA, fleetSpec{clusters: 10, apps: 2, clusterOverlays: 2})
	rootB := copyTree(t, rootA)
	r := New(Options{})
	digestsA := renderFleet(t, r, rootA, g.targets)
	keys := distinctKeys(t, g.targets, nil)

	before := r.Stats()
	digestsB := renderFleet(t, r, rootB, g.targets)
	if d := r.Stats().Sub(before); d.Builds != 0 {
		t.Errorf("same content in another checkout: Builds grew by %d, want 0", d.Builds)
	}
	if len(changedTargets(digestsA, digestsB)) != 0 {
		t.Error("the same content rendered differently in another checkout")
	}

	overlay := "apps/app-00/overlays/factory-0001"
	writeFiles(t, rootB, map[string]string{overlay + "/kustomization.yaml": clusterOverlay("app-00", "moved")})
	before = r.Stats()
	digestsB = renderFleet(t, r, rootB, g.targets)
	if d := r.Stats().Sub(before); d.Builds != 1 {
		t.Errorf("checkout B changed one overlay: Builds grew by %d, want 1", d.Builds)
	}
	if got := changedTargets(digestsA, digestsB); len(got) != 1 || got[0] != "app-00/factory-0001" {
		t.Errorf("changed targets %v, want [app-00/factory-0001]", got)
	}

	// Checkout A still has the old overlay: its output must not come from B.
	before = r.Stats()
	again := renderFleet(t, r, rootA, g.targets)
	if got := changedTargets(digestsA, again); len(got) != 0 {
		t.Errorf("checkout A rendered %v differently after B changed", got)
	}
	if d := r.Stats().Sub(before); d.Builds != 1 {
		t.Errorf("back to checkout A: Builds grew by %d, want 1", d.Builds)
	}
	if r.Stats().CachedBuilds != keys {
		t.Errorf("CachedBuilds = %d, want %d", r.Stats().CachedBuilds, keys)
	}
}

// RenderAll in parallel gives what Render gives one by one, and a cache too
// small for the fleet evicts without changing results.
func TestRenderAllMatchesRender(t *testing.T) {
	root := t.TempDir()
	g := generateFleet(t, root, fleetSpec{clusters: 12, apps: 3, clusterOverlays: 2})
	parallel := New(Options{Parallelism: 8})
	results := parallel.RenderAll(context.Background(), root, g.targets)

	small := New(Options{MaxCacheBytes: 20000})
	for i, tg := range g.targets {
		if results[i].Err != nil {
			t.Fatal(results[i].Err)
		}
		m := mustRender(t, small, root, tg)
		if string(m.YAML) != string(results[i].Manifest.YAML) {
			t.Fatalf("%s/%s: RenderAll and Render differ", tg.App, tg.Cluster)
		}
		if len(m.Objects) != len(results[i].Manifest.Objects) {
			t.Fatalf("%s/%s: object counts differ", tg.App, tg.Cluster)
		}
	}
	if small.Stats().Evictions == 0 {
		t.Error("a 20 kB cache evicted nothing")
	}
	if n, b := small.cache.size(); b > 20000 && n > 1 {
		t.Errorf("cache holds %d bytes in %d builds, over its 20000-byte budget", b, n)
	}
	if got, want := parallel.Stats().Builds, uint64(distinctKeys(t, g.targets, nil)); got != want {
		t.Errorf("parallel Builds = %d, want %d (concurrent renders of one build share it)", got, want)
	}
}

// One failing build fails its targets only, with the same error for each.
func TestRenderAllIsolatesFailures(t *testing.T) {
	root := t.TempDir()
	g := generateFleet(t, root, fleetSpec{clusters: 10, apps: 2})
	writeFiles(t, root, map[string]string{"apps/app-01/overlays/gpu/kustomization.yaml": component("- path: missing.yaml\n")})
	r := New(Options{})
	failed := 0
	for _, res := range r.RenderAll(context.Background(), root, g.targets) {
		broken := usesPath("apps/app-01/overlays/gpu")(res.Target)
		if broken != (res.Err != nil) {
			t.Errorf("%s/%s: err = %v, want failure only with app-01's gpu overlay", res.Target.App, res.Target.Cluster, res.Err)
		}
		if res.Err != nil {
			failed++
			wantContains(t, res.Err.Error(), `render app "app-01" for cluster "`+res.Target.Cluster+`"`, "missing.yaml")
		}
	}
	if failed == 0 {
		t.Fatal("nothing failed")
	}
	if got, want := r.Stats().Builds, uint64(distinctKeys(t, g.targets, nil)); got != want {
		t.Errorf("Builds = %d, want %d: a failed build is shared like a good one", got, want)
	}
}
