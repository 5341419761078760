package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/controllers"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// TestHubSyncsFleet runs the hub controller against a hub, three member
// clusters that run workloads on simulated nodes, and a Git server, and
// walks through the life of a fleet: first sync, a one-factory change,
// drift, an unreachable factory, a broken commit, a controller restart in
// the middle of a sync, and removing an app. Each step asserts cluster
// state, not calls made.
func TestHubSyncsFleet(t *testing.T) {
	e := newFleetEnv(t, "testdata/fleet",
		memberSpec{name: "factory-a", nodes: []testenv.NodeSpec{{Name: "gpu-node", CPU: "8", Memory: "32Gi", GPUs: 4}}},
		memberSpec{name: "factory-b", nodes: []testenv.NodeSpec{{Name: "node-1", CPU: "4", Memory: "16Gi"}, {Name: "node-2", CPU: "4", Memory: "16Gi"}}},
		memberSpec{name: "central", nodes: []testenv.NodeSpec{{Name: "node-1", CPU: "16", Memory: "64Gi"}}},
	)
	ctx := context.Background()

	t.Run("first sync places every app on exactly its clusters", func(t *testing.T) {
		eventually(t, 90*time.Second, "healthy apps Ready", func() error {
			return e.expectReady(ctx, "monitoring.factory-a", "monitoring.factory-b", "monitoring.central", "inference.factory-a", "inference.factory-b")
		})
		// Objects on exactly the selected clusters, with each factory's differences.
		a, b, c := e.member("factory-a"), e.member("factory-b"), e.member("central")
		cmA := mustGetConfigMap(t, a, "adc", "inference-config")
		cmB := mustGetConfigMap(t, b, "adc", "inference-config")
		if cmA.Data["modelVersion"] != "v1.0.0" || cmB.Data["modelVersion"] != "v2.0.0" {
			t.Fatalf("model versions: factory-a %q factory-b %q", cmA.Data["modelVersion"], cmB.Data["modelVersion"])
		}
		if cmA.Data["accelerator"] != "gpu" || cmB.Data["accelerator"] != "" {
			t.Fatalf("gpu overlay: factory-a %q factory-b %q", cmA.Data["accelerator"], cmB.Data["accelerator"])
		}
		if cmA.Data["quirk"] == "" || cmB.Data["quirk"] != "" {
			t.Fatalf("per-cluster overlay must apply to factory-a only: a %q b %q", cmA.Data["quirk"], cmB.Data["quirk"])
		}
		if got := replicas(t, a, "adc", "inference"); got != 3 {
			t.Fatalf("factory-a inference replicas = %d, want 3 (3 of 4 lines)", got)
		}
		if got := replicas(t, b, "adc", "inference"); got != 1 {
			t.Fatalf("factory-b inference replicas = %d, want 1", got)
		}
		if err := c.Get(ctx, types.NamespacedName{Namespace: "adc", Name: "inference"}, &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
			t.Fatalf("inference must not be on central: %v", err)
		}
		if cm := mustGetConfigMap(t, c, "monitoring", "agent-config"); cm.Data["cluster"] != "central" || cm.Data["region"] != "us" {
			t.Fatalf("central agent config not substituted: %v", cm.Data)
		}
		if cm := mustGetConfigMap(t, a, "monitoring", "agent-config"); cm.Labels[flotillav1.LabelManagedBy] != flotillav1.ManagedByValue || cm.Labels[flotillav1.LabelApp] != "monitoring" {
			t.Fatalf("owner labels missing: %v", cm.Labels)
		}
	})

	t.Run("readiness is real: an app that cannot schedule is unhealthy and its dependants wait", func(t *testing.T) {
		eventually(t, 60*time.Second, "gpu-hog unhealthy", func() error {
			s, err := e.syncs(ctx)
			if err != nil {
				return err
			}
			hog := s["gpu-hog.factory-b"]
			if hog == nil {
				return fmt.Errorf("no gpu-hog sync")
			}
			if got := condition(hog.Status.Conditions, flotillav1.HealthyCondition); !strings.HasPrefix(got, "False/"+flotillav1.ReasonHealthCheckFailed) || !strings.Contains(got, "trainer") {
				return fmt.Errorf("gpu-hog Healthy = %s", got)
			}
			consumer := s["gpu-consumer.factory-b"]
			if consumer == nil || consumer.Status.WaitingFor != "gpu-hog" || !strings.Contains(condition(consumer.Status.Conditions, meta.ReadyCondition), flotillav1.ReasonDependencyNotReady) {
				return fmt.Errorf("gpu-consumer must wait for gpu-hog: %+v", consumer)
			}
			return nil
		})
		if err := e.member("factory-b").Get(ctx, types.NamespacedName{Namespace: "training", Name: "training-report"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
			t.Fatalf("a dependant must not be applied before its dependency is ready: %v", err)
		}
		app := &flotillav1.App{}
		if err := e.hubCl.Get(ctx, types.NamespacedName{Namespace: fleetNamespace, Name: "gpu-hog"}, app); err != nil {
			t.Fatal(err)
		}
		if len(app.Status.Failures) != 1 || app.Status.Failures[0].Cluster != "factory-b" {
			t.Fatalf("gpu-hog App failures = %+v", app.Status.Failures)
		}
	})

	t.Run("heartbeat reports nodes and allocatable capacity", func(t *testing.T) {
		eventually(t, 30*time.Second, "capacity", func() error {
			for name, want := range map[string]struct {
				nodes int32
				cpu   string
				gpu   string
			}{"factory-a": {1, "8", "4"}, "factory-b": {2, "8", "0"}, "central": {1, "16", "0"}} {
				c := &flotillav1.Cluster{}
				if err := e.hubCl.Get(ctx, types.NamespacedName{Namespace: fleetNamespace, Name: name}, c); err != nil {
					return err
				}
				capa := c.Status.Capacity
				if capa == nil || capa.Nodes != want.nodes || capa.CPU.Cmp(resource.MustParse(want.cpu)) != 0 || capa.GPU.Cmp(resource.MustParse(want.gpu)) != 0 {
					return fmt.Errorf("%s capacity = %+v, want %+v", name, capa, want)
				}
				if c.Status.LastHeartbeatTime == nil || c.Status.KubernetesVersion == "" {
					return fmt.Errorf("%s has no heartbeat: %+v", name, c.Status)
				}
			}
			return nil
		})
	})

	t.Run("kubectl shows the fleet at a glance", func(t *testing.T) {
		out := e.kubectl("get", "flotilla", "-n", fleetNamespace)
		for _, want := range []string{"fleetrepository.flotilla.dev/factories", "cluster.flotilla.dev/factory-a", "app.flotilla.dev/inference", "clustersync.flotilla.dev/inference.factory-a"} {
			if !strings.Contains(out, want) {
				t.Fatalf("kubectl get flotilla lacks %q:\n%s", want, out)
			}
		}
		out = e.kubectl("get", "clustersyncs", "-n", fleetNamespace)
		header := strings.Fields(strings.SplitN(out, "\n", 2)[0])
		if strings.Join(header[:7], " ") != "NAME APP CLUSTER READY HEALTHY REVISION DRIFT" {
			t.Fatalf("clustersync columns = %v:\n%s", header, out)
		}
		row := lineWith(out, "inference.factory-a")
		if f := strings.Fields(row); len(f) < 6 || f[1] != "inference" || f[2] != "factory-a" || f[3] != "True" || f[4] != "True" || !strings.HasPrefix(f[5], "main@sha1:") {
			t.Fatalf("inference.factory-a row = %q", row)
		}
		if row := lineWith(out, "gpu-hog.factory-b"); !strings.Contains(row, "False") || !strings.Contains(row, "trainer") {
			t.Fatalf("gpu-hog row must say why it is not ready: %q", row)
		}
		out = e.kubectl("get", "fclusters", "-n", fleetNamespace)
		if row := lineWith(out, "factory-a"); !strings.Contains(row, "True") || !strings.Contains(row, "2/2") {
			t.Fatalf("cluster row for factory-a = %q\n%s", row, out)
		}
		out = e.kubectl("get", "fapps", "-n", fleetNamespace)
		if row := lineWith(out, "inference"); !strings.Contains(row, " 2 ") || !strings.Contains(row, "True") {
			t.Fatalf("app row for inference = %q\n%s", row, out)
		}
	})

	t.Run("a change to one factory's overlay changes only that factory", func(t *testing.T) {
		before := map[string]map[string]string{}
		syncCalls := map[string]float64{}
		for _, name := range []string{"factory-b", "central"} {
			before[name] = resourceVersions(t, e.member(name))
			syncCalls[name] = controllers.MemberRequests(fleetNamespace+"/"+name, "sync")
		}
		e.work.WriteFile("apps/inference/overlays/factory-a/kustomization.yaml", []byte(strings.ReplaceAll(
			readFile(t, "testdata/fleet/apps/inference/overlays/factory-a/kustomization.yaml"), "line-3-camera-upside-down", "line-3-camera-fixed")))
		others := e.appliedSyncs(ctx, "factory-b", "central")
		head := e.work.CommitAndPush("factory-a: camera fixed")
		eventually(t, 30*time.Second, "factory-a updated", func() error {
			cm := &corev1.ConfigMap{}
			if err := e.member("factory-a").Get(ctx, types.NamespacedName{Namespace: "adc", Name: "inference-config"}, cm); err != nil {
				return err
			}
			if cm.Data["quirk"] != "line-3-camera-fixed" {
				return fmt.Errorf("quirk = %q", cm.Data["quirk"])
			}
			return e.expectReady(ctx, "inference.factory-a")
		})
		// Wait until the other clusters' syncs have seen the commit (it
		// renders the same there), then compare: whatever they did for it
		// is done by now.
		eventually(t, 30*time.Second, "factory-b and central observed the commit", func() error {
			return e.observedRevision(ctx, head, others)
		})
		for _, name := range []string{"factory-b", "central"} {
			// The new revision renders the same digests there: no sync call at all
			// (drift checks and heartbeats are counted apart).
			if got := controllers.MemberRequests(fleetNamespace+"/"+name, "sync") - syncCalls[name]; got != 0 {
				t.Errorf("%s received %v sync requests for a revision that changes nothing there; want 0", name, got)
			}
			after := resourceVersions(t, e.member(name))
			for k, v := range before[name] {
				if after[k] != v {
					t.Errorf("%s: %s changed (resourceVersion %s -> %s) although only factory-a's overlay changed", name, k, v, after[k])
				}
			}
		}
	})

	t.Run("drift on a member is corrected and reported", func(t *testing.T) {
		b := e.member("factory-b")
		cm := mustGetConfigMap(t, b, "monitoring", "agent-config")
		cm.Data["scrapeInterval"] = "1h"
		if err := b.Update(ctx, cm, client.FieldOwner("someone-by-hand")); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "drift corrected", func() error {
			cm := mustGetConfigMap(t, b, "monitoring", "agent-config")
			if cm.Data["scrapeInterval"] != "30s" {
				return fmt.Errorf("scrapeInterval = %q", cm.Data["scrapeInterval"])
			}
			s, err := e.syncs(ctx)
			if err != nil {
				return err
			}
			cs := s["monitoring.factory-b"]
			if cs.Status.DriftCorrections < 1 || !containsString(cs.Status.DriftedObjects, "agent-config") {
				return fmt.Errorf("drift not reported: corrections %d objects %v", cs.Status.DriftCorrections, cs.Status.DriftedObjects)
			}
			return nil
		})
		events := &corev1.EventList{}
		if err := e.hubCl.List(ctx, events, client.InNamespace(fleetNamespace)); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, ev := range events.Items {
			found = found || (ev.Reason == flotillav1.ReasonDriftCorrected && ev.InvolvedObject.Name == "monitoring.factory-b")
		}
		if !found {
			t.Fatal("no DriftCorrected event on monitoring.factory-b")
		}
	})

	t.Run("an unreachable factory does not hold back the others and catches up", func(t *testing.T) {
		central := e.members["central"]
		if err := central.Stop(); err != nil {
			t.Fatal(err)
		}
		e.work.WriteFile("apps/monitoring/base/agent.yaml", []byte(strings.ReplaceAll(
			readFile(t, "testdata/fleet/apps/monitoring/base/agent.yaml"), "scrapeInterval: 30s", "scrapeInterval: 15s")))
		e.work.CommitAndPush("monitoring: scrape every 15s")
		start := time.Now()
		eventually(t, 30*time.Second, "live factories updated", func() error {
			for _, name := range []string{"factory-a", "factory-b"} {
				cm := &corev1.ConfigMap{}
				if err := e.member(name).Get(ctx, types.NamespacedName{Namespace: "monitoring", Name: "agent-config"}, cm); err != nil {
					return err
				}
				if cm.Data["scrapeInterval"] != "15s" {
					return fmt.Errorf("%s scrapeInterval = %q", name, cm.Data["scrapeInterval"])
				}
			}
			return nil
		})
		t.Logf("live factories updated %s after the push while central was down", time.Since(start).Round(time.Millisecond))
		eventually(t, 30*time.Second, "central reported unreachable", func() error {
			c := &flotillav1.Cluster{}
			if err := e.hubCl.Get(ctx, types.NamespacedName{Namespace: fleetNamespace, Name: "central"}, c); err != nil {
				return err
			}
			if got := condition(c.Status.Conditions, flotillav1.ReachableCondition); !strings.HasPrefix(got, "False/"+flotillav1.ReasonClusterUnreachable) || !strings.Contains(got, "last seen") {
				return fmt.Errorf("central Reachable = %s", got)
			}
			return nil
		})
		out := e.kubectl("get", "fclusters", "-n", fleetNamespace)
		if row := lineWith(out, "central"); !strings.Contains(row, "False") {
			t.Fatalf("kubectl must show central unreachable: %q", row)
		}
		if err := central.Restart(context.Background()); err != nil {
			t.Fatal(err)
		}
		eventually(t, 45*time.Second, "central caught up", func() error {
			cm := &corev1.ConfigMap{}
			if err := e.member("central").Get(ctx, types.NamespacedName{Namespace: "monitoring", Name: "agent-config"}, cm); err != nil {
				return err
			}
			if cm.Data["scrapeInterval"] != "15s" {
				return fmt.Errorf("central scrapeInterval = %q", cm.Data["scrapeInterval"])
			}
			return e.expectReady(ctx, "monitoring.central")
		})
	})

	t.Run("a broken kustomization stalls naming the file and prunes nothing", func(t *testing.T) {
		e.work.WriteFile("apps/inference/base/kustomization.yaml", []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - missing.yaml\n"))
		e.work.CommitAndPush("break inference")
		eventually(t, 30*time.Second, "repository stalled", func() error {
			fr := &flotillav1.FleetRepository{}
			if err := e.hubCl.Get(ctx, types.NamespacedName{Namespace: fleetNamespace, Name: "factories"}, fr); err != nil {
				return err
			}
			got := condition(fr.Status.Conditions, meta.StalledCondition)
			if !strings.HasPrefix(got, "True/") || !strings.Contains(got, "apps/inference/base") {
				return fmt.Errorf("Stalled = %s", got)
			}
			return nil
		})
		for _, name := range []string{"factory-a", "factory-b"} {
			if got := replicas(t, e.member(name), "adc", "inference"); got == 0 {
				t.Fatalf("%s lost inference after a broken commit", name)
			}
		}
		e.work.WriteFile("apps/inference/base/kustomization.yaml", []byte(readFile(t, "testdata/fleet/apps/inference/base/kustomization.yaml")))
		e.work.CommitAndPush("fix inference")
		eventually(t, 30*time.Second, "repository recovered", func() error {
			fr := &flotillav1.FleetRepository{}
			if err := e.hubCl.Get(ctx, types.NamespacedName{Namespace: fleetNamespace, Name: "factories"}, fr); err != nil {
				return err
			}
			if got := condition(fr.Status.Conditions, meta.ReadyCondition); !strings.HasPrefix(got, "True/") {
				return fmt.Errorf("Ready = %s", got)
			}
			return nil
		})
	})

	t.Run("a controller restart in the middle of a sync converges without duplicates", func(t *testing.T) {
		e.work.WriteFile("clusters/factory-b.yaml", []byte(strings.ReplaceAll(
			readFile(t, "testdata/fleet/clusters/factory-b.yaml"), "modelVersion: v2.0.0", "modelVersion: v2.1.0")))
		head := e.work.CommitAndPush("factory-b: model v2.1.0")
		// Stop as soon as the hub has seen the new revision, before the syncs finish.
		eventually(t, 30*time.Second, "new revision seen", func() error {
			fr := &flotillav1.FleetRepository{}
			if err := e.hubCl.Get(ctx, types.NamespacedName{Namespace: fleetNamespace, Name: "factories"}, fr); err != nil {
				return err
			}
			if !strings.HasSuffix(fr.Status.Revision, head) {
				return fmt.Errorf("revision %s", fr.Status.Revision)
			}
			return nil
		})
		e.stopHubAndWait()
		e.startHub()
		eventually(t, 60*time.Second, "factory-b on v2.1.0", func() error {
			cm := &corev1.ConfigMap{}
			if err := e.member("factory-b").Get(ctx, types.NamespacedName{Namespace: "adc", Name: "inference-config"}, cm); err != nil {
				return err
			}
			if cm.Data["modelVersion"] != "v2.1.0" {
				return fmt.Errorf("modelVersion = %q", cm.Data["modelVersion"])
			}
			return e.expectReady(ctx, "inference.factory-b", "inference.factory-a", "monitoring.factory-b")
		})
		s, err := e.syncs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != 7 {
			t.Fatalf("want 7 ClusterSyncs (one per target), got %d: %v", len(s), keys(s))
		}
		deps := &appsv1.DeploymentList{}
		if err := e.member("factory-b").List(ctx, deps, client.InNamespace("adc")); err != nil {
			t.Fatal(err)
		}
		if len(deps.Items) != 1 {
			t.Fatalf("factory-b adc deployments = %d, want 1", len(deps.Items))
		}
	})

	t.Run("removing an app prunes it everywhere but never an object without owner labels", func(t *testing.T) {
		// Drift correction would put our labels back; keep it out of the way
		// so the hand-over below is what the prune sees.
		fr := &flotillav1.FleetRepository{}
		if err := e.hubCl.Get(ctx, types.NamespacedName{Namespace: fleetNamespace, Name: "factories"}, fr); err != nil {
			t.Fatal(err)
		}
		fr.Spec.DriftInterval = &metav1.Duration{Duration: time.Hour}
		if err := e.hubCl.Update(ctx, fr); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second) // let the pending 4s drift checks pass
		a := e.member("factory-a")
		// Someone takes the ConfigMap over by hand on factory-a: remove our labels.
		cm := mustGetConfigMap(t, a, "adc", "inference-config")
		delete(cm.Labels, flotillav1.LabelManagedBy)
		delete(cm.Labels, flotillav1.LabelApp)
		if err := a.Update(ctx, cm); err != nil {
			t.Fatal(err)
		}
		e.work.Remove("apps/inference")
		e.work.CommitAndPush("retire inference")
		eventually(t, 45*time.Second, "inference pruned", func() error {
			for _, name := range []string{"factory-a", "factory-b"} {
				err := e.member(name).Get(ctx, types.NamespacedName{Namespace: "adc", Name: "inference"}, &appsv1.Deployment{})
				if err == nil {
					return fmt.Errorf("%s inference deployment still there", name)
				}
				if !apierrors.IsNotFound(err) {
					return fmt.Errorf("get %s inference deployment: %w", name, err)
				}
			}
			err := e.member("factory-b").Get(ctx, types.NamespacedName{Namespace: "adc", Name: "inference-config"}, &corev1.ConfigMap{})
			if err == nil {
				return errors.New("factory-b inference-config still there")
			}
			if !apierrors.IsNotFound(err) {
				return fmt.Errorf("get factory-b inference-config: %w", err)
			}
			s, err := e.syncs(ctx)
			if err != nil {
				return err
			}
			if s["inference.factory-a"] != nil || s["inference.factory-b"] != nil {
				return fmt.Errorf("inference syncs still present")
			}
			return nil
		})
		if got := mustGetConfigMap(t, a, "adc", "inference-config"); got.Data["site"] != "factory-a" {
			t.Fatalf("the hand-adopted ConfigMap must survive: %v", got.Data)
		}
	})

	t.Run("a workload that breaks on a cluster is reported unhealthy without a new commit", func(t *testing.T) {
		// Drift checks are off (1h) since the previous step; set them back so
		// health is re-checked with them.
		fr := &flotillav1.FleetRepository{}
		if err := e.hubCl.Get(ctx, types.NamespacedName{Namespace: fleetNamespace, Name: "factories"}, fr); err != nil {
			t.Fatal(err)
		}
		fr.Spec.DriftInterval = &metav1.Duration{Duration: 3 * time.Second}
		if err := e.hubCl.Update(ctx, fr); err != nil {
			t.Fatal(err)
		}
		central := e.member("central")
		taint := corev1.Taint{Key: "flotilla.dev/test", Value: "broken", Effect: corev1.TaintEffectNoExecute}
		setTaints := func(taints []corev1.Taint) {
			node := &corev1.Node{}
			if err := central.Get(ctx, types.NamespacedName{Name: "node-1"}, node); err != nil {
				t.Fatal(err)
			}
			node.Spec.Taints = taints
			if err := central.Update(ctx, node); err != nil {
				t.Fatal(err)
			}
		}
		setTaints([]corev1.Taint{taint}) // evicts the agent's pod; no node can take it
		eventually(t, 45*time.Second, "monitoring on central reported not ready", func() error {
			s, err := e.syncs(ctx)
			if err != nil {
				return err
			}
			got := condition(s["monitoring.central"].Status.Conditions, meta.ReadyCondition)
			if strings.HasPrefix(got, "True/") || !strings.Contains(got, "Deployment/monitoring/agent") {
				return fmt.Errorf("monitoring.central Ready = %s", got)
			}
			return nil
		})
		setTaints(nil)
		eventually(t, 45*time.Second, "monitoring on central healthy again", func() error {
			return e.expectReady(ctx, "monitoring.central")
		})
	})

	t.Run("removing a cluster file leaves its objects unless pruneOnRemoval is set", func(t *testing.T) {
		e.work.WriteFile("clusters/factory-b.yaml", []byte(strings.ReplaceAll(
			readFile(t, "testdata/fleet/clusters/factory-b.yaml"), "spec:\n", "spec:\n  pruneOnRemoval: true\n")))
		e.work.CommitAndPush("factory-b: prune everything when it leaves the fleet")
		eventually(t, 30*time.Second, "pruneOnRemoval mirrored", func() error {
			c := &flotillav1.Cluster{}
			if err := e.hubCl.Get(ctx, types.NamespacedName{Namespace: fleetNamespace, Name: "factory-b"}, c); err != nil {
				return err
			}
			if !c.Spec.PruneOnRemoval {
				return fmt.Errorf("factory-b pruneOnRemoval not mirrored yet")
			}
			return nil
		})
		e.work.Remove("clusters/central.yaml")
		e.work.Remove("clusters/factory-b.yaml")
		e.work.CommitAndPush("central and factory-b leave the fleet")
		eventually(t, 45*time.Second, "clusters removed from the hub", func() error {
			for _, name := range []string{"central", "factory-b"} {
				err := e.hubCl.Get(ctx, types.NamespacedName{Namespace: fleetNamespace, Name: name}, &flotillav1.Cluster{})
				if err == nil {
					return fmt.Errorf("Cluster %s still mirrored", name)
				}
				if !apierrors.IsNotFound(err) {
					return fmt.Errorf("get Cluster %s: %w", name, err)
				}
			}
			s, err := e.syncs(ctx)
			if err != nil {
				return err
			}
			for name, cs := range s {
				if cs.Spec.Cluster == "central" || cs.Spec.Cluster == "factory-b" {
					return fmt.Errorf("ClusterSync %s still present", name)
				}
			}
			return nil
		})
		if cm := mustGetConfigMap(t, e.member("central"), "monitoring", "agent-config"); cm.Data["cluster"] != "central" {
			t.Fatalf("central's objects must stay when its file is removed: %v", cm.Data)
		}
		if err := e.member("factory-b").Get(ctx, types.NamespacedName{Namespace: "monitoring", Name: "agent-config"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
			t.Fatalf("factory-b opted into pruneOnRemoval: its objects must be deleted, got %v", err)
		}
		if err := e.expectReady(ctx, "monitoring.factory-a"); err != nil {
			t.Fatalf("the remaining cluster must stay synced: %v", err)
		}
	})
}

// expectReady returns nil when every named ClusterSync has applied its
// repository's latest revision and is Ready.
func (e *fleetEnv) expectReady(ctx context.Context, names ...string) error {
	s, err := e.syncs(ctx)
	if err != nil {
		return err
	}
	for _, n := range names {
		cs := s[n]
		if cs == nil {
			return fmt.Errorf("ClusterSync %s missing (have %v)", n, keys(s))
		}
		fr := &flotillav1.FleetRepository{}
		if err := e.hubCl.Get(ctx, types.NamespacedName{Namespace: cs.Namespace, Name: cs.Labels[flotillav1.LabelRepository]}, fr); err != nil {
			return err
		}
		if fr.Status.Revision == "" || cs.Status.AppliedRevision != fr.Status.Revision || condition(cs.Status.Conditions, meta.ReadyCondition)[:4] != "True" {
			return fmt.Errorf("ClusterSync %s not ready: Ready %s; Healthy %s; applied %q, repository at %q", n,
				condition(cs.Status.Conditions, meta.ReadyCondition), condition(cs.Status.Conditions, flotillav1.HealthyCondition), cs.Status.AppliedRevision, fr.Status.Revision)
		}
	}
	return nil
}

func mustGetConfigMap(t *testing.T, c client.Client, ns, name string) *corev1.ConfigMap {
	t.Helper()
	cm := &corev1.ConfigMap{}
	if err := c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, cm); err != nil {
		t.Fatalf("get ConfigMap %s/%s: %v", ns, name, err)
	}
	return cm
}

func replicas(t *testing.T, c client.Client, ns, name string) int32 {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, d); err != nil {
		if apierrors.IsNotFound(err) {
			return 0
		}
		t.Fatal(err)
	}
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// resourceVersions lists the resourceVersion of every Flotilla-managed
// ConfigMap and Deployment on a cluster.
func resourceVersions(t *testing.T, c client.Client) map[string]string {
	t.Helper()
	out := map[string]string{}
	sel := client.MatchingLabels{flotillav1.LabelManagedBy: flotillav1.ManagedByValue}
	cms := &corev1.ConfigMapList{}
	if err := c.List(context.Background(), cms, sel); err != nil {
		t.Fatal(err)
	}
	for _, o := range cms.Items {
		out["ConfigMap/"+o.Namespace+"/"+o.Name] = o.ResourceVersion
	}
	deps := &appsv1.DeploymentList{}
	if err := c.List(context.Background(), deps, sel); err != nil {
		t.Fatal(err)
	}
	for _, o := range deps.Items {
		out["Deployment/"+o.Namespace+"/"+o.Name] = o.ResourceVersion
	}
	if len(out) == 0 {
		t.Fatal("no managed objects found")
	}
	return out
}

func lineWith(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

func containsString(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := osReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
