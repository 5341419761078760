package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flotilla-gitops/flotilla/internal/fleetdiff"
	"github.com/flotilla-gitops/flotilla/internal/pipeline"
	"github.com/flotilla-gitops/flotilla/render"
)

// exampleRepo is a Git repository holding a copy of the example fleet in
// its sub-folder fleet/, committed once on main.
type exampleRepo struct {
	*gitRepo
	fleet string // the fleet folder
	base  string // the first commit
}

func newExampleRepo(t *testing.T) *exampleRepo {
	t.Helper()
	dir := t.TempDir()
	fleetDir := filepath.Join(dir, "fleet")
	if err := os.Rename(copyTree(t, exampleFleet), fleetDir); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"README.md": "our fleet\n"})
	g := newGitRepo(t, dir)
	return &exampleRepo{gitRepo: g, fleet: fleetDir, base: g.commit("the example fleet")}
}

// edit changes one file of the fleet.
func (r *exampleRepo) edit(file, old, new string) {
	r.t.Helper()
	editFile(r.t, filepath.Join(r.fleet, filepath.FromSlash(file)), old, new)
}

// diffJSON runs flotilla diff --format json and decodes the report.
func diffJSON(t *testing.T, repo, base, head string) (int, *fleetdiff.Report) {
	t.Helper()
	code, out, errOut := runCLI(t, "diff", "--repo", repo, "--base", base, "--head", head, "--format", "json")
	if code != 0 && code != 1 {
		t.Fatalf("exit code %d, stderr:\n%s", code, errOut)
	}
	var r fleetdiff.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, out)
	}
	return code, &r
}

func TestDiffGoldenOneFactoryOverlay(t *testing.T) {
	repo := newExampleRepo(t)
	repo.edit("apps/adc-inference/overlays/factory-dresden/legacy-line-controllers.yaml", "memory: 512Mi", "memory: 768Mi")
	repo.commit("more memory for Dresden's classifier")

	code, r := diffJSON(t, repo.fleet, "main~1", "main")
	if code != exitFailed {
		t.Errorf("exit code %d, want 1 (changes)", code)
	}
	// Exactly that factory, that app, that object.
	if got := r.ChangedNames(); !slices.Equal(got, []string{"factory-dresden"}) {
		t.Fatalf("changed sites %v, want exactly factory-dresden", got)
	}
	c := r.Changed[0]
	if len(c.Apps) != 1 || c.Apps[0].App != "adc-inference" || len(c.Apps[0].Objects) != 1 ||
		c.Apps[0].Objects[0].String() != "apps/Deployment adc/adc-inference" {
		t.Fatalf("unexpected change: %+v", c)
	}
	if d := c.Apps[0].Objects[0].Diff; !strings.Contains(d, "-            memory: 512Mi\n+            memory: 768Mi\n") {
		t.Errorf("diff:\n%s", d)
	}

	code, md, errOut := runCLI(t, "diff", "--repo", repo.fleet, "--base", "main~1", "--head", "main", "--format", "markdown")
	if code != exitFailed {
		t.Fatalf("exit code %d, stderr:\n%s", code, errOut)
	}
	checkGolden(t, "diff-factory-overlay.md", []byte(md))
	wantInOrder(t, md, "**1 of 5 sites changes:** factory-dresden", "<details><summary><b>factory-dresden</b>", "```diff")
}

func TestDiffGoldenSharedBase(t *testing.T) {
	repo := newExampleRepo(t)
	repo.edit("apps/adc-inference/base/deployment.yaml", "path: /healthz", "path: /readyz")
	repo.commit("probe /readyz")

	// Every site that uses the base changes: those of adc-inference and of
	// adc-shadow, which reuses it.
	before, err := pipeline.Run(context.Background(), exampleFleet, render.New(render.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	users := map[string][]string{}
	for _, app := range []string{"adc-inference", "adc-shadow"} {
		for _, c := range before.Placement.Clusters(app) {
			users[c] = append(users[c], app)
		}
	}
	var want []string
	for c := range users {
		want = append(want, c)
	}
	slices.Sort(want)
	if len(want) < 3 {
		t.Fatalf("the base is used on %v only; the test needs a base shared by several sites", want)
	}

	_, r := diffJSON(t, repo.fleet, "main~1", "main")
	if got := r.ChangedNames(); !slices.Equal(got, want) {
		t.Fatalf("changed sites %v, want every site using the base: %v", got, want)
	}
	for _, c := range r.Changed {
		var apps []string
		for _, a := range c.Apps {
			apps = append(apps, a.App)
			if len(a.Objects) != 1 || a.Objects[0].Kind != "Deployment" || !strings.Contains(a.Objects[0].Diff, "+            path: /readyz") {
				t.Errorf("%s/%s: unexpected objects %+v", c.Cluster, a.App, a.Objects)
			}
		}
		if !slices.Equal(apps, users[c.Cluster]) {
			t.Errorf("%s: apps %v, want %v", c.Cluster, apps, users[c.Cluster])
		}
	}

	code, text, errOut := runCLI(t, "diff", "--repo", repo.fleet, "--base", "main~1", "--head", "main")
	if code != exitFailed {
		t.Fatalf("exit code %d, stderr:\n%s", code, errOut)
	}
	checkGolden(t, "diff-shared-base.txt", []byte(text))
}

func TestDiffGoldenClusterLabelsMoveApps(t *testing.T) {
	repo := newExampleRepo(t)
	// Lyon stops being a factory (say, it becomes a lab): every app that
	// selects role=factory leaves it, and adc-shadow (one factory per
	// region, busiest first) moves to the next European factory.
	repo.edit("clusters/factory-lyon.yaml", "role: factory", "role: lab")
	repo.commit("factory-lyon becomes a lab")

	_, r := diffJSON(t, repo.fleet, "main~1", "main")
	lyon := r.Cluster("factory-lyon")
	if lyon == nil {
		t.Fatalf("factory-lyon does not change: %v", r.ChangedNames())
	}
	for _, app := range []string{"adc-inference", "adc-shadow", "inspection-gateway", "model-sync"} {
		a := lyon.App(app)
		if a == nil || a.Placement != fleetdiff.PlacementDeselected {
			t.Errorf("factory-lyon: %s is not deselected: %+v", app, a)
			continue
		}
		for _, o := range a.Objects {
			if o.Action != fleetdiff.ObjectRemoved {
				t.Errorf("factory-lyon: %s: %s is %s, want removed", app, o.ObjectKey, o.Action)
			}
		}
	}
	if a := lyon.App("monitoring-agent"); a == nil || a.Placement != fleetdiff.PlacementUnchanged {
		t.Errorf("monitoring-agent (on every cluster, labelled with the role) should stay on factory-lyon and change: %+v", a)
	}
	dresden := r.Cluster("factory-dresden")
	if dresden == nil || dresden.App("adc-shadow") == nil || dresden.App("adc-shadow").Placement != fleetdiff.PlacementSelected {
		t.Fatalf("adc-shadow does not move to factory-dresden: %+v", dresden)
	}
	// The replicas of adc-inference are divided again among the factories
	// left, and the change is called out.
	inf := dresden.App("adc-inference")
	if inf == nil || len(inf.Replicas) != 1 || inf.Replicas[0].Before == nil || inf.Replicas[0].After == nil ||
		*inf.Replicas[0].After <= *inf.Replicas[0].Before {
		t.Errorf("factory-dresden: adc-inference replicas do not grow: %+v", inf)
	}
	if r.Cluster("central") != nil {
		t.Errorf("central changes: %+v", r.Cluster("central"))
	}

	code, md, errOut := runCLI(t, "diff", "--repo", repo.fleet, "--base", "main~1", "--head", "main", "--format", "markdown")
	if code != exitFailed {
		t.Fatalf("exit code %d, stderr:\n%s", code, errOut)
	}
	checkGolden(t, "diff-cluster-labels.md", []byte(md))
	wantInOrder(t, md, "- **factory-dresden**: ", "adc-shadow: newly selected", "- **factory-lyon**: ", "adc-inference: deselected")
}

// TestDiffRendersUnchangedAppsOnce checks that both revisions share one
// renderer: the head re-renders only what its commit changed.
func TestDiffRendersUnchangedAppsOnce(t *testing.T) {
	repo := newExampleRepo(t)
	repo.edit("apps/adc-inference/overlays/factory-dresden/legacy-line-controllers.yaml", "memory: 512Mi", "memory: 1Gi")
	repo.commit("Dresden")

	// What one revision costs on its own.
	alone := render.New(render.Options{})
	out, err := pipeline.Run(context.Background(), repo.fleet, alone)
	if err != nil {
		t.Fatal(err)
	}
	builds, targets := alone.Stats().Builds, uint64(len(out.Placement.Targets))

	shared := render.New(render.Options{})
	report, err := diffRevisions(context.Background(), io.Discard, repo.fleet, "main~1", "main", shared)
	if err != nil {
		t.Fatal(err)
	}
	if !report.HasChanges() {
		t.Fatal("no change found")
	}
	s := shared.Stats()
	if s.Renders != 2*targets {
		t.Errorf("%d renders, want %d (every target at both revisions)", s.Renders, 2*targets)
	}
	// Only Dresden's adc-inference build differs between the revisions.
	if s.Builds != builds+1 {
		t.Errorf("%d kustomize builds for both revisions, want %d (the %d of one revision plus Dresden's changed overlay)", s.Builds, builds+1, builds)
	}
}

func TestDiffNoChangeExitsZero(t *testing.T) {
	repo := newExampleRepo(t)
	writeFiles(t, repo.dir, map[string]string{"README.md": "only the readme changes\n"})
	repo.commit("docs")
	for _, format := range []string{"text", "markdown", "json"} {
		code, out, errOut := runCLI(t, "diff", "--repo", repo.fleet, "--base", "main~1", "--head", "main", "--format", format)
		if code != 0 {
			t.Fatalf("%s: exit code %d, stderr:\n%s", format, code, errOut)
		}
		if !strings.Contains(strings.ToLower(out), "no site changes") && !strings.Contains(out, `"changed": []`) {
			t.Errorf("%s: output does not say nothing changes:\n%s", format, out)
		}
	}
}

func TestDiffInvalidHeadExitsTwoWithDiagnostics(t *testing.T) {
	repo := newExampleRepo(t)
	repo.edit("apps/model-sync/app.yaml", "namespace: adc", "namespace: adc\n  colour: blue")
	repo.edit("apps/adc-inference/base/deployment.yaml", "value: cpu", "value: ${cluster.vars.nope}")
	repo.commit("broken")
	code, out, errOut := runCLI(t, "diff", "--repo", repo.fleet, "--base", "main~1", "--head", "main", "--format", "markdown")
	if code != exitUsage {
		t.Fatalf("exit code %d, want %d; stdout:\n%s\nstderr:\n%s", code, exitUsage, out, errOut)
	}
	if out != "" {
		t.Errorf("a report was printed for an invalid head:\n%s", out)
	}
	wantInOrder(t, errOut, "apps/adc-inference/base", "cluster.vars.nope", "apps/model-sync/app.yaml:", "colour", "invalid at the head revision main")
}

func TestDiffUsageErrors(t *testing.T) {
	repo := newExampleRepo(t)
	cases := map[string]struct {
		args []string
		want string
	}{
		"unknown format":   {[]string{"--base", "main", "--format", "html"}, `unknown --format "html"`},
		"no base":          {nil, "set --base"},
		"unknown revision": {[]string{"--base", "no-such-branch"}, "no-such-branch"},
		"not a repository": {[]string{"--base", "main", "--repo", t.TempDir()}, "Git checkout"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"diff", "--repo", repo.fleet}, tc.args...)
			code, _, errOut := runCLI(t, args...)
			if code != exitUsage || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit code %d, stderr %q; want %d and %q", code, errOut, exitUsage, tc.want)
			}
		})
	}
}

// TestDiffMasksSecrets runs a diff where a Secret's value changes and
// checks that no format reveals it.
func TestDiffMasksSecrets(t *testing.T) {
	dir := t.TempDir()
	secret := func(value string) string {
		return "apiVersion: v1\nkind: Secret\nmetadata:\n  name: registry\nstringData:\n  password: " + value + "\n"
	}
	writeFiles(t, dir, map[string]string{
		"clusters/site-a.yaml":               "apiVersion: flotilla.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: site-a\n",
		"apps/creds/app.yaml":                "apiVersion: flotilla.dev/v1alpha1\nkind: App\nmetadata:\n  name: creds\nspec:\n  namespace: creds\n",
		"apps/creds/base/kustomization.yaml": "resources:\n- secret.yaml\n",
		"apps/creds/base/secret.yaml":        secret("old-s3cr3t-value"),
	})
	g := newGitRepo(t, dir)
	g.commit("secret")
	writeFiles(t, dir, map[string]string{"apps/creds/base/secret.yaml": secret("new-s3cr3t-value")})
	g.commit("rotate")
	for _, format := range []string{"text", "markdown", "json"} {
		code, out, errOut := runCLI(t, "diff", "--repo", dir, "--base", "main~1", "--head", "main", "--format", format)
		if code != exitFailed {
			t.Fatalf("%s: exit code %d, stderr:\n%s", format, code, errOut)
		}
		if strings.Contains(out, "s3cr3t") {
			t.Errorf("%s output reveals the secret:\n%s", format, out)
		}
		if !strings.Contains(out, "password: '***:") {
			t.Errorf("%s output does not show the masked change:\n%s", format, out)
		}
	}
}

func TestDiffFleetFolderNewAtBase(t *testing.T) {
	dir := t.TempDir()
	g := newGitRepo(t, dir)
	writeFiles(t, dir, map[string]string{"README.md": "empty\n"})
	g.commit("empty")
	if err := os.Rename(copyTree(t, exampleFleet), filepath.Join(dir, "fleet")); err != nil {
		t.Fatal(err)
	}
	g.commit("add the fleet")
	var out, errOut bytes.Buffer
	code := Execute([]string{"diff", "--repo", filepath.Join(dir, "fleet"), "--base", "main~1", "--head", "main"}, &out, &errOut)
	if code != exitFailed {
		t.Fatalf("exit code %d, stderr:\n%s", code, errOut.String())
	}
	wantInOrder(t, out.String(), "warning: the base revision has 1 error", "the fleet folder does not exist", "5 of 5 sites change", "(new cluster)")
}
