package testenv

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// RunWithControlPlane is a package's TestMain body for tests that share one
// real control plane (kube-apiserver and etcd): it starts it, hands its
// config to setup, runs the tests and stops it. When the binaries are
// missing it sets *skipReason and runs the tests anyway, so that tests
// needing the control plane skip with that reason (as tests starting
// clusters through NewClusters do) and the others still run.
func RunWithControlPlane(m *testing.M, skipReason *string, setup func(env *envtest.Environment, cfg *rest.Config) error) int {
	assets, err := AssetsDir()
	if errors.Is(err, ErrAssetsNotFound) {
		*skipReason = fmt.Sprintf("skipping: needs real control-plane binaries: %v", err)
		return m.Run()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "locate the test control-plane binaries: %v\n", err)
		return 1
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "start envtest with the binaries in %s: %v\n", assets, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if err := setup(env, cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
