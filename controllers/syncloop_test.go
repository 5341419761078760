package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	"github.com/fluxcd/pkg/ssa/utils"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/apply/clusterclient"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// loopManifest is the app of the sync-loop tests: a ConfigMap, which is
// ready once stored, and a Deployment, which the bare member cluster never
// runs, so each test says when it is ready by writing its status.
const loopManifest = `apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: web
data:
  model: v1
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: registry.example/web:1
`

// syncLoop is a ClusterSync reconciler running in a real controller-runtime
// manager on a real hub, syncing one app to a real member cluster, so that
// what it asks to be requeued (or not) decides what happens next.
type syncLoop struct {
	hub, member client.Client
	events      *record.FakeRecorder
	key         client.ObjectKey
}

func startSyncLoop(t *testing.T, opts Options, healthTimeout time.Duration) *syncLoop {
	t.Helper()
	clusters := testenv.NewClusters(t,
		testenv.ClusterOptions{Name: "hub", CRDDirectoryPaths: []string{"../config/crd/bases"}},
		testenv.ClusterOptions{Name: "member"})
	hubCluster, memberCluster := clusters[0], clusters[1]
	scheme := runtime(t)
	hub, err := hubCluster.NewClient(scheme)
	must(t, err)
	member, err := memberCluster.NewClient(scheme)
	must(t, err)
	ctx := t.Context()
	ns := "fleet"
	must(t, hub.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	must(t, hub.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "member-kubeconfig", Namespace: ns}, Data: map[string][]byte{"value": memberCluster.Kubeconfig()}}))
	must(t, hub.Create(ctx, &flotillav1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "member", Namespace: ns}}))

	objs, err := utils.ReadObjects(strings.NewReader(loopManifest))
	must(t, err)
	store := newDesiredStore()
	repo := types.NamespacedName{Namespace: ns, Name: "repo"}
	store.replaceRepo(repo, map[syncKey]*Desired{{Repo: repo, App: "web", Cluster: "member"}: {
		Revision: "main@sha1:1", Digest: "sha256:1", Namespace: "web", Objects: objs, Prune: true, HealthTimeout: healthTimeout,
	}}, nil)

	mgr, err := ctrl.NewManager(hubCluster.Config(), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	must(t, err)
	must(t, setupIndexes(ctx, mgr))
	events := record.NewFakeRecorder(1000)
	opts = opts.withDefaults()
	r := &ClusterSyncReconciler{
		Client: mgr.GetClient(), Recorder: events, Store: store, Options: opts,
		Clients: newClusterClients(mgr.GetAPIReader(), clusterclient.Options{}, time.Minute),
		Reach:   newReachability(opts.ClusterBackoffBase, opts.ClusterBackoffMax), Limits: newLimiter(2),
	}
	must(t, r.SetupWithManager(mgr))
	mgrCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mgrCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})

	cs := &flotillav1.ClusterSync{
		ObjectMeta: metav1.ObjectMeta{Name: "web.member", Namespace: ns, Labels: map[string]string{flotillav1.LabelRepository: "repo"}},
		Spec:       flotillav1.ClusterSyncSpec{App: "web", Cluster: "member"},
	}
	must(t, hub.Create(ctx, cs))
	return &syncLoop{hub: hub, member: member, events: events, key: client.ObjectKeyFromObject(cs)}
}

// waitFor polls cond until it returns nil, failing the test with cond's
// last error after timeout. Transient errors of the API servers are
// retried like any other.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sync reads the ClusterSync from the hub.
func (l *syncLoop) sync(t *testing.T) *flotillav1.ClusterSync {
	t.Helper()
	cs := &flotillav1.ClusterSync{}
	must(t, l.hub.Get(t.Context(), l.key, cs))
	return cs
}

// waitHealthy waits until the sync is Healthy and Ready.
func (l *syncLoop) waitHealthy(t *testing.T, timeout time.Duration) *flotillav1.ClusterSync {
	t.Helper()
	var cs *flotillav1.ClusterSync
	waitFor(t, timeout, "ClusterSync Healthy and Ready", func() error {
		cs = &flotillav1.ClusterSync{}
		if err := l.hub.Get(t.Context(), l.key, cs); err != nil {
			return err
		}
		if !conditions.IsTrue(cs, flotillav1.HealthyCondition) || !conditions.IsTrue(cs, meta.ReadyCondition) {
			return fmt.Errorf("conditions %+v", cs.Status.Conditions)
		}
		return nil
	})
	return cs
}

// deployment reads the app's Deployment on the member.
func (l *syncLoop) deployment(ctx context.Context) (*appsv1.Deployment, error) {
	dep := &appsv1.Deployment{}
	return dep, l.member.Get(ctx, client.ObjectKey{Namespace: "web", Name: "web"}, dep)
}

// markDeploymentReady writes the status a deployment controller would
// write once the Deployment's one replica is available.
func (l *syncLoop) markDeploymentReady(t *testing.T) {
	t.Helper()
	must(t, retry.OnError(retry.DefaultBackoff, func(err error) bool { return apierrors.IsConflict(err) || apierrors.IsNotFound(err) }, func() error {
		dep, err := l.deployment(t.Context())
		if err != nil {
			return err
		}
		dep.Status = appsv1.DeploymentStatus{
			ObservedGeneration: dep.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
			Conditions: []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"},
				{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"},
			},
		}
		return l.member.Status().Update(t.Context(), dep)
	}))
}

// drainEvents returns the events recorded so far.
func (l *syncLoop) drainEvents() []string {
	var out []string
	for {
		select {
		case e := <-l.events.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// sleepUntil sleeps until t.
func sleepUntil(at time.Time) { time.Sleep(time.Until(at)) }

// An apply whose objects take longer than driftInterval to become ready
// must not end drift correction: once healthy, the sync still wakes for its
// drift checks and restores what is changed by hand on the member.
func TestDriftCorrectionContinuesAfterASlowHealthyApply(t *testing.T) {
	const driftInterval = 3 * time.Second
	l := startSyncLoop(t, Options{DefaultDriftInterval: driftInterval, HealthPollInterval: 300 * time.Millisecond}, time.Minute)
	ctx := t.Context()

	var applied time.Time
	waitFor(t, 60*time.Second, "first apply, waiting for readiness", func() error {
		cs := &flotillav1.ClusterSync{}
		if err := l.hub.Get(ctx, l.key, cs); err != nil {
			return err
		}
		if cs.Status.LastAppliedTime == nil || conditions.GetReason(cs, flotillav1.HealthyCondition) != flotillav1.ReasonProgressing {
			return fmt.Errorf("status %+v", cs.Status)
		}
		applied = cs.Status.LastAppliedTime.Time
		return nil
	})
	// The Deployment becomes ready only after driftInterval has passed.
	sleepUntil(applied.Add(driftInterval + time.Second))
	l.markDeploymentReady(t)
	l.waitHealthy(t, 30*time.Second)

	// A hand edit of a managed field is drift, restored at the next check.
	must(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm := &corev1.ConfigMap{}
		if err := l.member.Get(ctx, client.ObjectKey{Namespace: "web", Name: "web-config"}, cm); err != nil {
			return err
		}
		cm.Data["model"] = "hand-edited"
		return l.member.Update(ctx, cm, client.FieldOwner("kubectl-edit"))
	}))
	waitFor(t, 6*driftInterval, "hand-edited ConfigMap restored by drift correction", func() error {
		cm := &corev1.ConfigMap{}
		if err := l.member.Get(ctx, client.ObjectKey{Namespace: "web", Name: "web-config"}, cm); err != nil {
			return err
		}
		if cm.Data["model"] != "v1" {
			return fmt.Errorf("data.model = %q, want v1", cm.Data["model"])
		}
		return nil
	})
	if cs := l.sync(t); cs.Status.DriftCorrections < 1 {
		t.Errorf("status.driftCorrections = %d after a correction, want at least 1", cs.Status.DriftCorrections)
	}
}

// Right after a drift correction recreates an object long after the last
// apply, the object is not ready yet: that is progress within the health
// timeout, not a health failure. No Healthy=False and no warning while it
// becomes ready within the timeout.
func TestNoHealthFailureRightAfterADriftCorrection(t *testing.T) {
	const (
		driftInterval = 2 * time.Second
		healthTimeout = 10 * time.Second
	)
	l := startSyncLoop(t, Options{DefaultDriftInterval: driftInterval, HealthPollInterval: 300 * time.Millisecond}, healthTimeout)
	ctx := t.Context()

	waitFor(t, 60*time.Second, "first apply", func() error {
		_, err := l.deployment(ctx)
		return err
	})
	l.markDeploymentReady(t)
	cs := l.waitHealthy(t, 30*time.Second)
	// Let more than the health timeout pass since the apply.
	sleepUntil(cs.Status.LastAppliedTime.Add(healthTimeout + time.Second))

	dep, err := l.deployment(ctx)
	must(t, err)
	oldUID := dep.UID
	must(t, l.member.Delete(ctx, dep))
	waitFor(t, 10*driftInterval, "Deployment recreated by drift correction", func() error {
		dep, err := l.deployment(ctx)
		if err != nil {
			return err
		}
		if dep.UID == oldUID {
			return fmt.Errorf("still the deleted Deployment %s", dep.UID)
		}
		return nil
	})
	waitFor(t, 10*time.Second, "drift correction recorded in status", func() error {
		cs = l.sync(t)
		if cs.Status.DriftCorrections < 1 {
			return fmt.Errorf("status.driftCorrections = %d", cs.Status.DriftCorrections)
		}
		return nil
	})
	if c := conditions.Get(cs, flotillav1.HealthyCondition); c == nil || c.Status == metav1.ConditionFalse {
		t.Fatalf("right after the correction, Healthy = %+v; want it waiting for readiness, not False", c)
	}
	l.markDeploymentReady(t)
	l.waitHealthy(t, healthTimeout)

	var corrected bool
	for _, e := range l.drainEvents() {
		if strings.Contains(e, flotillav1.ReasonHealthCheckFailed) {
			t.Errorf("event %q: the corrected Deployment became ready within the health timeout", e)
		}
		corrected = corrected || strings.Contains(e, flotillav1.ReasonDriftCorrected)
	}
	if !corrected {
		t.Errorf("no %s event recorded", flotillav1.ReasonDriftCorrected)
	}
}
