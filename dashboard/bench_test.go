package dashboard

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// The fleet size of the benchmarks: 1,000 clusters × 10 apps.
const benchClusters, benchApps = 1000, 10

// BenchmarkFleetResponse measures /api/fleet over loopback at 1,000
// clusters × 10 apps (goal: under 100 ms).
func BenchmarkFleetResponse(b *testing.B) {
	_, base, _ := startMemDashboard(b, genFleet(benchClusters, benchApps), Options{})
	var size int
	for b.Loop() {
		res, err := http.Get(base + "/api/fleet")
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			b.Fatalf("GET /api/fleet: %d %v", res.StatusCode, err)
		}
		size = len(body)
	}
	b.ReportMetric(float64(size), "bytes/response")
}

// BenchmarkRebuild measures one snapshot rebuild (what a batch of changes
// costs) at 1,000 clusters × 10 apps.
func BenchmarkRebuild(b *testing.B) {
	s, _, _ := startMemDashboard(b, genFleet(benchClusters, benchApps), Options{})
	for b.Loop() {
		if err := s.rebuild(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// TestOneUpdatePerBatchAt1000x10 sends an informer event for every object
// of a 1,000 × 10 fleet at once and checks that the open pages get one
// update for all of them.
func TestOneUpdatePerBatchAt1000x10(t *testing.T) {
	m := genFleet(benchClusters, benchApps)
	s, base, inf := startMemDashboard(t, m, Options{Batch: 200 * time.Millisecond})
	stream := openSSE(t, base, "")
	first := stream.next(t, 10*time.Second)
	before := s.Batches()
	syncInf, err := inf.FakeInformerFor(context.Background(), &flotillav1.ClusterSync{})
	if err != nil {
		t.Fatal(err)
	}
	clusterInf, err := inf.FakeInformerFor(context.Background(), &flotillav1.Cluster{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.syncs {
		syncInf.Update(&m.syncs[i], &m.syncs[i])
	}
	for i := range m.clusters {
		clusterInf.Update(&m.clusters[i], &m.clusters[i])
	}
	if v := stream.next(t, 10*time.Second); v != first+1 {
		t.Fatalf("the page got version %d after %d changes, want %d", v, len(m.syncs)+len(m.clusters), first+1)
	}
	// One more change makes one more update: had the flood made two, the
	// page would now be at first+3.
	clusterInf.Update(&m.clusters[0], &m.clusters[0])
	if v := stream.next(t, 10*time.Second); v != first+2 {
		t.Fatalf("the page got version %d after one more change, want %d", v, first+2)
	}
	if n := s.Batches() - before; n != 2 {
		t.Fatalf("%d updates, want 2", n)
	}
}

// BenchmarkPageInteractive measures, in headless Chromium, the time from
// navigation until the fleet page of 1,000 clusters × 10 apps is rendered
// (goal: under 2 s).
func BenchmarkPageInteractive(b *testing.B) {
	ctx := testenv.NewBrowser(b)
	_, base, _ := startMemDashboard(b, genFleet(benchClusters, benchApps), Options{})
	for b.Loop() {
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
			b.Fatal(err)
		}
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := chromedp.Run(tctx, chromedp.Poll[bool](`document.body.dataset.version !== undefined && document.querySelectorAll("table.matrix tr").length > 1000`, chromedp.WithPollingInterval(10*time.Millisecond)))
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms-interactive")
	}
}
