package cli

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A pull request whose kustomization makes kustomize loop for minutes (2,000
// objects × 200 JSON patches) must not hang the CI job that previews it:
// validate kills the build at --render-max-build-time and says so.
func TestValidateKillsABuildPastItsDeadline(t *testing.T) {
	repo := copyTree(t, exampleFleet)
	var objs strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&objs, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm%d\ndata:\n  a: b\n", i)
	}
	var kust strings.Builder
	kust.WriteString("resources:\n- objects.yaml\npatches:\n")
	for i := range 200 {
		fmt.Fprintf(&kust, "- target:\n    kind: ConfigMap\n  patch: |\n    - op: add\n      path: /data/k%d\n      value: v\n", i)
	}
	writeFiles(t, repo, map[string]string{
		"apps/bomb/app.yaml":                oneAppOnCentral("bomb", ""),
		"apps/bomb/base/kustomization.yaml": kust.String(),
		"apps/bomb/base/objects.yaml":       objs.String(),
	})
	start := time.Now()
	code, out, errOut := runCLI(t, "validate", "--repo", repo, "--render-max-build-time", "3s")
	took := time.Since(start)
	if code != 1 || !strings.Contains(out+errOut, "took longer than 3s") || !strings.Contains(out+errOut, "apps/bomb/base") {
		t.Fatalf("validate: exit %d after %s; want 1 and the build reported past its 3s limit naming apps/bomb/base\nstdout:\n%s\nstderr:\n%s", code, took, out, errOut)
	}
	if took > 90*time.Second {
		t.Errorf("validate returned after %s; the build should have been killed at about 3s", took)
	}
}
