package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"

	"github.com/flotilla-gitops/flotilla/fleet"
)

// exampleClusters returns the clusters the example declares.
func exampleClusters(t *testing.T) []string {
	t.Helper()
	f, diags := fleet.Load(exampleFleet)
	if f == nil || fleet.HasErrors(diags) {
		t.Fatalf("the example fleet does not load: %v", diags)
	}
	var names []string
	for _, c := range f.Clusters {
		names = append(names, c.Name)
	}
	if len(names) < 5 {
		t.Fatalf("the example declares %d clusters, want a central one and at least four factories", len(names))
	}
	return names
}

func TestRenderGoldenEveryExampleCluster(t *testing.T) {
	clusters := exampleClusters(t)
	for _, c := range clusters {
		t.Run(c, func(t *testing.T) {
			code, out, errOut := runCLI(t, "render", "--repo", exampleFleet, "--cluster", c)
			if code != 0 {
				t.Fatalf("exit code %d, stderr:\n%s", code, errOut)
			}
			checkGolden(t, c+".yaml", []byte(out))
			// The output is one valid multi-document YAML stream without a
			// variable left unsubstituted.
			nodes, err := kio.FromBytes([]byte(out))
			if err != nil {
				t.Fatalf("the output is not valid multi-document YAML: %v", err)
			}
			if len(nodes) == 0 {
				t.Fatal("the cluster receives no object")
			}
			if strings.Contains(out, "${cluster.") {
				t.Error("the output still holds a ${cluster.*} reference")
			}
		})
	}
	if *update {
		return
	}
	// Every golden file belongs to a cluster of the example.
	golden, err := filepath.Glob(filepath.Join("testdata", "golden", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range golden {
		if name := strings.TrimSuffix(filepath.Base(g), ".yaml"); !slices.Contains(clusters, name) {
			t.Errorf("%s belongs to no cluster of the example: remove it", g)
		}
	}
}

// TestRenderExampleSiteSpecifics checks, on the rendered example, the
// features the golden files are meant to show: variables substituted,
// replicas divided, overlays applied in order, taints respected.
func TestRenderExampleSiteSpecifics(t *testing.T) {
	render := func(cluster, app string) string {
		t.Helper()
		code, out, errOut := runCLI(t, "render", "--repo", exampleFleet, "--cluster", cluster, "--app", app)
		if code != 0 {
			t.Fatalf("render %s %s: exit code %d, stderr:\n%s", cluster, app, code, errOut)
		}
		return out
	}
	lyon := render("factory-lyon", "adc-inference")
	wantInOrder(t, lyon, "INSPECTION_LINES: \"8\"", "MODEL_VERSION: v4.2.0", "SITE: factory-lyon",
		"kind: Deployment", "replicas: 5", "ADC_DEVICE", "value: cuda", "image: harbor.lyon.factory.local/adc/inference:v4.2.0",
		"nvidia.com/gpu: 1")
	dresden := render("factory-dresden", "adc-inference")
	wantInOrder(t, dresden, "MODEL_VERSION: v4.1.3", "replicas: 4", "image: harbor.dresden.factory.local/adc/inference:v4.1.3")
	if strings.Contains(dresden, "nvidia.com/gpu") {
		t.Error("factory-dresden has no GPU but received the gpu overlay")
	}

	// The tainted factory gets no inference.
	code, _, errOut := runCLI(t, "render", "--repo", exampleFleet, "--cluster", "factory-monterrey", "--app", "adc-inference")
	if code != exitFailed || !strings.Contains(errOut, "app adc-inference is not placed on cluster factory-monterrey") ||
		!strings.Contains(errOut, "flotilla explain") {
		t.Errorf("render of an app not placed: exit code %d, stderr %q; want 1 and a pointer to explain", code, errOut)
	}
}

func TestRenderOutWritesOneFilePerClusterAndApp(t *testing.T) {
	outDir := t.TempDir()
	code, _, errOut := runCLI(t, "render", "--repo", exampleFleet, "--out", outDir)
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, errOut)
	}
	for _, c := range exampleClusters(t) {
		_, stdout, _ := runCLI(t, "render", "--repo", exampleFleet, "--cluster", c)
		entries, err := os.ReadDir(filepath.Join(outDir, c))
		if err != nil {
			t.Fatalf("no folder for cluster %s: %v", c, err)
		}
		// The files, joined in app order, are what the cluster receives.
		var joined []string
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(outDir, c, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if len(data) > 0 {
				joined = append(joined, string(data))
			}
		}
		if got := strings.Join(joined, "---\n"); got != stdout {
			t.Errorf("cluster %s: the files under --out differ from the stdout render", c)
		}
	}
	if _, err := os.Stat(filepath.Join(outDir, "central", "fleet-dashboard.yaml")); err != nil {
		t.Errorf("central/fleet-dashboard.yaml not written: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outDir, "factory-monterrey", "adc-inference.yaml")); !os.IsNotExist(err) {
		t.Errorf("adc-inference written for the tainted factory-monterrey (err %v)", err)
	}

	// --cluster and --app narrow --out.
	one := t.TempDir()
	if code, _, errOut := runCLI(t, "render", "--repo", exampleFleet, "--out", one, "--cluster", "central", "--app", "monitoring-agent"); code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, errOut)
	}
	var files []string
	_ = filepath.WalkDir(one, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(one, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if !slices.Equal(files, []string{"central/monitoring-agent.yaml"}) {
		t.Errorf("files written: %v, want only central/monitoring-agent.yaml", files)
	}
}

func TestRenderUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown cluster", []string{"--cluster", "factory-nowhere"},
			[]string{`unknown cluster "factory-nowhere"`, "central, factory-austin, factory-dresden, factory-lyon, factory-monterrey"}},
		{"unknown app", []string{"--cluster", "central", "--app", "nope"},
			[]string{`unknown app "nope"`, "adc-inference", "monitoring-agent"}},
		{"no cluster and no out", nil, []string{"set --cluster"}},
		{"unreadable repository", []string{"--cluster", "central", "--repo", "/nonexistent/fleet"}, []string{"/nonexistent/fleet"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"render", "--repo", exampleFleet}, tc.args...)
			code, out, errOut := runCLI(t, args...)
			if code != exitUsage {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitUsage, errOut)
			}
			if out != "" {
				t.Errorf("stdout is not empty: %q", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}

func TestRenderRefusesAnInvalidFleet(t *testing.T) {
	repo := copyTree(t, exampleFleet)
	editFile(t, filepath.Join(repo, "apps/fleet-dashboard/app.yaml"), "healthTimeout:", "healthTimeOut:")
	code, out, errOut := runCLI(t, "render", "--repo", repo, "--cluster", "factory-lyon")
	if code != exitFailed {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitFailed, errOut)
	}
	if out != "" {
		t.Errorf("an invalid fleet was rendered:\n%s", out)
	}
	wantInOrder(t, errOut, "apps/fleet-dashboard/app.yaml:", "healthTimeOut", "flotilla validate")
}
