package bench

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/controllers"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

const (
	// memberServers is K, the number of real member API servers the
	// logical clusters share: four fit two cores beside the hub.
	memberServers = 4
	// syncWorkers is the controller's worker pool (its default), and the
	// floor's number of clusters applied at once.
	syncWorkers = 16
)

// BenchmarkHubSync measures the hub controller syncing N logical clusters
// spread over K real member API servers, against the floor of a plain
// ssa.ApplyAllStaged loop over the same clusters and objects, in the same
// run. Run it with -benchtime 1x: each sub-benchmark measures one first
// sync, one commit that changes every cluster and one that changes none.
//
// Metrics (per sub-benchmark):
//   - first-{p50,p99,max}-s: FleetRepository created -> cluster synced;
//   - commit-{p50,p99,max}-s: commit pushed -> cluster synced, for a commit
//     that changes every cluster's objects;
//   - floor-{create,update}-s: the floor for the same two syncs;
//   - first/floor, commit/floor: max over floor (the target is <= 1.5);
//     first-cpu/floor, commit-cpu/floor: the same ratio in CPU time of the
//     benchmark's processes (this one and the control planes), which load
//     from elsewhere on the machine does not inflate;
//   - noop-sync-req/cluster: sync requests to members for a commit that
//     changes no render (the target is 0); noop-req/cluster counts every
//     purpose; noop-max-s is the time until every ClusterSync records it;
//   - {first,commit,floor-create,floor-update}-req/cluster: member requests;
//   - heap-KiB/cluster, live-KiB/cluster: the controller's heap (in use,
//     live) at the end over the heap before it started, per cluster.
//
// A breakdown (where the time goes, requests by API server and kind, CPU by
// process) is printed to standard output after each sub-benchmark.
func BenchmarkHubSync(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("clusters=%d", n), func(b *testing.B) { benchmarkHubSync(b, n) })
	}
}

// benchmarkHubSync measures one fleet size: the controller's three phases,
// then the floor, then reports.
func benchmarkHubSync(b *testing.B, n int) {
	b.StopTimer()
	ctx := b.Context()
	e := newHubEnv(b, n, memberServers)
	phaseTimeout := 5*time.Minute + time.Duration(n)*time.Second

	tracker := newSyncTracker(n)
	base := readHeap()
	e.startController(controllers.Options{
		HeartbeatInterval:    time.Hour,
		DefaultDriftInterval: time.Hour,
		SyncWorkers:          syncWorkers,
	}, tracker)
	stopProfiles := startProfiles(b, n)

	// 1. First sync: from the FleetRepository's creation.
	first := e.phase(ctx, tracker, "first sync", e.repo.InitialCommit, phaseTimeout, true, func() { e.createRepository(ctx) },
		// Each new cluster's first heartbeat and app summary belong to
		// this phase: the commits start on an idle controller.
		func() { e.waitClustersSettled(ctx, n, phaseTimeout) })
	afterFirst := readHeap()

	// 2. Commits that change every cluster's objects: several at small N,
	// where a single commit takes a fraction of a second and the machine's
	// noise would decide the ratio; the median one is reported.
	var changes []*phaseResult
	var releases []string
	for round := range commitRounds(n) {
		release := fmt.Sprintf("r%d", round+2)
		e.work.WriteFile(objectsPath, objectsFile(release))
		rev := e.work.CommitAll("release " + release + " on every site")
		e.work.Push()
		changes = append(changes, e.phase(ctx, tracker, "commit", rev, phaseTimeout, true, func() { e.announce(ctx) }))
		releases = append(releases, release)
	}
	last := releases[len(releases)-1]
	want := e.renderAt(ctx, n, last)
	e.checkApplied(ctx, want, last)
	change := median(changes, func(p *phaseResult) time.Duration { return p.wall }) // by the last cluster synced

	// 3. A commit that changes no cluster's render: not timed by the
	// benchmark timer, but its requests are counted.
	e.work.WriteFile(readmePath, readmeFile("A commit that changes no render."))
	rev3 := e.work.CommitAll("docs only")
	e.work.Push()
	noop := e.phase(ctx, tracker, "no-op commit", rev3, phaseTimeout, false, func() { e.announce(ctx) }, func() {
		e.waitRepositoryRevision(ctx, rev3)
		// Leave any late call time to arrive before counting.
		time.Sleep(2 * time.Second)
	})
	end := readHeap()
	stopProfiles()
	e.stopController()

	// 4. The floor: the same objects, applied by a plain loop.
	e.ensureNamespace(ctx, floorNamespace)
	fl := newFloor(e.members)
	floorCreate := e.floorPhase(ctx, fl, n, floorObjects(e.renderAt(ctx, n, "r1")))
	var updates []*floorResult
	for _, release := range releases {
		updates = append(updates, e.floorPhase(ctx, fl, n, floorObjects(e.renderAt(ctx, n, release))))
	}
	floorUpdate := median(updates, func(f *floorResult) time.Duration { return f.total })

	res := &hubSyncResult{
		n: n, first: first, change: change, noop: noop,
		floorCreate: floorCreate, floorUpdate: floorUpdate,
		changes: changes, updates: updates,
		heapBase: base, heapFirst: afterFirst, heapEnd: end,
	}
	res.reportMetrics(b)
	res.printDetails()
}

// commitRounds is how many changing commits (and floor update passes) are
// measured for n clusters.
func commitRounds(n int) int {
	if n <= 100 {
		return 5
	}
	return 1
}

// median returns the element of xs with the median key (the upper median
// for an even count).
func median[T any](xs []T, key func(T) time.Duration) T {
	sorted := slices.Clone(xs)
	slices.SortFunc(sorted, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
	return sorted[len(sorted)/2]
}

// phaseResult is what one commit cost.
type phaseResult struct {
	name  string
	times *phaseTimes
	// requests are the controller's member requests by purpose.
	requests requestCounts
	// server and hub are the requests the member API servers and the hub
	// API server served.
	server, hub serverRequests
	// cpu is the CPU time spent, by process.
	cpu cpuTimes
	// wall is the time from start to the last cluster synced.
	wall time.Duration
}

// phase times one commit, already pushed to the Git server: start
// announces it to the controller (or creates the repository), then the
// phase waits until every cluster runs commit and the settle
// functions have returned, and counts the requests sent to the members
// meanwhile. When timed, the benchmark timer runs from start to the last
// cluster synced.
func (e *hubEnv) phase(ctx context.Context, t *syncTracker, name, commit string, timeout time.Duration, timed bool, start func(), settle ...func()) *phaseResult {
	e.b.Helper()
	reqs := memberRequests()
	server, hubServer := e.scrape(ctx, e.members), e.scrape(ctx, []*testenv.Cluster{e.hub})
	// Collect the benchmark's own garbage (the scrapes above) now, not
	// during the phase.
	runtime.GC()
	cpu := e.cpu.read()
	t.begin(commit)
	began := time.Now()
	if timed {
		e.b.StartTimer()
	}
	start()
	times, err := t.wait(ctx, timeout)
	e.b.StopTimer()
	wall := time.Since(began)
	cpuUsed := e.cpu.read().sub(cpu)
	if err != nil {
		e.b.Fatalf("%s: %v (%s)", name, err, describeSyncs(ctx, e.hubCl, fleetNamespace))
	}
	for _, f := range settle {
		f()
	}
	return &phaseResult{
		name: name, times: times, wall: wall, cpu: cpuUsed,
		requests: memberRequests().sub(reqs),
		server:   e.scrapeSince(ctx, e.members, server),
		hub:      e.scrapeSince(ctx, []*testenv.Cluster{e.hub}, hubServer),
	}
}

// floorResult is one pass of the floor.
type floorResult struct {
	*floorRun
	server serverRequests
	cpu    cpuTimes
}

// floorPhase runs one pass of the floor and counts what it cost.
func (e *hubEnv) floorPhase(ctx context.Context, fl *floor, n int, objects map[string][]*unstructured.Unstructured) *floorResult {
	e.b.Helper()
	server := e.scrape(ctx, e.members)
	runtime.GC() // as in phase
	cpu := e.cpu.read()
	run, err := fl.run(ctx, n, syncWorkers, objects)
	if err != nil {
		e.b.Fatal(err)
	}
	cpuUsed := e.cpu.read().sub(cpu)
	return &floorResult{floorRun: run, server: e.scrapeSince(ctx, e.members, server), cpu: cpuUsed}
}

// scrape reads the request counters of servers.
func (e *hubEnv) scrape(ctx context.Context, servers []*testenv.Cluster) serverRequests {
	e.b.Helper()
	r, err := scrapeServerRequests(ctx, servers)
	if err != nil {
		e.b.Fatal(err)
	}
	return r
}

// scrapeSince returns the requests servers served since before was
// scraped. (The scrapes themselves, GET /metrics, are not counted by
// apiserver_request_total.)
func (e *hubEnv) scrapeSince(ctx context.Context, servers []*testenv.Cluster, before serverRequests) serverRequests {
	e.b.Helper()
	return e.scrape(ctx, servers).sub(before)
}

// waitRepositoryRevision waits until the FleetRepository's status shows commit.
func (e *hubEnv) waitRepositoryRevision(ctx context.Context, commit string) {
	e.b.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		repo := &flotillav1.FleetRepository{}
		err := e.hubCl.Get(ctx, types.NamespacedName{Namespace: fleetNamespace, Name: repositoryName}, repo)
		if err == nil && strings.Contains(repo.Status.Revision, commit) {
			return
		}
		if time.Now().After(deadline) {
			e.b.Fatalf("FleetRepository status.revision = %q, want commit %s (error %v)", repo.Status.Revision, commit, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitClustersSettled waits until every one of the n Clusters has had its
// first heartbeat and counts its app as ready.
func (e *hubEnv) waitClustersSettled(ctx context.Context, n int, timeout time.Duration) {
	e.b.Helper()
	deadline := time.Now().Add(timeout)
	for {
		list := &flotillav1.ClusterList{}
		err := e.hubCl.List(ctx, list, client.InNamespace(fleetNamespace))
		settled := 0
		for i := range list.Items {
			st := &list.Items[i].Status
			if st.LastHeartbeatTime != nil && st.AppsTotal > 0 && st.AppsReady == st.AppsTotal {
				settled++
			}
		}
		if err == nil && settled == n {
			return
		}
		if time.Now().After(deadline) {
			e.b.Fatalf("%d of %d Clusters had a heartbeat and their app ready within %s (error %v)", settled, n, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// renderAt renders a fresh copy of the generated fleet at release.
func (e *hubEnv) renderAt(ctx context.Context, n int, release string) *rendered {
	e.b.Helper()
	dir := e.b.TempDir()
	if err := writeFleet(dir, n, memberServers, release); err != nil {
		e.b.Fatal(err)
	}
	r, err := renderFleet(ctx, dir)
	if err != nil {
		e.b.Fatal(err)
	}
	return r
}

// checkApplied asserts that the controller applied what want renders: the
// ClusterSyncs carry its digests, and every member API server holds the
// ConfigMaps of its logical clusters at release.
func (e *hubEnv) checkApplied(ctx context.Context, want *rendered, release string) {
	e.b.Helper()
	syncs := &flotillav1.ClusterSyncList{}
	if err := e.hubCl.List(ctx, syncs, client.InNamespace(fleetNamespace)); err != nil {
		e.b.Fatal(err)
	}
	for i := range syncs.Items {
		cs := &syncs.Items[i]
		if d := want.digests[cs.Spec.Cluster]; cs.Status.AppliedDigest != d {
			e.b.Fatalf("ClusterSync %s applied digest %s; the benchmark renders %s", cs.Name, cs.Status.AppliedDigest, d)
		}
	}
	for k, m := range e.members {
		cl, err := m.NewClient(nil)
		if err != nil {
			e.b.Fatal(err)
		}
		cms := &corev1.ConfigMapList{}
		if err := cl.List(ctx, cms, client.InNamespace(benchNamespace), client.MatchingLabels{flotillav1.LabelApp: benchApp}); err != nil {
			e.b.Fatal(err)
		}
		wantCount := 2 * ((e.clusters - k + memberServers - 1) / memberServers)
		if len(cms.Items) != wantCount {
			e.b.Fatalf("%s holds %d ConfigMaps of app %s, want %d", m.Name(), len(cms.Items), benchApp, wantCount)
		}
		for _, cm := range cms.Items {
			if got := cm.Annotations["bench.flotilla.dev/release"]; got != release {
				e.b.Fatalf("%s: ConfigMap %s is at release %q, want %q", m.Name(), cm.Name, got, release)
			}
		}
	}
}

// floorObjects prepares the floor's objects for every cluster.
func floorObjects(r *rendered) map[string][]*unstructured.Unstructured {
	out := make(map[string][]*unstructured.Unstructured, len(r.objects))
	for name, objs := range r.objects {
		out[name] = objectsFor(objs)
	}
	return out
}
