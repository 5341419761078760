package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// TestViewersCostTheHubAPIServerNothing opens many pages (an event stream
// and every API each) and checks that the dashboard's cache sent no
// request to the hub's API server for them, even when a change reaches
// every page.
func TestViewersCostTheHubAPIServerNothing(t *testing.T) {
	hub, cl := startHub(t)
	mustCreate(t, cl, namespace("fleet"), cluster("fleet", "site-a"), cluster("fleet", "site-b"), app("fleet", "web"), clusterSync("fleet", "web", "site-a"))
	_, base, cnt := startDashboard(t, hub.Config(), nil, Options{Batch: 50 * time.Millisecond})
	waitFor(t, 30*time.Second, "both clusters on the dashboard", func() error {
		if got := clusterNames(fleetOf(t, base, ""), "fleet"); !slices.Equal(got, []string{"site-a", "site-b"}) {
			return fmt.Errorf("clusters %v", got)
		}
		return nil
	})
	before := cnt.n.Load()

	const viewers = 20
	streams := make([]*sse, viewers)
	for i := range streams {
		streams[i] = openSSE(t, base, "")
		streams[i].next(t, 10*time.Second)
	}
	var wg sync.WaitGroup
	for range viewers {
		wg.Go(func() {
			for range 5 {
				for _, p := range []string{"/api/fleet", "/api/cluster?namespace=fleet&name=site-a", "/api/sync?namespace=fleet&app=web&cluster=site-a", "/"} {
					if code, body := get(t, base+p, ""); code != http.StatusOK {
						t.Errorf("GET %s: %d %s", p, code, body)
					}
				}
			}
		})
	}
	wg.Wait()

	// A change reaches every page as one event, and the page's fetch sees it.
	var c flotillav1.Cluster
	if err := cl.Get(context.Background(), types.NamespacedName{Namespace: "fleet", Name: "site-a"}, &c); err != nil {
		t.Fatal(err)
	}
	apimeta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{Type: flotillav1.ReachableCondition, Status: metav1.ConditionFalse, Reason: flotillav1.ReasonClusterUnreachable, Message: "connection refused"})
	if err := cl.Status().Update(context.Background(), &c); err != nil {
		t.Fatal(err)
	}
	var changed uint64
	waitFor(t, 30*time.Second, "site-a unreachable on the dashboard", func() error {
		f := fleetOf(t, base, "")
		if r := f.Namespaces[0].Clusters[0].Reachable; r != "False" {
			return fmt.Errorf("site-a reachable = %q", r)
		}
		changed = f.Version
		return nil
	})
	for i, s := range streams {
		for v := s.next(t, 10*time.Second); v < changed; v = s.next(t, 10*time.Second) {
		}
		if code, _ := get(t, base+"/api/fleet", ""); code != http.StatusOK {
			t.Fatalf("viewer %d: GET /api/fleet after the change: %d", i, code)
		}
	}
	if after := cnt.n.Load(); after != before {
		t.Fatalf("the hub's API server got %d requests from the dashboard's cache while %d viewers read it, want 0", after-before, viewers)
	}
}

// TestChangesAreBatched creates many objects at once and checks that the
// open pages get far fewer updates than objects, and all objects in the end.
func TestChangesAreBatched(t *testing.T) {
	hub, cl := startHub(t)
	mustCreate(t, cl, namespace("fleet"))
	const batch = time.Second
	s, base, _ := startDashboard(t, hub.Config(), nil, Options{Batch: batch})
	stream := openSSE(t, base, "")
	stream.next(t, 30*time.Second)
	startBatches := s.Batches()

	const n = 40
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { mustCreate(t, cl, cluster("fleet", fmt.Sprintf("site-%02d", i))) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	waitFor(t, 30*time.Second, "every cluster on the dashboard", func() error {
		if got := len(clusterNames(fleetOf(t, base, ""), "fleet")); got != n {
			return fmt.Errorf("%d clusters", got)
		}
		return nil
	})
	updates := s.Batches() - startBatches
	// One update per started batch: the creations span elapsed, so at most
	// elapsed/batch + 2 batches (a last one may start as the creations end).
	if limit := uint64(elapsed/batch) + 2; updates > limit || updates >= n {
		t.Fatalf("%d updates for %d objects created in %s with %s batches, want at most %d", updates, n, elapsed, batch, limit)
	}
	received := 0
	for len(stream.versions) > 0 {
		<-stream.versions
		received++
	}
	if received == 0 || uint64(received) > updates {
		t.Fatalf("the page received %d events for %d updates", received, updates)
	}
	t.Logf("%d objects created in %s: %d updates, %d events on the page", n, elapsed.Round(time.Millisecond), updates, received)
}

func TestSecurityHeaders(t *testing.T) {
	s, err := New(nil, nil, nil, Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/", "/assets/app.js", "/api/fleet"} {
		rec := newRecorder()
		s.Handler().ServeHTTP(rec, mustRequest(t, p))
		csp := rec.Header().Get("Content-Security-Policy")
		if csp != contentSecurityPolicy || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: Content-Security-Policy %q, nosniff %q", p, csp, rec.Header().Get("X-Content-Type-Options"))
		}
	}
}

func TestOptionsRefuseAnExposedAddressWithoutAuth(t *testing.T) {
	for addr, wantErr := range map[string]bool{"127.0.0.1:9090": false, "localhost:0": false, "[::1]:80": false, ":9090": true, "0.0.0.0:9090": true, "10.1.2.3:80": true} {
		_, err := New(nil, nil, nil, Options{Addr: addr})
		if (err != nil) != wantErr {
			t.Errorf("New(%q) error = %v, want error %v", addr, err, wantErr)
		}
	}
	if _, err := New(nil, nil, nil, Options{Addr: ":9090", InsecureNoAuth: true}); err != nil {
		t.Errorf("an explicit opt-out is refused: %v", err)
	}
	if _, err := New(nil, nil, nil, Options{Addr: ":9090", Auth: true}); err == nil {
		t.Error("auth without a reviewer is accepted")
	}
}

func TestRedactURL(t *testing.T) {
	if got := redactURL("https://user:s3cret@git.example/fleet.git"); got != "https://git.example/fleet.git" {
		t.Fatalf("redactURL kept credentials: %s", got)
	}
}
