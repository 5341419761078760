package e2e

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/internal/cli"
)

// TestSuspendResumeAndReconcile drives `flotilla suspend`, `resume` and
// `reconcile` against a real hub with two member clusters: a suspended
// cluster, app or repository gets neither its drift corrected nor a new
// commit applied, Ready is not flipped, the SUSPENDED column shows it, and
// resuming applies both; a reconcile request fetches and checks drift long
// before the intervals would.
func TestSuspendResumeAndReconcile(t *testing.T) {
	e := newFleetEnv(t, "testdata/small-fleet", memberSpec{name: "site-a"}, memberSpec{name: "site-b"})
	ctx := context.Background()
	eventually(t, 90*time.Second, "settings applied on both sites", func() error {
		return e.thresholds(ctx, map[string]string{"site-a": "0.80", "site-b": "0.80"})
	})
	settings := string(readFile(t, "testdata/small-fleet/apps/settings/base/settings.yaml"))
	commit := func(threshold string) string {
		e.work.WriteFile("apps/settings/base/settings.yaml", []byte(strings.ReplaceAll(settings, `threshold: "0.80"`, `threshold: "`+threshold+`"`)))
		return e.work.CommitAndPush("threshold " + threshold)
	}

	t.Run("cluster", func(t *testing.T) {
		e.flotilla(t, "suspend", "cluster", "site-a")
		e.waitSync(t, "settings.site-a", "suspended", func(cs *flotillav1.ClusterSync) bool {
			return conditions.IsTrue(cs, flotillav1.SuspendedCondition)
		})
		if out := e.kubectl("get", "clusters", "-n", fleetNamespace, "site-a"); !strings.Contains(out, "SUSPENDED") || !strings.Contains(out, "true") {
			t.Errorf("kubectl get clusters shows no SUSPENDED column set to true:\n%s", out)
		}
		// Both sites are edited by hand; the one not suspended is the
		// positive signal that drift checks ran since.
		e.editThreshold(t, "site-a", "by-hand")
		e.editThreshold(t, "site-b", "by-hand")
		head := commit("0.85")
		eventually(t, 60*time.Second, "site-b gets the commit, site-a keeps its hand edit", func() error {
			return e.thresholds(ctx, map[string]string{"site-a": "by-hand", "site-b": "0.85"})
		})
		cs := e.syncNow(t, "settings.site-a")
		if !conditions.IsTrue(cs, "Ready") {
			t.Errorf("suspended sync's Ready = %s, want it left True", condition(cs.Status.Conditions, "Ready"))
		}
		e.flotilla(t, "resume", "cluster", "site-a")
		eventually(t, 60*time.Second, "site-a gets the commit once resumed", func() error {
			return e.thresholds(ctx, map[string]string{"site-a": "0.85", "site-b": "0.85"})
		})
		eventually(t, 30*time.Second, "site-a observed "+head, func() error { return e.observedRevision(ctx, head, []string{"settings.site-a"}) })
	})

	t.Run("app", func(t *testing.T) {
		e.flotilla(t, "suspend", "app", "settings")
		for _, s := range []string{"settings.site-a", "settings.site-b"} {
			e.waitSync(t, s, "suspended", func(cs *flotillav1.ClusterSync) bool {
				return conditions.IsTrue(cs, flotillav1.SuspendedCondition)
			})
		}
		head := commit("0.86")
		e.editThreshold(t, "site-a", "by-hand")
		// The repository renders the commit (it is not suspended); a
		// reconcile request answered by every sync after that is the
		// positive signal that they looked and did nothing.
		e.waitRepo(t, "rendered "+head, func(fr *flotillav1.FleetRepository) bool { return strings.HasSuffix(fr.Status.Revision, head) })
		e.requestAndWait(t, "app", "settings", "settings.site-a", "settings.site-b")
		if err := e.thresholds(ctx, map[string]string{"site-a": "by-hand", "site-b": "0.85"}); err != nil {
			t.Fatalf("suspended app changed: %v", err)
		}
		e.flotilla(t, "resume", "app", "settings")
		eventually(t, 60*time.Second, "both sites get the commit once resumed", func() error {
			return e.thresholds(ctx, map[string]string{"site-a": "0.86", "site-b": "0.86"})
		})
	})

	t.Run("repository", func(t *testing.T) {
		e.flotilla(t, "suspend", "repository", "factories")
		e.waitRepo(t, "Suspended", func(fr *flotillav1.FleetRepository) bool {
			return conditions.IsTrue(fr, flotillav1.SuspendedCondition)
		})
		before := e.repoNow(t)
		if !conditions.IsTrue(before, "Ready") {
			t.Errorf("suspended repository's Ready = %s, want it left True", condition(before.Status.Conditions, "Ready"))
		}
		if out := e.kubectl("get", "fleetrepositories", "-n", fleetNamespace); !strings.Contains(out, "SUSPENDED") || !strings.Contains(out, "true") {
			t.Errorf("kubectl get fleetrepositories shows no SUSPENDED column set to true:\n%s", out)
		}
		head := commit("0.87")
		e.editThreshold(t, "site-b", "by-hand")
		at := e.requestAndWait(t, "repository", "factories", "settings.site-a", "settings.site-b")
		e.waitRepo(t, "reconcile request handled", func(fr *flotillav1.FleetRepository) bool { return fr.Status.LastHandledReconcileAt == at })
		if fr := e.repoNow(t); fr.Status.Revision != before.Status.Revision {
			t.Errorf("suspended repository fetched %s (was %s)", fr.Status.Revision, before.Status.Revision)
		}
		if err := e.thresholds(ctx, map[string]string{"site-a": "0.86", "site-b": "by-hand"}); err != nil {
			t.Fatalf("suspended repository changed a site: %v", err)
		}
		e.flotilla(t, "resume", "repository", "factories")
		eventually(t, 60*time.Second, "both sites get "+head+" once resumed", func() error {
			return e.thresholds(ctx, map[string]string{"site-a": "0.87", "site-b": "0.87"})
		})
	})

	t.Run("reconcile", func(t *testing.T) {
		// Intervals of an hour: only a reconcile request syncs soon.
		fr := e.repoNow(t)
		patch := client.MergeFrom(fr.DeepCopy())
		fr.Spec.Interval = &metav1.Duration{Duration: time.Hour}
		fr.Spec.DriftInterval = &metav1.Duration{Duration: time.Hour}
		if err := e.hubCl.Patch(ctx, fr, patch); err != nil {
			t.Fatal(err)
		}
		e.waitRepo(t, "interval of an hour observed", func(fr *flotillav1.FleetRepository) bool {
			return fr.Status.ObservedGeneration == fr.Generation
		})
		e.editThreshold(t, "site-a", "by-hand")
		e.flotilla(t, "reconcile", "cluster", "site-a")
		eventually(t, 30*time.Second, "site-a's drift corrected on request", func() error {
			return e.thresholds(ctx, map[string]string{"site-a": "0.87", "site-b": "0.87"})
		})
		commit("0.88")
		e.flotilla(t, "reconcile", "repository", "factories")
		eventually(t, 30*time.Second, "the commit fetched and applied on request", func() error {
			return e.thresholds(ctx, map[string]string{"site-a": "0.88", "site-b": "0.88"})
		})
	})
}

// flotilla runs the flotilla command line against the hub.
func (e *fleetEnv) flotilla(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "--kubeconfig", e.hub.KubeconfigPath(), "-n", fleetNamespace)
	if code := cli.Execute(args, &out, &errOut); code != 0 {
		t.Fatalf("flotilla %s: exit %d: %s", strings.Join(args, " "), code, errOut.String())
	}
	return out.String()
}

// requestAndWait asks to reconcile kind/name with the CLI and waits until
// the named syncs have handled the request; it returns the request's value.
func (e *fleetEnv) requestAndWait(t *testing.T, kind, name string, syncs ...string) string {
	t.Helper()
	e.flotilla(t, "reconcile", kind, name)
	var obj client.Object
	switch kind {
	case "app":
		obj = &flotillav1.App{}
	case "repository":
		obj = &flotillav1.FleetRepository{}
	default:
		obj = &flotillav1.Cluster{}
	}
	if err := e.hubCl.Get(context.Background(), client.ObjectKey{Namespace: fleetNamespace, Name: name}, obj); err != nil {
		t.Fatal(err)
	}
	at := obj.GetAnnotations()[flotillav1.AnnotationReconcileRequestedAt]
	if at == "" {
		t.Fatalf("flotilla reconcile %s %s set no %s", kind, name, flotillav1.AnnotationReconcileRequestedAt)
	}
	for _, s := range syncs {
		e.waitSync(t, s, "reconcile request "+at+" handled", func(cs *flotillav1.ClusterSync) bool {
			return strings.Contains(cs.Status.LastHandledReconcileAt, at)
		})
	}
	return at
}

func (e *fleetEnv) syncNow(t *testing.T, name string) *flotillav1.ClusterSync {
	t.Helper()
	cs := &flotillav1.ClusterSync{}
	if err := e.hubCl.Get(context.Background(), client.ObjectKey{Namespace: fleetNamespace, Name: name}, cs); err != nil {
		t.Fatal(err)
	}
	return cs
}

func (e *fleetEnv) waitSync(t *testing.T, name, what string, ok func(*flotillav1.ClusterSync) bool) {
	t.Helper()
	eventually(t, 60*time.Second, "ClusterSync "+name+" "+what, func() error {
		cs := &flotillav1.ClusterSync{}
		if err := e.hubCl.Get(context.Background(), client.ObjectKey{Namespace: fleetNamespace, Name: name}, cs); err != nil {
			return err
		}
		if !ok(cs) {
			return fmt.Errorf("not yet: Suspended %s, Ready %s, lastHandledReconcileAt %q", condition(cs.Status.Conditions, flotillav1.SuspendedCondition),
				condition(cs.Status.Conditions, "Ready"), cs.Status.LastHandledReconcileAt)
		}
		return nil
	})
}

func (e *fleetEnv) repoNow(t *testing.T) *flotillav1.FleetRepository {
	t.Helper()
	fr := &flotillav1.FleetRepository{}
	if err := e.hubCl.Get(context.Background(), client.ObjectKey{Namespace: fleetNamespace, Name: "factories"}, fr); err != nil {
		t.Fatal(err)
	}
	return fr
}

func (e *fleetEnv) waitRepo(t *testing.T, what string, ok func(*flotillav1.FleetRepository) bool) {
	t.Helper()
	eventually(t, 60*time.Second, "FleetRepository "+what, func() error {
		fr := &flotillav1.FleetRepository{}
		if err := e.hubCl.Get(context.Background(), client.ObjectKey{Namespace: fleetNamespace, Name: "factories"}, fr); err != nil {
			return err
		}
		if !ok(fr) {
			return fmt.Errorf("not yet: revision %s, Ready %s", fr.Status.Revision, condition(fr.Status.Conditions, "Ready"))
		}
		return nil
	})
}

// thresholds returns nil once each site's plant-settings ConfigMap has the
// wanted threshold.
func (e *fleetEnv) thresholds(ctx context.Context, want map[string]string) error {
	for site, w := range want {
		cm := &corev1.ConfigMap{}
		if err := e.member(site).Get(ctx, client.ObjectKey{Namespace: "plant", Name: "plant-settings"}, cm); err != nil {
			return fmt.Errorf("%s: %w", site, err)
		}
		if got := cm.Data["threshold"]; got != w {
			return fmt.Errorf("%s: threshold %q, want %q", site, got, w)
		}
	}
	return nil
}

// editThreshold changes the ConfigMap on a member by hand, as drift.
func (e *fleetEnv) editThreshold(t *testing.T, site, value string) {
	t.Helper()
	cl := e.member(site)
	eventually(t, 30*time.Second, "edit plant-settings on "+site, func() error {
		cm := &corev1.ConfigMap{}
		if err := cl.Get(context.Background(), client.ObjectKey{Namespace: "plant", Name: "plant-settings"}, cm); err != nil {
			return err
		}
		cm.Data["threshold"] = value
		return cl.Update(context.Background(), cm)
	})
}
