package fleet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// baseFiles is a small valid fleet: two clusters and one app with a base.
func baseFiles() map[string]string {
	return map[string]string{
		"clusters/eu-1.yaml": `apiVersion: flotilla.dev/v1alpha1
kind: Cluster
metadata:
  name: eu-1
  labels:
    region: eu
spec:
  vars:
    lines: "4"
`,
		"clusters/us-1.yaml": `apiVersion: flotilla.dev/v1alpha1
kind: Cluster
metadata:
  name: us-1
  labels:
    region: us
`,
		"apps/web/app.yaml": `apiVersion: flotilla.dev/v1alpha1
kind: App
metadata:
  name: web
spec:
  namespace: web
`,
		"apps/web/base/kustomization.yaml": "resources: []\n",
	}
}

// writeFleet writes files (path relative to the root -> content) into a new
// temporary folder. A path ending in "/" creates an empty folder; an empty
// content for a path removes it from the set.
func writeFleet(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for rel, content := range files {
		full := filepath.Join(root, filepath.FromSlash(rel))
		if strings.HasSuffix(rel, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// with returns the base files with some replaced, added or (empty content)
// removed.
func with(changes map[string]string) map[string]string {
	files := baseFiles()
	for k, v := range changes {
		if v == "" && !strings.HasSuffix(k, "/") {
			delete(files, k)
			continue
		}
		files[k] = v
	}
	return files
}

// errorsOf returns the error diagnostics.
func errorsOf(diags []Diagnostic) []Diagnostic {
	var out []Diagnostic
	for _, d := range diags {
		if d.Severity != SeverityWarning {
			out = append(out, d)
		}
	}
	return out
}

// warningsOf returns the warning diagnostics.
func warningsOf(diags []Diagnostic) []Diagnostic {
	var out []Diagnostic
	for _, d := range diags {
		if d.Severity == SeverityWarning {
			out = append(out, d)
		}
	}
	return out
}

// expect is one diagnostic a test expects.
type expect struct {
	file string
	line int // 0: any line
	has  []string
}

// matches reports whether d is the expected diagnostic.
func (e expect) matches(d Diagnostic) bool {
	if d.File != e.file || (e.line != 0 && d.Line != e.line) {
		return false
	}
	for _, s := range e.has {
		if !strings.Contains(d.Message, s) {
			return false
		}
	}
	return true
}

// assertDiagnostics checks that got holds exactly one diagnostic for each
// expectation and nothing else.
func assertDiagnostics(t *testing.T, got []Diagnostic, want []expect) {
	t.Helper()
	used := make([]bool, len(got))
	for _, w := range want {
		found := false
		for i, d := range got {
			if !used[i] && w.matches(d) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("missing diagnostic %s:%d containing %q", w.file, w.line, w.has)
		}
	}
	for i, d := range got {
		if !used[i] {
			t.Errorf("unexpected diagnostic: %s", d)
		}
	}
	if t.Failed() {
		for _, d := range got {
			t.Logf("got: %s", d)
		}
	}
}
