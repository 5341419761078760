package render

import (
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/flotilla-gitops/flotilla/placement"
)

// In namespace mode Default, the app's namespace goes only on namespaced
// objects without one: an object's own namespace and the names of
// Namespace objects are kept, as kustomize's NamespaceTransformer with
// unsetOnly does.
func TestRenderNamespaceDefault(t *testing.T) {
	root, err := filepath.Abs("testdata/namespaces")
	if err != nil {
		t.Fatal(err)
	}
	r := New(Options{})
	m := mustRender(t, r, root, placement.Target{App: "infra", Cluster: "c1", Base: "base", Namespace: "cert-manager", NamespaceDefault: true})
	want := kustomizeBuild(t, filepath.Join(root, "default-wrapped"))
	if string(m.YAML) != string(want) {
		t.Fatalf("render differs from kustomize build of the same kustomization\n--- render\n%s\n--- kustomize build\n%s", m.YAML, want)
	}
	got := map[string]string{}
	var subject string
	for _, o := range m.Objects {
		got[o.GetKind()+"/"+o.GetName()] = o.GetNamespace()
		if o.GetKind() == "RoleBinding" {
			subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
			subject, _ = subjects[0].(map[string]any)["namespace"].(string)
		}
	}
	for id, ns := range map[string]string{
		"Namespace/cert-manager":  "",
		"Namespace/monitoring":    "",
		"ConfigMap/no-namespace":  "cert-manager",
		"ConfigMap/scrape-config": "monitoring",
		"RoleBinding/reader":      "cert-manager",
		"ClusterRole/reader":      "",
	} {
		if g, ok := got[id]; !ok || g != ns {
			t.Errorf("%s: namespace %q (present %v), want %q; all: %v", id, g, ok, ns, got)
		}
	}
	if subject != "cert-manager" {
		t.Errorf("RoleBinding subject named default has namespace %q, want cert-manager", subject)
	}

}

// Forcing the namespace on a base with two Namespace objects makes them one
// object: the error says so and names spec.namespaceMode: Default.
func TestRenderExplainsANamespaceConflictOfForce(t *testing.T) {
	root, err := filepath.Abs("testdata/namespaces")
	if err != nil {
		t.Fatal(err)
	}
	_, msg := renderErr(t, New(Options{}), root, placement.Target{App: "infra", Cluster: "c1", Base: "base", Namespace: "web"}, ErrBuild)
	for _, want := range []string{"namespace transformation produces ID conflict", "two Namespace objects are both renamed to it", "set spec.namespaceMode: Default"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
}
