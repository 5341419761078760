package render

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-gitops/flotilla/placement"
)

// A build in a worker process gives the same manifests as one in-process,
// variables, replicas and all, and is cached the same way.
func TestIsolatedRenderMatchesInProcess(t *testing.T) {
	root, err := filepath.Abs("testdata/fleet")
	if err != nil {
		t.Fatal(err)
	}
	tg := placement.Target{
		App: "web", Cluster: "f1", Namespace: "web-prod", Base: "apps/web/base",
		Overlays: overlays("apps/web/overlays/region-eu", "apps/web/overlays/gpu", "apps/web/overlays/f1"),
		Vars:     webVars("f1"),
		Replicas: []placement.Replicas{{Kind: "Deployment", Name: "web", Count: 7}},
	}
	want := mustRender(t, New(Options{}), root, tg)
	r := New(isolatedOptions())
	got := mustRender(t, r, root, tg)
	if string(got.YAML) != string(want.YAML) {
		t.Fatalf("isolated render differs\n--- isolated\n%s\n--- in-process\n%s", got.YAML, want.YAML)
	}
	if got.Digest != want.Digest {
		t.Errorf("digest %s, want %s", got.Digest, want.Digest)
	}
	mustRender(t, r, root, tg)
	if st := r.Stats(); st.Builds != 1 || st.CacheHits != 1 {
		t.Errorf("Builds = %d, CacheHits = %d, want 1 and 1: an isolated build is cached", st.Builds, st.CacheHits)
	}
	// Errors keep their kind and file across the process boundary.
	bad, _ := badRepo(t, map[string]string{"apps/a/base/kustomization.yaml": "resources:\n- ../../../../outside/secret.yaml\n"})
	re, _ := renderErr(t, r, bad, target("apps/a/base"), ErrOutsideRoot)
	if re.File != "apps/a/base/kustomization.yaml" {
		t.Errorf("File = %q", re.File)
	}
}

// 2,000 objects and 200 JSON patches that each apply to all of them: more
// than ten minutes of CPU in kustomize's loop, which never checks a
// context. In a worker, the build is killed at MaxBuildTime.
func TestPatchBombStoppedAtDeadline(t *testing.T) {
	var objs strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&objs, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm%d\ndata:\n  a: b\n", i)
	}
	var kust strings.Builder
	kust.WriteString("resources:\n- objects.yaml\npatches:\n")
	for i := range 200 {
		fmt.Fprintf(&kust, "- target:\n    kind: ConfigMap\n  patch: |\n    - op: add\n      path: /data/k%d\n      value: v\n", i)
	}
	root, _ := badRepo(t, map[string]string{
		"apps/a/base/kustomization.yaml": kust.String(),
		"apps/a/base/objects.yaml":       objs.String(),
	})
	opts := isolatedOptions()
	opts.MaxBuildTime = 3 * time.Second
	start := time.Now()
	_, msg := renderErr(t, New(opts), root, target("apps/a/base"), ErrLimitExceeded)
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the render returned after %v, want about MaxBuildTime (3s)", d)
	}
	wantContains(t, msg, "base apps/a/base", "took longer than 3s (Options.MaxBuildTime)")
}

// A build that needs more memory than MaxWorkerMemory kills its worker,
// not the caller, and says which limit it went over.
func TestWorkerMemoryLimit(t *testing.T) {
	big := strings.Repeat("x", 1000*1000) + "\n"
	var entries []string
	for i := range 30 {
		entries = append(entries, fmt.Sprintf("k%d=big.txt", i))
	}
	root, _ := badRepo(t, map[string]string{
		"apps/a/base/kustomization.yaml": "configMapGenerator:\n- name: big\n  files:\n  - " + strings.Join(entries, "\n  - ") + "\n",
		"apps/a/base/big.txt":            big,
	})
	if raceEnabled {
		// The race detector maps its shadow memory in the worker too,
		// which a 200 MiB RLIMIT_DATA refuses before any build runs.
		t.Skip("the worker's memory cap leaves no room for the race detector")
	}
	opts := isolatedOptions()
	opts.MaxWorkerMemory = 200 << 20
	_, msg := renderErr(t, New(opts), root, target("apps/a/base"), ErrLimitExceeded)
	wantContains(t, msg, "base apps/a/base", "Options.MaxWorkerMemory")
	// The renderer goes on working: a new worker serves the next build.
	good, _ := badRepo(t, map[string]string{"apps/a/base/kustomization.yaml": "resources:\n- cm.yaml\n", "apps/a/base/cm.yaml": cmYAML})
	m := mustRender(t, New(opts), good, target("apps/a/base"))
	wantContains(t, string(m.YAML), "name: cm")
}

// A worker that dies while idle (killed by the system, say) costs nothing:
// the next build runs on a new one.
func TestIdleWorkerDeathIsHarmless(t *testing.T) {
	r := New(isolatedOptions())
	root, _ := badRepo(t, map[string]string{"apps/a/base/kustomization.yaml": "resources:\n- cm.yaml\n", "apps/a/base/cm.yaml": cmYAML})
	mustRender(t, r, root, target("apps/a/base"))
	r.workers.mu.Lock()
	idle := append([]*worker(nil), r.workers.idle...)
	r.workers.mu.Unlock()
	if len(idle) != 1 {
		t.Fatalf("%d idle workers after one build, want 1", len(idle))
	}
	idle[0].kill()
	// A changed file forces a new build, which needs a worker.
	writeFiles(t, root, map[string]string{"apps/a/base/cm.yaml": strings.Replace(cmYAML, "a: b", "a: changed", 1)})
	m := mustRender(t, r, root, target("apps/a/base"))
	wantContains(t, string(m.YAML), "a: changed")
	if st := r.Stats(); st.Builds != 2 {
		t.Errorf("Builds = %d, want 2", st.Builds)
	}
}

// isolatedOptions are Options whose builds run in workers: this test
// binary, started with WorkerEnv set.
func isolatedOptions() Options {
	return Options{Isolate: true}
}
