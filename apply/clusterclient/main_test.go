package clusterclient

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// A real kube-apiserver (envtest) playing a member cluster.
var (
	memberCfg        *rest.Config
	memberKubeconfig []byte
)

// skipReason is set when the control-plane binaries are missing: tests
// that need the member cluster skip with it, like every package's tests
// that start clusters through testenv.
var skipReason string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	assets, err := testenv.AssetsDir()
	if errors.Is(err, testenv.ErrAssetsNotFound) {
		skipReason = fmt.Sprintf("skipping: needs real control-plane binaries: %v", err)
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
	memberCfg = cfg
	memberKubeconfig = env.KubeConfig
	return m.Run()
}

// requireMember skips the test when the member cluster could not be
// started because the control-plane binaries are missing.
func requireMember(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	requireMember(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
