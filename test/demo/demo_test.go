// Package demo tests `flotilla demo` as a newcomer runs it: the real
// binary, built with `go build`, started on the example fleet with real
// control planes, a real Git server, real git and the real kubectl. The
// second test follows docs/quickstart.md step by step.
//
// They need the control-plane binaries (make test-binaries) and take a few
// minutes each on two cores: run with -timeout 30m.
package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	fluxmeta "github.com/fluxcd/pkg/apis/meta"
	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/internal/demo"
	"github.com/flotilla-gitops/flotilla/internal/hub"
	"github.com/flotilla-gitops/flotilla/internal/pipeline"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
	"github.com/flotilla-gitops/flotilla/render"
)

const (
	fleetDir  = "../../examples/factory-fleet"
	namespace = demo.DefaultNamespace
)

// TestDemoExitWhenSynced runs `flotilla demo --exit-when-synced` and
// checks that it exits 0 after printing a fleet table in which every app
// is ready on exactly the clusters placement chose, with the capacity the
// cluster files ask for; and that it leaves no process behind.
func TestDemoExitWhenSynced(t *testing.T) {
	assets := testenv.RequireAssets(t, "kube-controller-manager", "kube-scheduler", "kwok")
	bin := flotillaBinary(t)
	want := expectedFleet(t)
	dir := filepath.Join(t.TempDir(), "demo")
	socket := filepath.Join(shortTempDir(t), "demo.sock")

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "demo", "--fleet", fleetDir, "--assets", assets, "--dir", dir,
		"--control-socket", socket, "--exit-when-synced", "--timeout", "12m")
	out, err := cmd.CombinedOutput()
	t.Logf("flotilla demo --exit-when-synced:\n%s", out)
	if err != nil {
		t.Fatalf("flotilla demo --exit-when-synced failed: %v (controller log: %s)", err, filepath.Join(dir, "controller.log"))
	}
	text := string(out)
	for _, line := range []string{"fleet synced", "Synced: every app is applied and healthy", "Stopped; the folder " + dir + " is kept."} {
		if !strings.Contains(text, line) {
			t.Errorf("output lacks %q", line)
		}
	}

	matrix := parseTable(t, text, "CLUSTER", "REACHABLE")
	if got := sortedKeys(matrix); !slices.Equal(got, sortedKeys(want.apps)) {
		t.Fatalf("table clusters = %v, want %v", got, sortedKeys(want.apps))
	}
	for cluster, row := range matrix {
		if row["REACHABLE"] != "yes" {
			t.Errorf("%s: REACHABLE = %q", cluster, row["REACHABLE"])
		}
		for _, app := range want.allApps {
			cell := row[strings.ToUpper(app)]
			placed := slices.Contains(want.apps[cluster], app)
			if placed && cell != "ready" || !placed && cell != "-" {
				t.Errorf("%s on %s: cell %q, placed by placement: %v", app, cluster, cell, placed)
			}
		}
	}
	capacity := parseTable(t, text, "CLUSTER", "NODES")
	for cluster, c := range want.capacity {
		row := capacity[cluster]
		if row["NODES"] != fmt.Sprint(c.nodes) || !sameQuantity(row["CPU"], c.cpu) || !sameQuantity(row["MEMORY"], c.memory) || !sameQuantity(row["GPU"], c.gpus) {
			t.Errorf("%s: capacity %v, want the cluster file's %+v", cluster, row, c)
		}
	}

	if left := processesUsing(dir); len(left) > 0 {
		t.Errorf("processes left running after the demo exited:\n%s", strings.Join(left, "\n"))
	}
	if _, err := os.Stat(socket); !os.IsNotExist(err) {
		t.Errorf("control socket left behind: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "controller.log")); err != nil {
		t.Errorf("--dir must be kept with the controller log: %v", err)
	}
}

// TestDemoExitWhenSyncedFailsWithTheReason runs a fleet whose trainer asks
// for GPUs that its site lacks: the demo must exit 1 within --timeout,
// naming that app and cluster and the reason from its conditions, and
// nothing else; and still clean up after itself.
func TestDemoExitWhenSyncedFailsWithTheReason(t *testing.T) {
	assets := testenv.RequireAssets(t, "kube-controller-manager", "kube-scheduler", "kwok")
	bin := flotillaBinary(t)
	tmp := shortTempDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "demo", "--fleet", "testdata/gpu-starved-fleet", "--assets", assets,
		"--exit-when-synced", "--timeout", "90s")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, demo.ControlSocketEnv+"=")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	exitErr, ok := errorsAsExit(err)
	if !ok || exitErr.ExitCode() != 1 {
		t.Fatalf("flotilla demo --exit-when-synced on a fleet that cannot sync: %v, want exit code 1", err)
	}
	if !strings.HasPrefix(stderr.String(), "Error: the fleet is not synced after") || !strings.Contains(stderr.String(), "trainer on site-a") {
		t.Errorf("stderr does not say what is not synced:\n%s", stderr.String())
	}
	out := stdout.String()
	reason := lineWith(out, "- trainer on site-a:")
	if !strings.Contains(reason, flotillav1.ReasonHealthCheckFailed) || !strings.Contains(reason, "trainer") {
		t.Errorf("the reason for trainer on site-a is not its Ready condition's: %q", reason)
	}
	if strings.Contains(out, "web on site-a") {
		t.Errorf("web synced, yet it is reported:\n%s", out)
	}
	if row := parseTable(t, out, "CLUSTER", "REACHABLE")["site-a"]; row["TRAINER"] != "failed" || row["WEB"] != "ready" {
		t.Errorf("the fleet table must show trainer failed and web ready on site-a: %v", row)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) > 0 {
		t.Errorf("the demo left %v in its temporary folder", entries)
	}
}

// TestDemoQuickstart follows docs/quickstart.md against a running demo:
// set up a shell with `flotilla demo env`, read the status with kubectl,
// clone the repository, change one factory's model version on a branch,
// preview it with `flotilla diff`, push to main and watch that factory,
// and only it, update; read the status branch; push a bad release and see
// it stop at the canary and roll back, then revert it; stop a factory's cluster,
// see it reported, bring it back; then Ctrl-C removes everything.
func TestDemoQuickstart(t *testing.T) {
	assets := testenv.RequireAssets(t, "kube-controller-manager", "kube-scheduler", "kwok")
	bin := flotillaBinary(t)
	want := expectedFleet(t)
	absFleet, err := filepath.Abs(fleetDir)
	if err != nil {
		t.Fatal(err)
	}
	// A private temporary folder: the demo's folder and its default control
	// socket go there, as they would go to /tmp.
	tmp := shortTempDir(t)
	baseEnv := append(os.Environ(), "TMPDIR="+tmp, demo.ControlSocketEnv+"=")
	d := startDemo(t, bin, baseEnv, "demo", "--fleet", absFleet, "--assets", assets)
	readyAt := time.Now()

	// Step: set up a shell.
	sh := shellEnv(t, bin, baseEnv)
	u := &user{t: t, env: sh.env, work: t.TempDir()}
	if sh.kubectl != filepath.Join(sh.demoDir, "bin", "kubectl") || sh.flotilla != filepath.Join(sh.demoDir, "bin", "flotilla") {
		t.Fatalf("after eval, kubectl is %q and flotilla %q; want the demo's bin folder %s", sh.kubectl, sh.flotilla, sh.demoDir)
	}
	hubCl := clusterClient(t, sh.kubeconfig, demo.HubName)
	member := func(name string) client.Client { return clusterClient(t, sh.kubeconfig, name) }

	// Step: the fleet is synced, as the hub says and as the members run it.
	syncs := &flotillav1.ClusterSyncList{}
	must(t, func(ctx context.Context) error { return hubCl.List(ctx, syncs, client.InNamespace(namespace)) })
	var got []string
	for _, cs := range syncs.Items {
		got = append(got, cs.Spec.App+"."+cs.Spec.Cluster)
		repo := &flotillav1.FleetRepository{}
		must(t, func(ctx context.Context) error {
			return hubCl.Get(ctx, client.ObjectKey{Namespace: namespace, Name: cs.Labels[flotillav1.LabelRepository]}, repo)
		})
		if cs.Status.AppliedRevision != repo.Status.Revision || !apimeta.IsStatusConditionTrue(cs.Status.Conditions, fluxmeta.ReadyCondition) {
			t.Errorf("ClusterSync %s not synced to %s when the demo said so: applied %q, %+v", cs.Name, repo.Status.Revision, cs.Status.AppliedRevision, cs.Status.Conditions)
		}
	}
	sort.Strings(got)
	if !slices.Equal(got, want.targets) {
		t.Fatalf("ClusterSyncs on the hub = %v, want placement's %v", got, want.targets)
	}
	checkCapacity(t, hubCl, want)
	for _, name := range sortedKeys(want.apps) {
		eventually(t, time.Minute, name+" runs every Deployment", func() error { return deploymentsAvailable(member(name)) })
	}
	if out := u.run(0, "kubectl", "get", "flotilla", "-n", namespace); !strings.Contains(out, "fleetrepository.flotilla.dev/factory-fleet") || !strings.Contains(out, "cluster.flotilla.dev/factory-dresden") {
		t.Fatalf("kubectl get flotilla:\n%s", out)
	}
	out := u.run(0, "kubectl", "get", "clustersyncs", "-n", namespace)
	if f := strings.Fields(lineWith(out, "adc-inference.factory-dresden")); len(f) < 5 || f[3] != "True" || f[4] != "True" {
		t.Fatalf("kubectl get clustersyncs: dresden's row is not Ready and Healthy: %q\n%s", f, out)
	}
	// Step: Monterrey runs in pull mode: the hub holds no credential for
	// it, its agent (a process of its own) registered and reports.
	out = u.run(0, "kubectl", "get", "fclusters", "-n", namespace)
	for site, mode := range map[string]string{"factory-monterrey": "Pull", "factory-dresden": "Push"} {
		if f := strings.Fields(lineWith(out, site)); len(f) < 3 || f[1] != mode || f[2] != "True" {
			t.Fatalf("kubectl get fclusters: %s must show MODE %s, REACHABLE True:\n%s", site, mode, out)
		}
	}
	if out := u.run(0, "kubectl", "get", "secrets", "-n", namespace); strings.Contains(out, "factory-monterrey") || !strings.Contains(out, "factory-dresden-kubeconfig") {
		t.Fatalf("the hub must hold a kubeconfig Secret for every push site and none for factory-monterrey:\n%s", out)
	}
	out = u.run(0, "kubectl", "get", "fregs", "-n", namespace)
	if f := strings.Fields(lineWith(out, "factory-monterrey-")); len(f) < 4 || f[1] != "factory-monterrey" || f[2] != "True" || f[3] != "True" {
		t.Fatalf("kubectl get fregs: factory-monterrey's registration must be approved and issued:\n%s", out)
	}
	if agents := processesUsing(filepath.Join(sh.demoDir, "clusters", "factory-monterrey", "bootstrap.kubeconfig")); len(agents) != 1 || !strings.Contains(agents[0], " agent ") {
		t.Fatalf("want one flotilla agent process for factory-monterrey, got %q", agents)
	}
	out = u.run(0, "kubectl", "--context", "factory-dresden", "-n", "adc", "get", "configmap", "adc-inference-model", "-o", "jsonpath={.data.MODEL_VERSION}")
	if out != "v4.1.3" {
		t.Fatalf("factory-dresden runs model %q, want v4.1.3", out)
	}

	// Step: clone, change one factory's model version on a branch, diff.
	u.run(0, "git", "clone", "--quiet", sh.gitURL, "factory-fleet")
	u.cd("factory-fleet")
	u.run(0, "git", "config", "user.name", "Quick Start")
	u.run(0, "git", "config", "user.email", "quickstart@example.com")
	u.run(0, "git", "switch", "--quiet", "-c", "dresden-v4.2.0")
	u.run(0, "sed", "-i.bak", "s/modelVersion: v4.1.3/modelVersion: v4.2.0/", "clusters/factory-dresden.yaml")
	u.run(0, "rm", "clusters/factory-dresden.yaml.bak")
	u.run(0, "git", "commit", "--quiet", "-am", "factory-dresden: model v4.2.0")
	diff := u.run(1, "flotilla", "diff", "--repo", ".", "--base", "main", "--head", "dresden-v4.2.0")
	if !strings.Contains(diff, "factory-dresden") || !strings.Contains(diff, "v4.2.0") {
		t.Fatalf("flotilla diff does not show dresden's change:\n%s", diff)
	}
	// The summary names the sites that change: dresden alone.
	if summary := lineWith(diff, "sites change"); !regexp.MustCompile(`\b1 of 5 sites changes?: factory-dresden$`).MatchString(summary) {
		t.Fatalf("flotilla diff summary = %q, want only factory-dresden of 5 sites:\n%s", summary, diff)
	}

	// Step: push to main; dresden, and only dresden, updates.
	before := map[string]string{}
	for _, name := range []string{"factory-lyon", "factory-austin"} {
		before[name] = deploymentVersion(t, member(name), "adc", "adc-inference")
	}
	u.run(0, "git", "switch", "--quiet", "main")
	u.run(0, "git", "merge", "--quiet", "--ff-only", "dresden-v4.2.0")
	u.run(0, "git", "push", "--quiet", "origin", "main")
	head := strings.TrimSpace(u.run(0, "git", "rev-parse", "HEAD"))
	eventually(t, 3*time.Minute, "factory-dresden runs model v4.2.0", func() error {
		dep := &appsv1.Deployment{}
		if err := member("factory-dresden").Get(context.Background(), types.NamespacedName{Namespace: "adc", Name: "adc-inference"}, dep); err != nil {
			return err
		}
		if img := dep.Spec.Template.Spec.Containers[0].Image; img != "harbor.dresden.factory.local/adc/inference:v4.2.0" {
			return fmt.Errorf("image %s", img)
		}
		if !available(dep) {
			return fmt.Errorf("rollout not done: %+v", dep.Status)
		}
		cs := &flotillav1.ClusterSync{}
		if err := hubCl.Get(context.Background(), types.NamespacedName{Namespace: namespace, Name: "adc-inference.factory-dresden"}, cs); err != nil {
			return err
		}
		if !strings.HasSuffix(cs.Status.AppliedRevision, head) || !apimeta.IsStatusConditionTrue(cs.Status.Conditions, fluxmeta.ReadyCondition) {
			return fmt.Errorf("hub: %s %+v", cs.Status.AppliedRevision, cs.Status.Conditions)
		}
		return nil
	})
	if v := u.run(0, "kubectl", "--context", "factory-dresden", "-n", "adc", "get", "configmap", "adc-inference-model", "-o", "jsonpath={.data.MODEL_VERSION}"); v != "v4.2.0" {
		t.Fatalf("factory-dresden's MODEL_VERSION = %q", v)
	}
	eventually(t, time.Minute, "the demo reports the fleet synced at the new commit", func() error {
		status := u.run(0, "flotilla", "demo", "status")
		if !strings.Contains(status, "main@"+head[:7]) || !strings.Contains(status, "Synced:") {
			return fmt.Errorf("flotilla demo status:\n%s", status)
		}
		return nil
	})
	for name, rv := range before {
		if got := deploymentVersion(t, member(name), "adc", "adc-inference"); got != rv {
			t.Errorf("%s's adc-inference changed (%s -> %s) although only dresden's model changed", name, rv, got)
		}
	}

	// Step: the status branch.
	eventually(t, time.Minute, "the status branch shows the new commit", func() error {
		if _, err := u.try("git", "fetch", "--quiet", "origin", "flotilla-status"); err != nil {
			return err
		}
		md, err := u.try("git", "show", "origin/flotilla-status:STATUS.md")
		if err != nil {
			return err
		}
		if !strings.Contains(md, "main@"+head[:7]) || !strings.Contains(md, "factory-dresden") {
			return fmt.Errorf("STATUS.md:\n%s", md)
		}
		return nil
	})

	if row := lineWith(u.run(0, "flotilla", "status", "--repo", "."), "factory-dresden"); !strings.Contains(row, "main@"+head[:7]) {
		t.Fatalf("flotilla status --repo . shows dresden at %q, want main@%s", row, head[:7])
	}

	// Step: a bad release stops at the first factory. Its render changes on
	// every factory; only the canary receives it, fails to apply it, and is
	// rolled back; Lyon and Austin never receive it.
	inferenceSites := []string{"factory-dresden", "factory-lyon", "factory-austin"}
	goodRevision := ""
	{
		app := &flotillav1.App{}
		must(t, func(ctx context.Context) error {
			return hubCl.Get(ctx, types.NamespacedName{Namespace: namespace, Name: "adc-inference"}, app)
		})
		if st := app.Status.Rollout; st == nil || st.Phase != flotillav1.RolloutComplete || !strings.HasSuffix(st.Revision, head) {
			t.Fatalf("before the bad release, adc-inference's rollout must be Complete at %s: %+v", head, st)
		}
		goodRevision = app.Status.Rollout.Revision
	}
	beforeBad := map[string]*appsv1.Deployment{}
	for _, name := range inferenceSites {
		beforeBad[name] = inferenceDeployment(t, member(name))
	}
	u.run(0, "sh", "-c", badReleaseScript)
	u.run(0, "git", "commit", "--quiet", "-am", "adc-inference: request memory for the new model")
	diff = u.run(1, "flotilla", "diff", "--repo", ".", "--base", "origin/main", "--head", "main")
	t.Logf("flotilla diff of the bad release:\n%s", diff)
	if summary := lineWith(diff, "sites change"); !strings.HasSuffix(summary, "3 of 5 sites change: factory-austin, factory-dresden, factory-lyon") {
		t.Fatalf("flotilla diff summary = %q, want every inference factory:\n%s", summary, diff)
	}
	if plan := lineWith(diff, "adc-inference rolls out"); !strings.Contains(plan, "canary (factory-dresden)") {
		t.Fatalf("flotilla diff does not say the canary is factory-dresden: %q\n%s", plan, diff)
	}
	u.run(0, "git", "push", "--quiet", "origin", "main")
	bad := strings.TrimSpace(u.run(0, "git", "rev-parse", "HEAD"))
	eventually(t, 3*time.Minute, "the bad release rolled back on factory-dresden", func() error {
		app := &flotillav1.App{}
		if err := testenv.Retry(context.Background(), func(ctx context.Context) error {
			return hubCl.Get(ctx, types.NamespacedName{Namespace: namespace, Name: "adc-inference"}, app)
		}); err != nil {
			return err
		}
		if st := app.Status.Rollout; st == nil || !strings.HasSuffix(st.Revision, bad) || st.Phase != flotillav1.RolloutRolledBack {
			return fmt.Errorf("rollout status %+v", st)
		}
		// Dresden runs, Ready, what it ran before: the rollback is done.
		cs := &flotillav1.ClusterSync{}
		if err := testenv.Retry(context.Background(), func(ctx context.Context) error {
			return hubCl.Get(ctx, types.NamespacedName{Namespace: namespace, Name: "adc-inference.factory-dresden"}, cs)
		}); err != nil {
			return err
		}
		if cs.Status.AppliedRevision != goodRevision || cs.Status.ObservedGeneration != cs.Generation || !apimeta.IsStatusConditionTrue(cs.Status.Conditions, fluxmeta.ReadyCondition) {
			return fmt.Errorf("factory-dresden not back at %s: applied %s, %+v", goodRevision, cs.Status.AppliedRevision, cs.Status.Conditions)
		}
		return nil
	})
	status := u.run(0, "flotilla", "rollout", "status", "adc-inference", "-n", namespace)
	t.Logf("flotilla rollout status adc-inference:\n%s", status)
	if first := lineWith(status, "app adc-inference:"); !strings.Contains(first, "RolledBack") || !strings.Contains(first, bad[:12]) {
		t.Errorf("flotilla rollout status does not say the bad release rolled back: %q\n%s", first, status)
	}
	if row := strings.Fields(lineWith(status, "canary ")); len(row) != 5 || row[4] != "factory-dresden" {
		t.Errorf("flotilla rollout status does not name factory-dresden as the failed canary: %q\n%s", row, status)
	}
	t.Logf("members:\n%s", u.run(0, "sh", "-c", `for c in factory-lyon factory-dresden factory-austin; do echo "$c: $(kubectl --context $c -n adc get deployment adc-inference -o jsonpath='generation {.metadata.generation}, image {.spec.template.spec.containers[0].image}, memory request {.spec.template.spec.containers[0].resources.requests.memory}')"; done`))
	fapps := u.run(0, "kubectl", "get", "fapps", "-n", namespace)
	t.Logf("kubectl get fapps:\n%s", fapps)
	if row := lineWith(fapps, "adc-inference "); !strings.Contains(row, "RolledBack") {
		t.Errorf("kubectl get fapps: adc-inference's row %q does not say RolledBack", row)
	}
	events := u.run(0, "kubectl", "get", "events", "-n", namespace, "--field-selector", "reason=RolloutRolledBack")
	t.Logf("kubectl get events --field-selector reason=RolloutRolledBack:\n%s", events)
	if row := lineWith(events, "app/adc-inference"); !strings.Contains(row, "factory-dresden") || strings.Contains(row, "factory-lyon") || strings.Contains(row, "factory-austin") {
		t.Errorf("no RolloutRolledBack event naming factory-dresden alone:\n%s", events)
	}
	failedEvents := u.run(0, "kubectl", "get", "events", "-n", namespace, "--field-selector", "reason=ApplyFailed")
	t.Logf("kubectl get events --field-selector reason=ApplyFailed:\n%s", failedEvents)
	if !strings.Contains(failedEvents, "adc-inference.factory-dresden") || strings.Contains(failedEvents, "adc-inference.factory-lyon") || strings.Contains(failedEvents, "adc-inference.factory-austin") {
		t.Errorf("the apply must have failed on factory-dresden alone:\n%s", failedEvents)
	}
	// What the members run: Dresden what it ran before the bad release,
	// Lyon and Austin exactly what they ran, never touched.
	for _, name := range inferenceSites {
		checkUnchanged(t, name, beforeBad[name], inferenceDeployment(t, member(name)), name != "factory-dresden")
	}
	for _, name := range []string{"factory-lyon", "factory-austin"} {
		cs := &flotillav1.ClusterSync{}
		must(t, func(ctx context.Context) error {
			return hubCl.Get(ctx, types.NamespacedName{Namespace: namespace, Name: "adc-inference." + name}, cs)
		})
		if cs.Spec.Rollout == nil || cs.Spec.Rollout.Revision != goodRevision || cs.Status.AppliedRevision != goodRevision {
			t.Errorf("%s: released %+v, applied %s; want %s, the bad release never released there", name, cs.Spec.Rollout, cs.Status.AppliedRevision, goodRevision)
		}
	}

	// Step: the fix, a revert, supersedes the failed rollout.
	u.run(0, "git", "revert", "--no-edit", "HEAD")
	u.run(0, "git", "push", "--quiet", "origin", "main")
	head = strings.TrimSpace(u.run(0, "git", "rev-parse", "HEAD"))
	eventually(t, 3*time.Minute, "the revert rolled out and the fleet synced", func() error {
		app := &flotillav1.App{}
		if err := testenv.Retry(context.Background(), func(ctx context.Context) error {
			return hubCl.Get(ctx, types.NamespacedName{Namespace: namespace, Name: "adc-inference"}, app)
		}); err != nil {
			return err
		}
		if st := app.Status.Rollout; st == nil || !strings.HasSuffix(st.Revision, head) || st.Phase != flotillav1.RolloutComplete {
			return fmt.Errorf("rollout status %+v", st)
		}
		if status := u.run(0, "flotilla", "demo", "status"); !strings.Contains(status, "main@"+head[:7]) || !strings.Contains(status, "Synced:") {
			return fmt.Errorf("flotilla demo status:\n%s", status)
		}
		return nil
	})
	t.Logf("flotilla rollout status adc-inference after the revert:\n%s", u.run(0, "flotilla", "rollout", "status", "adc-inference", "-n", namespace))
	t.Logf("kubectl get fapps after the revert:\n%s", u.run(0, "kubectl", "get", "fapps", "-n", namespace))
	t.Logf("events after the revert:\n%s", u.run(0, "kubectl", "get", "events", "-n", namespace, "--field-selector", "involvedObject.name=adc-inference", "--sort-by=.lastTimestamp"))
	for _, name := range inferenceSites {
		checkUnchanged(t, name, beforeBad[name], inferenceDeployment(t, member(name)), name != "factory-dresden")
	}

	// Step: stop a factory's cluster and see it reported.
	if out := u.run(0, "flotilla", "demo", "stop-cluster", "factory-lyon"); !strings.Contains(out, "factory-lyon stopped") {
		t.Fatalf("stop-cluster said: %q", out)
	}
	eventually(t, time.Minute, "factory-lyon reported unreachable", func() error {
		// Read the condition itself: the table's SUSPENDED column is empty
		// for a cluster that is not suspended, which shifts its fields.
		out := u.run(0, "kubectl", "get", "fclusters", "-n", namespace, "factory-lyon", "-o", `jsonpath={.status.conditions[?(@.type=="Reachable")].status}`)
		if strings.TrimSpace(out) != "False" {
			return fmt.Errorf("factory-lyon's Reachable condition: %q", out)
		}
		if status := u.run(0, "flotilla", "demo", "status"); !strings.Contains(status, "factory-lyon is stale") {
			return fmt.Errorf("flotilla demo status:\n%s", status)
		}
		if row := lineWith(u.run(0, "flotilla", "status", "-n", namespace), "factory-lyon "); !strings.Contains(row, "STALE") {
			return fmt.Errorf("flotilla status: factory-lyon row %q", row)
		}
		return nil
	})
	eventually(t, time.Minute, "the status branch marks factory-lyon stale", func() error {
		if _, err := u.try("git", "fetch", "--quiet", "origin", "flotilla-status"); err != nil {
			return err
		}
		md, err := u.try("git", "show", "origin/flotilla-status:STATUS.md")
		if err != nil {
			return err
		}
		if row := lineWith(md, "| factory-lyon |"); !strings.Contains(row, "STALE") {
			return fmt.Errorf("STATUS.md row of factory-lyon: %q", row)
		}
		return nil
	})
	for _, name := range []string{"factory-dresden", "factory-austin"} {
		if err := deploymentsAvailable(member(name)); err != nil {
			t.Errorf("%s suffers from factory-lyon being down: %v", name, err)
		}
	}

	// Step: bring it back.
	u.run(0, "flotilla", "demo", "start-cluster", "factory-lyon")
	eventually(t, 2*time.Minute, "factory-lyon back and the fleet synced", func() error {
		if status := u.run(0, "flotilla", "demo", "status"); !strings.Contains(status, "Synced:") {
			return fmt.Errorf("flotilla demo status:\n%s", status)
		}
		return deploymentsAvailable(member("factory-lyon"))
	})
	// Minutes after the start (well past kube-controller-manager's node
	// monitor grace period), every member still runs its workloads.
	if wait := 150*time.Second - time.Since(readyAt); wait > 0 {
		time.Sleep(wait)
	}
	for _, name := range sortedKeys(want.apps) {
		if err := deploymentsAvailable(member(name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	// Step: stop central; defect-training (failover, tolerationSeconds
	// 20) moves to factory-lyon, the other apps on central stay; central's
	// return prunes the training Job there (failback Stay).
	failoverStep(t, u, hubCl, member)

	// Step: Ctrl-C stops and removes everything.
	d.interrupt(t)
	if !strings.Contains(d.output(), "Stopped, and removed "+sh.demoDir) {
		t.Errorf("output does not say the folder was removed:\n%s", d.output())
	}
	if _, err := os.Stat(sh.demoDir); !os.IsNotExist(err) {
		t.Errorf("demo folder %s left behind: %v", sh.demoDir, err)
	}
	if left := processesUsing(sh.demoDir); len(left) > 0 {
		t.Errorf("processes left running:\n%s", strings.Join(left, "\n"))
	}
	u.env = baseEnv // the demo's bin folder is gone
	if _, err := u.tryOnce(t.Context(), bin, "demo", "status"); err == nil || !strings.Contains(err.Error(), "no flotilla demo is running") {
		t.Errorf("after Ctrl-C the control socket must be gone: %v", err)
	}
}

// fleetExpectation is what the example fleet should look like once synced,
// computed offline from the fleet itself.
type fleetExpectation struct {
	apps     map[string][]string // cluster -> apps placed there
	allApps  []string
	targets  []string // "<app>.<cluster>", sorted
	capacity map[string]capacity
}

type capacity struct {
	nodes             int
	cpu, memory, gpus string
}

func expectedFleet(t *testing.T) fleetExpectation {
	t.Helper()
	out, err := pipeline.Run(context.Background(), fleetDir, render.New(render.Options{}))
	if err != nil || out.HasErrors() {
		t.Fatalf("load the example fleet: %v %v", err, out.Errors())
	}
	want := fleetExpectation{apps: map[string][]string{}, capacity: map[string]capacity{}}
	for _, a := range out.Fleet.Apps {
		want.allApps = append(want.allApps, a.Name)
	}
	for _, c := range out.Fleet.Clusters {
		want.apps[c.Name] = nil
		nodes, err := demo.NodesFor(c, out.Fleet.ClusterFiles[c.Name])
		if err != nil {
			t.Fatal(err)
		}
		cpu, mem := resource.MustParse(nodes[0].CPU), resource.MustParse(nodes[0].Memory)
		cpu.Mul(int64(len(nodes)))
		mem.Mul(int64(len(nodes)))
		want.capacity[c.Name] = capacity{nodes: len(nodes), cpu: cpu.String(), memory: mem.String(), gpus: fmt.Sprint(nodes[0].GPUs * len(nodes))}
	}
	for _, tg := range out.Placement.Targets {
		want.apps[tg.Cluster] = append(want.apps[tg.Cluster], tg.App)
		want.targets = append(want.targets, tg.App+"."+tg.Cluster)
	}
	sort.Strings(want.targets)
	if len(want.targets) == 0 {
		t.Fatal("the example fleet places nothing")
	}
	return want
}

// checkCapacity compares each Cluster's heartbeat with its cluster file.
func checkCapacity(t *testing.T, hubCl client.Client, want fleetExpectation) {
	t.Helper()
	for name, c := range want.capacity {
		cl := &flotillav1.Cluster{}
		must(t, func(ctx context.Context) error {
			return hubCl.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, cl)
		})
		capa := cl.Status.Capacity
		if capa == nil || int(capa.Nodes) != c.nodes || !sameQuantity(capa.CPU.String(), c.cpu) || !sameQuantity(capa.Memory.String(), c.memory) || !sameQuantity(capa.GPU.String(), c.gpus) {
			t.Errorf("Cluster %s capacity = %+v, want the cluster file's %+v", name, capa, c)
		}
	}
}

func sameQuantity(a, b string) bool {
	qa, errA := resource.ParseQuantity(a)
	qb, errB := resource.ParseQuantity(b)
	return errA == nil && errB == nil && qa.Cmp(qb) == 0
}

// parseTable finds the table whose header starts with the given columns and
// returns its rows keyed by their first cell, each as column -> cell.
func parseTable(t *testing.T, text string, firstColumns ...string) map[string]map[string]string {
	t.Helper()
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		header := strings.Fields(line)
		if len(header) < len(firstColumns) || !slices.Equal(header[:len(firstColumns)], firstColumns) {
			continue
		}
		rows := map[string]map[string]string{}
		for _, row := range lines[i+1:] {
			cells := strings.Fields(row)
			if len(cells) != len(header) {
				break
			}
			m := map[string]string{}
			for j, h := range header {
				m[h] = cells[j]
			}
			rows[cells[0]] = m
		}
		return rows
	}
	t.Fatalf("no table with columns %v in:\n%s", firstColumns, text)
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// deploymentsAvailable reports the first Deployment of a member that is
// not fully rolled out and available.
func deploymentsAvailable(cl client.Client) error {
	list := &appsv1.DeploymentList{}
	if err := testenv.Retry(context.Background(), func(ctx context.Context) error { return cl.List(ctx, list) }); err != nil {
		return err
	}
	if len(list.Items) == 0 {
		return fmt.Errorf("no Deployment")
	}
	for i := range list.Items {
		if d := &list.Items[i]; !available(d) {
			return fmt.Errorf("Deployment %s/%s: %d/%d available, %d updated", d.Namespace, d.Name, d.Status.AvailableReplicas, ptrOr(d.Spec.Replicas, 1), d.Status.UpdatedReplicas)
		}
	}
	return nil
}

func available(d *appsv1.Deployment) bool {
	want := ptrOr(d.Spec.Replicas, 1)
	return d.Status.ObservedGeneration == d.Generation && d.Status.UpdatedReplicas == want && d.Status.AvailableReplicas == want
}

func ptrOr(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

// deploymentVersion returns a Deployment's generation and resourceVersion.
func deploymentVersion(t *testing.T, cl client.Client, ns, name string) string {
	t.Helper()
	d := &appsv1.Deployment{}
	must(t, func(ctx context.Context) error {
		return cl.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, d)
	})
	return fmt.Sprintf("generation %d resourceVersion %s", d.Generation, d.ResourceVersion)
}

// badReleaseScript is the bad release of docs/quickstart.md, as typed there:
// a memory request in adc-inference's local-registry overlay, which every
// factory of the app renders, written "128MB" (not a Kubernetes quantity:
// 128M or 128Mi is), which the API server refuses.
const badReleaseScript = `cat >> apps/adc-inference/overlays/local-registry/kustomization.yaml <<'EOF'
patches:
  - patch: |-
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: adc-inference
      spec:
        template:
          spec:
            containers:
              - name: classifier
                resources:
                  requests:
                    memory: 128MB
EOF
`

// inferenceDeployment reads a member's adc-inference Deployment.
func inferenceDeployment(t *testing.T, cl client.Client) *appsv1.Deployment {
	t.Helper()
	d := &appsv1.Deployment{}
	must(t, func(ctx context.Context) error {
		return cl.Get(ctx, types.NamespacedName{Namespace: "adc", Name: "adc-inference"}, d)
	})
	return d
}

// checkUnchanged compares a member's Deployment with what it was: the same
// spec, and with untouched also the same generation (never updated).
func checkUnchanged(t *testing.T, cluster string, before, now *appsv1.Deployment, untouched bool) {
	t.Helper()
	if !apiequality.Semantic.DeepEqual(before.Spec, now.Spec) {
		t.Errorf("%s's adc-inference spec changed: image %s -> %s, resources %v -> %v", cluster,
			before.Spec.Template.Spec.Containers[0].Image, now.Spec.Template.Spec.Containers[0].Image,
			before.Spec.Template.Spec.Containers[0].Resources, now.Spec.Template.Spec.Containers[0].Resources)
	}
	if untouched && before.Generation != now.Generation {
		t.Errorf("%s's adc-inference generation %d -> %d: it received the bad release", cluster, before.Generation, now.Generation)
	}
}

// must runs fn, retrying its transient failures (see testenv.IsTransient)
// until shortly before the test's deadline, and fails the test on any other.
func must(t *testing.T, fn func(ctx context.Context) error) {
	t.Helper()
	if err := testenv.RetryT(t, fn); err != nil {
		t.Fatal(err)
	}
}

// clusterClient returns a client for one context of the demo's kubeconfig.
func clusterClient(t *testing.T, kubeconfig, context string) client.Client {
	t.Helper()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		t.Fatalf("kubeconfig %s, context %s: %v", kubeconfig, context, err)
	}
	scheme, err := hub.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// eventually polls check until it returns nil, failing the test after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %s: %v", what, timeout, err)
		}
		time.Sleep(time.Second)
	}
}

func lineWith(text, substr string) string {
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, substr) {
			return line
		}
	}
	return ""
}

// shellSetup is what `eval "$(flotilla demo env)"` gives a shell.
type shellSetup struct {
	env                         []string
	kubeconfig, gitURL, demoDir string
	kubectl, flotilla           string
}

// shellEnv evaluates `flotilla demo env` in a real shell, as the quickstart
// says, and returns the resulting environment.
func shellEnv(t *testing.T, bin string, base []string) shellSetup {
	t.Helper()
	script := `eval "$("$0" demo env)" && printf '%s\n' "$KUBECONFIG" "$FLOTILLA_GIT_URL" "$FLOTILLA_DEMO_DIR" "$(command -v kubectl)" "$(command -v flotilla)" "$PATH" "$FLOTILLA_DEMO_SOCKET"`
	cmd := exec.Command("sh", "-c", script, bin)
	cmd.Env = base
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("eval \"$(flotilla demo env)\": %v", err)
	}
	v := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(v) != 7 {
		t.Fatalf("eval \"$(flotilla demo env)\" gave %q", v)
	}
	env := append(slices.Clone(base), "KUBECONFIG="+v[0], "FLOTILLA_GIT_URL="+v[1], "FLOTILLA_DEMO_DIR="+v[2], "PATH="+v[5], demo.ControlSocketEnv+"="+v[6])
	return shellSetup{env: env, kubeconfig: v[0], gitURL: v[1], demoDir: v[2], kubectl: v[3], flotilla: v[4]}
}

// user runs commands as a person at a shell would, in a working folder.
type user struct {
	t    *testing.T
	env  []string
	work string
}

func (u *user) cd(rel string) { u.work = filepath.Join(u.work, rel) }

// try runs a command (found on the user's PATH) and returns its standard
// output, or an error holding its standard error. Transient failures (a TLS
// handshake timeout or a refused connection on a loaded machine; see
// testenv.IsTransient) are retried until shortly before the test's deadline.
func (u *user) try(name string, args ...string) (string, error) {
	var out string
	err := testenv.RetryT(u.t, func(ctx context.Context) error {
		var err error
		out, err = u.tryOnce(ctx, name, args...)
		return err
	})
	return out, err
}

// tryOnce is try without retries, for asserting how a command fails.
func (u *user) tryOnce(ctx context.Context, name string, args ...string) (string, error) {
	path := name
	if !filepath.IsAbs(name) {
		var err error
		if path, err = lookPath(name, u.env); err != nil {
			return "", err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir, cmd.Env = u.work, u.env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// run runs a command and fails the test unless it exits with code.
func (u *user) run(code int, name string, args ...string) string {
	u.t.Helper()
	out, err := u.try(name, args...)
	got := 0
	if exitErr, ok := errorsAsExit(err); ok {
		got = exitErr.ExitCode()
	} else if err != nil {
		u.t.Fatal(err)
	}
	if got != code {
		u.t.Fatalf("%s %s: exit code %d, want %d: %v\n%s", name, strings.Join(args, " "), got, code, err, out)
	}
	return out
}

func errorsAsExit(err error) (*exec.ExitError, bool) {
	var exitErr *exec.ExitError
	ok := errors.As(err, &exitErr)
	return exitErr, ok
}

// lookPath finds name on the PATH of env.
func lookPath(name string, env []string) (string, error) {
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if info, err := os.Stat(p); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s is not on the PATH %s", name, path)
}

// runningDemo is a `flotilla demo` process and its output.
type runningDemo struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder
	done chan error
}

func (d *runningDemo) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.out.Write(p)
}

func (d *runningDemo) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.out.String()
}

// startDemo starts the demo and waits until it says it is running.
func startDemo(t *testing.T, bin string, env []string, args ...string) *runningDemo {
	t.Helper()
	d := &runningDemo{cmd: exec.Command(bin, args...), done: make(chan error, 1)}
	d.cmd.Env = env
	d.cmd.Stdout, d.cmd.Stderr = d, d
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			_ = d.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-d.done:
			case <-time.After(time.Minute):
				_ = d.cmd.Process.Kill()
			}
		}
		if t.Failed() {
			t.Logf("flotilla demo output:\n%s", d.output())
		}
	})
	deadline := time.After(12 * time.Minute)
	for !strings.Contains(d.output(), "Press Ctrl-C") {
		select {
		case err := <-d.done:
			d.done <- err
			t.Fatalf("flotilla demo exited before it was ready: %v\n%s", err, d.output())
		case <-deadline:
			t.Fatalf("flotilla demo not ready after 12 minutes:\n%s", d.output())
		case <-time.After(time.Second):
		}
	}
	return d
}

// interrupt sends Ctrl-C and waits for a clean exit.
func (d *runningDemo) interrupt(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("flotilla demo exited with %v after Ctrl-C:\n%s", err, d.output())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("flotilla demo did not stop within 2 minutes of Ctrl-C:\n%s", d.output())
	}
}

var (
	buildOnce sync.Once
	binDir    string
	binErr    error
)

// flotillaBinary builds cmd/flotilla once for the test binary.
func flotillaBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "flotilla-demo-test-")
		if binErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, "flotilla"), "./cmd/flotilla")
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/flotilla: %w\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "flotilla")
}

func TestMain(m *testing.M) {
	// The clients below log nothing worth showing.
	ctrllog.SetLogger(logr.Discard())
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// shortTempDir returns a temporary folder with a short path, for unix
// sockets (about 100 bytes at most).
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fdt-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// processesUsing lists the running processes whose command line mentions
// dir (Linux only; elsewhere it finds none).
func processesUsing(dir string) []string {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if _, err := fmt.Sscan(e.Name(), new(int)); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if line := strings.ReplaceAll(string(cmdline), "\x00", " "); strings.Contains(line, dir) {
			out = append(out, e.Name()+": "+line)
		}
	}
	return out
}

// The demo's failover timing: its heartbeat and unreachable grace
// (internal/demo) and defect-training's tolerationSeconds (the example).
const (
	demoHeartbeat         = demo.DefaultHeartbeat
	demoUnreachableGrace  = 10 * time.Second
	trainingToleration    = 20 * time.Second
	demoPlacementPassSlow = 5 * time.Second // one placement pass on a loaded 2-core machine running six clusters
)

// failoverStep follows docs/quickstart.md step 8.
func failoverStep(t *testing.T, u *user, hubCl client.Client, member func(string) client.Client) {
	t.Helper()
	stopped := time.Now()
	if out := u.run(0, "flotilla", "demo", "stop-cluster", "central"); !strings.Contains(out, "central stopped") {
		t.Fatalf("stop-cluster said: %q", out)
	}
	var moved time.Duration
	eventually(t, 2*time.Minute, "defect-training placed on factory-lyon", func() error {
		cs := &flotillav1.ClusterSync{}
		if err := hubCl.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: "defect-training.factory-lyon"}, cs); err != nil {
			return err
		}
		moved = time.Since(stopped)
		return nil
	})
	// Tainted at most the grace after the last heartbeat (before the stop),
	// then tolerated for tolerationSeconds; one heartbeat and one placement
	// pass of margin.
	if bound := demoUnreachableGrace + trainingToleration + demoHeartbeat + demoPlacementPassSlow; moved > bound || moved < trainingToleration {
		t.Errorf("defect-training moved %s after central stopped, want between tolerationSeconds %s and %s", moved, trainingToleration, bound)
	}
	t.Logf("defect-training placed on factory-lyon %s after central stopped", moved.Round(100*time.Millisecond))
	if taints := u.run(0, "kubectl", "get", "fclusters", "-n", namespace, "central", "-o", "jsonpath={range .status.taints[*]}{.key}:{.effect}{end}"); taints != flotillav1.TaintUnreachable+":NoExecute" {
		t.Errorf("central's taints: %q, want %s:NoExecute", taints, flotillav1.TaintUnreachable)
	}
	eventually(t, 2*time.Minute, "defect-training Ready on factory-lyon", func() error {
		out := u.run(0, "kubectl", "get", "csyncs", "-n", namespace, "-l", "flotilla.dev/app=defect-training")
		if f := strings.Fields(lineWith(out, "defect-training.factory-lyon")); len(f) < 4 || f[3] != "True" {
			return fmt.Errorf("kubectl get csyncs:\n%s", out)
		}
		return nil
	})
	// defect-training moved (above); the apps without failover stayed.
	out := u.run(0, "kubectl", "get", "csyncs", "-n", namespace, "-l", "flotilla.dev/cluster=central")
	for _, app := range []string{"defect-training", "fleet-dashboard", "monitoring-agent"} {
		if lineWith(out, app+".central") == "" {
			t.Errorf("%s.central must stay while central is down:\n%s", app, out)
		}
	}
	if out := u.run(0, "kubectl", "get", "csyncs", "-n", namespace, "-l", "flotilla.dev/app=fleet-dashboard"); strings.Count(out, "fleet-dashboard.") != 1 {
		t.Errorf("fleet-dashboard has no failover and must not move:\n%s", out)
	}
	if out := u.run(0, "kubectl", "--context", "factory-lyon", "get", "jobs", "-n", "training"); !strings.Contains(out, "defect-training") {
		t.Errorf("factory-lyon runs no training Job:\n%s", out)
	}

	u.run(0, "flotilla", "demo", "start-cluster", "central")
	eventually(t, 2*time.Minute, "central back, training still on factory-lyon, its Job on central pruned", func() error {
		out := u.run(0, "kubectl", "get", "csyncs", "-n", namespace, "-l", "flotilla.dev/app=defect-training")
		if lineWith(out, "defect-training.central") != "" || lineWith(out, "defect-training.factory-lyon") == "" {
			return fmt.Errorf("kubectl get csyncs:\n%s", out)
		}
		jobs, err := u.try("kubectl", "--context", "central", "get", "jobs", "-n", "training", "-o", "name")
		if err != nil {
			return err
		}
		if strings.TrimSpace(jobs) != "" {
			return fmt.Errorf("central still has %s", jobs)
		}
		if status := u.run(0, "flotilla", "demo", "status"); !strings.Contains(status, "Synced:") {
			return fmt.Errorf("flotilla demo status:\n%s", status)
		}
		return nil
	})
	if err := deploymentsAvailable(member("central")); err != nil {
		t.Errorf("central after its return: %v", err)
	}
}
