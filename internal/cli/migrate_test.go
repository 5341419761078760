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

// renderedObjects parses a multi-document render output.
func renderedObjects(t *testing.T, out string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	for _, doc := range strings.Split(out, "---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var o map[string]any
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("%v in:\n%s", err, doc)
		}
		objs = append(objs, o)
	}
	return objs
}

// render prints what the cluster receives: a cluster-scoped custom kind
// (its CRD comes with another app) has no namespace, and every object
// carries the owner labels apply sets.
func TestRenderPrintsWhatTheClusterReceives(t *testing.T) {
	repo := copyTree(t, exampleFleet)
	writeFiles(t, repo, map[string]string{
		"apps/cert-manager/app.yaml":                oneAppOnCentral("cert-manager", ""),
		"apps/cert-manager/base/kustomization.yaml": "resources: [crd.yaml]\n",
		"apps/cert-manager/base/crd.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: clusterissuers.cert-manager.io
spec:
  group: cert-manager.io
  scope: Cluster
  names: {kind: ClusterIssuer, plural: clusterissuers}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`,
		"apps/issuers/app.yaml":                oneAppOnCentral("issuers", ""),
		"apps/issuers/base/kustomization.yaml": "resources: [issuer.yaml]\n",
		"apps/issuers/base/issuer.yaml": `apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: letsencrypt
spec:
  acme: {}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  a: b
`,
	})
	code, out, errOut := runCLI(t, "render", "--repo", repo, "--cluster", "central", "--app", "issuers", "--repository", "fleet/factories")
	if code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, errOut)
	}
	objs := renderedObjects(t, out)
	if len(objs) != 2 {
		t.Fatalf("%d objects, want 2:\n%s", len(objs), out)
	}
	wantLabels := map[string]string{
		"app.kubernetes.io/managed-by": "flotilla", "flotilla.dev/app": "issuers",
		"flotilla.dev/repository": "factories", "flotilla.dev/repository-namespace": "fleet",
	}
	for _, o := range objs {
		md := o["metadata"].(map[string]any)
		labels, _ := md["labels"].(map[string]any)
		for k, v := range wantLabels {
			if labels[k] != v {
				t.Errorf("%s/%s: label %s=%v, want %s", o["kind"], md["name"], k, labels[k], v)
			}
		}
		ns, _ := md["namespace"].(string)
		switch o["kind"] {
		case "ClusterIssuer":
			if ns != "" {
				t.Errorf("the ClusterIssuer has namespace %q; a cluster-scoped object has none", ns)
			}
		case "ConfigMap":
			if ns != "issuers" {
				t.Errorf("the ConfigMap has namespace %q, want issuers", ns)
			}
		}
	}
}

// A per-cluster overlay written as a Fleet/Flux/Argo CD user has it (a
// Kustomization with resources: [../../base] and patchesStrategicMerge)
// renders, and kustomize's deprecation of patchesStrategicMerge is one
// validate warning on the overlay's file, not a line on stderr.
func TestValidateAcceptsAKustomizationOverlayAndWarnsOnceAboutDeprecations(t *testing.T) {
	repo := copyTree(t, exampleFleet)
	writeFiles(t, repo, map[string]string{
		"apps/infra/app.yaml": strings.Replace(oneAppOnCentral("infra", `  overlays:
    - name: shared
      clusterNames: [central, factory-austin]
`), "clusterNames: [central]", "clusterNames: [central, factory-austin]", 1),
		"apps/infra/base/kustomization.yaml": "resources: [cm.yaml]\ncommonLabels: {team: infra}\n",
		"apps/infra/base/cm.yaml":            testConfigMap,
		"apps/infra/overlays/shared/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../../base]
patchesStrategicMerge: [patch.yaml]
`,
		"apps/infra/overlays/shared/patch.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: patched\n",
	})
	code, out, errOut := runCLI(t, "validate", "--repo", repo)
	if code != 0 {
		t.Fatalf("exit code %d; stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// Both clusters render the app, so both builds read the files.
	if c, o, e := runCLI(t, "render", "--repo", repo, "--cluster", "factory-austin", "--app", "infra"); c != 0 || !strings.Contains(o, "patched") {
		t.Fatalf("render on factory-austin: exit code %d; stdout:\n%s\nstderr:\n%s", c, o, e)
	}
	for _, w := range []string{
		"apps/infra/base/kustomization.yaml: warning: commonLabels is deprecated by kustomize: use labels instead",
		"apps/infra/overlays/shared/kustomization.yaml: warning: patchesStrategicMerge is deprecated by kustomize: use patches instead",
	} {
		if n := strings.Count(out, w); n != 1 {
			t.Errorf("%q appears %d times, want once; stdout:\n%s", w, n, out)
		}
	}
	if strings.Contains(errOut, "# Warning") {
		t.Errorf("kustomize's own warning reached stderr:\n%s", errOut)
	}
	code, out, errOut = runCLI(t, "render", "--repo", repo, "--cluster", "central", "--app", "infra")
	if code != 0 {
		t.Fatalf("render: exit code %d; stderr:\n%s", code, errOut)
	}
	objs := renderedObjects(t, out)
	if len(objs) != 1 || objs[0]["data"].(map[string]any)["a"] != "patched" {
		t.Errorf("the overlay's patch was not applied:\n%s", out)
	}
}

// A malformed per-object control annotation is a validate error on the
// app's file naming the object, the annotation and the fix, not a failure
// discovered at sync time.
func TestValidateReportsMalformedControlAnnotations(t *testing.T) {
	repo := copyTree(t, exampleFleet)
	writeFiles(t, repo, map[string]string{
		"apps/infra/app.yaml":                oneAppOnCentral("infra", ""),
		"apps/infra/base/kustomization.yaml": "resources: [cm.yaml]\n",
		"apps/infra/base/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  annotations:\n    flotilla.dev/ignore-fields: spec.replicas\ndata:\n  a: b\n",
	})
	code, out, _ := runCLI(t, "validate", "--repo", repo)
	if code != 1 {
		t.Fatalf("exit code %d, want 1; stdout:\n%s", code, out)
	}
	wantInOrder(t, out, "apps/infra/app.yaml: app infra renders ConfigMap cm: annotation flotilla.dev/ignore-fields: \"spec.replicas\" is not a JSON pointer to a field; write it as /spec/replicas")
}
