package agent

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// partition is how long the hub stays down.
const partition = 30 * time.Second

// TestAgentPartition stops the hub's API server for 30 seconds. Meanwhile
// the agent keeps correcting drift on its member; it is then restarted
// (a new agent, hub still down), comes up from the state persisted on the
// member and changes nothing but a drifted object. Once the hub is back,
// the agent applies the bundle changed since and reports.
func TestAgentPartition(t *testing.T) {
	e := newEnv(t)
	approveCtx, stopApprove := context.WithCancel(context.Background())
	defer stopApprove()
	go e.approve(approveCtx, t)
	first := e.startAgent(t, e.agentOptions(e.bootstrapConfig(t)))
	e.waitIdentity(t)

	d1 := e.putBundle(t, "site", "r1", nil, []*unstructured.Unstructured{
		configMap("one", map[string]string{"k": "1"}), configMap("two", map[string]string{"k": "1"}), configMap("three", map[string]string{"k": "1"}),
	})
	e.readyAt(t, "site", d1)
	stopApprove()

	if err := e.hubCluster.Stop(); err != nil {
		// On a loaded machine kube-apiserver may take longer to stop than
		// testenv waits: what counts is that it stops serving.
		t.Logf("hub stop: %v; waiting until it refuses connections", err)
		host := strings.TrimSuffix(strings.TrimPrefix(e.hubCluster.Host(), "https://"), "/")
		eventually(t, 90*time.Second, "hub down", func(context.Context) error {
			c, err := net.DialTimeout("tcp", host, time.Second)
			if err != nil {
				return nil
			}
			_ = c.Close()
			return errStill
		})
	}
	down := time.Now()

	// Drift correction goes on with the hub down.
	restore := func(name string) {
		t.Helper()
		ctx := context.Background()
		cm, err := e.memberCM(ctx, name)
		must(t, err)
		cm.Data["k"] = "changed during the partition"
		must(t, e.member.Update(ctx, cm))
		eventually(t, 30*time.Second, name+" restored with the hub down", func(ctx context.Context) error {
			cm, err := e.memberCM(ctx, name)
			if err != nil {
				return err
			}
			if cm.Data["k"] != "1" {
				return fmt.Errorf("data.k is %q", cm.Data["k"])
			}
			return nil
		})
	}
	restore("one")

	// A new agent, the hub still down: it comes up from the member's
	// persisted state and changes nothing but what drifted.
	first.stop()
	type version struct{ uid, rv string }
	snapshot := func() map[string]version {
		t.Helper()
		list := &corev1.ConfigMapList{}
		must(t, e.member.List(context.Background(), list, client.InNamespace("apps"), client.HasLabels{flotillav1.LabelApp}))
		out := map[string]version{}
		for _, cm := range list.Items {
			out[cm.Name] = version{string(cm.UID), cm.ResourceVersion}
		}
		return out
	}
	before := snapshot()
	if len(before) != 3 {
		t.Fatalf("objects before the restart: %v", before)
	}
	e.startAgent(t, e.agentOptions(nil))
	restore("two")
	after := snapshot()
	for name, v := range before {
		w, ok := after[name]
		switch {
		case !ok || w.uid != v.uid:
			t.Errorf("%s was deleted or re-created by the restarted agent: %v -> %v", name, v, w)
		case name != "two" && w.rv != v.rv:
			t.Errorf("%s was written by the restarted agent (resourceVersion %s -> %s) though it had not drifted", name, v.rv, w.rv)
		}
	}
	if e.hubCluster.Running() {
		t.Fatal("the hub came back too early")
	}

	// Back after the partition: the bundle changed meanwhile is applied and
	// reported.
	time.Sleep(time.Until(down.Add(partition)))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	must(t, e.hubCluster.Restart(ctx))
	d2 := e.putBundle(t, "site", "r2", nil, []*unstructured.Unstructured{
		configMap("one", map[string]string{"k": "2"}), configMap("two", map[string]string{"k": "1"}),
	})
	b := e.readyAt(t, "site", d2)
	if b.Status.DriftCorrections < 2 || !conditions.IsTrue(b, flotillav1.HealthyCondition) {
		t.Fatalf("status after the partition: driftCorrections %d, conditions %+v", b.Status.DriftCorrections, b.Status.Conditions)
	}
	cm, err := e.memberCM(ctx, "one")
	must(t, err)
	if cm.Data["k"] != "2" {
		t.Fatalf("the bundle changed during the partition is not applied: data.k = %q", cm.Data["k"])
	}
	eventually(t, 60*time.Second, "heartbeat after the partition", func(ctx context.Context) error {
		ag := &flotillav1.Agent{}
		if err := e.hub.Get(ctx, client.ObjectKey{Namespace: e.agentNS, Name: flotillav1.AgentObjectName}, ag); err != nil {
			return err
		}
		if ag.Status.LastHeartbeatTime == nil || ag.Status.LastHeartbeatTime.Time.Before(down.Add(partition)) {
			return fmt.Errorf("last heartbeat %v", ag.Status.LastHeartbeatTime)
		}
		return nil
	})
}
