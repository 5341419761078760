package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flotilla-gitops/flotilla/agent"
	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/internal/cli"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

const (
	pullSite = "pull-site"
	pushSite = "push-site"
)

// TestPullAndPushFleet runs a fleet of one push and one pull site end to
// end: the real hub controller, two real member clusters, a real Git
// server, and `flotilla agent` as a process of its own (the binary built
// from cmd/flotilla), given only a bootstrap kubeconfig from `flotilla
// cluster bootstrap-token` and its member's kubeconfig. The hub holds no
// kubeconfig for the pull site. One environment runs the scenarios in
// order: registration approved from Git's mode Pull, apply, drift
// correction, one commit that changes and prunes on both sites, the
// status (kubectl, flotilla status, the status branch), a rollout gate,
// revocation, and a new registration that a person approves.
func TestPullAndPushFleet(t *testing.T) {
	bin := flotillaBinary(t)
	e := newFleetEnvWith(t, "testdata/pull-fleet", func(e *fleetEnv, repo *flotillav1.FleetRepository) {
		repo.Spec.StatusInterval = &metav1.Duration{Duration: time.Second}
		e.opts.Controllers.StatusTick = 500 * time.Millisecond
	}, memberSpec{name: pushSite}, memberSpec{name: pullSite, pull: true})
	ctx := context.Background()
	pullCl := e.member(pullSite)
	agentNS := flotillav1.AgentNamespace(fleetNamespace, pullSite)

	// The site's side of config/agent: the namespace of the agent's Secrets.
	e.retry(t, func(ctx context.Context) error {
		err := pullCl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: agent.DefaultStateNamespace}})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	})
	ag := e.startAgent(t, bin, pullSite, "first")

	t.Run("the agent registers, is approved from Git's mode Pull and applies", func(t *testing.T) {
		eventually(t, 90*time.Second, "both sites synced", func() error {
			return e.expectReady(ctx, "settings."+pushSite, "settings."+pullSite)
		})
		regs := e.registrations(ctx, pullSite)
		if len(regs) != 1 || !conditions.IsTrue(&regs[0], flotillav1.IssuedCondition) ||
			conditions.GetReason(&regs[0], flotillav1.ApprovedCondition) != flotillav1.ReasonClusterDeclaredPull {
			t.Fatalf("want one registration, approved because Git declares the cluster Pull, and issued: %+v", regs)
		}
		out := e.kubectl("get", "fregs", "-n", fleetNamespace)
		if row := strings.Fields(lineWith(out, regs[0].Name)); len(row) < 4 || row[1] != pullSite || row[2] != "True" || row[3] != "True" {
			t.Fatalf("kubectl get fregs: want %s approved and issued:\n%s", regs[0].Name, out)
		}
		for _, site := range []string{pushSite, pullSite} {
			if got := mustGetConfigMap(t, e.member(site), "plant", "plant-settings").Data["line"]; got != site+"-line" {
				t.Fatalf("%s runs line %q", site, got)
			}
		}
		// The hub holds no credential for the pull site; the agent holds
		// its identity on its own cluster.
		secrets := &corev1.SecretList{}
		e.retry(t, func(ctx context.Context) error { return e.hubCl.List(ctx, secrets, client.InNamespace(fleetNamespace)) })
		for _, s := range secrets.Items {
			if strings.Contains(s.Name, pullSite) {
				t.Errorf("the hub holds Secret %s for the pull site", s.Name)
			}
		}
		e.retry(t, func(ctx context.Context) error {
			return pullCl.Get(ctx, types.NamespacedName{Namespace: agent.DefaultStateNamespace, Name: agent.IdentitySecret}, &corev1.Secret{})
		})
	})

	t.Run("kubectl get fclusters shows each site's mode, both reachable", func(t *testing.T) {
		out := e.kubectl("get", "fclusters", "-n", fleetNamespace)
		for site, mode := range map[string]string{pushSite: "Push", pullSite: "Pull"} {
			row := strings.Fields(lineWith(out, site))
			if len(row) < 3 || row[1] != mode || row[2] != "True" {
				t.Fatalf("kubectl get fclusters: %s must show MODE %s, REACHABLE True:\n%s", site, mode, out)
			}
		}
	})

	t.Run("a drift on the pull site is corrected by its agent", func(t *testing.T) {
		e.driftSettings(t, pullSite, "0.99")
		eventually(t, 60*time.Second, "the drift on the pull site corrected", func() error {
			return e.threshold(ctx, pullSite, "0.80")
		})
	})

	var head string
	t.Run("one commit reaches the push and the pull site: a change and a prune", func(t *testing.T) {
		e.work.WriteFile("apps/settings/base/settings.yaml", []byte(strings.ReplaceAll(
			readFile(t, "testdata/pull-fleet/apps/settings/base/settings.yaml"), `threshold: "0.80"`, `threshold: "0.85"`)))
		e.work.WriteFile("apps/settings/base/kustomization.yaml", []byte(strings.ReplaceAll(
			readFile(t, "testdata/pull-fleet/apps/settings/base/kustomization.yaml"), "  - extra.yaml\n", "")))
		head = e.work.CommitAndPush("threshold 0.85; drop plant-extra")
		eventually(t, 90*time.Second, "both sites at the commit", func() error {
			if err := e.observedRevision(ctx, head, []string{"settings." + pushSite, "settings." + pullSite}); err != nil {
				return err
			}
			return e.expectReady(ctx, "settings."+pushSite, "settings."+pullSite)
		})
		for _, site := range []string{pushSite, pullSite} {
			if err := e.threshold(ctx, site, "0.85"); err != nil {
				t.Fatal(err)
			}
			err := e.member(site).Get(ctx, types.NamespacedName{Namespace: "plant", Name: "plant-extra"}, &corev1.ConfigMap{})
			if !apierrors.IsNotFound(err) {
				t.Fatalf("plant-extra on %s after the commit that removed it from Git: %v", site, err)
			}
		}
	})

	t.Run("flotilla status and the status branch show both sites alike", func(t *testing.T) {
		eventually(t, 45*time.Second, "both sites on the status branch at the commit", func() error {
			files, err := e.statusBranch()
			if err != nil {
				return err
			}
			md := files["STATUS.md"]
			for site, mode := range map[string]string{pushSite: "push", pullSite: "pull"} {
				if row := lineWith(md, "| "+site+" |"); !strings.HasPrefix(row, "| "+site+" | yes | "+mode+" | main@"+head[:7]+" |") || !strings.Contains(row, "ready") {
					return fmt.Errorf("STATUS.md row of %s = %q:\n%s", site, row, md)
				}
				if y := files["status/"+site+".yaml"]; !strings.Contains(y, "app: settings") || !strings.Contains(y, head) {
					return fmt.Errorf("status/%s.yaml:\n%s", site, y)
				}
			}
			return nil
		})
		var out, errOut bytes.Buffer
		if code := cli.Execute([]string{"status", "--kubeconfig", e.hub.KubeconfigPath(), "-n", fleetNamespace}, &out, &errOut); code != 0 {
			t.Fatalf("flotilla status: exit %d: %s", code, errOut.String())
		}
		for site, mode := range map[string]string{pushSite: "push", pullSite: "pull"} {
			// CLUSTER REACHABLE MODE REVISION GPU CPU MEMORY SETTINGS: the
			// app's cell is the last.
			if row := strings.Fields(lineWith(out.String(), site+" ")); len(row) < 5 || row[1] != "yes" || row[2] != mode || row[3] != "main@"+head[:7] || row[len(row)-1] != "ready" {
				t.Fatalf("flotilla status row of %s = %q:\n%s", site, row, out.String())
			}
		}
	})

	t.Run("a rollout stage gates the pull site until it is released", func(t *testing.T) {
		e.work.WriteFile("apps/gated/app.yaml", []byte(`apiVersion: flotilla.dev/v1alpha1
kind: App
metadata:
  name: gated
spec:
  namespace: gated
  rollout:
    stages:
      - name: push-first
        clusterNames: [push-site]
        approval: true
      - name: pull-second
        clusterNames: [pull-site]
`))
		e.work.WriteFile("apps/gated/base/kustomization.yaml", []byte("resources:\n  - gated.yaml\n"))
		e.work.WriteFile("apps/gated/base/gated.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gated-config\ndata:\n  version: v1\n"))
		gatedHead := e.work.CommitAndPush("gated: a staged app")
		eventually(t, 90*time.Second, "gated on the push site, waiting for approval before the pull site", func() error {
			if err := e.memberHas(ctx, pushSite, "gated", "gated-config", "v1"); err != nil {
				return err
			}
			return e.rolloutAt(ctx, "gated", gatedHead, flotillav1.RolloutWaitingForApproval, "push-first")
		})
		if got := condition(e.sync(ctx, "gated."+pullSite).Status.Conditions, meta.ReadyCondition); !strings.Contains(got, flotillav1.ReasonRolloutWaiting) {
			t.Fatalf("gated.%s must wait for its stage: Ready %s", pullSite, got)
		}
		// The hub holds the revision back: the agent has nothing to apply.
		err := e.hubCl.Get(ctx, types.NamespacedName{Namespace: agentNS, Name: "gated"}, &flotillav1.Bundle{})
		if !apierrors.IsNotFound(err) {
			t.Fatalf("Bundle gated in %s before its stage is released: %v", agentNS, err)
		}
		e.expectAbsent(ctx, pullSite, "gated", "gated-config")

		var out, errOut bytes.Buffer
		if code := cli.Execute([]string{"rollout", "approve", "gated", "--kubeconfig", e.hub.KubeconfigPath(), "-n", fleetNamespace}, &out, &errOut); code != 0 {
			t.Fatalf("flotilla rollout approve gated: exit %d: %s%s", code, out.String(), errOut.String())
		}
		eventually(t, 60*time.Second, "gated on the pull site once released", func() error {
			if err := e.memberHas(ctx, pullSite, "gated", "gated-config", "v1"); err != nil {
				return err
			}
			return e.rolloutAt(ctx, "gated", gatedHead, flotillav1.RolloutComplete, "")
		})
	})

	t.Run("a revoked agent receives nothing more and its site goes stale", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if code := cli.Execute([]string{"cluster", "revoke", pullSite, "--kubeconfig", e.hub.KubeconfigPath(), "-n", fleetNamespace}, &out, &errOut); code != 0 {
			t.Fatalf("flotilla cluster revoke: exit %d: %s%s", code, out.String(), errOut.String())
		}
		regs := e.registrations(ctx, pullSite)
		if len(regs) != 1 || !conditions.IsTrue(&regs[0], flotillav1.RevokedCondition) {
			t.Fatalf("the registration must be Revoked: %+v", regs)
		}
		eventually(t, 60*time.Second, "the pull site unreachable on the hub after the heartbeat window", func() error {
			c := &flotillav1.Cluster{}
			if err := e.hubCl.Get(ctx, types.NamespacedName{Namespace: fleetNamespace, Name: pullSite}, c); err != nil {
				return err
			}
			if got := condition(c.Status.Conditions, flotillav1.ReachableCondition); !strings.HasPrefix(got, "False/") || !strings.Contains(got, "no heartbeat from the agent") {
				return fmt.Errorf("Reachable %s", got)
			}
			return nil
		})
		eventually(t, 45*time.Second, "the pull site stale on the status branch", func() error {
			files, err := e.statusBranch()
			if err != nil {
				return err
			}
			if md := files["STATUS.md"]; !strings.Contains(md, "| "+pullSite+" | **STALE** | pull |") {
				return fmt.Errorf("STATUS.md:\n%s", md)
			}
			return nil
		})
		if !strings.Contains(ag.log(), "the hub refuses the agent's identity") {
			t.Fatalf("the agent does not say the hub refuses it:\n%s", ag.logTail())
		}

		// A later commit: the push site applies it; the hub writes nothing
		// for the revoked pull site (its agent may still hold a watch opened
		// before the revocation) and says why.
		e.work.WriteFile("apps/settings/base/settings.yaml", []byte(strings.ReplaceAll(
			readFile(t, "testdata/pull-fleet/apps/settings/base/settings.yaml"), `threshold: "0.80"`, `threshold: "0.90"`)))
		head = e.work.CommitAndPush("threshold 0.90")
		eventually(t, 60*time.Second, "the push site at 0.90 and the pull site's sync AgentRevoked", func() error {
			if err := e.threshold(ctx, pushSite, "0.90"); err != nil {
				return err
			}
			cs := e.sync(ctx, "settings."+pullSite)
			if got := condition(cs.Status.Conditions, "Ready"); !strings.HasPrefix(got, "False/"+flotillav1.ReasonAgentRevoked) {
				return fmt.Errorf("Ready of settings.%s: %s", pullSite, got)
			}
			return nil
		})
		b := &flotillav1.Bundle{}
		if err := e.hubCl.Get(ctx, types.NamespacedName{Namespace: agentNS, Name: "settings"}, b); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(b.Spec.Revision, head) {
			t.Fatalf("the hub wrote the revoked site's Bundle at the new commit %s", b.Spec.Revision)
		}
		// The positive signal that the agent works on after the Bundle was
		// written: it corrects two drifts, one after the other. Each pass
		// lists the bundles before it corrects, and the second correction
		// is made by a pass that began after the first was seen, so after
		// the new Bundle was written. It restores its last accepted state.
		for i, drift := range []string{"0.11", "0.22"} {
			e.driftSettings(t, pullSite, drift)
			eventually(t, 60*time.Second, fmt.Sprintf("drift %d corrected by the revoked agent to its last state", i+1), func() error {
				return e.threshold(ctx, pullSite, "0.85")
			})
		}
		if cs := e.sync(ctx, "settings."+pullSite); strings.HasSuffix(cs.Status.AppliedRevision, head) {
			t.Fatalf("the hub says the revoked pull site applied %s", cs.Status.AppliedRevision)
		}
	})

	t.Run("a new registration waits for a person; once approved the site catches up", func(t *testing.T) {
		if err := ag.proc.Stop(); err != nil {
			t.Fatal(err)
		}
		// Re-registering: the site forgets the revoked identity and gets a
		// new bootstrap credential (docs/hub.md, "Registering again").
		e.retry(t, func(ctx context.Context) error {
			err := pullCl.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: agent.DefaultStateNamespace, Name: agent.IdentitySecret}})
			return client.IgnoreNotFound(err)
		})
		e.startAgent(t, bin, pullSite, "second")
		var pending string
		eventually(t, 60*time.Second, "the new registration awaits approval", func() error {
			for _, reg := range e.registrations(ctx, pullSite) {
				if conditions.IsUnknown(&reg, flotillav1.ApprovedCondition) && conditions.GetReason(&reg, flotillav1.ApprovedCondition) == flotillav1.ReasonAwaitingApproval {
					pending = reg.Name
					return nil
				}
			}
			return fmt.Errorf("no registration of %s awaits approval", pullSite)
		})
		var out, errOut bytes.Buffer
		if code := cli.Execute([]string{"cluster", "list-registrations", pullSite, "--kubeconfig", e.hub.KubeconfigPath(), "-n", fleetNamespace}, &out, &errOut); code != 0 {
			t.Fatalf("flotilla cluster list-registrations: exit %d: %s", code, errOut.String())
		}
		if row := strings.Fields(lineWith(out.String(), pending)); len(row) < 3 || row[2] != "Pending" {
			t.Fatalf("list-registrations: %s must be Pending:\n%s", pending, out.String())
		}
		out.Reset()
		if code := cli.Execute([]string{"cluster", "approve", pullSite, "--kubeconfig", e.hub.KubeconfigPath(), "-n", fleetNamespace}, &out, &errOut); code != 0 {
			t.Fatalf("flotilla cluster approve: exit %d: %s", code, errOut.String())
		}
		if !strings.Contains(out.String(), "approved registration "+pending) {
			t.Fatalf("flotilla cluster approve approved something else: %s", out.String())
		}
		eventually(t, 90*time.Second, "the pull site at the commit it missed, reachable again", func() error {
			if err := e.threshold(ctx, pullSite, "0.90"); err != nil {
				return err
			}
			if err := e.observedRevision(ctx, head, []string{"settings." + pullSite}); err != nil {
				return err
			}
			c := &flotillav1.Cluster{}
			if err := e.hubCl.Get(ctx, types.NamespacedName{Namespace: fleetNamespace, Name: pullSite}, c); err != nil {
				return err
			}
			if got := condition(c.Status.Conditions, flotillav1.ReachableCondition); !strings.HasPrefix(got, "True/") {
				return fmt.Errorf("Reachable %s", got)
			}
			return nil
		})
	})
}

// runningAgent is a `flotilla agent` process and its log file.
type runningAgent struct {
	proc    *testenv.Process
	logPath string
}

func (a *runningAgent) log() string {
	b, _ := os.ReadFile(a.logPath)
	return string(b)
}

// logTail returns the last lines of the agent's log.
func (a *runningAgent) logTail() string {
	lines := strings.Split(strings.TrimSpace(a.log()), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

// startAgent writes a bootstrap kubeconfig with `flotilla cluster
// bootstrap-token --kubeconfig-out`, as an operator would, and starts
// `flotilla agent` for site with it. The agent stops with the test; its
// log is shown when the test fails.
func (e *fleetEnv) startAgent(t *testing.T, bin, site, label string) *runningAgent {
	t.Helper()
	dir := t.TempDir()
	bootstrap := filepath.Join(dir, "bootstrap.kubeconfig")
	var out, errOut bytes.Buffer
	args := []string{"cluster", "bootstrap-token", "--kubeconfig", e.hub.KubeconfigPath(), "-n", fleetNamespace, "--ttl", "1h", "--kubeconfig-out", bootstrap}
	if code := cli.Execute(args, &out, &errOut); code != 0 {
		t.Fatalf("flotilla %s: exit %d: %s", strings.Join(args, " "), code, errOut.String())
	}
	logFile, err := os.CreateTemp("", "flotilla-e2e-agent-"+label+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	_ = logFile.Close()
	a := &runningAgent{logPath: logFile.Name()}
	a.proc, err = testenv.StartProcess("flotilla agent "+site, bin, []string{"agent",
		"--cluster", site, "--fleet-namespace", fleetNamespace,
		"--bootstrap-kubeconfig", bootstrap,
		"--kubeconfig", e.members[site].KubeconfigPath(),
		"--heartbeat-interval", "1s", "--resync-interval", "2s", "--health-poll-interval", "500ms",
		"--metrics-addr", "0", "--health-addr", "0",
	}, os.Environ(), a.logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.proc.Stop(); err != nil {
			t.Errorf("stop the agent: %v", err)
		}
		if t.Failed() {
			t.Logf("agent %s log (%s), last lines:\n%s", label, a.logPath, a.logTail())
		} else {
			_ = os.Remove(a.logPath)
		}
	})
	return a
}

// registrations lists the ClusterRegistrations of a cluster.
func (e *fleetEnv) registrations(ctx context.Context, cluster string) []flotillav1.ClusterRegistration {
	e.t.Helper()
	list := &flotillav1.ClusterRegistrationList{}
	e.retry(e.t, func(ctx context.Context) error { return e.hubCl.List(ctx, list, client.InNamespace(fleetNamespace)) })
	var out []flotillav1.ClusterRegistration
	for _, reg := range list.Items {
		if reg.Spec.ClusterName == cluster {
			out = append(out, reg)
		}
	}
	return out
}

// threshold returns nil when site's plant-settings has that threshold.
func (e *fleetEnv) threshold(ctx context.Context, site, want string) error {
	cm := &corev1.ConfigMap{}
	if err := e.member(site).Get(ctx, types.NamespacedName{Namespace: "plant", Name: "plant-settings"}, cm); err != nil {
		return err
	}
	if got := cm.Data["threshold"]; got != want {
		return fmt.Errorf("%s: threshold %q, want %q", site, got, want)
	}
	return nil
}

// driftSettings changes plant-settings' threshold on site behind Flotilla's
// back, as a person with kubectl would.
func (e *fleetEnv) driftSettings(t *testing.T, site, value string) {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "plant", Name: "plant-settings"}}
	patch := []byte(fmt.Sprintf(`{"data":{"threshold":%q}}`, value))
	e.retry(t, func(ctx context.Context) error {
		return e.member(site).Patch(ctx, cm, client.RawPatch(types.MergePatchType, patch))
	})
	if got := cm.Data["threshold"]; got != value {
		t.Fatalf("the drift did not take: the patched ConfigMap says threshold %q", got)
	}
}

var (
	buildOnce sync.Once
	binDir    string
	binErr    error
)

// flotillaBinary builds cmd/flotilla once for the test binary, to run
// `flotilla agent` as a process of its own.
func flotillaBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "flotilla-e2e-bin-")
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
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}
