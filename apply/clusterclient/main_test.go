package clusterclient

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// A real kube-apiserver (envtest) playing a member cluster.
var (
	memberCfg        *rest.Config
	memberKubeconfig []byte
)

func TestMain(m *testing.M) {
	env := &envtest.Environment{}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		env.BinaryAssetsDirectory = filepath.Join("..", "..", "bin", "k8s", "1.37.2")
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "start envtest (set KUBEBUILDER_ASSETS to the folder holding kube-apiserver and etcd): %v\n", err)
		os.Exit(1)
	}
	memberCfg = cfg
	memberKubeconfig = env.KubeConfig
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
