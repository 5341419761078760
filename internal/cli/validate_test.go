package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestValidateExamplePasses(t *testing.T) {
	code, out, errOut := runCLI(t, "validate", "--repo", exampleFleet)
	if code != 0 {
		t.Fatalf("exit code %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !regexp.MustCompile(`(?m)^ok: \d+ clusters, \d+ apps, \d+ targets rendered`).MatchString(out) {
		t.Errorf("no summary line in:\n%s", out)
	}
	if strings.Contains(out, ": warning:") {
		t.Errorf("the example has warnings:\n%s", out)
	}
}

func TestValidateDefaultsToTheCurrentFolder(t *testing.T) {
	repo := copyTree(t, exampleFleet)
	t.Chdir(repo)
	if code, out, errOut := runCLI(t, "validate"); code != 0 || !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("exit code %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

// oneAppOnCentral is an app placed on the central cluster only, with its
// base in base/.
func oneAppOnCentral(name string, extra string) string {
	return fmt.Sprintf(`apiVersion: flotilla.dev/v1alpha1
kind: App
metadata:
  name: %s
spec:
  namespace: %s
  placement:
    clusterNames: [central]
%s`, name, name, extra)
}

const testConfigMap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: b\n"

// TestValidateReportsEveryErrorAtOnce breaks a copy of the example in
// every way the format forbids, at once, and checks that validate names
// each file and reason in one run.
func TestValidateReportsEveryErrorAtOnce(t *testing.T) {
	parent := t.TempDir()
	repo := filepath.Join(parent, "fleet")
	if err := os.Rename(copyTree(t, exampleFleet), repo); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, parent, map[string]string{"outside/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: stolen\nstringData:\n  k: v\n"})
	lyon, err := os.ReadFile(filepath.Join(repo, "clusters/factory-lyon.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	big := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  blob: " + strings.Repeat("x", 2<<20) + "\n"
	writeFiles(t, repo, map[string]string{
		// malformed YAML
		"clusters/broken.yaml": "apiVersion: flotilla.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: broken\n  labels: [role\n",
		// duplicate cluster
		"clusters/factory-lyon.yml": string(lyon),
		// dependsOn cycle
		"apps/cycle-a/app.yaml":                oneAppOnCentral("cycle-a", "  dependsOn: [cycle-b]\n"),
		"apps/cycle-a/base/kustomization.yaml": "resources: []\n",
		"apps/cycle-b/app.yaml":                oneAppOnCentral("cycle-b", "  dependsOn: [cycle-a]\n"),
		"apps/cycle-b/base/kustomization.yaml": "resources: []\n",
		// undefined variable
		"apps/var-typo/app.yaml":                oneAppOnCentral("var-typo", ""),
		"apps/var-typo/base/kustomization.yaml": "resources:\n- cm.yaml\n",
		"apps/var-typo/base/cm.yaml":            testConfigMap + "  registry: ${cluster.vars.registryHost}\n",
		// symlink escape (the link is made below)
		"apps/link-escape/app.yaml":                oneAppOnCentral("link-escape", ""),
		"apps/link-escape/base/kustomization.yaml": "resources:\n- secret.yaml\n",
		// ".." escape
		"apps/dotdot-escape/app.yaml":                oneAppOnCentral("dotdot-escape", ""),
		"apps/dotdot-escape/base/kustomization.yaml": "resources:\n- ../../../../outside/secret.yaml\n",
		// remote base
		"apps/remote-base/app.yaml":                oneAppOnCentral("remote-base", ""),
		"apps/remote-base/base/kustomization.yaml": "resources:\n- https://github.com/example/fleet//deploy?ref=v1\n",
		// exec plugin
		"apps/exec-plugin/app.yaml":                oneAppOnCentral("exec-plugin", ""),
		"apps/exec-plugin/base/kustomization.yaml": "generators:\n- gen.yaml\n",
		"apps/exec-plugin/base/gen.yaml":           "apiVersion: someteam.example.com/v1\nkind: ChartInflator\nmetadata:\n  name: x\n",
		// oversize file
		"apps/oversize/app.yaml":                oneAppOnCentral("oversize", ""),
		"apps/oversize/base/kustomization.yaml": "resources:\n- big.yaml\n",
		"apps/oversize/base/big.yaml":           big,
		// kustomization cycle
		"apps/kust-cycle/app.yaml":                oneAppOnCentral("kust-cycle", ""),
		"apps/kust-cycle/base/kustomization.yaml": "resources:\n- ../loop\n",
		"apps/kust-cycle/loop/kustomization.yaml": "resources:\n- ../base\n",
	})
	// unknown field
	editFile(t, filepath.Join(repo, "apps/fleet-dashboard/app.yaml"), "healthTimeout:", "healthTimeOut:")
	if err := os.Symlink(filepath.Join(parent, "outside", "secret.yaml"), filepath.Join(repo, "apps/link-escape/base/secret.yaml")); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runCLI(t, "validate", "--repo", repo)
	if code != exitFailed {
		t.Fatalf("exit code %d, want %d; stdout:\n%s\nstderr:\n%s", code, exitFailed, out, errOut)
	}
	want := []struct {
		kind, file string
		reason     []string
	}{
		{"malformed YAML", "clusters/broken.yaml:", []string{"malformed YAML"}},
		{"unknown field", "apps/fleet-dashboard/app.yaml:", []string{"healthTimeOut: unknown field"}},
		{"duplicate cluster", "clusters/factory-lyon.yml:", []string{`cluster "factory-lyon" is already declared in clusters/factory-lyon.yaml`}},
		{"dependsOn cycle", "apps/cycle-", []string{"dependency cycle"}},
		{"undefined variable", "apps/var-typo/base", []string{"cluster.vars.registryHost", "app var-typo does not render for cluster central"}},
		{"symlink escape", "apps/link-escape/base/kustomization.yaml:", []string{`"secret.yaml"`, "symbolic link"}},
		{"dotdot escape", "apps/dotdot-escape/base/kustomization.yaml:", []string{`"../../../../outside/secret.yaml"`, "leaves the repository root"}},
		{"remote base", "apps/remote-base/base/kustomization.yaml:", []string{"is a remote base"}},
		{"exec plugin", "apps/exec-plugin/base/kustomization.yaml:", []string{`generators entry "gen.yaml"`, "plugin"}},
		{"oversize file", "apps/oversize/base/big.yaml:", []string{"larger than the"}},
		{"kustomization cycle", "apps/kust-cycle/", []string{"kustomization cycle"}},
	}
	lines := strings.Split(out, "\n")
	for _, w := range want {
		found := false
		for _, l := range lines {
			if !strings.HasPrefix(l, w.file) {
				continue
			}
			all := true
			for _, r := range w.reason {
				all = all && strings.Contains(l, r)
			}
			found = found || all
		}
		if !found {
			t.Errorf("%s: no line starting with %q and containing %q in:\n%s", w.kind, w.file, w.reason, out)
		}
	}
	// Every problem is a "path[:line]: message" line, then the summary.
	diag := regexp.MustCompile(`^[\w./-]+(:\d+)?: \S`)
	errorLines := 0
	for _, l := range lines[:len(lines)-2] {
		if !diag.MatchString(l) {
			t.Errorf("line %q is not a path:line: message diagnostic", l)
		}
		if !strings.Contains(l, ": warning: ") {
			errorLines++
		}
	}
	if errorLines < len(want) {
		t.Errorf("%d error lines, want at least %d", errorLines, len(want))
	}
	summary := lines[len(lines)-2]
	if !strings.HasPrefix(summary, fmt.Sprintf("failed: %d errors", errorLines)) {
		t.Errorf("summary %q does not count the %d errors", summary, errorLines)
	}
	// The rest of the fleet still renders: the errors do not stop it.
	if !strings.Contains(summary, "targets rendered") {
		t.Errorf("summary %q does not say how many targets rendered", summary)
	}
	if !strings.Contains(errOut, "errors") {
		t.Errorf("stderr %q does not say validation failed", errOut)
	}
}

func TestValidateWarningsDoNotFail(t *testing.T) {
	repo := copyTree(t, exampleFleet)
	editFile(t, filepath.Join(repo, "apps/fleet-dashboard/app.yaml"), "- central", "- central-old")
	code, out, errOut := runCLI(t, "validate", "--repo", repo)
	if code != 0 {
		t.Fatalf("exit code %d, want 0 (a selector matching no cluster is a warning); stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	wantInOrder(t, out, "apps/fleet-dashboard/app.yaml:", ": warning: ", "matches no cluster", "ok: ", "warnings")
}

func TestValidateUsageErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"unknown flag":          {"validate", "--repo", exampleFleet, "--strict"},
		"extra argument":        {"validate", "extra"},
		"unreadable repository": {"validate", "--repo", filepath.Join(t.TempDir(), "missing")},
	} {
		t.Run(name, func(t *testing.T) {
			if code, out, errOut := runCLI(t, args...); code != exitUsage {
				t.Errorf("exit code %d, want %d; stdout %q stderr %q", code, exitUsage, out, errOut)
			}
		})
	}
}

// The fleet size limits are flags of validate, render and diff; over one,
// the error names the limit, the count and the flag.
func TestOfflineCommandsEnforceTheFleetLimitFlags(t *testing.T) {
	code, out, errOut := runCLI(t, "validate", "--repo", exampleFleet, "--max-clusters", "4")
	if code != 1 || !strings.Contains(out, "clusters: too many clusters: 5 cluster files, over the limit of 4") || !strings.Contains(out, "--max-clusters") {
		t.Fatalf("validate --max-clusters 4: exit code %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "validate", "--repo", exampleFleet, "--max-clusters", "5", "--max-apps", "7", "--max-targets", "20"); code != 0 {
		t.Fatalf("validate at the limits: exit code %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "render", "--repo", exampleFleet, "--cluster", "central", "--max-targets", "19")
	if code != 1 || !strings.Contains(out+errOut, "too many targets") || !strings.Contains(out+errOut, "--max-targets") {
		t.Fatalf("render --max-targets 19: exit code %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "render", "--repo", exampleFleet, "--cluster", "central", "--max-apps", "6")
	if code != 1 || !strings.Contains(out+errOut, "too many apps: 7 app folders, over the limit of 6") {
		t.Fatalf("render --max-apps 6: exit code %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}
