package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// capacityFleet writes a fleet of two GPU sites and a training app that
// requires 4 GPUs on one of them, commits it on main and writes, on the
// branch flotilla-status, the status files the hub would record: gpu-a
// has 2 of its 8 GPUs free, gpu-b 6 of 8.
func capacityFleet(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	g := newGitRepo(t, dir)
	cluster := func(name string) string {
		return "apiVersion: flotilla.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: " + name + "\n"
	}
	writeFiles(t, dir, map[string]string{
		"clusters/gpu-a.yaml": cluster("gpu-a"),
		"clusters/gpu-b.yaml": cluster("gpu-b"),
		"apps/train/app.yaml": `apiVersion: flotilla.dev/v1alpha1
kind: App
metadata:
  name: train
spec:
  namespace: train
  placement:
    requires:
      nvidia.com/gpu: 4
    maxClusters: 1
`,
		"apps/train/base/kustomization.yaml": "resources: [cm.yaml]\n",
		"apps/train/base/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: train\ndata:\n  site: ${cluster.name}\n",
	})
	g.commit("fleet")
	g.git("checkout", "--quiet", "--orphan", "flotilla-status")
	g.git("rm", "-r", "--quiet", "-f", ".")
	status := func(name, avail string) string {
		return "cluster: " + name + "\nreachable: \"True\"\ncapacity:\n  allocatable:\n    nvidia.com/gpu: \"8\"\n  available:\n    nvidia.com/gpu: \"" + avail + "\"\napps: []\n"
	}
	writeFiles(t, dir, map[string]string{"status/gpu-a.yaml": status("gpu-a", "2"), "status/gpu-b.yaml": status("gpu-b", "6")})
	g.commit("status")
	g.git("checkout", "--quiet", "main")
	if _, err := os.Stat(filepath.Join(dir, "apps/train/app.yaml")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestExplainUsesTheCapacityOfTheStatusBranch(t *testing.T) {
	dir := capacityFleet(t)
	code, out, errOut := runCLI(t, "explain", "--repo", dir, "--cluster", "gpu-b", "--status-ref", "flotilla-status")
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, errOut)
	}
	wantInOrder(t, out, "app train: placed",
		"meets requires nvidia.com/gpu=4: nvidia.com/gpu 6 available of 8",
		"capacity figures used:", "nvidia.com/gpu: 6 available of 8 allocatable, requires 4")
	if strings.Contains(errOut, "live capacity not used") {
		t.Errorf("stderr says live capacity was not used although --status-ref was given:\n%s", errOut)
	}
	code, out, errOut = runCLI(t, "explain", "--repo", dir, "--cluster", "gpu-a", "--status-ref", "flotilla-status")
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, errOut)
	}
	wantInOrder(t, out, "app train: not placed",
		"does not meet requires nvidia.com/gpu=4: nvidia.com/gpu 2 available of 8 too little nvidia.com/gpu",
		"nvidia.com/gpu: 2 available of 8 allocatable, requires 4")
}

func TestOfflineCommandsSayWhenLiveCapacityIsNotUsed(t *testing.T) {
	dir := capacityFleet(t)
	code, out, errOut := runCLI(t, "explain", "--repo", dir, "--cluster", "gpu-b")
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, errOut)
	}
	wantInOrder(t, errOut, "note: live capacity not used: app train places by live capacity", "--status-ref origin/flotilla-status")
	wantInOrder(t, out, "app train: not placed", "capacity unknown (live capacity was not used)")

	code, _, errOut = runCLI(t, "explain", "--repo", dir, "--cluster", "gpu-b", "--status-ref", "no-such-branch")
	if code != 2 || !strings.Contains(errOut, "--status-ref no-such-branch") {
		t.Errorf("an unknown status ref: exit code %d, stderr:\n%s", code, errOut)
	}
}
