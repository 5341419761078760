package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// Failover timing of the test hub.
const (
	failoverHeartbeat  = 2 * time.Second
	failoverGrace      = time.Second // below one heartbeat: tainted at the first failed one
	failoverToleration = 3 * time.Second
	// placementPass bounds one pass of the FleetRepository reconciler
	// (fetch, place, render, mirror) on a loaded test machine.
	placementPass = 2 * time.Second
)

// TestFailover runs testdata/failover-fleet on two real member clusters:
// every app runs on site-a, which ranks first. pinned has no failover;
// stays (failback Stay), returns (failback Return) and keeps
// (keepObjects) fail over after 3 s.
func TestFailover(t *testing.T) {
	e := newFleetEnvWith(t, "testdata/failover-fleet", func(e *fleetEnv, _ *flotillav1.FleetRepository) {
		e.opts.Controllers.HeartbeatInterval = failoverHeartbeat
		e.opts.Controllers.UnreachableGrace = failoverGrace
	}, memberSpec{name: "site-a"}, memberSpec{name: "site-b"})
	ctx := context.Background()
	apps := []string{"pinned", "stays", "returns", "keeps"}
	failover := []string{"stays", "returns", "keeps"}

	eventually(t, 90*time.Second, "every app Ready on site-a", func() error {
		for _, app := range apps {
			if err := e.syncReady(ctx, app+".site-a"); err != nil {
				return err
			}
		}
		return nil
	})
	uids := map[string]types.UID{}
	for _, app := range apps {
		uids[app] = e.configMap(t, "site-a", app).UID
	}

	t.Run("stopping a site moves its failover apps within tolerationSeconds plus one heartbeat, and no others", func(t *testing.T) {
		stopped := time.Now()
		if err := e.members["site-a"].Stop(); err != nil {
			t.Fatal(err)
		}
		moved := map[string]time.Duration{}
		eventually(t, 60*time.Second, "stays, returns and keeps placed on site-b", func() error {
			s, err := e.syncs(ctx)
			if err != nil {
				return err
			}
			for _, app := range failover {
				if _, ok := moved[app]; !ok && s[app+".site-b"] != nil {
					moved[app] = time.Since(stopped)
				}
			}
			if len(moved) < len(failover) {
				return fmt.Errorf("moved so far: %v", moved)
			}
			return nil
		})
		bound := failoverToleration + failoverHeartbeat + placementPass
		for app, d := range moved {
			t.Logf("%s placed on site-b %s after site-a stopped", app, d.Round(10*time.Millisecond))
			if d > bound {
				t.Errorf("%s moved %s after site-a stopped, want within tolerationSeconds %s + heartbeat %s (+ %s for the placement pass)",
					app, d, failoverToleration, failoverHeartbeat, placementPass)
			}
			if d < failoverToleration {
				t.Errorf("%s moved %s after site-a stopped, before its tolerationSeconds %s", app, d, failoverToleration)
			}
		}
		site := e.cluster(t, "site-a")
		if !slices.ContainsFunc(site.Status.Taints, func(t corev1.Taint) bool {
			return t.Key == flotillav1.TaintUnreachable && t.Effect == corev1.TaintEffectNoExecute && t.TimeAdded != nil
		}) {
			t.Errorf("site-a status.taints = %v, want %s:NoExecute with timeAdded", site.Status.Taints, flotillav1.TaintUnreachable)
		}
		eventually(t, 60*time.Second, "the moved apps Ready on site-b", func() error {
			for _, app := range failover {
				if err := e.syncReady(ctx, app+".site-b"); err != nil {
					return err
				}
			}
			return nil
		})
		// The failover apps moved (positive signal above); pinned did not.
		s, err := e.syncs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s["pinned.site-b"] != nil || s["pinned.site-a"] == nil || !s["pinned.site-a"].DeletionTimestamp.IsZero() {
			t.Errorf("pinned has no failover and must stay on site-a: syncs %v", keys(s))
		}
		for _, app := range []string{"stays", "returns"} {
			cs := s[app+".site-a"]
			if cs == nil || cs.Annotations["flotilla.dev/failed-over"] == "" {
				t.Errorf("%s.site-a must stay, marked failed over, until site-a is back: %+v", app, cs)
			}
		}
		if s["keeps.site-a"] != nil {
			t.Errorf("keeps.site-a must be gone: keepObjects leaves the objects without a sync")
		}
	})

	t.Run("the site's return follows the failback policy and prunes nothing still wanted", func(t *testing.T) {
		restartCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if err := e.members["site-a"].Restart(restartCtx); err != nil {
			t.Fatal(err)
		}
		eventually(t, 60*time.Second, "site-a reachable and untainted", func() error {
			c := &flotillav1.Cluster{}
			if err := e.hubCl.Get(ctx, types.NamespacedName{Namespace: fleetNamespace, Name: "site-a"}, c); err != nil {
				return err
			}
			if !conditions.IsTrue(c, flotillav1.ReachableCondition) || len(c.Status.Taints) > 0 {
				return fmt.Errorf("Reachable %s, taints %v", condition(c.Status.Conditions, flotillav1.ReachableCondition), c.Status.Taints)
			}
			return nil
		})
		eventually(t, 60*time.Second, "returns back on site-a only, stays on site-b only, pinned Ready on site-a", func() error {
			s, err := e.syncs(ctx)
			if err != nil {
				return err
			}
			for _, name := range []string{"returns.site-b", "stays.site-a"} {
				if s[name] != nil {
					return fmt.Errorf("ClusterSync %s still there", name)
				}
			}
			for _, name := range []string{"returns.site-a", "stays.site-b", "keeps.site-b", "pinned.site-a"} {
				if err := e.syncReady(ctx, name); err != nil {
					return err
				}
			}
			if cs := s["returns.site-a"]; cs.Annotations["flotilla.dev/failed-over"] != "" {
				return fmt.Errorf("returns.site-a still marked failed over")
			}
			return nil
		})
		// returns went back where its objects still were: they were never
		// pruned (same object), and neither were pinned's.
		for _, app := range []string{"returns", "pinned"} {
			if got := e.configMap(t, "site-a", app).UID; got != uids[app] {
				t.Errorf("%s's ConfigMap on site-a was deleted and created again (uid %s, was %s): it was still wanted", app, got, uids[app])
			}
		}
		// stays failed back nowhere: its objects on site-a are pruned, now
		// that site-a is back and stays is Ready on site-b.
		eventually(t, 30*time.Second, "stays pruned from site-a", func() error {
			err := testenv.Retry(ctx, func(ctx context.Context) error {
				return e.member("site-a").Get(ctx, types.NamespacedName{Namespace: "stays", Name: "stays-config"}, &corev1.ConfigMap{})
			})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("stays-config on site-a: %v", err)
		})
		// keeps orphaned its objects: still there, the same object.
		if got := e.configMap(t, "site-a", "keeps").UID; got != uids["keeps"] {
			t.Errorf("keeps's ConfigMap on site-a changed (uid %s, was %s): keepObjects must leave it", got, uids["keeps"])
		}
		// returns left site-b, which was up all along: pruned there.
		eventually(t, 30*time.Second, "returns pruned from site-b", func() error {
			err := testenv.Retry(ctx, func(ctx context.Context) error {
				return e.member("site-b").Get(ctx, types.NamespacedName{Namespace: "returns", Name: "returns-config"}, &corev1.ConfigMap{})
			})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("returns-config on site-b: %v", err)
		})
	})
}

// syncReady returns nil when the named ClusterSync exists and is Ready.
func (e *fleetEnv) syncReady(ctx context.Context, name string) error {
	cs := &flotillav1.ClusterSync{}
	if err := e.hubCl.Get(ctx, types.NamespacedName{Namespace: fleetNamespace, Name: name}, cs); err != nil {
		return fmt.Errorf("ClusterSync %s: %w", name, err)
	}
	if !conditions.IsTrue(cs, "Ready") {
		return fmt.Errorf("ClusterSync %s: Ready %s", name, condition(cs.Status.Conditions, "Ready"))
	}
	return nil
}

// configMap returns the app's ConfigMap <app>-config on site.
func (e *fleetEnv) configMap(t *testing.T, site, app string) *corev1.ConfigMap {
	t.Helper()
	cm := &corev1.ConfigMap{}
	if err := testenv.Retry(context.Background(), func(ctx context.Context) error {
		return e.member(site).Get(ctx, types.NamespacedName{Namespace: app, Name: app + "-config"}, cm)
	}); err != nil {
		t.Fatalf("%s: ConfigMap %s/%s-config: %v", site, app, app, err)
	}
	return cm
}

// cluster returns the hub's Cluster.
func (e *fleetEnv) cluster(t *testing.T, name string) *flotillav1.Cluster {
	t.Helper()
	c := &flotillav1.Cluster{}
	if err := e.hubCl.Get(context.Background(), types.NamespacedName{Namespace: fleetNamespace, Name: name}, c); err != nil {
		t.Fatal(err)
	}
	return c
}
