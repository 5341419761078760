package apply

import (
	"context"
	"fmt"
	"os"
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
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// member is a real kube-apiserver (envtest) that plays a member cluster.
var (
	member    *clusterclient.Client
	memberCfg *rest.Config
)

// skipReason is set when the control-plane binaries are missing: tests
// that need the member cluster skip with it, like every package's tests
// that start clusters through testenv.
var skipReason string

func TestMain(m *testing.M) {
	os.Exit(testenv.RunWithControlPlane(m, &skipReason, func(_ *envtest.Environment, cfg *rest.Config) error {
		memberCfg = cfg
		var err error
		member, err = clusterclient.New("member-1", cfg, clusterclient.Options{})
		return err
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

var nameSeq atomic.Int64

// uniqueName returns a fresh DNS-1123 name with the given prefix, so tests
// sharing one apiserver never see each other's objects.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, nameSeq.Add(1))
}

// testCtx is a context bounded so that a hung apiserver fails the test;
// it skips the test when there is no member cluster.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	requireMember(t)
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
