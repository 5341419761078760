package demo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// requiredBinaries are the programs each demo cluster runs, and kubectl.
var requiredBinaries = []string{"kube-apiserver", "etcd", "kubectl", "kube-controller-manager", "kube-scheduler", "kwok"}

// ErrBinariesMissing is returned (wrapped) by Start when the control-plane
// binaries are not built yet.
var ErrBinariesMissing = errors.New("the control-plane binaries are missing")

// findAssets returns the folder holding every binary the demo runs, or an
// error wrapping ErrBinariesMissing that says how to build them.
func findAssets(dir string) (string, error) {
	if dir == "" {
		found, err := testenv.AssetsDir()
		if err != nil {
			if errors.Is(err, testenv.ErrAssetsNotFound) {
				return "", fmt.Errorf("%w: %w.\n%s", ErrBinariesMissing, err, buildHint(filepath.Join("bin", "k8s", testenv.KubernetesVersion)))
			}
			return "", fmt.Errorf("locate the control-plane binaries: %w", err)
		}
		dir = found
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolve --assets %q: %w", dir, err)
	}
	var missing []string
	for _, name := range requiredBinaries {
		info, err := os.Stat(filepath.Join(abs, name))
		if err != nil || info.IsDir() || info.Mode().Perm()&0o111 == 0 {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("%w: %s lacks %s.\n%s", ErrBinariesMissing, abs, strings.Join(missing, ", "), buildHint(abs))
	}
	return abs, nil
}

// buildHint says how to build the binaries into dir.
func buildHint(dir string) string {
	return "Run `make test-binaries` in the Flotilla checkout (or `make demo`, which runs it first): it builds\n" +
		"kube-apiserver, etcd, kubectl, kube-controller-manager, kube-scheduler and kwok from the Go module\n" +
		"proxy into bin/k8s/" + testenv.KubernetesVersion + " — about 7 minutes on 2 cores the first time, instant afterwards.\n" +
		"Then pass that folder with --assets (expected: " + dir + ")."
}
