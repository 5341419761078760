package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/controllers"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// rolloutSites are the four member clusters of the rollout tests.
var rolloutSites = []string{"site-a", "site-b", "site-c", "site-d"}

// fakeClock is the rollout clock of the hub under test: it stands still
// until the test moves it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's current time.
func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// advance moves the clock forward by d.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestRolloutFleet runs staged rollouts against a real hub, four member
// clusters whose Deployments become Ready only when their pods really run
// (simulated nodes with 4 CPUs each), a Git server and real pushes. One
// environment runs the scenarios one after the other, each with its own
// app or with new commits; the rollout clock is a fake the test moves, so
// pauses and update windows take no real time. Every assertion about what a
// site runs reads the member cluster itself.
func TestRolloutFleet(t *testing.T) {
	clock := &fakeClock{now: time.Date(2030, time.January, 7, 8, 0, 0, 0, time.UTC)} // a Monday, 08:00 UTC
	var members []memberSpec
	for _, s := range rolloutSites {
		members = append(members, memberSpec{name: s, nodes: []testenv.NodeSpec{{Name: "node-1", CPU: "4", Memory: "16Gi"}}})
	}
	e := newFleetEnvWith(t, "testdata/rollout-fleet", func(e *fleetEnv, _ *flotillav1.FleetRepository) {
		e.opts.Controllers.Clock = clock
	}, members...)
	ctx := context.Background()

	t.Run("a first install goes stage by stage: a pause waits for the clock, approval for a person", func(t *testing.T) {
		eventually(t, 90*time.Second, "gated paused after its first stage", func() error {
			if err := e.memberHas(ctx, "site-a", "gated", "gated-config", "v1"); err != nil {
				return err
			}
			return e.rolloutAt(ctx, "gated", "", flotillav1.RolloutPaused, "first")
		})
		for _, site := range []string{"site-b", "site-c", "site-d"} {
			e.expectAbsent(ctx, site, "gated", "gated-config")
		}
		if got := condition(e.sync(ctx, "gated.site-b").Status.Conditions, meta.ReadyCondition); !strings.Contains(got, flotillav1.ReasonRolloutWaiting) {
			t.Fatalf("gated.site-b must wait for its stage: Ready %s", got)
		}

		clock.advance(11 * time.Minute)
		eventually(t, 60*time.Second, "gated waits for approval after its second stage", func() error {
			if err := e.memberHas(ctx, "site-b", "gated", "gated-config", "v1"); err != nil {
				return err
			}
			return e.rolloutAt(ctx, "gated", "", flotillav1.RolloutWaitingForApproval, "second")
		})
		for _, site := range []string{"site-c", "site-d"} {
			e.expectAbsent(ctx, site, "gated", "gated-config")
		}

		e.annotateApp(ctx, "gated", flotillav1.AnnotationRolloutApprove, "approved-1")
		eventually(t, 60*time.Second, "gated complete after approval", func() error {
			for _, site := range rolloutSites {
				if err := e.memberHas(ctx, site, "gated", "gated-config", "v1"); err != nil {
					return err
				}
			}
			return e.rolloutAt(ctx, "gated", "", flotillav1.RolloutComplete, "")
		})
	})

	// The other apps' first installs ran meanwhile.
	eventually(t, 90*time.Second, "web and fleetwide installed everywhere", func() error {
		for _, app := range []string{"web", "fleetwide"} {
			if err := e.rolloutAt(ctx, app, "", flotillav1.RolloutComplete, ""); err != nil {
				return err
			}
			for _, site := range rolloutSites {
				if err := e.memberRuns(ctx, site, app, "v1", "100m"); err != nil {
					return err
				}
			}
		}
		return nil
	})

	t.Run("a stage of four sites with maxUnavailable 1 updates one site at a time, across a controller restart", func(t *testing.T) {
		rec := e.recordUpdates(t, "fleetwide", "registry.local/fleetwide:v2")
		e.work.WriteFile("apps/fleetwide/base/fleetwide.yaml", []byte(appManifest(t, "fleetwide", "v2", "100m")))
		head := e.work.CommitAndPush("fleetwide v2")
		// Restart the controller once the first site is done and while the
		// second one is between apply and Ready: in the middle of the stage.
		eventually(t, 90*time.Second, "a second site in the middle of its update", func() error {
			if started, inFlight := rec.progress(); started < 2 || inFlight != 1 {
				return fmt.Errorf("%d site(s) started, %d between apply and Ready", started, inFlight)
			}
			return nil
		})
		e.stopHubAndWait()
		e.startHub()
		eventually(t, 180*time.Second, "fleetwide v2 everywhere", func() error {
			for _, site := range rolloutSites {
				if err := e.memberRuns(ctx, site, "fleetwide", "v2", "100m"); err != nil {
					return err
				}
			}
			return e.rolloutAt(ctx, "fleetwide", head, flotillav1.RolloutComplete, "")
		})
		intervals := rec.stop(t)
		if len(intervals) != len(rolloutSites) {
			t.Fatalf("updates recorded on %d sites, want %d: %v", len(intervals), len(rolloutSites), intervals)
		}
		for i, a := range intervals {
			if a.end.IsZero() {
				t.Fatalf("%s never became available at the new generation", a.site)
			}
			for _, b := range intervals[i+1:] {
				if a.start.Before(b.end) && b.start.Before(a.end) {
					t.Errorf("%s and %s were between apply and Ready at the same time: %s and %s", a.site, b.site, a, b)
				}
			}
		}
		t.Logf("updates: %v", intervals)
	})

	t.Run("a site outside its update window or held by the site waits until it is free", func(t *testing.T) {
		hold := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: flotillav1.HoldNamespace, Name: flotillav1.HoldConfigMap},
			Data:       map[string]string{"reason": "lot 4711 running"},
		}
		d := e.member("site-d")
		e.retry(t, func(ctx context.Context) error {
			err := d.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: flotillav1.HoldNamespace}})
			if apierrors.IsAlreadyExists(err) {
				return nil
			}
			return err
		})
		e.retry(t, func(ctx context.Context) error { return d.Create(ctx, hold.DeepCopy()) })
		eventually(t, 30*time.Second, "site-d's hold on the hub", func() error {
			c := &flotillav1.Cluster{}
			if err := e.hubCl.Get(ctx, types.NamespacedName{Namespace: fleetNamespace, Name: "site-d"}, c); err != nil {
				return err
			}
			if c.Status.Hold == nil || !strings.Contains(c.Status.Hold.Reason, "lot 4711") {
				return fmt.Errorf("site-d status.hold = %+v", c.Status.Hold)
			}
			return nil
		})
		siteC := e.appState(ctx, "site-c", "fleetwide")
		// site-c opens for updates at 10:00 UTC for an hour; the clock says 08:11.
		e.work.WriteFile("clusters/site-c.yaml", []byte(readFile(t, "testdata/rollout-fleet/clusters/site-c.yaml")+
			"  updateWindows:\n    - start: \"10:00\"\n      duration: 1h\n      timeZone: UTC\n"))
		e.work.WriteFile("apps/fleetwide/base/fleetwide.yaml", []byte(appManifest(t, "fleetwide", "v3", "100m")))
		head := e.work.CommitAndPush("fleetwide v3; site-c updates from 10:00 UTC")
		eventually(t, 90*time.Second, "free sites updated, site-c and site-d deferred", func() error {
			for _, site := range []string{"site-a", "site-b"} {
				if err := e.memberRuns(ctx, site, "fleetwide", "v3", "100m"); err != nil {
					return err
				}
			}
			if err := e.rolloutAt(ctx, "fleetwide", head, flotillav1.RolloutProgressing, "all"); err != nil {
				return err
			}
			return e.deferred(ctx, "fleetwide", "all", "site-c", "site-d")
		})
		for _, site := range []string{"site-c", "site-d"} {
			if err := e.memberRuns(ctx, site, "fleetwide", "v2", "100m"); err != nil {
				t.Fatalf("a deferred site must keep its revision: %v", err)
			}
		}

		e.retry(t, func(ctx context.Context) error { return client.IgnoreNotFound(d.Delete(ctx, hold.DeepCopy())) })
		eventually(t, 60*time.Second, "site-d updated once its hold is gone", func() error {
			if err := e.memberRuns(ctx, "site-d", "fleetwide", "v3", "100m"); err != nil {
				return err
			}
			return e.deferred(ctx, "fleetwide", "all", "site-c")
		})
		if got := e.appState(ctx, "site-c", "fleetwide"); got != siteC {
			t.Fatalf("site-c is outside its window and must not be touched:\n was %s\n now %s", siteC, got)
		}

		clock.advance(time.Hour + 54*time.Minute) // 10:05 UTC
		eventually(t, 60*time.Second, "site-c updated in its window", func() error {
			if err := e.memberRuns(ctx, "site-c", "fleetwide", "v3", "100m"); err != nil {
				return err
			}
			return e.rolloutAt(ctx, "fleetwide", head, flotillav1.RolloutComplete, "")
		})
	})

	// What the sites past the canary run before the broken revision; they
	// must keep it until the fix.
	var before map[string]string
	t.Run("a revision that cannot become healthy halts at the canary", func(t *testing.T) {
		before = map[string]string{}
		for _, site := range []string{"site-b", "site-c", "site-d"} {
			if err := e.memberRuns(ctx, site, "web", "v1", "100m"); err != nil {
				t.Fatal(err)
			}
			before[site] = e.webState(ctx, site)
		}
		// 64 CPUs: no node has that many; the pod never runs.
		e.work.WriteFile("apps/web/base/web.yaml", []byte(appManifest(t, "web", "v2", "64")))
		head := e.work.CommitAndPush("web v2 asks for 64 CPUs")
		eventually(t, 30*time.Second, "the canary has the new revision", func() error {
			return e.memberRuns(ctx, "site-a", "web", "v2", "64")
		})
		eventually(t, 60*time.Second, "the rollout halted at the canary", func() error {
			cs := e.sync(ctx, "web.site-a")
			if got := condition(cs.Status.Conditions, meta.ReadyCondition); !strings.HasPrefix(got, "False/"+flotillav1.ReasonHealthCheckFailed) {
				return fmt.Errorf("web.site-a Ready %s", got)
			}
			if err := e.rolloutAt(ctx, "web", head, flotillav1.RolloutHalted, "canary"); err != nil {
				return err
			}
			return e.failed(ctx, "web", "canary", "site-a")
		})
		e.expectWebUnchanged(t, before)
	})

	t.Run("a controller restart leaves a halted rollout halted and its failed site alone", func(t *testing.T) {
		siteA := fleetNamespace + "/site-a"
		cs := e.sync(ctx, "web.site-a")
		applied := cs.Status.LastAppliedTime
		e.stopHubAndWait()
		syncs, health := controllers.MemberRequests(siteA, "sync"), controllers.MemberRequests(siteA, "health")
		e.startHub()
		// The positive signal: the restarted controller has looked at the
		// failed site again (health checks) and at the app.
		eventually(t, 60*time.Second, "the restarted controller checked site-a", func() error {
			if got := controllers.MemberRequests(siteA, "health") - health; got < 2 {
				return fmt.Errorf("%v health requests to site-a since the restart", got)
			}
			return e.rolloutAt(ctx, "web", "", flotillav1.RolloutHalted, "canary")
		})
		if got := controllers.MemberRequests(siteA, "sync") - syncs; got != 0 {
			t.Errorf("the halted site received %v sync requests after the restart; want 0", got)
		}
		cs = e.sync(ctx, "web.site-a")
		if !cs.Status.LastAppliedTime.Equal(applied) {
			t.Errorf("web.site-a was applied again after the restart: lastAppliedTime %v -> %v", applied, cs.Status.LastAppliedTime)
		}
		if got := condition(cs.Status.Conditions, meta.ReadyCondition); !strings.HasPrefix(got, "False/"+flotillav1.ReasonHealthCheckFailed) {
			t.Errorf("web.site-a must stay failed: Ready %s", got)
		}
		if err := e.memberRuns(ctx, "site-a", "web", "v2", "64"); err != nil {
			t.Error(err)
		}
		e.expectWebUnchanged(t, before)
	})

	t.Run("a new commit supersedes the halted rollout and the fix reaches every site", func(t *testing.T) {
		e.expectWebUnchanged(t, before)
		e.work.WriteFile("apps/web/base/web.yaml", []byte(appManifest(t, "web", "v3", "200m")))
		head := e.work.CommitAndPush("web v3 fixes the CPU request")
		eventually(t, 120*time.Second, "web v3 everywhere", func() error {
			for _, site := range rolloutSites {
				if err := e.memberRuns(ctx, site, "web", "v3", "200m"); err != nil {
					return err
				}
				if err := e.deploymentAvailable(ctx, site, "web", "web"); err != nil {
					return err
				}
			}
			return e.rolloutAt(ctx, "web", head, flotillav1.RolloutComplete, "")
		})
	})

	t.Run("onFailure Rollback returns the canary to its last Ready revision", func(t *testing.T) {
		rest := map[string]string{}
		for _, site := range []string{"site-b", "site-c", "site-d"} {
			rest[site] = e.webState(ctx, site)
		}
		good := e.sync(ctx, "web.site-a").Status.AppliedRevision
		e.work.WriteFile("apps/web/app.yaml", []byte(strings.ReplaceAll(readFile(t, "testdata/rollout-fleet/apps/web/app.yaml"), "onFailure: Halt", "onFailure: Rollback")))
		e.work.WriteFile("apps/web/base/web.yaml", []byte(appManifest(t, "web", "v4", "64")))
		head := e.work.CommitAndPush("web v4 asks for 64 CPUs again, with rollback")
		eventually(t, 30*time.Second, "the canary has the new revision", func() error {
			return e.memberRuns(ctx, "site-a", "web", "v4", "64")
		})
		eventually(t, 90*time.Second, "the canary rolled back and Ready", func() error {
			if err := e.rolloutAt(ctx, "web", head, flotillav1.RolloutRolledBack, "canary"); err != nil {
				return err
			}
			if err := e.memberRuns(ctx, "site-a", "web", "v3", "200m"); err != nil {
				return err
			}
			if err := e.deploymentAvailable(ctx, "site-a", "web", "web"); err != nil {
				return err
			}
			cs := e.sync(ctx, "web.site-a")
			if cs.Status.AppliedRevision != good || !lastReady(cs) {
				return fmt.Errorf("web.site-a applied %s (want %s), Ready %s", cs.Status.AppliedRevision, good, condition(cs.Status.Conditions, meta.ReadyCondition))
			}
			return nil
		})
		e.expectWebUnchanged(t, rest)
	})
}

// appManifest is the test app's manifest at a version, its Deployment
// requesting cpu.
func appManifest(t *testing.T, app, version, cpu string) string {
	t.Helper()
	base := readFile(t, "testdata/rollout-fleet/apps/"+app+"/base/"+app+".yaml")
	base = strings.ReplaceAll(base, "version: v1", "version: "+version)
	base = strings.ReplaceAll(base, app+":v1", app+":"+version)
	return strings.ReplaceAll(base, "cpu: 100m", "cpu: \""+cpu+"\"")
}

// retry runs fn until it succeeds or fails with a permanent error.
func (e *fleetEnv) retry(t *testing.T, fn func(ctx context.Context) error) {
	t.Helper()
	if err := testenv.RetryT(t, fn); err != nil {
		t.Fatal(err)
	}
}

// sync reads a ClusterSync from the hub.
func (e *fleetEnv) sync(ctx context.Context, name string) *flotillav1.ClusterSync {
	e.t.Helper()
	cs := &flotillav1.ClusterSync{}
	if err := testenv.Retry(ctx, func(ctx context.Context) error {
		return e.hubCl.Get(ctx, types.NamespacedName{Namespace: fleetNamespace, Name: name}, cs)
	}); err != nil {
		e.t.Fatalf("get ClusterSync %s: %v", name, err)
	}
	return cs
}

// lastReady reports whether a ClusterSync says Ready for its generation.
func lastReady(cs *flotillav1.ClusterSync) bool {
	c := condition(cs.Status.Conditions, meta.ReadyCondition)
	return strings.HasPrefix(c, "True/")
}

// rollout reads an App's rollout status.
func (e *fleetEnv) rollout(ctx context.Context, app string) (*flotillav1.RolloutStatus, error) {
	a := &flotillav1.App{}
	if err := e.hubCl.Get(ctx, types.NamespacedName{Namespace: fleetNamespace, Name: app}, a); err != nil {
		return nil, err
	}
	if a.Status.Rollout == nil {
		return nil, fmt.Errorf("app %s has no rollout status", app)
	}
	return a.Status.Rollout, nil
}

// rolloutAt returns nil when the app's rollout is of the commit rev (any
// when empty), in phase and at stage (any when empty).
func (e *fleetEnv) rolloutAt(ctx context.Context, app, rev string, phase flotillav1.RolloutPhase, stage string) error {
	st, err := e.rollout(ctx, app)
	if err != nil {
		return err
	}
	if (rev != "" && !strings.HasSuffix(st.Revision, rev)) || st.Phase != phase || (stage != "" && st.StageName != stage) {
		return fmt.Errorf("app %s rollout: revision %s phase %s stage %q (%s); want revision %s phase %s stage %q",
			app, st.Revision, st.Phase, st.StageName, st.Message, rev, phase, stage)
	}
	return nil
}

// deferred returns nil when the app's stage lists exactly sites as deferred.
func (e *fleetEnv) deferred(ctx context.Context, app, stage string, sites ...string) error {
	return e.stageList(ctx, app, stage, func(s flotillav1.RolloutStageStatus) []string { return s.Deferred }, sites)
}

// failed returns nil when the app's stage lists exactly sites as failed.
func (e *fleetEnv) failed(ctx context.Context, app, stage string, sites ...string) error {
	return e.stageList(ctx, app, stage, func(s flotillav1.RolloutStageStatus) []string { return s.Failed }, sites)
}

func (e *fleetEnv) stageList(ctx context.Context, app, stage string, get func(flotillav1.RolloutStageStatus) []string, want []string) error {
	st, err := e.rollout(ctx, app)
	if err != nil {
		return err
	}
	for _, s := range st.Stages {
		if s.Name == stage {
			if got := slices.Sorted(slices.Values(get(s))); !slices.Equal(got, want) {
				return fmt.Errorf("app %s stage %s lists %v, want %v (%s)", app, stage, got, want, st.Message)
			}
			return nil
		}
	}
	return fmt.Errorf("app %s has no stage %s: %+v", app, stage, st.Stages)
}

// annotateApp sets an annotation on an App.
func (e *fleetEnv) annotateApp(ctx context.Context, app, key, value string) {
	e.t.Helper()
	patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, key, value))
	a := &flotillav1.App{ObjectMeta: metav1.ObjectMeta{Namespace: fleetNamespace, Name: app}}
	if err := testenv.Retry(ctx, func(ctx context.Context) error {
		return e.hubCl.Patch(ctx, a, client.RawPatch(types.MergePatchType, patch))
	}); err != nil {
		e.t.Fatalf("annotate app %s: %v", app, err)
	}
}

// memberHas returns nil when the ConfigMap <app>-config... named name in
// namespace ns on site has data version.
func (e *fleetEnv) memberHas(ctx context.Context, site, ns, name, version string) error {
	cm := &corev1.ConfigMap{}
	if err := e.member(site).Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, cm); err != nil {
		return fmt.Errorf("%s: %w", site, err)
	}
	if cm.Data["version"] != version {
		return fmt.Errorf("%s: %s/%s version %q, want %q", site, ns, name, cm.Data["version"], version)
	}
	return nil
}

// memberRuns returns nil when site runs app (ConfigMap and Deployment in
// the app's namespace) at version with the Deployment requesting cpu.
func (e *fleetEnv) memberRuns(ctx context.Context, site, app, version, cpu string) error {
	if err := e.memberHas(ctx, site, app, app+"-config", version); err != nil {
		return err
	}
	d := &appsv1.Deployment{}
	if err := e.member(site).Get(ctx, types.NamespacedName{Namespace: app, Name: app}, d); err != nil {
		return fmt.Errorf("%s: %w", site, err)
	}
	c := d.Spec.Template.Spec.Containers[0]
	if c.Image != "registry.local/"+app+":"+version || c.Resources.Requests.Cpu().String() != cpu {
		return fmt.Errorf("%s: Deployment %s runs %s requesting %s CPU, want version %s with %s", site, app, c.Image, c.Resources.Requests.Cpu(), version, cpu)
	}
	return nil
}

// deploymentAvailable returns nil when the Deployment on site has all its
// replicas updated and available at its current generation.
func (e *fleetEnv) deploymentAvailable(ctx context.Context, site, ns, name string) error {
	d := &appsv1.Deployment{}
	if err := e.member(site).Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, d); err != nil {
		return fmt.Errorf("%s: %w", site, err)
	}
	if !available(d) {
		return fmt.Errorf("%s: Deployment %s/%s not available: %+v", site, ns, name, d.Status)
	}
	return nil
}

// available: the Deployment controller has seen the Deployment's
// generation and every replica runs it and is available, none left over.
func available(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want && s.AvailableReplicas == want && s.Replicas == want
}

// expectAbsent fails the test unless the ConfigMap is absent from site.
func (e *fleetEnv) expectAbsent(ctx context.Context, site, ns, name string) {
	e.t.Helper()
	err := testenv.Retry(ctx, func(ctx context.Context) error {
		return e.member(site).Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &corev1.ConfigMap{})
	})
	if !apierrors.IsNotFound(err) {
		e.t.Fatalf("%s must not have %s/%s yet: %v", site, ns, name, err)
	}
}

// webState is the web app's state on site (see appState).
func (e *fleetEnv) webState(ctx context.Context, site string) string {
	e.t.Helper()
	return e.appState(ctx, site, "web")
}

// appState is an app's ConfigMap and Deployment on site as resourceVersion
// and generation: any write to them changes it.
func (e *fleetEnv) appState(ctx context.Context, site, app string) string {
	e.t.Helper()
	cm, d := &corev1.ConfigMap{}, &appsv1.Deployment{}
	if err := testenv.Retry(ctx, func(ctx context.Context) error {
		if err := e.member(site).Get(ctx, types.NamespacedName{Namespace: app, Name: app + "-config"}, cm); err != nil {
			return err
		}
		return e.member(site).Get(ctx, types.NamespacedName{Namespace: app, Name: app}, d)
	}); err != nil {
		e.t.Fatalf("%s: %v", site, err)
	}
	c := d.Spec.Template.Spec.Containers[0]
	return fmt.Sprintf("ConfigMap rv %s version %s; Deployment generation %d image %s cpu %s", cm.ResourceVersion, cm.Data["version"], d.Generation, c.Image, c.Resources.Requests.Cpu())
}

// expectWebUnchanged fails unless the web app's objects on each site are
// exactly as recorded in want.
func (e *fleetEnv) expectWebUnchanged(t *testing.T, want map[string]string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatal("no recorded state to compare with")
	}
	for site, w := range want {
		if got := e.webState(context.Background(), site); got != w {
			t.Errorf("%s changed although the rollout never reached it:\n was %s\n now %s", site, w, got)
		}
	}
}

// update is one site's Deployment update as its member cluster recorded
// it: from the first time the new template was seen to the first time the
// Deployment was available at it.
type update struct {
	site       string
	start, end time.Time
}

func (u update) String() string {
	end := "never"
	if !u.end.IsZero() {
		end = u.end.Format("15:04:05.000")
	}
	return fmt.Sprintf("%s [%s, %s]", u.site, u.start.Format("15:04:05.000"), end)
}

// updateRecorder watches one app's Deployment on every member.
type updateRecorder struct {
	mu      sync.Mutex
	updates map[string]*update
	cancel  context.CancelFunc
	done    sync.WaitGroup
}

// recordUpdates watches the Deployment named app in namespace app on every
// rollout site and records, per site, when the Deployment's template first
// ran image and when it was first available at it.
func (e *fleetEnv) recordUpdates(t *testing.T, app, image string) *updateRecorder {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rec := &updateRecorder{updates: map[string]*update{}, cancel: cancel}
	t.Cleanup(cancel)
	for _, site := range rolloutSites {
		cl, err := client.NewWithWatch(e.members[site].Config(), client.Options{Scheme: e.scheme})
		if err != nil {
			t.Fatal(err)
		}
		rec.done.Add(1)
		go func() {
			defer rec.done.Done()
			rec.watch(ctx, cl, site, app, image)
		}()
	}
	return rec
}

// watch follows one site's Deployment until ctx ends, watching again from
// the last seen resourceVersion when a watch ends.
func (r *updateRecorder) watch(ctx context.Context, cl client.WithWatch, site, app, image string) {
	rv := ""
	for ctx.Err() == nil {
		list := &appsv1.DeploymentList{}
		if rv == "" {
			if err := cl.List(ctx, list, client.InNamespace(app)); err != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			for i := range list.Items {
				r.see(site, &list.Items[i], app, image)
			}
			rv = list.ResourceVersion
		}
		w, err := cl.Watch(ctx, &appsv1.DeploymentList{}, client.InNamespace(app),
			&client.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", app), Raw: &metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true}})
		if err != nil {
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				rv = ""
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error {
				rv = ""
				break
			}
			d, ok := ev.Object.(*appsv1.Deployment)
			if !ok {
				continue
			}
			rv = d.ResourceVersion
			if ev.Type != watch.Bookmark {
				r.see(site, d, app, image)
			}
		}
		w.Stop()
	}
}

func (r *updateRecorder) see(site string, d *appsv1.Deployment, app, image string) {
	if d.Name != app || len(d.Spec.Template.Spec.Containers) == 0 || d.Spec.Template.Spec.Containers[0].Image != image {
		return
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	u := r.updates[site]
	if u == nil {
		u = &update{site: site, start: now}
		r.updates[site] = u
	}
	if u.end.IsZero() && available(d) {
		u.end = now
	}
}

// progress returns how many sites have started the update, and how many
// of them are not available at it yet.
func (r *updateRecorder) progress() (started, inFlight int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range r.updates {
		if u.end.IsZero() {
			inFlight++
		}
	}
	return len(r.updates), inFlight
}

// stop ends the watches and returns the updates by start time.
func (r *updateRecorder) stop(t *testing.T) []update {
	t.Helper()
	r.cancel()
	r.done.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []update
	for _, u := range r.updates {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b update) int { return a.start.Compare(b.start) })
	return out
}
