package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/flotilla-gitops/flotilla/placement"
)

// The generated-name case of TestGeneratedNamesFollowVariables, rendered
// by a Renderer that builds in worker processes: the build of the inputs
// and each cluster's variant build run in a worker, and the manifests,
// digests and build counts are those of an in-process Renderer. The plan
// of the inputs (which variables, whether variant builds are needed)
// crosses the worker boundary.
func TestIsolatedVariantBuildsMatchInProcess(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, modelApp)
	local := New(Options{})
	isolated := New(isolatedOptions())
	targets := []placement.Target{
		modelTarget("factory-dresden", "v4.1.3"),
		modelTarget("factory-lyon", "v4.2.0"),
		modelTarget("factory-dresden", "v4.2.0"),
		modelTarget("factory-dresden", "v4.1.3"),
	}
	names := map[string]string{}
	for _, tg := range targets {
		want := mustRender(t, local, root, tg)
		got := mustRender(t, isolated, root, tg)
		id := tg.Cluster + "@" + tg.Vars["cluster.vars.modelVersion"]
		if !bytes.Equal(got.YAML, want.YAML) {
			t.Fatalf("%s: isolated render differs\n--- isolated\n%s\n--- in-process\n%s", id, got.YAML, want.YAML)
		}
		if got.Digest != want.Digest {
			t.Errorf("%s: digest %s, want %s", id, got.Digest, want.Digest)
		}
		if lit := literalBuild(t, root, tg); !bytes.Equal(got.YAML, lit) {
			t.Fatalf("%s: isolated render differs from kustomize build of the literal tree\n--- render\n%s\n--- kustomize build\n%s", id, got.YAML, lit)
		}
		names[id] = configMapName(t, got, "model-sync-script-")
	}
	if names["factory-dresden@v4.1.3"] == names["factory-lyon@v4.2.0"] || names["factory-dresden@v4.1.3"] == names["factory-dresden@v4.2.0"] {
		t.Errorf("the script ConfigMap name does not follow the variables: %v", names)
	}
	if l, i := local.Stats(), isolated.Stats(); i.Builds != l.Builds || i.Builds != 4 {
		t.Errorf("isolated builds = %d, in-process %d, want 4 (one capture, three variants)", i.Builds, l.Builds)
	}
}

// A variant build that fails in a worker keeps its error's kind, file and
// message; one that passes a limit is stopped by the worker's limits.
func TestIsolatedVariantBuildErrors(t *testing.T) {
	t.Run("env file", func(t *testing.T) {
		root := t.TempDir()
		writeFiles(t, root, map[string]string{
			"apps/a/base/kustomization.yaml": "configMapGenerator:\n- name: settings\n  envs:\n  - settings.env\n",
			"apps/a/base/settings.env":       "SITE=${cluster.vars.site}\n",
		})
		tg := placement.Target{App: "a", Cluster: "f1", Base: "apps/a/base",
			Vars: clusterVars("f1", nil, map[string]string{"site": "lyon\nADMIN=true"})}
		re, msg := renderErr(t, New(isolatedOptions()), root, tg, ErrVariableStructure)
		wantContains(t, msg, "apps/a/base/settings.env", "${cluster.vars.site}", "line break", "clusters/f1.yaml")
		if re.File != "apps/a/base/settings.env" {
			t.Errorf("File = %q, want apps/a/base/settings.env", re.File)
		}
	})
	t.Run("remote base through a value", func(t *testing.T) {
		root := t.TempDir()
		writeFiles(t, root, map[string]string{
			"apps/a/base/kustomization.yaml":    "resources:\n- ${cluster.vars.extra}\nconfigMapGenerator:\n- name: site\n  literals:\n  - SITE=${cluster.name}\n",
			"apps/a/base/${cluster.vars.extra}": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n",
		})
		tg := placement.Target{App: "a", Cluster: "f1", Base: "apps/a/base",
			Vars: clusterVars("f1", nil, map[string]string{"extra": "https://example.invalid/evil.yaml"})}
		_, msg := renderErr(t, New(isolatedOptions()), root, tg, ErrRemoteBase)
		wantContains(t, msg, "apps/a/base/kustomization.yaml", "https://example.invalid/evil.yaml")
	})
	t.Run("output limit", func(t *testing.T) {
		root := t.TempDir()
		writeFiles(t, root, map[string]string{
			"apps/a/base/kustomization.yaml": "configMapGenerator:\n- name: big\n  files:\n  - big.txt\n",
			"apps/a/base/big.txt":            strings.Repeat("k: ${cluster.vars.big}\n", 64),
		})
		opts := isolatedOptions()
		opts.MaxOutputSize = 1 << 20
		tg := placement.Target{App: "a", Cluster: "f1", Base: "apps/a/base",
			Vars: clusterVars("f1", nil, map[string]string{"big": strings.Repeat("y", 64<<10)})}
		_, msg := renderErr(t, New(opts), root, tg, ErrOutputTooLarge)
		wantContains(t, msg, "1048576-byte limit", "apps/a/base/big.txt", "${cluster.vars.big}")
	})
}
