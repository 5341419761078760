package render

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-gitops/flotilla/placement"
)

const cmYAML = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: b\n"

// badRepo makes a repository under a fresh folder, with a sibling folder
// "outside" (outside the repository) holding a secret file and a base.
func badRepo(t *testing.T, files map[string]string) (root, outside string) {
	t.Helper()
	parent := t.TempDir()
	root = filepath.Join(parent, "repo")
	outside = filepath.Join(parent, "outside")
	writeFiles(t, outside, map[string]string{
		"secret.yaml":             "apiVersion: v1\nkind: Secret\nmetadata:\n  name: stolen\nstringData:\n  k: v\n",
		"base/kustomization.yaml": "resources:\n- ../secret.yaml\n",
	})
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, root, files)
	return root, outside
}

func target(base string, overlayPaths ...string) placement.Target {
	return placement.Target{App: "app", Cluster: "c1", Namespace: "ns", Base: base,
		Overlays: overlays(overlayPaths...), Vars: clusterVars("c1", nil, nil)}
}

func symlink(t *testing.T, oldname, newname string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(newname), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(oldname, newname); err != nil {
		t.Fatal(err)
	}
}

func TestConfinement(t *testing.T) {
	t.Run("symlinked file leading outside", func(t *testing.T) {
		root, outside := badRepo(t, map[string]string{
			"apps/a/base/kustomization.yaml": "resources:\n- cm.yaml\n- secret.yaml\n",
			"apps/a/base/cm.yaml":            cmYAML,
		})
		symlink(t, filepath.Join(outside, "secret.yaml"), filepath.Join(root, "apps/a/base/secret.yaml"))
		re, msg := renderErr(t, New(Options{}), root, target("apps/a/base"), ErrOutsideRoot)
		if re.File != "apps/a/base/kustomization.yaml" {
			t.Errorf("File = %q, want the kustomization naming the link", re.File)
		}
		wantContains(t, msg, `render app "app" for cluster "c1"`, "apps/a/base/kustomization.yaml",
			`resources entry "secret.yaml"`, "symbolic link", "outside the repository root")
	})

	t.Run("symlinked folder leading outside", func(t *testing.T) {
		root, outside := badRepo(t, map[string]string{
			"apps/a/base/kustomization.yaml": "resources:\n- shared\n",
		})
		symlink(t, filepath.Join(outside, "base"), filepath.Join(root, "apps/a/base/shared"))
		_, msg := renderErr(t, New(Options{}), root, target("apps/a/base"), ErrOutsideRoot)
		wantContains(t, msg, "apps/a/base/kustomization.yaml", `resources entry "shared"`, "symbolic link")
	})

	t.Run("symlinked patch file leading outside", func(t *testing.T) {
		// Not named in any kustomization entry the scan checks by path:
		// the filesystem itself refuses it.
		root, outside := badRepo(t, map[string]string{
			"apps/a/base/kustomization.yaml": "resources:\n- cm.yaml\nconfigMapGenerator:\n- name: g\n  files:\n  - conf/secret.yaml\n",
			"apps/a/base/cm.yaml":            cmYAML,
		})
		symlink(t, outside, filepath.Join(root, "apps/a/base/conf"))
		_, msg := renderErr(t, New(Options{}), root, target("apps/a/base"), ErrOutsideRoot)
		wantContains(t, msg, "symbolic link", "outside the repository root")
	})

	t.Run("dot-dot leaving the root", func(t *testing.T) {
		root, _ := badRepo(t, map[string]string{
			"apps/a/base/kustomization.yaml": "resources:\n- ../../../../outside/base\n",
		})
		re, msg := renderErr(t, New(Options{}), root, target("apps/a/base"), ErrOutsideRoot)
		if re.File != "apps/a/base/kustomization.yaml" {
			t.Errorf("File = %q", re.File)
		}
		wantContains(t, msg, "apps/a/base/kustomization.yaml", `resources entry "../../../../outside/base"`, `leaves the repository root through ".."`)
	})

	t.Run("dot-dot in a patch path", func(t *testing.T) {
		root, _ := badRepo(t, map[string]string{
			"apps/a/base/kustomization.yaml": "resources:\n- cm.yaml\npatches:\n- path: ../../../../outside/secret.yaml\n",
			"apps/a/base/cm.yaml":            cmYAML,
		})
		_, msg := renderErr(t, New(Options{}), root, target("apps/a/base"), ErrOutsideRoot)
		wantContains(t, msg, "apps/a/base/kustomization.yaml", `patches[0].path entry`, "leaves the repository root")
	})

	t.Run("absolute path", func(t *testing.T) {
		root, outside := badRepo(t, nil)
		writeFiles(t, root, map[string]string{
			"apps/a/base/kustomization.yaml": "resources:\n- " + filepath.Join(outside, "secret.yaml") + "\n",
		})
		_, msg := renderErr(t, New(Options{}), root, target("apps/a/base"), ErrOutsideRoot)
		wantContains(t, msg, "apps/a/base/kustomization.yaml", "is an absolute path", "relative")
	})

	t.Run("absolute path to a system file", func(t *testing.T) {
		root, _ := badRepo(t, map[string]string{
			"apps/a/base/kustomization.yaml": "configMapGenerator:\n- name: g\n  files:\n  - passwd=/etc/passwd\n",
		})
		_, msg := renderErr(t, New(Options{}), root, target("apps/a/base"), ErrOutsideRoot)
		wantContains(t, msg, "apps/a/base/kustomization.yaml", `configMapGenerator[0].files entry "/etc/passwd"`, "absolute path")
	})

	t.Run("overlay through a symlinked folder", func(t *testing.T) {
		root, outside := badRepo(t, map[string]string{
			"apps/a/base/kustomization.yaml": "resources:\n- cm.yaml\n",
			"apps/a/base/cm.yaml":            cmYAML,
		})
		writeFiles(t, outside, map[string]string{"comp/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"})
		symlink(t, filepath.Join(outside, "comp"), filepath.Join(root, "apps/a/overlays/x"))
		_, msg := renderErr(t, New(Options{}), root, target("apps/a/base", "apps/a/overlays/x"), ErrOutsideRoot)
		wantContains(t, msg, "symbolic link", "outside the repository root")
	})
}

func TestRemoteBasesRefused(t *testing.T) {
	for _, tc := range []struct {
		name, kust, entry string
	}{
		{"https git base", "resources:\n- https://github.com/org/repo//deploy?ref=v1\n", `resources entry "https://github.com/org/repo//deploy?ref=v1" is a remote base`},
		{"github shorthand", "resources:\n- github.com/org/repo/deploy\n", `resources entry "github.com/org/repo/deploy" is a remote base`},
		{"scp-style git", "resources:\n- git@github.com:org/repo.git/deploy\n", `is a remote base`},
		{"go-getter prefix", "resources:\n- git::https://example.com/org/repo.git\n", `is a remote base`},
		{"remote file", "resources:\n- https://example.com/all.yaml\n", `is a remote base`},
		{"remote component", "components:\n- ssh://git@example.com/org/repo.git//c\n", `components entry`},
		{"remote patch", "resources:\n- cm.yaml\npatches:\n- path: https://example.com/patch.yaml\n", `patches[0].path entry "https://example.com/patch.yaml" is a remote file`},
		{"deprecated bases field", "bases:\n- https://github.com/org/repo\n", `bases entry`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, _ := badRepo(t, map[string]string{
				"apps/a/base/kustomization.yaml": tc.kust,
				"apps/a/base/cm.yaml":            cmYAML,
			})
			start := time.Now()
			re, msg := renderErr(t, New(Options{}), root, target("apps/a/base"), ErrRemoteBase)
			if re.File != "apps/a/base/kustomization.yaml" {
				t.Errorf("File = %q", re.File)
			}
			wantContains(t, msg, "apps/a/base/kustomization.yaml", tc.entry, "not allowed", "copy it into the repository")
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v: the remote was contacted", d)
			}
		})
	}
}

func TestPluginsRefused(t *testing.T) {
	krmFn := `apiVersion: example.com/v1
kind: SetRegistry
metadata:
  name: fn
  annotations:
    config.kubernetes.io/function: |
      container:
        image: example.com/fn:v1
`
	execPlugin := "apiVersion: someteam.example.com/v1\nkind: ChartInflator\nmetadata:\n  name: x\n"
	for _, tc := range []struct {
		name  string
		files map[string]string
		kind  error
		want  []string
	}{
		{"KRM function in a transformers file", map[string]string{
			"apps/a/base/kustomization.yaml": "resources:\n- cm.yaml\ntransformers:\n- fn.yaml\n",
			"apps/a/base/fn.yaml":            krmFn,
		}, ErrPluginNotAllowed, []string{`transformers entry "fn.yaml"`, "kind SetRegistry", "KRM-function plugin", "builtin"}},
		{"exec plugin in a generators file", map[string]string{
			"apps/a/base/kustomization.yaml": "generators:\n- gen.yaml\n",
			"apps/a/base/gen.yaml":           execPlugin,
		}, ErrPluginNotAllowed, []string{`generators entry "gen.yaml"`, "kind ChartInflator", "exec or Go plugin"}},
		{"inline KRM function", map[string]string{
			"apps/a/base/kustomization.yaml": "resources:\n- cm.yaml\ntransformers:\n- |-\n" + indent(krmFn, "  "),
		}, ErrPluginNotAllowed, []string{"transformers entry (inline)", "KRM-function plugin"}},
		{"validators", map[string]string{
			"apps/a/base/kustomization.yaml": "resources:\n- cm.yaml\nvalidators:\n- v.yaml\n",
			"apps/a/base/v.yaml":             execPlugin,
		}, ErrPluginNotAllowed, []string{`validators entry "v.yaml"`}},
		{"plugin in a component", map[string]string{
			"apps/a/base/kustomization.yaml":       "resources:\n- cm.yaml\n",
			"apps/a/overlays/x/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ntransformers:\n- fn.yaml\n",
			"apps/a/overlays/x/fn.yaml":            krmFn,
		}, ErrPluginNotAllowed, []string{"apps/a/overlays/x/kustomization.yaml", `transformers entry "fn.yaml"`}},
		{"KRM function reached through a folder", map[string]string{
			"apps/a/base/kustomization.yaml":     "resources:\n- cm.yaml\ntransformers:\n- fns\n",
			"apps/a/base/fns/kustomization.yaml": "resources:\n- fn.yaml\n",
			"apps/a/base/fns/fn.yaml":            krmFn,
		}, ErrPluginNotAllowed, []string{"external plugins disabled", "SetRegistry", "builtin"}},
		{"helmCharts", map[string]string{
			"apps/a/base/kustomization.yaml": "helmCharts:\n- name: redis\n  repo: https://charts.example.com\n  version: 1.0.0\n",
		}, ErrHelmNotAllowed, []string{"helmCharts", "Helm chart inflation is not allowed", "helm template"}},
		{"HelmChartInflationGenerator", map[string]string{
			"apps/a/base/kustomization.yaml": "generators:\n- helm.yaml\n",
			"apps/a/base/helm.yaml":          "apiVersion: builtin\nkind: HelmChartInflationGenerator\nmetadata:\n  name: h\nname: redis\n",
		}, ErrHelmNotAllowed, []string{`generators entry "helm.yaml"`, "HelmChartInflationGenerator is not allowed"}},
		{"openapi", map[string]string{
			"apps/a/base/kustomization.yaml": "resources:\n- cm.yaml\nopenapi:\n  path: schema.json\n",
			"apps/a/base/schema.json":        "{}",
		}, ErrUnsupportedField, []string{"openapi", "not supported"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"apps/a/base/cm.yaml": cmYAML}
			for k, v := range tc.files {
				files[k] = v
			}
			root, _ := badRepo(t, files)
			var ov []string
			if _, ok := tc.files["apps/a/overlays/x/kustomization.yaml"]; ok {
				ov = []string{"apps/a/overlays/x"}
			}
			re, msg := renderErr(t, New(Options{}), root, target("apps/a/base", ov...), tc.kind)
			if re.File == "" && !strings.Contains(tc.name, "through a folder") {
				t.Error("the error names no file")
			}
			wantContains(t, msg, re.File+": ")
			wantContains(t, msg, tc.want...)
		})
	}

	t.Run("builtin transformers still work", func(t *testing.T) {
		root, _ := badRepo(t, map[string]string{
			"apps/a/base/kustomization.yaml": "resources:\n- cm.yaml\ntransformers:\n- labels.yaml\n",
			"apps/a/base/cm.yaml":            cmYAML,
			"apps/a/base/labels.yaml":        "apiVersion: builtin\nkind: LabelTransformer\nmetadata:\n  name: l\nlabels:\n  team: vision\nfieldSpecs:\n- path: metadata/labels\n  create: true\n",
		})
		m := mustRender(t, New(Options{}), root, target("apps/a/base"))
		wantContains(t, string(m.YAML), "team: vision")
	})
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}

func TestSizeLimits(t *testing.T) {
	t.Run("oversize file", func(t *testing.T) {
		big := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  blob: " + strings.Repeat("x", 4096) + "\n"
		root, _ := badRepo(t, map[string]string{
			"apps/a/base/kustomization.yaml": "resources:\n- big.yaml\n",
			"apps/a/base/big.yaml":           big,
		})
		re, msg := renderErr(t, New(Options{MaxFileSize: 1024}), root, target("apps/a/base"), ErrFileTooLarge)
		if re.File != "apps/a/base/big.yaml" {
			t.Errorf("File = %q, want the big file", re.File)
		}
		wantContains(t, msg, "apps/a/base/big.yaml", "larger than the 1024-byte limit", "MaxFileSize")
	})

	t.Run("oversize output", func(t *testing.T) {
		files := map[string]string{}
		var res []string
		for i := range 20 {
			name := "cm" + string(rune('a'+i)) + ".yaml"
			files["apps/a/base/"+name] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name[:3] + "\ndata:\n  blob: " + strings.Repeat("y", 500) + "\n"
			res = append(res, "- "+name)
		}
		files["apps/a/base/kustomization.yaml"] = "resources:\n" + strings.Join(res, "\n") + "\n"
		root, _ := badRepo(t, files)
		_, msg := renderErr(t, New(Options{MaxOutputSize: 4000}), root, target("apps/a/base"), ErrOutputTooLarge)
		wantContains(t, msg, "larger than the 4000-byte limit", "MaxOutputSize")
	})

	t.Run("oversize output after substitution", func(t *testing.T) {
		root, _ := badRepo(t, map[string]string{
			"apps/a/base/kustomization.yaml": "resources:\n- cm.yaml\n",
			"apps/a/base/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  v: ${cluster.vars.big}\n",
		})
		tg := target("apps/a/base")
		tg.Vars = clusterVars("c1", nil, map[string]string{"big": strings.Repeat("z", 5000)})
		_, msg := renderErr(t, New(Options{MaxOutputSize: 4000}), root, tg, ErrOutputTooLarge)
		wantContains(t, msg, "once variables are substituted")
	})

	t.Run("too many files", func(t *testing.T) {
		// A chain of diamonds: each level includes the next twice, through
		// two folders with different name prefixes, so the build reads
		// 2^levels kustomizations.
		files := map[string]string{}
		const levels = 12
		for i := range levels {
			files[lvl(i, "l")+"/kustomization.yaml"] = "namePrefix: l-\nresources:\n- ../../" + string(rune('b'+i)) + "\n"
			files[lvl(i, "r")+"/kustomization.yaml"] = "namePrefix: r-\nresources:\n- ../../" + string(rune('b'+i)) + "\n"
			files[lvl(i, "")+"/kustomization.yaml"] = "resources:\n- l\n- r\n"
		}
		files[lvl(levels, "")+"/kustomization.yaml"] = "resources:\n- cm.yaml\n"
		files[lvl(levels, "")+"/cm.yaml"] = cmYAML
		root, _ := badRepo(t, files)
		// The chain nests 2*levels deep: raise the nesting limit so that
		// the file count is the limit reached.
		_, msg := renderErr(t, New(Options{MaxFileReads: 500, MaxNestingDepth: 100}), root, target(lvl(0, "")), ErrTooManyFiles)
		wantContains(t, msg, "more than 500 files", "MaxFileReads")
	})
}

func lvl(i int, side string) string {
	p := "d/" + string(rune('a'+i))
	if side != "" {
		p += "/" + side
	}
	return p
}

func TestKustomizationCycles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		base  string
		file  string
		want  []string
	}{
		{"includes itself", map[string]string{
			"apps/a/base/kustomization.yaml": "resources:\n- .\n",
		}, "apps/a/base", "apps/a/base/kustomization.yaml", []string{`apps/a/base/kustomization.yaml resources "."`}},
		{"A includes B includes A", map[string]string{
			"apps/a/kustomization.yaml": "resources:\n- ../b\n",
			"apps/b/kustomization.yaml": "resources:\n- ../a\n",
		}, "apps/a", "apps/b/kustomization.yaml", []string{
			`apps/a/kustomization.yaml resources "../b" -> apps/b/kustomization.yaml resources "../a"`, "leads back to apps/a"}},
		{"includes its parent", map[string]string{
			"apps/a/kustomization.yaml":     "resources:\n- sub\n",
			"apps/a/sub/kustomization.yaml": "resources:\n- ..\n",
		}, "apps/a", "apps/a/sub/kustomization.yaml", []string{`apps/a/sub/kustomization.yaml resources ".."`}},
		{"component cycle", map[string]string{
			"apps/a/kustomization.yaml": "resources:\n- cm.yaml\ncomponents:\n- ../c\n",
			"apps/a/cm.yaml":            cmYAML,
			"apps/c/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncomponents:\n- ../a\n",
		}, "apps/a", "apps/c/kustomization.yaml", []string{`apps/c/kustomization.yaml components "../a"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, _ := badRepo(t, tc.files)
			done := make(chan struct{})
			var re *Error
			var msg string
			go func() {
				defer close(done)
				re, msg = renderErr(t, New(Options{}), root, target(tc.base), ErrKustomizationCycle)
			}()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("render hangs on a kustomization cycle")
			}
			if re == nil {
				return
			}
			if re.File != tc.file {
				t.Errorf("File = %q, want %q", re.File, tc.file)
			}
			wantContains(t, msg, append([]string{"kustomization cycle", "remove one of these references"}, tc.want...)...)
		})
	}

	t.Run("symlink loop", func(t *testing.T) {
		root, _ := badRepo(t, map[string]string{
			"apps/a/kustomization.yaml": "resources:\n- loop\n",
		})
		symlink(t, ".", filepath.Join(root, "apps/a/loop"))
		_, msg := renderErr(t, New(Options{}), root, target("apps/a"), ErrKustomizationCycle)
		wantContains(t, msg, `resources "loop"`)
	})
}

// Malformed repositories return errors, never panic.
func TestBadInputNeverPanics(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"malformed kustomization": {"b/kustomization.yaml": "resources: [\n"},
		"unknown field":           {"b/kustomization.yaml": "resourcez:\n- a.yaml\n"},
		"missing resource":        {"b/kustomization.yaml": "resources:\n- nope.yaml\n"},
		"malformed resource":      {"b/kustomization.yaml": "resources:\n- a.yaml\n", "b/a.yaml": "kind: [\n"},
		"no kind":                 {"b/kustomization.yaml": "resources:\n- a.yaml\n", "b/a.yaml": "metadata:\n  name: x\n"},
		"two kustomization files": {"b/kustomization.yaml": "resources: []\n", "b/kustomization.yml": "resources: []\n"},
		"no kustomization":        {"b/a.yaml": cmYAML},
		"bad patch":               {"b/kustomization.yaml": "resources:\n- a.yaml\npatches:\n- patch: '[{\"op\": \"bogus\"}]'\n  target:\n    kind: ConfigMap\n", "b/a.yaml": cmYAML},
		"conflicting ids":         {"b/kustomization.yaml": "resources:\n- a.yaml\n- c.yaml\n", "b/a.yaml": cmYAML, "b/c.yaml": cmYAML},
		"empty file":              {"b/kustomization.yaml": ""},
		"list of scalars":         {"b/kustomization.yaml": "- a\n- b\n"},
		"substituted to invalid":  {"b/kustomization.yaml": "resources:\n- a.yaml\n", "b/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  k: ${cluster.vars.v}\n"},
	} {
		t.Run(name, func(t *testing.T) {
			root, _ := badRepo(t, files)
			tg := target("b")
			tg.Vars = clusterVars("c1", nil, map[string]string{"v": "a: b: c"})
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("panic: %v", p)
					}
				}()
				_, err := New(Options{}).Render(t.Context(), root, tg)
				if err == nil {
					t.Fatal("bad input rendered without error")
				}
				wantContains(t, err.Error(), `render app "app" for cluster "c1": `)
				if strings.Contains(err.Error(), root) {
					t.Errorf("the message names the absolute root instead of repository paths: %v", err)
				}
			}()
		})
	}
}
