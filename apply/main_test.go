package apply

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluxcd/pkg/ssa/utils"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/flotilla-gitops/flotilla/apply/clusterclient"
)

// member is a real kube-apiserver (envtest) that plays a member cluster.
var (
	member    *clusterclient.Client
	memberCfg *rest.Config
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
	member, err = clusterclient.New("member-1", cfg, clusterclient.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = env.Stop()
		os.Exit(1)
	}
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

var nameSeq atomic.Int64

// uniqueName returns a fresh DNS-1123 name with the given prefix, so tests
// sharing one apiserver never see each other's objects.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, nameSeq.Add(1))
}

// testCtx is a context bounded so that a hung apiserver fails the test.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// readObjects parses a multi-document YAML manifest, after replacing
// NAMESPACE with ns.
func readObjects(t *testing.T, ns, manifest string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := utils.ReadObjects(strings.NewReader(strings.ReplaceAll(manifest, "NAMESPACE", ns)))
	if err != nil {
		t.Fatalf("parse manifest: %v", err)
	}
	return objs
}

var testRepo = types.NamespacedName{Namespace: "flotilla-system", Name: "fleet"}

// baseRequest is a request for app "adc" into ns.
func baseRequest(ns string, objs []*unstructured.Unstructured) Request {
	return Request{
		App:          "adc",
		Repository:   testRepo,
		Namespace:    ns,
		Objects:      objs,
		ApplyTimeout: 30 * time.Second,
	}
}

// getObject reads an object from the member cluster; nil if it is missing.
func getObject(t *testing.T, apiVersion, kind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	err := member.Client().Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, u)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		t.Fatalf("get %s %s/%s: %v", kind, ns, name, err)
	}
	return u
}

func replaceAll(s, old, new string) string { return strings.ReplaceAll(s, old, new) }
