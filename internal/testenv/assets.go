package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// KubernetesVersion is the version of the test control-plane binaries, and the
// name of their folder under bin/k8s/.
const KubernetesVersion = "1.37.2"

// AssetsEnv is the environment variable naming the folder that holds the test
// control-plane binaries (the name controller-runtime's envtest uses).
const AssetsEnv = "KUBEBUILDER_ASSETS"

// Names of the binaries expected in the assets folder.
const (
	binAPIServer         = "kube-apiserver"
	binEtcd              = "etcd"
	binKubectl           = "kubectl"
	binControllerManager = "kube-controller-manager"
	binScheduler         = "kube-scheduler"
	binKwok              = "kwok"
)

// controlPlaneBinaries are needed by every cluster; workloadBinaries only by a
// cluster that runs workloads.
var (
	controlPlaneBinaries = []string{binAPIServer, binEtcd, binKubectl}
	workloadBinaries     = []string{binControllerManager, binScheduler, binKwok}
)

// ErrAssetsNotFound is returned (wrapped) by AssetsDir and StartCluster when the
// test control-plane binaries cannot be found.
var ErrAssetsNotFound = errors.New("test control-plane binaries not found")

// AssetsDir returns the folder that holds the test control-plane binaries:
// $KUBEBUILDER_ASSETS when set, else the first bin/k8s/<KubernetesVersion>
// found in the working directory or one of its parents. The folder must hold at
// least kube-apiserver, etcd and kubectl; the error wraps ErrAssetsNotFound
// otherwise.
func AssetsDir() (string, error) {
	if dir := os.Getenv(AssetsEnv); dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", fmt.Errorf("resolving %s=%q: %w", AssetsEnv, dir, err)
		}
		if err := checkBinaries(abs, controlPlaneBinaries); err != nil {
			return "", fmt.Errorf("checking %s: %w", AssetsEnv, err)
		}
		return abs, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("locating test binaries: reading working directory: %w", err)
	}
	rel := filepath.Join("bin", "k8s", KubernetesVersion)
	for dir := wd; ; dir = filepath.Dir(dir) {
		candidate := filepath.Join(dir, rel)
		if info, err := os.Stat(candidate); err == nil && info.IsDir() {
			if err := checkBinaries(candidate, controlPlaneBinaries); err != nil {
				return "", err
			}
			return candidate, nil
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	return "", fmt.Errorf("%w: %s is unset and no %s exists in %s or its parents; run `make test` (or hack/build-test-binaries.sh bin/k8s/%s) to build them",
		ErrAssetsNotFound, AssetsEnv, rel, wd, KubernetesVersion)
}

// checkBinaries reports which of the named binaries are missing from dir.
func checkBinaries(dir string, names []string) error {
	var missing []string
	for _, name := range names {
		info, err := os.Stat(filepath.Join(dir, name)) //nolint:gosec // dir is the developer's own assets folder

		if err != nil || info.IsDir() || info.Mode().Perm()&0o111 == 0 {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s lacks %v; run `make test` (or hack/build-test-binaries.sh %s) to build them",
			ErrAssetsNotFound, dir, missing, dir)
	}
	return nil
}
