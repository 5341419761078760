package testenv

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperDirEnv, when set, turns TestDeathSignalHelper into a helper process
// that starts a workload cluster in the named folder and waits to be killed.
const helperDirEnv = "FLOTILLA_TESTENV_HELPER_DIR"

// TestDeathSignalHelper is not a test: it is the process that
// TestProcessesDieWithTheirParent kills.
func TestDeathSignalHelper(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		t.Skip("helper process for TestProcessesDieWithTheirParent")
	}
	c, err := StartCluster(context.Background(), ClusterOptions{Name: "doomed", Dir: dir, Workloads: &WorkloadOptions{}})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	fmt.Println("READY", c.Host())
	time.Sleep(time.Hour) // wait for SIGKILL, without Close
}

// TestProcessesDieWithTheirParent kills (SIGKILL, so no cleanup runs) a
// process that started a workload cluster, and checks that etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and kwok all die
// with it instead of leaking.
func TestProcessesDieWithTheirParent(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the parent-death signal exists only on Linux")
	}
	RequireAssets(t, workloadBinaries...)
	t.Parallel()
	dir := t.TempDir()

	cmd := exec.Command(os.Args[0], "-test.run=^TestDeathSignalHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperDirEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(3 * time.Minute)
	for ready := false; !ready; {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("helper exited before its cluster was ready")
			}
			if strings.HasPrefix(line, "ERROR") {
				t.Fatalf("helper: %s", line)
			}
			ready = strings.HasPrefix(line, "READY")
		case <-timeout:
			t.Fatal("helper's cluster did not start within 3 minutes")
		}
	}

	want := []string{binControllerManager, binScheduler, binKwok}
	if setprivPath() != "" {
		want = append(want, binEtcd, binAPIServer)
	} else {
		t.Logf("setpriv with --pdeathsig is missing: etcd and kube-apiserver are stopped only by Close")
	}
	before := processesUsing(t, dir)
	for _, name := range want {
		if len(before[name]) == 0 {
			t.Fatalf("no %s process found using %s before the kill (found %v)", name, dir, before)
		}
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	deadline := time.Now().Add(20 * time.Second)
	for {
		left := processesUsing(t, dir)
		survivors := map[string][]int{}
		for _, name := range want {
			if len(left[name]) > 0 {
				survivors[name] = left[name]
			}
		}
		if len(survivors) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, pids := range left {
				for _, pid := range pids {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			t.Fatalf("processes outlived their killed parent (name: pids): %v", survivors)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// processesUsing finds the live processes whose command line mentions dir,
// as binary name -> pids.
func processesUsing(t *testing.T, dir string) map[string][]int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(raw) == 0 || !strings.Contains(string(raw), dir) {
			continue
		}
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		name := filepath.Base(args[0])
		found[name] = append(found[name], pid)
	}
	return found
}
