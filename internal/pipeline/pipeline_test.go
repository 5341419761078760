package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flotilla-gitops/flotilla/render"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func cluster(name, region string) string {
	return "apiVersion: flotilla.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: " + name +
		"\n  labels:\n    region: " + region + "\nspec:\n  vars:\n    greeting: hello-" + name + "\n"
}

func app(name, extra string) string {
	return "apiVersion: flotilla.dev/v1alpha1\nkind: App\nmetadata:\n  name: " + name + "\nspec:\n  namespace: " + name + "\n" + extra
}

const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  greeting: ${cluster.vars.greeting}\n"

// smallFleet has three clusters and two apps: web everywhere, with an
// overlay in region eu; db on eu-1 only.
func smallFleet(t *testing.T) string {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"clusters/eu-1.yaml":                      cluster("eu-1", "eu"),
		"clusters/eu-2.yaml":                      cluster("eu-2", "eu"),
		"clusters/us-1.yaml":                      cluster("us-1", "us"),
		"apps/web/app.yaml":                       app("web", "  overlays:\n  - name: eu\n    clusterSelector:\n      matchLabels:\n        region: eu\n"),
		"apps/web/base/kustomization.yaml":        "resources:\n- cm.yaml\n",
		"apps/web/base/cm.yaml":                   cm,
		"apps/web/overlays/eu/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nlabels:\n- includeSelectors: true\n  pairs:\n    region: eu\n",
		"apps/db/app.yaml":                        app("db", "  placement:\n    clusterNames: [eu-1]\n"),
		"apps/db/base/kustomization.yaml":         "resources:\n- cm.yaml\n",
		"apps/db/base/cm.yaml":                    cm,
	})
	return root
}

func TestRunLoadsPlacesAndRendersEveryTarget(t *testing.T) {
	out, err := Run(context.Background(), smallFleet(t), render.New(render.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if out.HasErrors() || len(out.Diagnostics) != 0 {
		t.Fatalf("diagnostics: %v", out.Diagnostics)
	}
	if got := len(out.Placement.Targets); got != 4 {
		t.Fatalf("%d targets, want 4 (web on 3 clusters, db on 1)", got)
	}
	if len(out.Renders) != 4 || out.Rendered() != 4 || len(out.Skipped) != 0 {
		t.Fatalf("renders %d, rendered %d, skipped %d", len(out.Renders), out.Rendered(), len(out.Skipped))
	}
	res := out.Render("web", "eu-2")
	if res == nil || res.Err != nil {
		t.Fatalf("web on eu-2: %+v", res)
	}
	y := string(res.Manifest.YAML)
	if !strings.Contains(y, "greeting: hello-eu-2") || !strings.Contains(y, "region: eu") || !strings.Contains(y, "namespace: web") {
		t.Errorf("web on eu-2 is not rendered with its variables and overlay:\n%s", y)
	}
	if out.Render("db", "us-1") != nil {
		t.Error("Render returns a result for an app not placed on the cluster")
	}
	// What eu-1 receives: db then web, as one multi-document stream.
	db, web := out.Render("db", "eu-1").Manifest.YAML, out.Render("web", "eu-1").Manifest.YAML
	if got, want := string(out.ClusterYAML("eu-1", "")), string(db)+"---\n"+string(web); got != want {
		t.Errorf("ClusterYAML(eu-1) =\n%s\nwant\n%s", got, want)
	}
	if got := string(out.ClusterYAML("eu-1", "web")); got != string(web) {
		t.Errorf("ClusterYAML(eu-1, web) =\n%s", got)
	}
	if got := out.ClusterYAML("us-1", "db"); len(got) != 0 {
		t.Errorf("ClusterYAML of an app not placed: %q", got)
	}
	if got := strings.Join(out.ClusterNames(), ","); got != "eu-1,eu-2,us-1" {
		t.Errorf("ClusterNames() = %s", got)
	}
	if got := strings.Join(out.AppNames(), ","); got != "db,web" {
		t.Errorf("AppNames() = %s", got)
	}
}

func TestRunGroupsARenderErrorAcrossClustersAndNamesTheFile(t *testing.T) {
	root := smallFleet(t)
	writeFiles(t, root, map[string]string{
		"apps/web/base/kustomization.yaml": "resources:\n- cm.yaml\n- https://example.com/remote.yaml\n",
	})
	out, err := Run(context.Background(), root, render.New(render.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	errs := out.Errors()
	if len(errs) != 1 {
		t.Fatalf("want one diagnostic for the broken base of three clusters, got %v", errs)
	}
	d := errs[0]
	if d.File != "apps/web/base/kustomization.yaml" ||
		!strings.Contains(d.Message, "app web does not render for clusters eu-1, eu-2, us-1") ||
		!strings.Contains(d.Message, "remote") {
		t.Errorf("diagnostic %q", d.String())
	}
	if out.Rendered() != 1 {
		t.Errorf("%d targets rendered, want db's 1", out.Rendered())
	}
}

func TestRunSkipsTargetsOfBrokenFiles(t *testing.T) {
	root := smallFleet(t)
	// An unknown field in db's app.yaml: db is still placed (the fleet
	// keeps it), but not rendered, and web still renders.
	writeFiles(t, root, map[string]string{"apps/db/app.yaml": app("db", "  placement:\n    clusterNames: [eu-1]\n  colour: blue\n")})
	out, err := Run(context.Background(), root, render.New(render.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if !out.HasErrors() {
		t.Fatal("no error for an unknown field")
	}
	for _, d := range out.Errors() {
		if d.File != "apps/db/app.yaml" {
			t.Errorf("unexpected error %s", d)
		}
	}
	if len(out.Skipped) != 1 || out.Skipped[0].App != "db" {
		t.Errorf("skipped %+v, want db on eu-1", out.Skipped)
	}
	if out.Rendered() != 3 {
		t.Errorf("%d rendered, want web's 3", out.Rendered())
	}
}

func TestRunRenderOnlyIfValid(t *testing.T) {
	root := smallFleet(t)
	writeFiles(t, root, map[string]string{"apps/db/app.yaml": app("db", "  placement:\n    clusterNames: [eu-1]\n  colour: blue\n")})
	r := render.New(render.Options{})
	out, err := Run(context.Background(), root, r, RenderOnlyIfValid())
	if err != nil {
		t.Fatal(err)
	}
	if !out.HasErrors() || len(out.Renders) != 0 || len(out.Skipped) != 4 || r.Stats().Renders != 0 {
		t.Fatalf("an invalid fleet was rendered: %d renders, %d skipped, errors %v", len(out.Renders), len(out.Skipped), out.Errors())
	}
	valid, err := Run(context.Background(), smallFleet(t), r, RenderOnlyIfValid())
	if err != nil {
		t.Fatal(err)
	}
	if valid.Rendered() != 4 {
		t.Errorf("a valid fleet rendered %d targets, want 4", valid.Rendered())
	}
}

func TestRunUnreadableRoot(t *testing.T) {
	_, err := Run(context.Background(), filepath.Join(t.TempDir(), "missing"), render.New(render.Options{}))
	if !errors.Is(err, ErrUnreadable) {
		t.Fatalf("err = %v, want ErrUnreadable", err)
	}
}

func TestRunSharesTheRendererCacheAcrossCheckouts(t *testing.T) {
	r := render.New(render.Options{})
	first := smallFleet(t)
	if _, err := Run(context.Background(), first, r); err != nil {
		t.Fatal(err)
	}
	before := r.Stats()
	// A second checkout where only the eu overlay changes: only the two eu
	// targets of web share that build, which is rebuilt once.
	second := smallFleet(t)
	writeFiles(t, second, map[string]string{
		"apps/web/overlays/eu/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nlabels:\n- includeSelectors: true\n  pairs:\n    region: europe\n",
	})
	if _, err := Run(context.Background(), second, r); err != nil {
		t.Fatal(err)
	}
	d := r.Stats().Sub(before)
	if d.Renders != 4 || d.Builds != 1 {
		t.Errorf("second checkout: %d renders, %d builds; want 4 renders and 1 build (the eu overlay's)", d.Renders, d.Builds)
	}
}

func TestRunStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, smallFleet(t), render.New(render.Options{})); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
