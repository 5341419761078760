package controllers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/runtime/conditions"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/apply/clusterclient"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
	"github.com/flotilla-gitops/flotilla/render"
	"github.com/flotilla-gitops/flotilla/source"
)

// lifecycleCycles is how many create/delete cycles the lifecycle tests run.
const lifecycleCycles = 200

// TestClusterDeletionDropsWhatTheControllerHeldForIt creates and deletes
// 200 Clusters, one after the other, on a real hub with the Cluster
// reconciler running. Even cycles reach a real member (the hub's own API
// server), so a client is built and cached; odd ones point at a closed port,
// so the cluster is recorded unreachable. Each Cluster carries the mirror's
// finalizer. Once every Cluster is gone, the client cache, the
// reachability tracker, the state gauge and the summary timers must be
// empty again.
func TestClusterDeletionDropsWhatTheControllerHeldForIt(t *testing.T) {
	hubCluster := testenv.NewCluster(t, testenv.ClusterOptions{Name: "hub", CRDDirectoryPaths: []string{"../config/crd/bases"}})
	scheme := runtime(t)
	hub, err := hubCluster.NewClient(scheme)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := "fleet"
	must(t, hub.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	must(t, hub.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "live-kubeconfig", Namespace: ns}, Data: map[string][]byte{"value": hubCluster.Kubeconfig()}}))
	must(t, hub.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "dead-kubeconfig", Namespace: ns}, Data: map[string][]byte{"value": deadKubeconfig(t, hubCluster.Kubeconfig())}}))

	skip := true
	mgr, err := ctrl.NewManager(hubCluster.Config(), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: &skip},
	})
	if err != nil {
		t.Fatal(err)
	}
	must(t, setupIndexes(ctx, mgr))
	opts := Options{HeartbeatInterval: time.Hour, ClusterTimeout: 10 * time.Second}.withDefaults()
	r := &ClusterReconciler{
		Client: mgr.GetClient(), Recorder: &record.FakeRecorder{}, Options: opts,
		Clients: newClusterClients(mgr.GetAPIReader(), clusterclient.Options{Timeout: opts.ClusterTimeout, WrapTransport: countRequests}, time.Hour),
		// A heartbeat that fails on a loaded machine is retried soon, as
		// an unreachable cluster is; the dead clusters' backoff is what
		// the test counts, not its length.
		Reach:     newReachability(200*time.Millisecond, 2*time.Second),
		Summaries: newDebounce(time.Hour),
	}
	must(t, r.SetupWithManager(mgr))
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})

	for i := range lifecycleCycles {
		live := i%2 == 0
		secret := "dead-kubeconfig"
		if live {
			secret = "live-kubeconfig"
		}
		c := &flotillav1.Cluster{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("site-%d", i), Namespace: ns, Finalizers: []string{clusterFinalizer}},
			Spec:       flotillav1.ClusterSpec{Access: flotillav1.ClusterAccess{KubeconfigSecretRef: &flotillav1.SecretKeyRef{Name: secret}}},
		}
		retryTransient(t, "create "+c.Name, func() error { return ignoreAlreadyExists(hub.Create(ctx, c.DeepCopy())) })
		waitFor(t, 30*time.Second, fmt.Sprintf("cycle %d: heartbeat of %s", i, c.Name), func() error {
			got := &flotillav1.Cluster{}
			if err := hub.Get(ctx, client.ObjectKeyFromObject(c), got); err != nil {
				return err
			}
			if conditions.IsTrue(got, flotillav1.ReachableCondition) != live || !conditions.Has(got, flotillav1.ReachableCondition) {
				return fmt.Errorf("Reachable = %v, want %v", conditions.Get(got, flotillav1.ReachableCondition), live)
			}
			return nil
		})
		if n := len(r.Clients.cache.Clusters()); live && n != 1 {
			t.Fatalf("cycle %d: %d cached clients for one reachable cluster, want 1", i, n)
		}
		if n := requestSeries(t, ns+"/site-"); live && n == 0 {
			t.Fatalf("cycle %d: the heartbeat of %s was not counted in flotilla_member_requests_total", i, c.Name)
		}
		retryTransient(t, "delete "+c.Name, func() error { return client.IgnoreNotFound(hub.Delete(ctx, c)) })
		waitFor(t, 30*time.Second, fmt.Sprintf("cycle %d: %s deleted", i, c.Name), func() error {
			err := hub.Get(ctx, client.ObjectKeyFromObject(c), &flotillav1.Cluster{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("still there: %v", err)
		})
	}
	// The deletion of the last Cluster was seen (it is gone from the hub
	// only after the reconciler removed its finalizer and forgot it).
	if n := len(r.Clients.cache.Clusters()); n != 0 {
		t.Errorf("client cache holds %d clients after %d clusters came and went, want 0: %v", n, lifecycleCycles, r.Clients.cache.Clusters())
	}
	r.Clients.mu.Lock()
	clients, checked := len(r.Clients.clients), len(r.Clients.checked)
	r.Clients.mu.Unlock()
	if clients != 0 || checked != 0 {
		t.Errorf("cluster clients hold %d clients and %d refresh times, want 0", clients, checked)
	}
	r.Reach.mu.Lock()
	members := len(r.Reach.members)
	r.Reach.mu.Unlock()
	if members != 0 {
		t.Errorf("reachability tracks %d clusters, want 0", members)
	}
	r.states.mu.Lock()
	states := len(r.states.states)
	r.states.mu.Unlock()
	if states != 0 {
		t.Errorf("the state gauge counts %d clusters, want 0", states)
	}
	if n := requestSeries(t, ns+"/site-"); n != 0 {
		t.Errorf("flotilla_member_requests_total keeps %d series of deleted clusters, want 0", n)
	}
	r.Summaries.mu.Lock()
	summaries := len(r.Summaries.last)
	r.Summaries.mu.Unlock()
	if summaries != 0 {
		t.Errorf("%d summary timers left, want 0", summaries)
	}
}

// TestFleetRepositoryDeletionDropsItsCaches creates, syncs, writes the
// status of and deletes 200 FleetRepositories, one after the other, against
// a real hub and a real Git server. Afterwards the Git cache folder must be
// empty and the reconciler, the desired-state store and the status writer
// must hold nothing for them.
func TestFleetRepositoryDeletionDropsItsCaches(t *testing.T) {
	hubCluster := testenv.NewCluster(t, testenv.ClusterOptions{Name: "hub", CRDDirectoryPaths: []string{"../config/crd/bases"}})
	scheme := runtime(t)
	hub, err := hubCluster.NewClient(scheme)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ns := "fleet"
	must(t, hub.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	git := testenv.NewGitServer(t, testenv.GitServerOptions{})
	seed := t.TempDir()
	// An empty fleet is valid: it fetches, loads and reports like any other.
	if err := os.WriteFile(filepath.Join(seed, "README.md"), []byte("# empty fleet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	repo := testenv.NewRepository(t, git, "fleet", seed)
	must(t, hub.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "git-auth", Namespace: ns},
		Data:       map[string][]byte{"username": []byte(git.Username()), "password": []byte(git.Password())},
	}))

	cacheDir := t.TempDir()
	fetcher, err := source.NewFetcher(cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	store := newDesiredStore()
	r := &FleetRepositoryReconciler{
		Client: hub, APIReader: hub, Recorder: &record.FakeRecorder{}, Fetcher: fetcher,
		Renderer: render.New(render.Options{}), Store: store, Options: Options{}.withDefaults(),
	}
	writer := &StatusWriter{Client: hub, APIReader: hub}

	for i := range lifecycleCycles {
		obj := &flotillav1.FleetRepository{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("repo-%d", i), Namespace: ns},
			Spec: flotillav1.FleetRepositorySpec{
				URL:       repo.HTTPURL,
				SecretRef: &flotillav1.LocalObjectReference{Name: "git-auth"},
			},
		}
		retryTransient(t, "create "+obj.Name, func() error { return ignoreAlreadyExists(hub.Create(ctx, obj.DeepCopy())) })
		req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(obj)}
		reconcileOK(t, r, req)
		retryTransient(t, "get "+obj.Name, func() error { return hub.Get(ctx, req.NamespacedName, obj) })
		if !conditions.IsReady(obj) || obj.Status.Revision == "" {
			t.Fatalf("cycle %d: repository not synced: %v", i, obj.Status.Conditions)
		}
		if _, err := os.Stat(fetcher.RepositoryDir(repo.HTTPURL)); err != nil {
			t.Fatalf("cycle %d: no Git cache after a fetch: %v", i, err)
		}
		// writeAll logs its errors: a busy API server may need a second pass.
		waitFor(t, 30*time.Second, fmt.Sprintf("cycle %d: status writer tracks the repository", i), func() error {
			writer.writeAll(ctx)
			if n := writer.tracked(); n != 1 {
				return fmt.Errorf("tracks %d repositories, want 1", n)
			}
			return nil
		})

		retryTransient(t, "delete "+obj.Name, func() error { return client.IgnoreNotFound(hub.Delete(ctx, obj)) })
		reconcileOK(t, r, req)
		writer.writeAll(ctx)
	}
	if n := r.loaded.len() + r.fetched.len(); n != 0 {
		t.Errorf("the reconciler remembers %d loaded and %d fetched repositories, want 0", r.loaded.len(), r.fetched.len())
	}
	store.mu.RLock()
	items := len(store.items)
	store.mu.RUnlock()
	if items != 0 {
		t.Errorf("the desired-state store holds %d items, want 0", items)
	}
	waitFor(t, 30*time.Second, "status writer forgets deleted repositories", func() error {
		writer.writeAll(ctx)
		if n := writer.tracked(); n != 0 {
			return fmt.Errorf("the status writer tracks %d repositories after they were deleted, want 0", n)
		}
		return nil
	})
	left, err := os.ReadDir(cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("the Git cache folder holds %d entries after every repository was deleted, want 0 (e.g. %s)", len(left), left[0].Name())
	}
}

// reconcileOK runs one reconcile, again after a transient error of the
// API server (as the controller's queue would), and fails the test on any
// other error or when the transient ones last a minute.
func reconcileOK(t *testing.T, r *FleetRepositoryReconciler, req ctrl.Request) {
	t.Helper()
	retryTransient(t, "reconcile "+req.String(), func() error {
		_, err := r.Reconcile(context.Background(), req)
		return err
	})
}

// retryTransient runs fn until it succeeds, retrying only transient errors
// of the real processes (an API server or Git server slow to answer on a
// busy machine) for up to a minute.
func retryTransient(t *testing.T, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := fn()
		if err == nil {
			return
		}
		if !isTransient(err) || time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// isTransient reports whether err is a timeout, throttling or connection
// error that a retry can get past.
func isTransient(err error) bool {
	if apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"connection refused", "TLS handshake timeout", "context deadline exceeded", "i/o timeout", "connection reset by peer"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// requestSeries counts the flotilla_member_requests_total series of the
// clusters whose "<namespace>/<name>" starts with prefix.
func requestSeries(t *testing.T, prefix string) int {
	t.Helper()
	ch := make(chan prometheus.Metric)
	go func() {
		memberRequests.Collect(ch)
		close(ch)
	}()
	n := 0
	for m := range ch {
		pb := &dto.Metric{}
		if err := m.Write(pb); err != nil {
			t.Fatal(err)
		}
		for _, l := range pb.GetLabel() {
			if l.GetName() == "cluster" && strings.HasPrefix(l.GetValue(), prefix) {
				n++
			}
		}
	}
	return n
}

// ignoreAlreadyExists treats a create that a timed-out earlier try already
// made as done.
func ignoreAlreadyExists(err error) error {
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// deadKubeconfig is kubeconfig with every server moved to a closed port.
func deadKubeconfig(t *testing.T, kubeconfig []byte) []byte {
	t.Helper()
	cfg, err := clientcmd.Load(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Clusters {
		c.Server = "https://127.0.0.1:1"
	}
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
