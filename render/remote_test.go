package render

import (
	"errors"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/flotilla-gitops/flotilla/placement"
)

// With AllowRemoteBases, a git base is cloned (here from a local
// repository over file://, so the test needs no network) and built, and
// such a build is never cached: the remote may change without the
// repository changing.
func TestAllowRemoteBases(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	remote := t.TempDir()
	writeFiles(t, remote, map[string]string{
		"deploy/kustomization.yaml": "resources:\n- cm.yaml\n",
		"deploy/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: remote\ndata:\n  from: ${cluster.name}\n",
	})
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", remote, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q", "-b", "main")
	git("add", ".")
	git("commit", "-q", "-m", "base")

	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"apps/a/base/kustomization.yaml": "resources:\n- file://" + filepath.ToSlash(remote) + "//deploy?ref=main\n",
	})
	tg := placement.Target{App: "a", Cluster: "c1", Namespace: "ns", Base: "apps/a/base", Vars: clusterVars("c1", nil, nil)}

	_, err := New(Options{}).Render(t.Context(), root, tg)
	if !errors.Is(err, ErrRemoteBase) {
		t.Fatalf("without AllowRemoteBases: err = %v, want ErrRemoteBase", err)
	}

	r := New(Options{AllowRemoteBases: true})
	m := mustRender(t, r, root, tg)
	wantContains(t, string(m.YAML), "name: remote", "from: c1", "namespace: ns")
	mustRender(t, r, root, tg)
	if st := r.Stats(); st.Builds != 2 || st.CachedBuilds != 0 {
		t.Errorf("Builds = %d, CachedBuilds = %d: a build with a remote base must run every time and never be cached", st.Builds, st.CachedBuilds)
	}
}
