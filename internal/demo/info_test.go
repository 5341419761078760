package demo

import (
	"os/exec"
	"strings"
	"testing"
)

// TestEnvEvaluatesInARealShell checks that `eval "$(flotilla demo env)"`
// gives back every value unchanged, quotes and spaces included.
func TestEnvEvaluatesInARealShell(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on PATH")
	}
	info := Info{
		Dir:           "/tmp/demo dir/it's here",
		ControlSocket: "/tmp/flotilla-demo-1000.sock",
		GitURL:        "http://flotilla:p4ss@127.0.0.1:4242/factory-fleet.git",
		Namespace:     "flotilla-system",
		Kubeconfig:    "/tmp/demo dir/it's here/kubeconfig",
		Bin:           "/tmp/demo dir/it's here/bin",
	}
	script := info.Env() + `printf '%s\n' "$FLOTILLA_DEMO_DIR" "$FLOTILLA_DEMO_SOCKET" "$FLOTILLA_GIT_URL" "$FLOTILLA_NAMESPACE" "$KUBECONFIG" "${PATH%%:*}"`
	out, err := exec.Command(sh, "-c", script).Output()
	if err != nil {
		t.Fatalf("sh: %v", err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	want := []string{info.Dir, info.ControlSocket, info.GitURL, info.Namespace, info.Kubeconfig, info.Bin}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("after eval:\n%q\nwant\n%q", got, want)
	}
}

func TestEnvOmitsDisabledSocket(t *testing.T) {
	if env := (Info{Dir: "/d"}).Env(); strings.Contains(env, ControlSocketEnv) {
		t.Fatalf("Env exports the socket although it is disabled:\n%s", env)
	}
}
