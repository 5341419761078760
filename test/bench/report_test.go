package bench

import (
	"fmt"
	"testing"
	"time"
)

// hubSyncResult is everything one BenchmarkHubSync sub-benchmark measured.
type hubSyncResult struct {
	n                        int
	first, change, noop      *phaseResult
	floorCreate, floorUpdate *floorResult
	// changes and updates are every commit round and floor update pass;
	// change and floorUpdate are their medians.
	changes                      []*phaseResult
	updates                      []*floorResult
	heapBase, heapFirst, heapEnd heapStats
}

// reportMetrics reports the metrics on the Benchmark line (see
// BenchmarkHubSync for their meaning).
func (r *hubSyncResult) reportMetrics(b *testing.B) {
	secs := func(d time.Duration) float64 { return d.Seconds() }
	perCluster := func(v float64) float64 { return v / float64(r.n) }
	first, change, noop := r.first.times.synced, r.change.times.synced, r.noop.times.synced
	b.ReportMetric(secs(percentile(first, 0.5)), "first-p50-s")
	b.ReportMetric(secs(percentile(first, 0.99)), "first-p99-s")
	b.ReportMetric(secs(percentile(first, 1)), "first-max-s")
	b.ReportMetric(secs(percentile(change, 0.5)), "commit-p50-s")
	b.ReportMetric(secs(percentile(change, 0.99)), "commit-p99-s")
	b.ReportMetric(secs(percentile(change, 1)), "commit-max-s")
	b.ReportMetric(secs(r.floorCreate.total), "floor-create-s")
	b.ReportMetric(secs(r.floorUpdate.total), "floor-update-s")
	b.ReportMetric(secs(percentile(first, 1))/secs(r.floorCreate.total), "first/floor")
	b.ReportMetric(secs(percentile(change, 1))/secs(r.floorUpdate.total), "commit/floor")
	b.ReportMetric(r.first.cpu.ours().Seconds()/r.floorCreate.cpu.ours().Seconds(), "first-cpu/floor")
	b.ReportMetric(r.change.cpu.ours().Seconds()/r.floorUpdate.cpu.ours().Seconds(), "commit-cpu/floor")
	b.ReportMetric(secs(percentile(noop, 1)), "noop-max-s")
	b.ReportMetric(perCluster(r.noop.requests["sync"]), "noop-sync-req/cluster")
	b.ReportMetric(perCluster(r.noop.requests.total()), "noop-req/cluster")
	b.ReportMetric(perCluster(r.first.requests.total()), "first-req/cluster")
	b.ReportMetric(perCluster(r.change.requests.total()), "commit-req/cluster")
	b.ReportMetric(perCluster(float64(r.floorCreate.requests)), "floor-create-req/cluster")
	b.ReportMetric(perCluster(float64(r.floorUpdate.requests)), "floor-update-req/cluster")
	b.ReportMetric(perClusterKiB(r.heapEnd.inuse, r.heapBase.inuse, r.n), "heap-KiB/cluster")
	b.ReportMetric(perClusterKiB(r.heapEnd.alloc, r.heapBase.alloc, r.n), "live-KiB/cluster")
}

// printDetails prints where the time, the requests and the CPU went. It
// writes to standard output: the testing package keeps only the first
// lines of a benchmark's log.
func (r *hubSyncResult) printDetails() {
	p := func(format string, args ...any) { fmt.Printf("    "+format+"\n", args...) }
	p("--- HubSync N=%d details", r.n)
	p("N=%d over K=%d API servers, %d sync workers; load average at the end: %s", r.n, memberServers, syncWorkers, loadAverage())
	for _, ph := range []*phaseResult{r.first, r.change, r.noop} {
		t := ph.times
		p("%-12s synced first %7s p50 %7s p99 %7s max %7s",
			ph.name, ms(percentile(t.synced, 0)), ms(percentile(t.synced, 0.5)), ms(percentile(t.synced, 0.99)), ms(percentile(t.synced, 1)))
		p("%-12s controller requests per cluster {%s}", ph.name, ph.requests.perCluster(r.n))
		p("%-12s member API servers served per cluster %s", ph.name, ph.server.perCluster(r.n))
		p("%-12s hub API server served per cluster %s", ph.name, ph.hub.perCluster(r.n))
		p("%-12s CPU in %s: %s", ph.name, ms(ph.wall), ph.cpu)
	}
	if len(r.changes) > 1 {
		var c, f []string
		for i := range r.changes {
			c = append(c, ms(r.changes[i].wall))
			f = append(f, ms(r.updates[i].total))
		}
		p("%d commit rounds, the median reported: commit %v; floor update %v", len(r.changes), c, f)
	}
	for _, f := range []*floorResult{r.floorCreate, r.floorUpdate} {
		p("floor        p50 %7s max %7s; member API servers served per cluster %s", ms(percentile(f.times, 0.5)), ms(f.total), f.server.perCluster(r.n))
		p("floor        CPU: %s", f.cpu)
	}
	p("controller heap: in use %.1f MiB -> %.1f MiB (after the first sync %.1f MiB), live %.1f MiB -> %.1f MiB",
		mib(r.heapBase.inuse), mib(r.heapEnd.inuse), mib(r.heapFirst.inuse), mib(r.heapBase.alloc), mib(r.heapEnd.alloc))
}

func mib(v uint64) float64 { return float64(v) / (1 << 20) }

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }
