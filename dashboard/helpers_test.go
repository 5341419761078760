package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

func testScheme(t testing.TB) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := flotillav1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// counter counts the requests a rest.Config's clients send.
type counter struct {
	n    atomic.Int64
	next http.RoundTripper
	// match, when set, counts only the requests it accepts.
	match func(*http.Request) bool
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.match == nil || c.match(r) {
		c.n.Add(1)
	}
	return c.next.RoundTrip(r)
}

// startHub starts a real hub with Flotilla's CRDs and returns it with an
// admin client.
func startHub(t *testing.T) (*testenv.Cluster, client.Client) {
	t.Helper()
	hub := testenv.NewCluster(t, testenv.ClusterOptions{Name: "hub", CRDDirectoryPaths: []string{"../config/crd/bases"}})
	cl, err := hub.NewClient(testScheme(t))
	if err != nil {
		t.Fatal(err)
	}
	return hub, cl
}

// startDashboard runs a dashboard on its own informer cache of the hub,
// whose requests c counts, as the controller's cache would feed it.
func startDashboard(t *testing.T, cfg *rest.Config, reviews Reviewer, opts Options) (*Server, string, *counter) {
	t.Helper()
	cnt := &counter{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { cnt.next = rt; return cnt })
	c, err := cache.New(cfg, cache.Options{Scheme: testScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Start(ctx) }()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	s, err := New(c, c, reviews, opts)
	if err != nil {
		t.Fatal(err)
	}
	url, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("dashboard stopped with an error: %v", err)
		}
		<-done
	})
	return s, strings.TrimSuffix(url, "/"), cnt
}

// get fetches url with an optional bearer token and returns the status and body.
func get(t testing.TB, url, token string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

// fleetOf fetches and decodes /api/fleet.
func fleetOf(t testing.TB, base, token string) Fleet {
	t.Helper()
	code, body := get(t, base+"/api/fleet", token)
	if code != http.StatusOK {
		t.Fatalf("GET /api/fleet: %d %s", code, body)
	}
	var f Fleet
	if err := json.Unmarshal(body, &f); err != nil {
		t.Fatalf("decode /api/fleet: %v", err)
	}
	return f
}

// waitFor polls check until it passes or the timeout ends.
func waitFor(t testing.TB, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sse is an open /api/events stream.
type sse struct {
	versions chan uint64
	close    func()
}

// openSSE connects to /api/events and sends each announced version.
func openSSE(t testing.TB, base, token string) *sse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("open /api/events: %v", err)
	}
	if res.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("open /api/events: %d", res.StatusCode)
	}
	s := &sse{versions: make(chan uint64, 1000), close: func() { cancel(); _ = res.Body.Close() }}
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var n uint64
				if _, err := fmt.Sscan(v, &n); err == nil {
					s.versions <- n
				}
			}
		}
	}()
	t.Cleanup(s.close)
	return s
}

// next waits for the next announced version.
func (s *sse) next(t testing.TB, timeout time.Duration) uint64 {
	t.Helper()
	select {
	case v := <-s.versions:
		return v
	case <-time.After(timeout):
		t.Fatal("no server-sent event within", timeout)
		return 0
	}
}

func mustCreate(t testing.TB, cl client.Client, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := cl.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func cluster(ns, name string) *flotillav1.Cluster {
	return &flotillav1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"role": "factory"}}}
}

func clusterSync(ns, app, cl string) *flotillav1.ClusterSync {
	return &flotillav1.ClusterSync{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: syncName(app, cl)},
		Spec:       flotillav1.ClusterSyncSpec{App: app, Cluster: cl},
	}
}

func app(ns, name string) *flotillav1.App {
	return &flotillav1.App{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: flotillav1.AppSpec{Namespace: "plant"}}
}

// clusterNames lists the clusters of a namespace in a fleet.
func clusterNames(f Fleet, ns string) []string {
	var out []string
	for _, v := range f.Namespaces {
		if v.Name == ns {
			for _, c := range v.Clusters {
				out = append(out, c.Name)
			}
		}
	}
	return out
}
