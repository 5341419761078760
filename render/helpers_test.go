package render

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/flotilla-gitops/flotilla/placement"
)

// copyTree copies a testdata folder into a new temporary folder and
// returns the copy's path.
func copyTree(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
	return dst
}

// writeFiles writes files (path relative to root -> content) under root.
func writeFiles(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// kustomizeBuild builds dir as `kustomize build dir` does: krusty's
// default options on the real disk, with the CLI's default output order
// (its --reorder flag defaults to "legacy" unless the kustomization has
// sortOptions, which krusty calls ReorderOptionUnspecified).
func kustomizeBuild(t testing.TB, dir string) []byte {
	t.Helper()
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionUnspecified
	m, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mustRender renders t and fails the test on error.
func mustRender(t testing.TB, r *Renderer, root string, tg placement.Target) *Manifest {
	t.Helper()
	m, err := r.Render(context.Background(), root, tg)
	if err != nil {
		t.Fatalf("Render(%s/%s): %v", tg.App, tg.Cluster, err)
	}
	return m
}

// renderErr renders t, expects an *Error of the given kind and returns its
// message.
func renderErr(t testing.TB, r *Renderer, root string, tg placement.Target, kind error) (*Error, string) {
	t.Helper()
	m, err := r.Render(context.Background(), root, tg)
	if err == nil {
		t.Fatalf("Render(%s/%s) succeeded, want %v; YAML:\n%s", tg.App, tg.Cluster, kind, m.YAML)
	}
	var re *Error
	if !errors.As(err, &re) {
		t.Fatalf("error %T is not a *render.Error: %v", err, err)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("error is not %v: %v", kind, err)
	}
	t.Log(err)
	return re, err.Error()
}

// wantContains fails unless s contains every part.
func wantContains(t testing.TB, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("message does not contain %q:\n%s", p, s)
		}
	}
}

// overlays builds Overlay values from paths.
func overlays(paths ...string) []placement.Overlay {
	out := make([]placement.Overlay, len(paths))
	for i, p := range paths {
		out[i] = placement.Overlay{Name: filepath.Base(p), Path: p}
	}
	return out
}

// clusterVars are the variables of a test cluster.
func clusterVars(name string, labels, vars map[string]string) map[string]string {
	out := map[string]string{"cluster.name": name}
	for k, v := range labels {
		out["cluster.labels."+k] = v
	}
	for k, v := range vars {
		out["cluster.vars."+k] = v
	}
	return out
}
