package render

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilla-gitops/flotilla/placement"
)

// The fleet of the render benchmarks: 1,000 clusters x 10 apps = 10,000
// targets, 50 distinct overlay combinations (5 cluster classes x 10 apps).
var benchFleet = fleetSpec{clusters: 1000, apps: 10}

// baselineSample is how many targets the uncached baseline renders: a
// fresh kustomize build per target is slow, so it runs on an evenly spread
// sample and reports ns/target; the cost of the full fleet is that times
// 10,000.
const baselineSample = 200

// heapPeak samples HeapInuse until stop is called and returns the peak.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse > peak.Load() {
			peak.Store(ms.HeapInuse)
		}
	}
	wg.Go(func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				sample()
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		sample()
		return peak.Load()
	}
}

// BenchmarkRenderFleetCached renders the whole fleet with one RenderAll on
// a fresh Renderer: the first-sync cost of a hub, cache cold.
func BenchmarkRenderFleetCached(b *testing.B) {
	g := generateFleet(b, b.TempDir(), benchFleet)
	keys := distinctKeys(b, g.targets, nil)
	SchemaInitDuration() // once per process, not part of a fleet render
	b.ReportAllocs()
	b.ResetTimer()
	var builds uint64
	var peak uint64
	cpu0 := processCPU()
	for b.Loop() {
		runtime.GC()
		stop := heapPeak()
		r := New(Options{})
		results := r.RenderAll(context.Background(), g.root, g.targets)
		p := stop()
		peak = max(peak, p)
		for _, res := range results {
			if res.Err != nil {
				b.Fatal(res.Err)
			}
		}
		builds = r.Stats().Builds
		if builds != uint64(keys) {
			b.Fatalf("Builds = %d, want %d", builds, keys)
		}
	}
	b.StopTimer()
	cpu := (processCPU() - cpu0) / time.Duration(b.N)
	perOp := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(builds), "builds/op")
	b.ReportMetric(float64(len(g.targets)), "targets/op")
	b.ReportMetric(float64(perOp.Nanoseconds())/float64(len(g.targets)), "ns/target")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(cpu.Seconds()*1000, "cpu-ms/op")
}

// BenchmarkRenderFleetCachedEach is BenchmarkRenderFleetCached through
// RenderEach, keeping only each target's digest, as a hub that compares
// digests does: its peak heap is the cache and the renders in flight, not
// the fleet's manifests.
func BenchmarkRenderFleetCachedEach(b *testing.B) {
	g := generateFleet(b, b.TempDir(), benchFleet)
	SchemaInitDuration()
	b.ReportAllocs()
	b.ResetTimer()
	var peak uint64
	for b.Loop() {
		runtime.GC()
		stop := heapPeak()
		digests := make([]string, len(g.targets))
		var failed atomic.Int64
		New(Options{}).RenderEach(context.Background(), g.root, g.targets, func(i int, res Result) {
			if res.Err != nil {
				failed.Add(1)
				return
			}
			digests[i] = res.Manifest.Digest
		})
		peak = max(peak, stop())
		if failed.Load() > 0 {
			b.Fatalf("%d targets failed", failed.Load())
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

// BenchmarkRenderFleetNoCacheBaseline is the baseline: a fresh kustomize
// build per (app, cluster) with no cache (a new Renderer per target, so
// nothing is shared), with the same parallelism, on baselineSample targets
// spread over the fleet. Compare its ns/target with
// BenchmarkRenderFleetCached's.
func BenchmarkRenderFleetNoCacheBaseline(b *testing.B) {
	g := generateFleet(b, b.TempDir(), benchFleet)
	step := len(g.targets) / baselineSample
	var sample []placement.Target
	for i := 0; i < len(g.targets) && len(sample) < baselineSample; i += step {
		sample = append(sample, g.targets[i])
	}
	SchemaInitDuration()
	b.ReportAllocs()
	b.ResetTimer()
	var peak uint64
	cpu0 := processCPU()
	for b.Loop() {
		runtime.GC()
		stop := heapPeak()
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make([]error, len(sample))
		for range runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= len(sample) {
						return
					}
					_, errs[i] = New(Options{}).Render(context.Background(), g.root, sample[i])
				}
			})
		}
		wg.Wait()
		peak = max(peak, stop())
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	cpu := (processCPU() - cpu0) / time.Duration(b.N)
	perOp := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(len(sample)), "builds/op")
	b.ReportMetric(float64(len(sample)), "targets/op")
	b.ReportMetric(float64(perOp.Nanoseconds())/float64(len(sample)), "ns/target")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(cpu.Seconds()*1000, "cpu-ms/op")
}

// BenchmarkBuildOne is the cost of one kustomize build of one generated
// app, after the one schema initialisation of the process.
func BenchmarkBuildOne(b *testing.B) {
	g := generateFleet(b, b.TempDir(), fleetSpec{clusters: 1, apps: 1})
	initTime := SchemaInitDuration()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := New(Options{}).Render(context.Background(), g.root, g.targets[0]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(initTime.Microseconds())/1000, "schema-init-ms")
}

// BenchmarkRenderFleetOneOverlayChanged is the steady state: the cache is
// warm, a commit changes one factory's overlay of one app, and the whole
// fleet is rendered again. Only that factory's build of that app runs;
// every other target is validated by content and reused.
func BenchmarkRenderFleetOneOverlayChanged(b *testing.B) {
	spec := benchFleet
	spec.clusterOverlays = 20 // 20 factories with their own overlay in every app
	g := generateFleet(b, b.TempDir(), spec)
	r := New(Options{})
	for _, res := range r.RenderAll(context.Background(), g.root, g.targets) {
		if res.Err != nil {
			b.Fatal(res.Err)
		}
	}
	before := r.Stats()
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		n++
		b.StopTimer()
		writeFiles(b, g.root, map[string]string{
			"apps/app-03/overlays/factory-0007/kustomization.yaml": clusterOverlay("app-03", fmt.Sprintf("site-%d", n)),
		})
		b.StartTimer()
		for _, res := range r.RenderAll(context.Background(), g.root, g.targets) {
			if res.Err != nil {
				b.Fatal(res.Err)
			}
		}
	}
	b.StopTimer()
	d := r.Stats().Sub(before)
	if d.Builds != uint64(n) {
		b.Fatalf("Builds = %d over %d commits, want one per commit", d.Builds, n)
	}
	b.ReportMetric(float64(d.Builds)/float64(n), "builds/op")
	b.ReportMetric(float64(d.FilesChecked)/float64(n), "fs-checks/op")
	b.ReportMetric(float64(len(g.targets)), "targets/op")
}
