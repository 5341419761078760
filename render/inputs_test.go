package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/flotilla-gitops/flotilla/placement"
)

// literalBuild writes a copy of the tree at root with vars written into
// every file (as a user would write the values by hand), plus a wrapper
// kustomization equivalent to render's in-memory one for tg, and returns
// `kustomize build` of the wrapper.
func literalBuild(t *testing.T, root string, tg placement.Target) []byte {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if data, err = Substitute(data, tg.Vars); err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatalf("writing the literal copy: %v", err)
	}
	kust := map[string]any{"resources": []string{"../" + tg.Base}}
	if tg.Namespace != "" {
		kust["namespace"] = tg.Namespace
	}
	var comps []string
	for _, o := range tg.Overlays {
		comps = append(comps, "../"+o.Path)
	}
	if comps != nil {
		kust["components"] = comps
	}
	k, err := yaml.Marshal(kust)
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dst, map[string]string{"literal-target/kustomization.yaml": string(k)})
	return kustomizeBuild(t, filepath.Join(dst, "literal-target"))
}

// modelApp is an app whose generated ConfigMaps depend on variables.
var modelApp = map[string]string{
	"apps/model/base/kustomization.yaml": `resources:
- deployment.yaml
configMapGenerator:
- name: model-sync-script
  files:
  - sync.sh
- name: model-settings
  literals:
  - MODEL_VERSION=${cluster.vars.modelVersion}
  - SITE=${cluster.name}
`,
	"apps/model/base/sync.sh": `#!/bin/sh
DEST="$${MODEL_DIR:-/models}/${cluster.vars.modelVersion}"
echo "syncing ${cluster.vars.modelVersion} for ${cluster.name}"
`,
	"apps/model/base/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: model-sync
spec:
  replicas: ${cluster.vars.lines}
  selector:
    matchLabels: {app: model-sync}
  template:
    metadata:
      labels: {app: model-sync}
    spec:
      containers:
      - name: sync
        image: ${cluster.vars.registry}/model-sync:1.0
        command: ["/scripts/sync.sh"]
        envFrom:
        - configMapRef:
            name: model-settings
        volumeMounts:
        - name: scripts
          mountPath: /scripts
      volumes:
      - name: scripts
        configMap:
          name: model-sync-script
`,
	"apps/model/overlays/port/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
patches:
- path: port.yaml
  target:
    kind: Deployment
    name: model-sync
`,
	"apps/model/overlays/port/port.yaml": `- op: add
  path: /spec/template/spec/containers/0/env
  value:
  - name: PORT
    value: "${cluster.vars.port}"
  - name: LINES
    value: '${cluster.vars.lines}'
`,
}

func modelTarget(cluster, version string) placement.Target {
	return placement.Target{
		App: "model", Cluster: cluster, Namespace: "inspection", Base: "apps/model/base",
		Overlays: overlays("apps/model/overlays/port"),
		Vars: clusterVars(cluster, nil, map[string]string{
			"modelVersion": version, "registry": "harbor." + cluster + ".local", "lines": "3", "port": "8080",
		}),
	}
}

// configMapName returns the name of the rendered ConfigMap whose name
// starts with prefix.
func configMapName(t *testing.T, m *Manifest, prefix string) string {
	t.Helper()
	for _, o := range m.Objects {
		if o.GetKind() == "ConfigMap" && strings.HasPrefix(o.GetName(), prefix) {
			return o.GetName()
		}
	}
	t.Fatalf("no ConfigMap %s* rendered:\n%s", prefix, m.YAML)
	return ""
}

// Issue #10.7: a generated ConfigMap's hash suffix follows its substituted
// content, and every reference follows the name, exactly as kustomize
// builds the tree with the values written in it. The JSON 6902 patch keeps
// its quotes: "8080" and '3' stay strings.
func TestGeneratedNamesFollowVariables(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, modelApp)
	r := New(Options{})
	dresden := modelTarget("factory-dresden", "v4.1.3")
	lyon := modelTarget("factory-lyon", "v4.2.0")
	dresdenNext := modelTarget("factory-dresden", "v4.2.0")

	seen := map[string]string{}
	for _, tg := range []placement.Target{dresden, lyon, dresdenNext, dresden} {
		m := mustRender(t, r, root, tg)
		want := literalBuild(t, root, tg)
		if !bytes.Equal(m.YAML, want) {
			t.Fatalf("%s %s: render differs from kustomize build of the literal tree\n--- render\n%s\n--- kustomize build\n%s",
				tg.Cluster, tg.Vars["cluster.vars.modelVersion"], m.YAML, want)
		}
		id := tg.Cluster + "@" + tg.Vars["cluster.vars.modelVersion"]
		seen[id] = configMapName(t, m, "model-sync-script-")
		env := containersJSON(t, m)
		if !strings.Contains(env, `"value":"8080"`) || !strings.Contains(env, `"value":"3"`) {
			t.Errorf("%s: the JSON 6902 patch's quoted values are not strings: %s", id, env)
		}
	}
	if seen["factory-dresden@v4.1.3"] == seen["factory-lyon@v4.2.0"] {
		t.Errorf("Dresden (v4.1.3) and Lyon (v4.2.0) share the script ConfigMap name %s", seen["factory-dresden@v4.1.3"])
	}
	if seen["factory-dresden@v4.1.3"] == seen["factory-dresden@v4.2.0"] {
		t.Errorf("a version bump keeps the script ConfigMap name %s: the pods would not roll", seen["factory-dresden@v4.1.3"])
	}
	if st := r.Stats(); st.Builds != 4 {
		// One build of the inputs, then one per (cluster, values); the
		// second Dresden v4.1.3 render reuses its cached variant.
		t.Errorf("builds = %d, want 4 (one capture, three variants)", st.Builds)
	}
}

// containersJSON returns the JSON of the containers of the Deployment in m.
func containersJSON(t *testing.T, m *Manifest) string {
	t.Helper()
	for _, o := range m.Objects {
		if o.GetKind() != "Deployment" {
			continue
		}
		c, _, err := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	t.Fatalf("no Deployment rendered:\n%s", m.YAML)
	return ""
}

// injection is a value that would add a key to the object around it if it
// were pasted into the YAML text.
const injection = "x\n  securityContext: {privileged: true}"

// Issue #11.5: a variable whose value contains a line break and a key
// cannot add that key, whether the value is substituted in the output of
// a cached build or in the inputs of a variant build.
func TestVariableCannotAddStructure(t *testing.T) {
	pod := `apiVersion: v1
kind: Pod
metadata:
  name: agent
spec:
  serviceAccountName: ${cluster.vars.account}
  containers:
  - name: c
    image: busybox
`
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{name: "substituted in the output", files: map[string]string{
			"apps/agent/base/kustomization.yaml": "resources:\n- pod.yaml\n",
			"apps/agent/base/pod.yaml":           pod,
		}, want: []string{"Pod/agent"}},
		{name: "substituted in the inputs", files: map[string]string{
			"apps/agent/base/kustomization.yaml": "resources:\n- pod.yaml\nconfigMapGenerator:\n- name: site\n  literals:\n  - SITE=${cluster.name}\n",
			"apps/agent/base/pod.yaml":           pod,
		}, want: []string{"apps/agent/base/pod.yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, tc.files)
			r := New(Options{})
			tg := placement.Target{App: "agent", Cluster: "f1", Base: "apps/agent/base",
				Vars: clusterVars("f1", nil, map[string]string{"account": injection})}
			m, err := r.Render(t.Context(), root, tg)
			if err == nil {
				if bytes.Contains(m.YAML, []byte("privileged")) {
					t.Fatalf("the variable added a securityContext:\n%s", m.YAML)
				}
				t.Fatalf("render succeeded, want ErrVariableStructure:\n%s", m.YAML)
			}
			_, msg := renderErr(t, r, root, tg, ErrVariableStructure)
			wantContains(t, msg, append([]string{"${cluster.vars.account}", "clusters/f1.yaml", "spec.vars.account", "line break"}, tc.want...)...)

			// A value without a line break renders.
			tg.Vars = clusterVars("f1", nil, map[string]string{"account": "agent-sa"})
			m = mustRender(t, r, root, tg)
			if !bytes.Contains(m.YAML, []byte("serviceAccountName: agent-sa")) {
				t.Fatalf("the plain value was not substituted:\n%s", m.YAML)
			}
		})
	}
}

// Values that stay inside their scalar keep working: a number where the
// reference is unquoted, a string where quoted, a value with ": " or a
// quote inside a quoted string of the right style.
func TestVariableScalarTypes(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"apps/a/base/kustomization.yaml": "resources:\n- cm.yaml\n",
		"apps/a/base/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
  annotations:
    count: "${cluster.vars.n}"
    text: '${cluster.vars.colon}'
data:
  plain: ${cluster.vars.word}
`,
	})
	r := New(Options{})
	tg := placement.Target{App: "a", Cluster: "f1", Base: "apps/a/base",
		Vars: clusterVars("f1", nil, map[string]string{"n": "3", "colon": `a: "b" #c`, "word": "hello"})}
	m := mustRender(t, r, root, tg)
	ann := m.Objects[0].GetAnnotations()
	if ann["count"] != "3" || ann["text"] != `a: "b" #c` {
		t.Errorf("annotations = %q", ann)
	}
	// The same colon value unquoted would make a nested mapping: refused.
	tg.Vars["cluster.vars.word"] = "a: b"
	_, msg := renderErr(t, r, root, tg, ErrVariableStructure)
	wantContains(t, msg, "${cluster.vars.word}", `contains ": "`, "apps/a/base/cm.yaml")
}

// Issue #11.3: a large value referenced many times fails as soon as the
// output limit is passed, without allocating the whole product, in both
// the output and the input substitution; the error names the limit and
// the file.
func TestBigVariableFailsFast(t *testing.T) {
	const refs = 300
	big := strings.Repeat("y", 1<<20) // 300 references: 300 MiB substituted
	var data strings.Builder
	for i := range refs {
		fmt.Fprintf(&data, "  k%03d: ${cluster.vars.big}\n", i)
	}
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n" + data.String()
	for _, tc := range []struct {
		name  string
		files map[string]string
		file  string
	}{
		{name: "output", files: map[string]string{
			"apps/a/base/kustomization.yaml": "resources:\n- cm.yaml\n",
			"apps/a/base/cm.yaml":            cm,
		}, file: "apps/a/base/cm.yaml"},
		{name: "inputs", files: map[string]string{
			"apps/a/base/kustomization.yaml": "configMapGenerator:\n- name: big\n  files:\n  - big.txt\n",
			"apps/a/base/big.txt":            data.String(),
		}, file: "apps/a/base/big.txt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, tc.files)
			const limit = 4 << 20
			r := New(Options{MaxOutputSize: limit})
			tg := placement.Target{App: "a", Cluster: "f1", Base: "apps/a/base",
				Vars: clusterVars("f1", nil, map[string]string{"big": big})}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := r.Render(t.Context(), root, tg)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatal("render succeeded, want ErrOutputTooLarge")
			}
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("allocated %d MiB for a %d MiB product", allocated>>20, refs)
			if allocated > 64<<20 {
				t.Errorf("the render allocated %d MiB before failing: the limit must be checked while substituting", allocated>>20)
			}
			_, msg := renderErr(t, r, root, tg, ErrOutputTooLarge)
			wantContains(t, msg, "4194304-byte limit", "Options.MaxOutputSize", tc.file, "${cluster.vars.big}")
		})
	}
}

// A JSON 6902 patch's quoted value stays a string once substituted
// ("Noticed earlier": the quotes were dropped, so "8080" became 8080), as
// kustomize builds the patch with the value written in it.
func TestJSON6902PatchKeepsQuotes(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"apps/model/base/kustomization.yaml": "resources:\n- deployment.yaml\n",
		"apps/model/base/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: model-sync
spec:
  selector:
    matchLabels: {app: model-sync}
  template:
    metadata:
      labels: {app: model-sync}
    spec:
      containers:
      - name: sync
        image: busybox
`,
	}
	for k, v := range modelApp {
		if strings.Contains(k, "/overlays/") {
			files[k] = v
		}
	}
	writeFiles(t, root, files)
	r := New(Options{})
	tg := modelTarget("factory-lyon", "v4.2.0")
	m := mustRender(t, r, root, tg)
	if want := literalBuild(t, root, tg); !bytes.Equal(m.YAML, want) {
		t.Fatalf("render differs from kustomize build of the literal tree\n--- render\n%s\n--- kustomize build\n%s", m.YAML, want)
	}
	if c := containersJSON(t, m); !strings.Contains(c, `"value":"8080"`) || !strings.Contains(c, `"value":"3"`) {
		t.Errorf("the patch's quoted values are not strings: %s", c)
	}
}

// Builds whose variables feed nothing kustomize computes keep one build for
// every cluster: a kustomization's plain newTag and a manifest's quoted
// reference to the same variable are no reason for per-cluster builds.
func TestNoVariantBuildWhenOutputSubstitutionIsExact(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"apps/a/base/kustomization.yaml": `resources:
- cm.yaml
- deploy.yaml
images:
- name: app
  newName: ${cluster.vars.registry}/app
  newTag: ${cluster.vars.version}
`,
		"apps/a/base/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
data:
  VERSION: "${cluster.vars.version}"
`,
		"apps/a/base/deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  selector:
    matchLabels: {app: a}
  template:
    metadata:
      labels: {app: a}
    spec:
      containers:
      - name: app
        image: app
`,
	})
	r := New(Options{})
	for _, c := range []string{"f1", "f2", "f3"} {
		tg := placement.Target{App: "a", Cluster: c, Base: "apps/a/base",
			Vars: clusterVars(c, nil, map[string]string{"registry": "harbor." + c, "version": "v1.10"})}
		m := mustRender(t, r, root, tg)
		if want := literalBuild(t, root, tg); !bytes.Equal(m.YAML, want) {
			t.Fatalf("%s: render differs from kustomize build of the literal tree\n--- render\n%s\n--- kustomize build\n%s", c, m.YAML, want)
		}
	}
	if b := r.Stats().Builds; b != 1 {
		t.Errorf("builds = %d, want 1 for three clusters", b)
	}
}

// A secretGenerator's literals and files get the values too: the output
// holds them base64-encoded, where substituting after the build could not
// see them.
func TestSecretGeneratorGetsVariables(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"apps/a/base/kustomization.yaml": `secretGenerator:
- name: creds
  literals:
  - USER=${cluster.name}
  files:
  - token.txt
generatorOptions:
  disableNameSuffixHash: true
`,
		"apps/a/base/token.txt": "token-for-${cluster.vars.site}\n",
	})
	r := New(Options{})
	tg := placement.Target{App: "a", Cluster: "f1", Base: "apps/a/base",
		Vars: clusterVars("f1", nil, map[string]string{"site": "lyon"})}
	m := mustRender(t, r, root, tg)
	if want := literalBuild(t, root, tg); !bytes.Equal(m.YAML, want) {
		t.Fatalf("render differs from kustomize build of the literal tree\n--- render\n%s\n--- kustomize build\n%s", m.YAML, want)
	}
}

// A value cannot turn a kustomization's local path into a remote base in a
// per-cluster build: the substituted kustomization is checked again before
// kustomize builds it.
func TestVariantKustomizationIsCheckedAgain(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"apps/a/base/kustomization.yaml": `resources:
- ${cluster.vars.extra}
configMapGenerator:
- name: site
  literals:
  - SITE=${cluster.name}
`,
		// A file named like the reference makes the first build pass.
		"apps/a/base/${cluster.vars.extra}": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n",
	})
	r := New(Options{})
	tg := placement.Target{App: "a", Cluster: "f1", Base: "apps/a/base",
		Vars: clusterVars("f1", nil, map[string]string{"extra": "https://example.invalid/evil.yaml"})}
	_, msg := renderErr(t, r, root, tg, ErrRemoteBase)
	wantContains(t, msg, "apps/a/base/kustomization.yaml", "https://example.invalid/evil.yaml")
}

// In a generator's env file a value cannot add a line (another key); in a
// file the generator copies as is, it may.
func TestEnvFileValueCannotAddLines(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"apps/a/base/kustomization.yaml": `configMapGenerator:
- name: settings
  envs:
  - settings.env
  files:
  - motd.txt
`,
		"apps/a/base/settings.env": "SITE=${cluster.vars.site}\n",
		"apps/a/base/motd.txt":     "Welcome to ${cluster.vars.site}\n",
	})
	r := New(Options{})
	tg := placement.Target{App: "a", Cluster: "f1", Base: "apps/a/base",
		Vars: clusterVars("f1", nil, map[string]string{"site": "lyon\nADMIN=true"})}
	_, msg := renderErr(t, r, root, tg, ErrVariableStructure)
	wantContains(t, msg, "apps/a/base/settings.env", "${cluster.vars.site}", "line break", "clusters/f1.yaml")

	writeFiles(t, root, map[string]string{"apps/a/base/settings.env": "SITE=lyon\n"})
	m := mustRender(t, r, root, tg)
	if want := literalBuild(t, root, tg); !bytes.Equal(m.YAML, want) {
		t.Fatalf("render differs from kustomize build of the literal tree\n--- render\n%s\n--- kustomize build\n%s", m.YAML, want)
	}
}

// A file kustomize reads twice (a folder included from two places) is one
// input of the build.
func TestInputsReadTwiceAreRecordedOnce(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"apps/a/base/kustomization.yaml":   "resources:\n- ../one\n- ../two\n",
		"apps/a/one/kustomization.yaml":    "namePrefix: one-\nresources:\n- ../common\n",
		"apps/a/two/kustomization.yaml":    "namePrefix: two-\nresources:\n- ../common\n",
		"apps/a/common/kustomization.yaml": "resources:\n- cm.yaml\n",
		"apps/a/common/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  SITE: ${cluster.name}\n",
	})
	r := New(Options{})
	out, err := r.build(t.Context(), root, buildKey{base: "apps/a/base"}, nil)
	if err != nil || out.err != nil {
		t.Fatalf("build: %v %v", err, out.err)
	}
	if len(out.objects) != 2 {
		t.Fatalf("%d objects, want the ConfigMap twice", len(out.objects))
	}
	if n := len(out.inputs.files); n != 1 {
		t.Errorf("%d inputs recorded, want 1 (apps/a/common/cm.yaml)", n)
	}
}
