package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// TestInstallManifestsApply installs the controller as the docs say,
// `kubectl apply -k config/default`, with the real kubectl on a real
// apiserver, and checks what an operator relies on: two replicas with
// leader election, non-root with a read-only root filesystem, and RBAC
// that grants the controller its kinds but no write access to Secrets.
func TestInstallManifestsApply(t *testing.T) {
	hubCluster := testenv.NewCluster(t, testenv.ClusterOptions{Name: "install"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := hubCluster.Kubectl(ctx, "apply", "-k", "../../config/default")
	if err != nil {
		t.Fatalf("kubectl apply -k config/default: %v\n%s", err, out)
	}
	for _, want := range []string{
		"customresourcedefinition.apiextensions.k8s.io/fleetrepositories.flotilla.dev",
		"clusterrole.rbac.authorization.k8s.io/flotilla-controller",
		"deployment.apps/flotilla-controller",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("apply output lacks %q:\n%s", want, out)
		}
	}
	cl, err := hubCluster.NewClient(nil)
	if err != nil {
		t.Fatal(err)
	}
	dep := &appsv1.Deployment{}
	if err := cl.Get(ctx, types.NamespacedName{Namespace: "flotilla-system", Name: "flotilla-controller"}, dep); err != nil {
		t.Fatal(err)
	}
	c := dep.Spec.Template.Spec.Containers[0]
	sc := dep.Spec.Template.Spec.SecurityContext
	if *dep.Spec.Replicas != 2 || !strings.Contains(strings.Join(c.Args, " "), "--leader-elect") {
		t.Errorf("want 2 replicas with leader election, got %d replicas, args %v", *dep.Spec.Replicas, c.Args)
	}
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || c.SecurityContext == nil ||
		c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
		t.Errorf("want non-root with a read-only root filesystem: pod %+v container %+v", sc, c.SecurityContext)
	}
	role := &rbacv1.ClusterRole{}
	if err := cl.Get(ctx, types.NamespacedName{Name: "flotilla-controller"}, role); err != nil {
		t.Fatal(err)
	}
	var kinds bool
	for _, r := range role.Rules {
		for _, res := range r.Resources {
			if res == "secrets" && strings.Join(r.Verbs, ",") != "get" {
				t.Errorf("the controller must only read Secrets, rule %+v", r)
			}
			if res == "clustersyncs" {
				kinds = true
			}
		}
	}
	if !kinds {
		t.Errorf("the ClusterRole does not grant clustersyncs: %+v", role.Rules)
	}

	// A FleetRepository reaches only Secrets of its own namespace: its
	// references have no namespace field, and the apiserver refuses one.
	for _, field := range []string{"secretRef", "webhookSecretRef"} {
		manifest := filepath.Join(t.TempDir(), "frepo.yaml")
		if err := os.WriteFile(manifest, []byte(`apiVersion: flotilla.dev/v1alpha1
kind: FleetRepository
metadata: {name: reach-`+strings.ToLower(field)+`, namespace: flotilla-system}
spec:
  url: https://git.example.com/fleet.git
  `+field+`: {name: admin-token, namespace: kube-system}
`), 0o600); err != nil {
			t.Fatal(err)
		}
		var out []byte
		var err error
		for range 60 { // until the CRD is established
			out, err = hubCluster.Kubectl(ctx, "apply", "-f", manifest)
			if err == nil || !strings.Contains(err.Error(), "ensure CRDs are installed first") {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if err == nil || !strings.Contains(err.Error(), `unknown field "spec.`+field+`.namespace"`) {
			t.Errorf("a FleetRepository whose %s names another namespace: err %v, out %s; want the apiserver to refuse the unknown field", field, err, out)
		}
	}
}
