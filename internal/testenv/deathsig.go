package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// setprivPath returns the path of util-linux's setpriv when it exists and
// supports --pdeathsig, else "".
var setprivPath = sync.OnceValue(func() string {
	if runtime.GOOS != "linux" {
		return ""
	}
	path, err := exec.LookPath("setpriv")
	if err != nil {
		return ""
	}
	out, err := exec.Command(path, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--pdeathsig") {
		return ""
	}
	return path
})

// withDeathSignal returns the path of a small script, written into dir, that
// execs bin under `setpriv --pdeathsig KILL`. envtest starts etcd and
// kube-apiserver itself and offers no way to set a parent-death signal; the
// script gives them one, so that they die with a test binary that is killed or
// times out instead of leaking about 315 MiB each. Because the script execs,
// the process envtest signals on Stop is the binary itself. Without setpriv
// (or off Linux) bin is returned unchanged.
func withDeathSignal(dir, bin string) (string, error) {
	setpriv := setprivPath()
	if setpriv == "" {
		return bin, nil
	}
	script := fmt.Sprintf("#!/bin/sh\nexec %s --pdeathsig KILL -- %s \"$@\"\n", shellQuote(setpriv), shellQuote(bin))
	path := filepath.Join(dir, filepath.Base(bin))
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil { //nolint:gosec // an executable launcher script
		return "", fmt.Errorf("writing launcher for %s: %w", filepath.Base(bin), err)
	}
	return path, nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
