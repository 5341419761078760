package clusterclient

import (
	"context"
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
	os.Exit(testenv.RunWithControlPlane(m, &skipReason, func(env *envtest.Environment, cfg *rest.Config) error {
		memberCfg = cfg
		memberKubeconfig = env.KubeConfig
		return nil
	}))
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
