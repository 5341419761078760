package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/controllers"
	"github.com/flotilla-gitops/flotilla/internal/hub"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// fleetNamespace is where the tests create the FleetRepository on the hub.
const fleetNamespace = "fleet"

// fleetEnv is a hub, member clusters running workloads, a Git server with
// the fleet repository, and a running hub controller.
type fleetEnv struct {
	t       *testing.T
	scheme  *runtime.Scheme
	hub     *testenv.Cluster
	members map[string]*testenv.Cluster
	hubCl   client.Client
	repo    *testenv.GitRepository
	work    *testenv.TestWorkdir
	opts    hub.Options

	mu      sync.Mutex
	stopHub context.CancelFunc
	hubDone chan error
}

// memberSpec is one member cluster and its simulated nodes.
type memberSpec struct {
	name  string
	nodes []testenv.NodeSpec
	// pull marks a cluster declared with access mode Pull: the hub gets no
	// kubeconfig Secret for it.
	pull bool
}

func newFleetEnv(t *testing.T, seed string, members ...memberSpec) *fleetEnv {
	t.Helper()
	return newFleetEnvWith(t, seed, nil, members...)
}

// newFleetEnvWith is newFleetEnv with a hook that adjusts the environment
// and the FleetRepository before it is created and the hub started. A
// member without nodes is a bare control plane (it runs no pods).
func newFleetEnvWith(t *testing.T, seed string, customize func(*fleetEnv, *flotillav1.FleetRepository), members ...memberSpec) *fleetEnv {
	t.Helper()
	logPath := setupLogging(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("controller log: %s", logPath)
		}
	})
	opts := []testenv.ClusterOptions{{Name: "hub", CRDDirectoryPaths: []string{"../../config/crd/bases"}}}
	for _, m := range members {
		o := testenv.ClusterOptions{Name: m.name}
		if len(m.nodes) > 0 {
			o.Workloads = &testenv.WorkloadOptions{Nodes: m.nodes}
		}
		opts = append(opts, o)
	}
	clusters := testenv.NewClusters(t, opts...)
	scheme, err := hub.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	e := &fleetEnv{t: t, scheme: scheme, hub: clusters[0], members: map[string]*testenv.Cluster{}}
	pull := map[string]bool{}
	for i, c := range clusters[1:] {
		e.members[c.Name()] = c
		pull[c.Name()] = members[i].pull
	}
	e.hubCl, err = e.hub.NewClient(scheme)
	if err != nil {
		t.Fatal(err)
	}
	git := testenv.NewGitServer(t, testenv.GitServerOptions{})
	e.repo = testenv.NewRepository(t, git, "fleet", seed)
	e.work = testenv.CloneWorkdir(t, e.repo.HTTPURLWithCredentials)

	ctx := context.Background()
	e.create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fleetNamespace}})
	e.create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "git-auth", Namespace: fleetNamespace},
		Data:       map[string][]byte{"username": []byte(git.Username()), "password": []byte(git.Password())},
	})
	for name, c := range e.members {
		if pull[name] {
			continue
		}
		e.create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-kubeconfig", Namespace: fleetNamespace},
			Data:       map[string][]byte{"value": c.Kubeconfig()},
		})
	}
	repo := &flotillav1.FleetRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "factories", Namespace: fleetNamespace},
		Spec: flotillav1.FleetRepositorySpec{
			URL:           e.repo.HTTPURL,
			SecretRef:     &flotillav1.LocalObjectReference{Name: "git-auth"},
			Interval:      &metav1.Duration{Duration: 2 * time.Second},
			DriftInterval: &metav1.Duration{Duration: 4 * time.Second},
		},
	}
	e.opts = hub.Options{Controllers: controllers.Options{
		CacheDir:           t.TempDir(),
		HeartbeatInterval:  2 * time.Second,
		ClusterTimeout:     3 * time.Second,
		ClusterBackoffBase: time.Second,
		ClusterBackoffMax:  4 * time.Second,
		HealthPollInterval: 500 * time.Millisecond,
	}}
	if customize != nil {
		customize(e, repo)
	}
	e.create(ctx, repo)
	e.startHub()
	t.Cleanup(e.stopHubAndWait)
	return e
}

func (e *fleetEnv) create(ctx context.Context, obj client.Object) {
	e.t.Helper()
	if err := e.hubCl.Create(ctx, obj); err != nil {
		e.t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

// startHub runs the hub controller in this process, as `flotilla controller` does.
func (e *fleetEnv) startHub() {
	e.t.Helper()
	mgr, err := hub.NewManager(e.hub.Config(), e.opts)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	e.mu.Lock()
	e.stopHub, e.hubDone = cancel, done
	e.mu.Unlock()
}

// stopHubAndWait stops the hub controller and waits until it has stopped.
func (e *fleetEnv) stopHubAndWait() {
	e.mu.Lock()
	stop, done := e.stopHub, e.hubDone
	e.stopHub, e.hubDone = nil, nil
	e.mu.Unlock()
	if stop == nil {
		return
	}
	stop()
	if err := <-done; err != nil {
		e.t.Errorf("hub controller stopped with an error: %v", err)
	}
}

// member returns a client for a member cluster.
func (e *fleetEnv) member(name string) client.Client {
	e.t.Helper()
	c, ok := e.members[name]
	if !ok {
		e.t.Fatalf("no member %s", name)
	}
	cl, err := c.NewClient(e.scheme)
	if err != nil {
		e.t.Fatal(err)
	}
	return cl
}

// kubectl runs the real kubectl against the hub.
func (e *fleetEnv) kubectl(args ...string) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := e.hub.Kubectl(ctx, args...)
	if err != nil {
		e.t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

// eventually polls check until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = check(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %s: %v", what, timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// syncs returns the ClusterSyncs on the hub keyed by name.
func (e *fleetEnv) syncs(ctx context.Context) (map[string]*flotillav1.ClusterSync, error) {
	list := &flotillav1.ClusterSyncList{}
	if err := e.hubCl.List(ctx, list, client.InNamespace(fleetNamespace)); err != nil {
		return nil, err
	}
	out := map[string]*flotillav1.ClusterSync{}
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out, nil
}

// appliedSyncs returns the names of the ClusterSyncs of the given clusters
// that have applied some revision (syncs still waiting, for a dependency for
// example, have none and will not see the next commit either).
func (e *fleetEnv) appliedSyncs(ctx context.Context, clusters ...string) []string {
	e.t.Helper()
	s, err := e.syncs(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	var names []string
	for name, cs := range s {
		if slices.Contains(clusters, cs.Spec.Cluster) && cs.Status.AppliedRevision != "" {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		e.t.Fatalf("no ClusterSync of clusters %v has applied anything", clusters)
	}
	slices.Sort(names)
	return names
}

// observedRevision returns nil once every named ClusterSync has
// status.appliedRevision at the commit rev: the sync has seen the commit
// (applied it, or found it renders the same there). It is the positive
// signal to wait for before asserting that a commit changed nothing.
func (e *fleetEnv) observedRevision(ctx context.Context, rev string, names []string) error {
	s, err := e.syncs(ctx)
	if err != nil {
		return err
	}
	for _, name := range names {
		cs, ok := s[name]
		if !ok {
			return fmt.Errorf("ClusterSync %s is gone", name)
		}
		if !strings.HasSuffix(cs.Status.AppliedRevision, rev) {
			return fmt.Errorf("ClusterSync %s: appliedRevision %q, want the commit %s", name, cs.Status.AppliedRevision, rev)
		}
	}
	return nil
}

// condition returns "Status/Reason: message" of a condition for messages.
func condition(conds []metav1.Condition, typ string) string {
	for _, c := range conds {
		if c.Type == typ {
			return fmt.Sprintf("%s/%s: %s", c.Status, c.Reason, c.Message)
		}
	}
	return "absent"
}

// osReadFile reads a test data file.
func osReadFile(path string) ([]byte, error) { return os.ReadFile(path) }

var (
	logOnce sync.Once
	logPath string
)

// setupLogging sends the controller's logs of the whole test binary to one
// file (controller-runtime takes its logger once per process) and returns
// its path. The file is kept for debugging failed tests.
func setupLogging(t *testing.T) string {
	logOnce.Do(func() {
		f, err := os.CreateTemp("", "flotilla-e2e-*.log")
		if err != nil {
			t.Fatal(err)
		}
		logPath = f.Name()
		ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(f)))
	})
	return logPath
}
