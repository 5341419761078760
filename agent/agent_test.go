package agent

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
	"github.com/flotilla-gitops/flotilla/internal/version"
)

// TestAgent registers an agent with a bootstrap token on a real hub and
// runs it against a real member: it stores its identity, applies bundles,
// corrects drift, prunes an object the content dropped, orders apps by
// dependsOn, refuses content that does not match its digest, removes apps
// (prune and orphan), reports its heartbeat and hold, and, restarted,
// reuses its identity and renews its token.
func TestAgent(t *testing.T) {
	e := newEnv(t)
	approveCtx, stopApprove := context.WithCancel(context.Background())
	defer stopApprove()
	go e.approve(approveCtx, t)

	agent := e.startAgent(t, e.agentOptions(e.bootstrapConfig(t)))

	t.Run("identity", func(t *testing.T) {
		eventually(t, 60*time.Second, "identity Secret stored on the member", func(ctx context.Context) error {
			s := &corev1.Secret{}
			if err := e.member.Get(ctx, client.ObjectKey{Namespace: DefaultStateNamespace, Name: IdentitySecret}, s); err != nil {
				return err
			}
			if string(s.Data[keyNamespace]) != e.agentNS || len(s.Data[keyToken]) == 0 {
				return fmt.Errorf("identity Secret holds namespace %q", s.Data[keyNamespace])
			}
			// The identity may read its bundles and nothing else.
			cfg := e.hubCluster.Config()
			cfg.CertData, cfg.KeyData, cfg.BearerToken = nil, nil, string(s.Data[keyToken])
			c, err := client.New(cfg, client.Options{Scheme: e.scheme})
			if err != nil {
				return err
			}
			if err := c.List(ctx, &flotillav1.BundleList{}, client.InNamespace(e.agentNS)); err != nil {
				return fmt.Errorf("the agent identity cannot list its bundles: %w", err)
			}
			if err := c.List(ctx, &corev1.SecretList{}, client.InNamespace(e.agentNS)); !apierrors.IsForbidden(err) {
				return fmt.Errorf("the agent identity lists Secrets of its namespace: %v", err)
			}
			if err := c.List(ctx, &flotillav1.ClusterList{}, client.InNamespace(fleetNS)); !apierrors.IsForbidden(err) {
				return fmt.Errorf("the agent identity lists Clusters: %v", err)
			}
			return nil
		})
	})

	t.Run("apply, drift and prune", func(t *testing.T) {
		d1 := e.putBundle(t, "web", "r1", nil, []*unstructured.Unstructured{configMap("web-a", map[string]string{"k": "1"}), configMap("web-b", map[string]string{"k": "1"})})
		b := e.readyAt(t, "web", d1)
		if len(b.Status.Inventory) != 2 || b.Status.AppliedRevision != "r1" {
			t.Fatalf("status after apply: inventory %v, revision %q", b.Status.Inventory, b.Status.AppliedRevision)
		}
		ctx := context.Background()
		cm, err := e.memberCM(ctx, "web-a")
		must(t, err)
		if cm.Labels[flotillav1.LabelApp] != "web" || cm.Labels[flotillav1.LabelRepository] != repoName {
			t.Fatalf("applied object carries labels %v", cm.Labels)
		}
		// Persisted on the member.
		must(t, e.member.Get(ctx, client.ObjectKey{Namespace: DefaultStateNamespace, Name: stateSecretName("web")}, &corev1.Secret{}))

		cm.Data["k"] = "changed by hand"
		must(t, e.member.Update(ctx, cm))
		eventually(t, 60*time.Second, "drift corrected", func(ctx context.Context) error {
			cm, err := e.memberCM(ctx, "web-a")
			if err != nil {
				return err
			}
			if cm.Data["k"] != "1" {
				return fmt.Errorf("data.k is %q", cm.Data["k"])
			}
			b, err := e.bundle(ctx, "web")
			if err != nil {
				return err
			}
			if b.Status.DriftCorrections < 1 {
				return fmt.Errorf("driftCorrections %d", b.Status.DriftCorrections)
			}
			return nil
		})

		d2 := e.putBundle(t, "web", "r2", nil, []*unstructured.Unstructured{configMap("web-a", map[string]string{"k": "2"})})
		b = e.readyAt(t, "web", d2)
		if len(b.Status.Inventory) != 1 {
			t.Fatalf("inventory after prune: %v", b.Status.Inventory)
		}
		if _, err := e.memberCM(ctx, "web-b"); !apierrors.IsNotFound(err) {
			t.Fatalf("web-b not pruned: %v", err)
		}
	})

	t.Run("dependsOn", func(t *testing.T) {
		dApp := e.putBundle(t, "app", "r1", []string{"db"}, []*unstructured.Unstructured{configMap("app", map[string]string{"k": "1"})})
		eventually(t, 60*time.Second, "app waits for db", func(ctx context.Context) error {
			b, err := e.bundle(ctx, "app")
			if err != nil {
				return err
			}
			if b.Status.WaitingFor != "db" || conditions.GetReason(b, "Ready") != flotillav1.ReasonDependencyNotReady {
				return fmt.Errorf("waitingFor %q, conditions %+v", b.Status.WaitingFor, b.Status.Conditions)
			}
			return nil
		})
		if _, err := e.memberCM(context.Background(), "app"); !apierrors.IsNotFound(err) {
			t.Fatalf("app applied before its dependency: %v", err)
		}
		dDB := e.putBundle(t, "db", "r1", nil, []*unstructured.Unstructured{configMap("db", map[string]string{"k": "1"})})
		db := e.readyAt(t, "db", dDB)
		app := e.readyAt(t, "app", dApp)
		if app.Status.LastAppliedTime.Before(db.Status.LastAppliedTime) {
			t.Fatalf("app applied at %s, before db at %s", app.Status.LastAppliedTime, db.Status.LastAppliedTime)
		}
	})

	t.Run("digest mismatch refused", func(t *testing.T) {
		before, err := e.bundle(context.Background(), "db")
		must(t, err)
		forged := []*unstructured.Unstructured{configMap("db", map[string]string{"k": "1"})}
		bad := e.putBundle(t, "db", "r2", nil, []*unstructured.Unstructured{configMap("db", map[string]string{"k": "evil"}), configMap("db-extra", nil)}, forged[0], configMap("other", nil))
		eventually(t, 60*time.Second, "refusal reported", func(ctx context.Context) error {
			b, err := e.bundle(ctx, "db")
			if err != nil {
				return err
			}
			if b.Status.ObservedDigest != bad || conditions.GetReason(b, "Ready") != ReasonBundleRefused {
				return fmt.Errorf("observed %q, conditions %+v", b.Status.ObservedDigest, b.Status.Conditions)
			}
			if b.Status.AppliedDigest != before.Status.AppliedDigest {
				return fmt.Errorf("applied digest moved to %s", b.Status.AppliedDigest)
			}
			return nil
		})
		ctx := context.Background()
		cm, err := e.memberCM(ctx, "db")
		must(t, err)
		if cm.Data["k"] != "1" {
			t.Fatalf("refused content applied: data.k = %q", cm.Data["k"])
		}
		if _, err := e.memberCM(ctx, "db-extra"); !apierrors.IsNotFound(err) {
			t.Fatalf("refused content created db-extra: %v", err)
		}
	})

	t.Run("deletion", func(t *testing.T) {
		for app, mode := range map[string]flotillav1.BundleDeletion{"app": flotillav1.BundleDeletionPrune, "db": flotillav1.BundleDeletionOrphan} {
			must(t, testenv.RetryT(t, func(ctx context.Context) error {
				return retry.RetryOnConflict(retry.DefaultRetry, func() error {
					b, err := e.bundle(ctx, app)
					if err != nil {
						return err
					}
					b.Spec.Deletion = mode
					return e.hub.Update(ctx, b)
				})
			}))
		}
		eventually(t, 60*time.Second, "both removed", func(ctx context.Context) error {
			for _, app := range []string{"app", "db"} {
				b, err := e.bundle(ctx, app)
				if err != nil {
					return err
				}
				if !b.Status.Removed {
					return fmt.Errorf("%s not removed: %+v", app, b.Status.Conditions)
				}
			}
			return nil
		})
		ctx := context.Background()
		if _, err := e.memberCM(ctx, "app"); !apierrors.IsNotFound(err) {
			t.Fatalf("pruned app's ConfigMap still there: %v", err)
		}
		if _, err := e.memberCM(ctx, "db"); err != nil {
			t.Fatalf("orphaned db's ConfigMap gone: %v", err)
		}
		for _, app := range []string{"app", "db"} {
			if err := e.member.Get(ctx, client.ObjectKey{Namespace: DefaultStateNamespace, Name: stateSecretName(app)}, &corev1.Secret{}); !apierrors.IsNotFound(err) {
				t.Fatalf("state of removed app %s kept: %v", app, err)
			}
		}
	})

	t.Run("heartbeat and hold", func(t *testing.T) {
		must(t, e.member.Create(context.Background(), &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: flotillav1.HoldNamespace, Name: flotillav1.HoldConfigMap},
			Data:       map[string]string{"reason": "line 3 retooling"},
		}))
		eventually(t, 60*time.Second, "heartbeat with hold", func(ctx context.Context) error {
			ag := &flotillav1.Agent{}
			if err := e.hub.Get(ctx, client.ObjectKey{Namespace: e.agentNS, Name: flotillav1.AgentObjectName}, ag); err != nil {
				return err
			}
			s := ag.Status
			if s.LastHeartbeatTime == nil || time.Since(s.LastHeartbeatTime.Time) > 30*time.Second {
				return fmt.Errorf("lastHeartbeatTime %v", s.LastHeartbeatTime)
			}
			if s.AgentVersion != version.Version || s.KubernetesVersion == "" || s.Capacity == nil {
				return fmt.Errorf("versions %q %q, capacity %v", s.AgentVersion, s.KubernetesVersion, s.Capacity)
			}
			if s.Hold == nil || s.Hold.Reason != "line 3 retooling" {
				return fmt.Errorf("hold %+v", s.Hold)
			}
			return nil
		})
	})

	t.Run("restart reuses the identity and renews the token", func(t *testing.T) {
		agent.stop()
		ctx := context.Background()
		s := &corev1.Secret{}
		must(t, e.member.Get(ctx, client.ObjectKey{Namespace: DefaultStateNamespace, Name: IdentitySecret}, s))
		oldToken := string(s.Data[keyToken])
		exp, err := time.Parse(time.RFC3339, string(s.Data[keyExpiration]))
		must(t, err)
		// Make 2/3 of the token's lifetime already past.
		s.Data[keyIssued] = []byte(exp.Add(-3 * time.Hour).UTC().Format(time.RFC3339))
		must(t, e.member.Update(ctx, s))
		regs := &flotillav1.ClusterRegistrationList{}
		must(t, e.hub.List(ctx, regs, client.InNamespace(fleetNS)))

		// No bootstrap credential this time: the stored identity must do.
		e.startAgent(t, e.agentOptions(nil))
		eventually(t, 60*time.Second, "token renewed", func(ctx context.Context) error {
			s := &corev1.Secret{}
			if err := e.member.Get(ctx, client.ObjectKey{Namespace: DefaultStateNamespace, Name: IdentitySecret}, s); err != nil {
				return err
			}
			if string(s.Data[keyToken]) == oldToken {
				return errStill
			}
			return nil
		})
		after := &flotillav1.ClusterRegistrationList{}
		must(t, e.hub.List(ctx, after, client.InNamespace(fleetNS)))
		if len(after.Items) != len(regs.Items) {
			t.Fatalf("the restarted agent registered again: %d registrations, had %d", len(after.Items), len(regs.Items))
		}
		// The renewed token works: the agent keeps syncing.
		d3 := e.putBundle(t, "web", "r3", nil, []*unstructured.Unstructured{configMap("web-a", map[string]string{"k": "3"})})
		e.readyAt(t, "web", d3)
	})
}
