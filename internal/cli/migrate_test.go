package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// infraApp is a Flux-style infrastructure app spanning two namespaces: a
// Namespace object and a ConfigMap in "monitoring", and a ConfigMap
// without a namespace.
var infraApp = map[string]string{
	"apps/infra/base/kustomization.yaml": "resources: [objects.yaml]\n",
	"apps/infra/base/objects.yaml": `apiVersion: v1
kind: Namespace
metadata:
  name: monitoring
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: scrape-config
  namespace: monitoring
data:
  a: "1"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: plain
data:
  a: "2"
`,
}

func TestValidateWarnsWhenTheNamespaceIsForcedOnObjects(t *testing.T) {
	repo := copyTree(t, exampleFleet)
	files := map[string]string{"apps/infra/app.yaml": oneAppOnCentral("infra", "")}
	for k, v := range infraApp {
		files[k] = v
	}
	writeFiles(t, repo, files)
	code, out, errOut := runCLI(t, "validate", "--repo", repo)
	if code != 0 {
		t.Fatalf("exit code %d; stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	wantInOrder(t, out, "apps/infra/app.yaml: warning: spec.namespace infra renames the Namespace object monitoring to infra",
		"spec.namespaceMode: Default")
	wantInOrder(t, out, "apps/infra/app.yaml: warning: spec.namespace infra replaces the namespace an object set: ConfigMap/scrape-config (namespace monitoring)",
		"spec.namespaceMode: Default")

	// With namespaceMode: Default, no warning, and the objects keep their
	// namespaces.
	writeFiles(t, repo, map[string]string{"apps/infra/app.yaml": oneAppOnCentral("infra", "  namespaceMode: Default\n")})
	code, out, errOut = runCLI(t, "validate", "--repo", repo)
	if code != 0 || strings.Contains(out, "warning") {
		t.Fatalf("exit code %d, want 0 without warnings; stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "render", "--repo", repo, "--cluster", "central", "--app", "infra")
	if code != 0 {
		t.Fatalf("render: exit code %d; stderr:\n%s", code, errOut)
	}
	got := map[string]string{}
	for _, doc := range strings.Split(out, "---\n") {
		var o struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name, Namespace string
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatal(err)
		}
		got[o.Kind+"/"+o.Metadata.Name] = o.Metadata.Namespace
	}
	want := map[string]string{"Namespace/monitoring": "", "ConfigMap/scrape-config": "monitoring", "ConfigMap/plain": "infra"}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s in namespace %q (rendered: %v), want %q; output:\n%s", k, g, ok, v, out)
		}
	}

	writeFiles(t, repo, map[string]string{"apps/infra/app.yaml": oneAppOnCentral("infra", "  namespaceMode: Sometimes\n")})
	code, out, _ = runCLI(t, "validate", "--repo", repo)
	if code != 1 {
		t.Fatalf("exit code %d for an unknown namespaceMode, want 1; stdout:\n%s", code, out)
	}
	wantInOrder(t, out, filepath.ToSlash("apps/infra/app.yaml:"), `spec.namespaceMode: "Sometimes" is not a namespace mode; use Force`)
}
