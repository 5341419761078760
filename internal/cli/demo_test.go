//go:build !nodemo

package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runDemoCLI runs the command line in-process and returns the exit code
// and both outputs.
func runDemoCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Execute(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestDemoWithoutBinariesSaysHowToBuildThem(t *testing.T) {
	assets := t.TempDir() // empty: nothing built yet
	socket := filepath.Join(t.TempDir(), "demo.sock")
	code, _, stderr := runDemoCLI(t, "demo", "--fleet", "../../examples/factory-fleet", "--assets", assets, "--control-socket", socket)
	if code != exitDemoSetup {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitDemoSetup, stderr)
	}
	for _, want := range []string{"control-plane binaries are missing", "kube-apiserver", "kwok", "make test-binaries", "about 7 minutes", assets} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if _, err := os.Stat(socket); !os.IsNotExist(err) {
		t.Errorf("a demo that could not start left its control socket: %v", err)
	}
}

func TestDemoRefusesBrokenFleetBeforeStartingAnything(t *testing.T) {
	fleet := t.TempDir()
	if err := os.MkdirAll(filepath.Join(fleet, "clusters"), 0o755); err != nil {
		t.Fatal(err)
	}
	bad := "apiVersion: flotilla.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: site-a\n  annotations:\n    flotilla.dev/demo-nodes: \"lots\"\n"
	if err := os.WriteFile(filepath.Join(fleet, "clusters", "site-a.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runDemoCLI(t, "demo", "--fleet", fleet, "--assets", t.TempDir(), "--control-socket", "-")
	if code != exitDemoSetup {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitDemoSetup, stderr)
	}
	for _, want := range []string{"clusters/site-a.yaml", "flotilla.dev/demo-nodes", `"lots"`} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestDemoSubcommandsWithoutRunningDemo(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "none.sock")
	for _, args := range [][]string{
		{"demo", "env", "--control-socket", socket},
		{"demo", "status", "--control-socket", socket},
		{"demo", "stop-cluster", "factory-lyon", "--control-socket", socket},
		{"demo", "start-cluster", "factory-lyon", "--control-socket", socket},
	} {
		code, stdout, stderr := runDemoCLI(t, args...)
		if code != exitDemoSetup || stdout != "" {
			t.Errorf("%v: exit code %d, stdout %q", args, code, stdout)
		}
		if !strings.Contains(stderr, "no flotilla demo is running") || !strings.Contains(stderr, socket) || !strings.Contains(stderr, "make demo") {
			t.Errorf("%v: stderr does not say that no demo runs there and how to start one:\n%s", args, stderr)
		}
	}
}

func TestDemoSocketFromEnvironment(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "from-env.sock")
	t.Setenv("FLOTILLA_DEMO_SOCKET", socket)
	_, _, stderr := runDemoCLI(t, "demo", "env")
	if !strings.Contains(stderr, socket) {
		t.Fatalf("demo env must use $FLOTILLA_DEMO_SOCKET; stderr:\n%s", stderr)
	}
}

func TestDemoClusterCommandsNeedOneName(t *testing.T) {
	if code, _, _ := runDemoCLI(t, "demo", "stop-cluster"); code != 2 {
		t.Fatalf("stop-cluster without a name: exit code %d", code)
	}
	if code, _, _ := runDemoCLI(t, "demo", "unknown-subcommand"); code == 0 {
		t.Fatal("an unknown demo subcommand must fail")
	}
}
