package bench

import (
	"context"
	"fmt"
	"log"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/controllers"
	"github.com/flotilla-gitops/flotilla/internal/hub"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

const (
	// fleetNamespace holds the FleetRepository and its mirrors on the hub.
	fleetNamespace = "fleet"
	// repositoryName names the FleetRepository.
	repositoryName = "bench"
)

// hubEnv is one benchmark's world: a hub API server with Flotilla's CRDs,
// K member API servers (bare control planes), a Git server holding the
// generated fleet, the hub objects a user creates (Secrets), and the hub
// controller running in this process.
type hubEnv struct {
	b        *testing.B
	clusters int
	scheme   *runtime.Scheme
	hub      *testenv.Cluster
	members  []*testenv.Cluster
	hubCl    client.WithWatch
	repo     *testenv.GitRepository
	work     *testenv.TestWorkdir
	cpu      *cpuAccount
	// cache is the running controller's cache: reading it sends nothing
	// to the hub API server.
	cache cache.Cache
	// beforeCommit and afterCommit, when set, are called around each
	// timed commit of commitRounds (BenchmarkPullSync splits its phases).
	beforeCommit func(commit string)
	afterCommit  func(*phaseResult)

	stop context.CancelFunc
	done chan error
}

var logOnce sync.Once

// benchLogger sends the controller's logs (production JSON, info level) to
// a file, so that the benchmark output stays readable and logging costs
// what it costs in production. The Git server's request log (the standard
// logger) goes there too.
func benchLogger(b *testing.B) {
	logOnce.Do(func() {
		f, err := os.CreateTemp("", "flotilla-bench-*.log")
		if err != nil {
			b.Fatalf("create controller log file: %v", err)
		}
		b.Logf("controller log: %s", f.Name())
		ctrl.SetLogger(zap.New(zap.WriteTo(f)))
		log.SetOutput(f)
	})
}

// newHubEnv starts the API servers and the Git server, pushes a fleet of
// clusters logical clusters and creates the hub Secrets. The controller is
// not started.
func newHubEnv(b *testing.B, clusters, members int) *hubEnv {
	b.Helper()
	return newHubEnvWith(b, clusters, members, func(dir string) error { return writeFleet(dir, clusters, members, "r1") })
}

// newHubEnvWith is newHubEnv with the initial fleet written by write.
func newHubEnvWith(b *testing.B, clusters, members int, write func(dir string) error) *hubEnv {
	b.Helper()
	benchLogger(b)
	opts := []testenv.ClusterOptions{{Name: "hub", CRDDirectoryPaths: []string{"../../config/crd/bases"}}}
	for i := range members {
		opts = append(opts, testenv.ClusterOptions{Name: fmt.Sprintf("member-%d", i)})
	}
	started := testenv.NewClusters(b, opts...)
	scheme, err := hub.NewScheme()
	if err != nil {
		b.Fatal(err)
	}
	e := &hubEnv{b: b, clusters: clusters, scheme: scheme, hub: started[0], members: started[1:]}
	e.cpu = newCPUAccount(e.hub, e.members)
	if e.hubCl, err = client.NewWithWatch(e.hub.Config(), client.Options{Scheme: scheme}); err != nil {
		b.Fatalf("create hub client: %v", err)
	}

	seed := b.TempDir()
	if err := write(seed); err != nil {
		b.Fatal(err)
	}
	git := testenv.NewGitServer(b, testenv.GitServerOptions{})
	e.repo = testenv.NewRepository(b, git, "fleet", seed)
	e.work = testenv.CloneWorkdir(b, e.repo.HTTPURLWithCredentials)

	ctx := b.Context()
	e.create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fleetNamespace}})
	e.create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "git-auth", Namespace: fleetNamespace},
		Data:       map[string][]byte{"username": []byte(git.Username()), "password": []byte(git.Password())},
	})
	kubeconfigs := make([][]byte, members)
	for i, m := range e.members {
		kubeconfigs[i] = m.Kubeconfig()
	}
	// One kubeconfig Secret per logical cluster, as a user registers each
	// cluster; logical cluster i reaches member API server i mod K.
	parallel(b, clusters, 8, func(i int) error {
		return e.hubCl.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: clusterName(i) + "-kubeconfig", Namespace: fleetNamespace},
			Data:       map[string][]byte{"value": kubeconfigs[i%members]},
		})
	})
	b.Cleanup(e.stopController)
	return e
}

func (e *hubEnv) create(ctx context.Context, obj client.Object) {
	e.b.Helper()
	if err := e.hubCl.Create(ctx, obj); err != nil {
		e.b.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

// startController runs the hub controller in this process, wired as
// `flotilla controller` wires it, and returns once it is up and idle, so
// that its start is not part of the first sync. The tracker follows the
// ClusterSyncs through the controller's informer.
func (e *hubEnv) startController(opts controllers.Options, tracker *syncTracker) {
	e.b.Helper()
	opts.CacheDir = e.b.TempDir()
	mgr, err := hub.NewManager(e.hub.Config(), hub.Options{Controllers: opts})
	if err != nil {
		e.b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.stop, e.done = cancel, make(chan error, 1)
	e.cache = mgr.GetCache()
	if err := tracker.attach(ctx, mgr.GetCache()); err != nil {
		e.b.Fatal(err)
	}
	go func() { e.done <- mgr.Start(ctx) }()
	syncCtx, cancelSync := context.WithTimeout(ctx, time.Minute)
	defer cancelSync()
	if !mgr.GetCache().WaitForCacheSync(syncCtx) {
		e.b.Fatal("the controller's hub cache did not sync within a minute")
	}
	// The controllers start their workers once their own watches have
	// synced, a moment after the shared cache: give them that moment.
	time.Sleep(2 * time.Second)
}

// stopController stops the controller and waits until it has stopped.
func (e *hubEnv) stopController() {
	if e.stop == nil {
		return
	}
	e.stop()
	if err := <-e.done; err != nil {
		e.b.Errorf("hub controller stopped with an error: %v", err)
	}
	e.stop = nil
}

// createRepository creates the FleetRepository: the controller's first
// fetch, render and sync of every cluster starts here. Polling, drift
// checks and status commits are pushed out of the measurement's way.
func (e *hubEnv) createRepository(ctx context.Context) {
	e.b.Helper()
	e.create(ctx, &flotillav1.FleetRepository{
		ObjectMeta: metav1.ObjectMeta{Name: repositoryName, Namespace: fleetNamespace},
		Spec: flotillav1.FleetRepositorySpec{
			URL:       e.repo.HTTPURL,
			SecretRef: &flotillav1.LocalObjectReference{Name: "git-auth"},
			// Only the announcements (as from a push webhook) fetch: a
			// poll could pick a commit up before its phase starts, and
			// would add fetches of its own to the measurement.
			Interval:      &metav1.Duration{Duration: time.Hour},
			DriftInterval: &metav1.Duration{Duration: time.Hour},
			StatusBranch:  controllers.StatusBranchDisabled,
		},
	})
}

// announce tells the controller about a pushed commit the way a push
// webhook does (the reconcile-request annotation), so that the fetch
// interval does not count.
func (e *hubEnv) announce(ctx context.Context) {
	e.b.Helper()
	repo := &flotillav1.FleetRepository{}
	key := types.NamespacedName{Namespace: fleetNamespace, Name: repositoryName}
	if err := e.hubCl.Get(ctx, key, repo); err != nil {
		e.b.Fatalf("get FleetRepository: %v", err)
	}
	p := client.MergeFrom(repo.DeepCopy())
	ann := repo.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[meta.ReconcileRequestAnnotation] = time.Now().UTC().Format(time.RFC3339Nano)
	repo.SetAnnotations(ann)
	if err := e.hubCl.Patch(ctx, repo, p); err != nil {
		e.b.Fatalf("request a reconcile of the FleetRepository: %v", err)
	}
}

// ensureNamespace creates namespace name on every member API server.
func (e *hubEnv) ensureNamespace(ctx context.Context, name string) {
	e.b.Helper()
	for _, m := range e.members {
		cl, err := m.NewClient(nil)
		if err != nil {
			e.b.Fatal(err)
		}
		if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); client.IgnoreAlreadyExists(err) != nil {
			e.b.Fatalf("create namespace %s on %s: %v", name, m.Name(), err)
		}
	}
}

// parallel runs f(0..n-1) on workers goroutines and fails b on the first
// error.
func parallel(b *testing.B, n, workers int, f func(i int) error) {
	b.Helper()
	next := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					select {
					case errs <- fmt.Errorf("item %d: %w", i, err):
					default:
					}
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}
