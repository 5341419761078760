package bench

import (
	"fmt"
	"strings"
	"testing"
)

// The rollout benchmark's fleet is the generated fleet with every logical
// cluster in one of four stages (label stage=a..d, contiguous blocks of
// N/4 clusters, so that each stage spreads over the four member API
// servers), one overlay per stage that annotates its clusters' objects
// with a per-stage release (so that a commit can change one stage's
// clusters only), and optionally the app's rollout over the four stages.

// rolloutStages are the stage labels, in rollout order.
var rolloutStages = []string{"a", "b", "c", "d"}

// stageOf is the stage of logical cluster i of n.
func stageOf(i, n int) string { return rolloutStages[i*len(rolloutStages)/n] }

// stageReleaseAnnotation is set on every object by its cluster's stage overlay.
const stageReleaseAnnotation = "bench.flotilla.dev/stage-release"

// rolloutFleet is one state of the rollout benchmark's fleet.
type rolloutFleet struct {
	clusters, members int
	// release is the base's release: changing it changes every cluster.
	release string
	// stageReleases are the overlays' releases, by stage: changing one
	// changes that stage's clusters only.
	stageReleases map[string]string
	// rollout declares the app's rollout over the stages.
	rollout bool
}

func newRolloutFleet(clusters, members int) *rolloutFleet {
	f := &rolloutFleet{clusters: clusters, members: members, release: "r1", stageReleases: map[string]string{}}
	for _, s := range rolloutStages {
		f.stageReleases[s] = "s0"
	}
	return f
}

// files are the fleet's files, by slash-separated path.
func (f *rolloutFleet) files() map[string][]byte {
	files := fleetFiles(f.clusters, f.members, f.release)
	for i := range f.clusters {
		files["clusters/"+clusterName(i)+".yaml"] = fmt.Appendf(nil, `apiVersion: flotilla.dev/v1alpha1
kind: Cluster
metadata:
  name: %s
  labels:
    role: site
    stage: %s
spec:
  vars:
    apiserver: "%d"
`, clusterName(i), stageOf(i, f.clusters), i%f.members)
	}
	var app strings.Builder
	app.WriteString(appFile)
	app.WriteString("  overlays:\n")
	for _, s := range rolloutStages {
		fmt.Fprintf(&app, "    - name: stage-%s\n      clusterSelector: {matchLabels: {stage: %s}}\n", s, s)
		files["apps/"+benchApp+"/overlays/stage-"+s+"/kustomization.yaml"] = fmt.Appendf(nil, `apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
commonAnnotations:
  %s: %q
`, stageReleaseAnnotation, f.stageReleases[s])
	}
	if f.rollout {
		// Every site of a stage at once: the stage then syncs as it would
		// without a rollout (where every changed site starts at once), and
		// the rollout's cost is only in going stage by stage.
		app.WriteString("  rollout:\n    maxUnavailable: 100%\n    stages:\n")
		for _, s := range rolloutStages {
			fmt.Fprintf(&app, "      - name: %s\n        clusterSelector: {matchLabels: {stage: %s}}\n", s, s)
		}
	}
	files["apps/"+benchApp+"/app.yaml"] = []byte(app.String())
	return files
}

// write writes the fleet into dir.
func (f *rolloutFleet) write(dir string) error { return writeFiles(dir, f.files()) }

// stageClusters are the names of the logical clusters of stage s.
func (f *rolloutFleet) stageClusters(s string) []string {
	var out []string
	for i := range f.clusters {
		if stageOf(i, f.clusters) == s {
			out = append(out, clusterName(i))
		}
	}
	return out
}

// TestRolloutFleet checks, without any cluster, the premises of
// BenchmarkRollout: the stages are equal and spread over the member API
// servers, a stage's overlay commit changes that stage's clusters only,
// declaring the rollout changes no render, and the release commit changes
// every cluster.
func TestRolloutFleet(t *testing.T) {
	const clusters, members = 16, 4
	f := newRolloutFleet(clusters, members)
	render := func() *rendered {
		t.Helper()
		dir := t.TempDir()
		if err := f.write(dir); err != nil {
			t.Fatal(err)
		}
		r, err := renderFleet(t.Context(), dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.objects) != clusters {
			t.Fatalf("rendered %d clusters, want %d", len(r.objects), clusters)
		}
		return r
	}
	changed := func(before, after *rendered) map[string]bool {
		out := map[string]bool{}
		for name, d := range before.digests {
			if after.digests[name] != d {
				out[name] = true
			}
		}
		return out
	}
	prev := render()
	for _, s := range rolloutStages {
		names := f.stageClusters(s)
		if len(names) != clusters/len(rolloutStages) {
			t.Fatalf("stage %s has %d clusters, want %d", s, len(names), clusters/len(rolloutStages))
		}
		servers := map[int]bool{}
		for i := range clusters {
			if stageOf(i, clusters) == s {
				servers[i%members] = true
			}
		}
		if len(servers) != members {
			t.Errorf("stage %s uses %d of %d member API servers", s, len(servers), members)
		}
		f.stageReleases[s] = "s1"
		next := render()
		got := changed(prev, next)
		if len(got) != len(names) {
			t.Errorf("stage %s commit changes %d clusters, want %d", s, len(got), len(names))
		}
		for _, n := range names {
			if !got[n] {
				t.Errorf("stage %s commit leaves %s unchanged", s, n)
			}
			for _, o := range next.objects[n] {
				if o.GetAnnotations()[stageReleaseAnnotation] != "s1" {
					t.Errorf("%s: %s/%s lacks the stage release", n, o.GetKind(), o.GetName())
				}
			}
		}
		prev = next
	}
	f.rollout = true
	next := render()
	if got := changed(prev, next); len(got) != 0 {
		t.Errorf("declaring the rollout changes %d renders, want none", len(got))
	}
	f.release = "r2"
	if got := changed(next, render()); len(got) != clusters {
		t.Errorf("the release commit changes %d clusters, want %d", len(got), clusters)
	}
}
