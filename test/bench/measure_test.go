package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// purposes are the purpose labels of flotilla_member_requests_total.
var purposes = []string{"sync", "health", "drift", "heartbeat", "prune", "other"}

// requestCounts are member requests by purpose, summed over the fleet.
type requestCounts map[string]float64

// memberRequests reads flotilla_member_requests_total (what
// controllers.MemberRequests reads) for the logical clusters of the
// benchmark, summed by purpose. It gathers the series that exist instead of
// asking for each (cluster, purpose): asking creates the series, and with
// it memory the benchmark would charge to the controller.
func memberRequests() requestCounts {
	out := requestCounts{}
	families, err := metrics.Registry.Gather()
	if err != nil {
		return out
	}
	for _, mf := range families {
		if mf.GetName() != "flotilla_member_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var cluster, purpose string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "cluster":
					cluster = l.GetValue()
				case "purpose":
					purpose = l.GetValue()
				}
			}
			if strings.HasPrefix(cluster, fleetNamespace+"/") {
				out[purpose] += m.GetCounter().GetValue()
			}
		}
	}
	return out
}

// sub returns the counts of r minus before.
func (r requestCounts) sub(before requestCounts) requestCounts {
	out := requestCounts{}
	for _, p := range purposes {
		out[p] = r[p] - before[p]
	}
	return out
}

// total is the sum over every purpose.
func (r requestCounts) total() float64 {
	var t float64
	for _, p := range purposes {
		t += r[p]
	}
	return t
}

// String lists the non-zero counts per cluster of a fleet of n.
func (r requestCounts) perCluster(n int) string {
	var parts []string
	for _, p := range purposes {
		if r[p] != 0 {
			parts = append(parts, fmt.Sprintf("%s %.2f", p, r[p]/float64(n)))
		}
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// heapStats are the heap figures after a full garbage collection.
type heapStats struct {
	inuse, alloc uint64
}

// readHeap collects garbage and reads the heap. Everything in this process
// counts: the controller, and the benchmark's own clients (measure it
// before and after and take the difference).
func readHeap() heapStats {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return heapStats{inuse: ms.HeapInuse, alloc: ms.HeapAlloc}
}

// perClusterKiB is (after - before) / n in KiB, negative if the heap shrank.
func perClusterKiB(after, before uint64, n int) float64 {
	return (float64(after) - float64(before)) / float64(n) / 1024
}

// startProfiles writes a CPU profile of the controller phases and a heap
// profile at their end into $FLOTILLA_BENCH_PROFILE (when set); the
// returned function ends them.
func startProfiles(b *testing.B, n int) (stop func()) {
	dir := os.Getenv("FLOTILLA_BENCH_PROFILE")
	if dir == "" {
		return func() {}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatalf("create profile folder: %v", err)
	}
	cpu, err := os.Create(filepath.Join(dir, fmt.Sprintf("cpu-%d.pprof", n)))
	if err != nil {
		b.Fatalf("create CPU profile: %v", err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		b.Fatalf("start CPU profile: %v", err)
	}
	return func() {
		pprof.StopCPUProfile()
		cpu.Close()
		heap, err := os.Create(filepath.Join(dir, fmt.Sprintf("heap-%d.pprof", n)))
		if err != nil {
			b.Fatalf("create heap profile: %v", err)
		}
		defer heap.Close()
		runtime.GC()
		if err := pprof.Lookup("heap").WriteTo(heap, 0); err != nil {
			b.Fatalf("write heap profile: %v", err)
		}
		b.Logf("profiles written to %s", dir)
	}
}
