package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/controllers"
)

// rolloutClusters is the rollout benchmark's fleet size: four stages of 25.
const rolloutClusters = 100

// BenchmarkRollout measures a staged rollout of one commit that changes
// every cluster, through four stages of 25 logical clusters (no pauses, no
// approvals, maxUnavailable 100%: each stage updates its sites at once),
// against the four stages synced alone, in the same run. Run it with
// -benchtime 1x.
//
// The baseline: before the app has a rollout, four commits each change
// one stage's overlay, so each changes that stage's 25 clusters only (the
// 75 others render what they run); a stage alone is the time from its
// commit to its 25 clusters synced, and the baseline is the sum over the
// four stages. That is what going stage by stage costs at best: each stage
// synced as it would be on its own, one after the other.
//
// Metrics:
//   - rollout-s: commit pushed -> every cluster of the last stage synced;
//   - stages-alone-s: the baseline, the sum of the four stages alone;
//   - rollout/stages-alone: their ratio (the goal is <= 1.2);
//   - rollout-hub-req/cluster, stages-alone-hub-req/cluster: requests the
//     hub API server served, per cluster, for the rollout and for the four
//     baseline commits together;
//   - rollout-member-req/cluster, stages-alone-member-req/cluster: the
//     controller's requests to the members, per cluster.
//
// Where the time goes (each stage's release, first and last site synced,
// and the gap between a stage Ready and the next stage released) and the
// requests by kind are printed to standard output.
func BenchmarkRollout(b *testing.B) {
	b.StopTimer()
	ctx := b.Context()
	n := rolloutClusters
	fl := newRolloutFleet(n, memberServers)
	e := newHubEnvWith(b, n, memberServers, fl.write)
	phaseTimeout := 5*time.Minute + time.Duration(n)*time.Second

	tracker := newSyncTracker(n)
	e.startController(controllers.Options{
		HeartbeatInterval:    time.Hour,
		DefaultDriftInterval: time.Hour,
		SyncWorkers:          syncWorkers,
	}, tracker)
	stopProfiles := startProfiles(b, n)

	// Leave late calls (App and Cluster summaries) to land in their phase.
	settle := func() { time.Sleep(2 * time.Second) }
	commit := func(msg string) string {
		for path, data := range fl.files() {
			e.work.WriteFile(path, data)
		}
		rev := e.work.CommitAll(msg)
		e.work.Push()
		return rev
	}

	e.phase(ctx, tracker, "first sync", e.repo.InitialCommit, phaseTimeout, false, func() { e.createRepository(ctx) },
		func() { e.waitClustersSettled(ctx, n, phaseTimeout) }, settle)

	// 1. The baseline: each stage synced alone, no rollout.
	var alone []*phaseResult
	var aloneTimes []time.Duration
	for _, s := range rolloutStages {
		fl.stageReleases[s] = "s1"
		rev := commit("stage " + s + " alone")
		ph := e.phase(ctx, tracker, "stage "+s+" alone", rev, phaseTimeout, false, func() { e.announce(ctx) }, settle)
		alone = append(alone, ph)
		aloneTimes = append(aloneTimes, lastOf(ph.times.byCluster, fl.stageClusters(s)))
	}

	// 2. Declare the rollout: no render changes, every site moves at once.
	fl.rollout = true
	rev := commit("roll out in four stages")
	e.phase(ctx, tracker, "declare rollout", rev, phaseTimeout, false, func() { e.announce(ctx) },
		func() { e.waitRolloutComplete(ctx, rev, time.Minute) }, settle)

	// 3. The rollout: a commit that changes every cluster.
	fl.release = "r2"
	rev = commit("release r2 on every site, stage by stage")
	var completeAt time.Duration
	began := time.Now()
	ro := e.phase(ctx, tracker, "rollout", rev, phaseTimeout, true, func() { e.announce(ctx) },
		func() { e.waitRolloutComplete(ctx, rev, time.Minute); completeAt = time.Since(began) }, settle)
	stopProfiles()
	e.checkRolloutApplied(ctx, fl)
	e.stopController()

	res := &rolloutResult{n: n, fleet: fl, alone: alone, aloneTimes: aloneTimes, rollout: ro, completeAt: completeAt}
	res.reportMetrics(b)
	res.printDetails()
}

// lastOf is the latest of times among names.
func lastOf(times map[string]time.Duration, names []string) time.Duration {
	var last time.Duration
	for _, n := range names {
		last = max(last, times[n])
	}
	return last
}

// waitRolloutComplete waits until the App's rollout of commit is Complete,
// reading the controller's cache (no request to the hub).
func (e *hubEnv) waitRolloutComplete(ctx context.Context, commit string, timeout time.Duration) {
	e.b.Helper()
	deadline := time.Now().Add(timeout)
	for {
		app := &flotillav1.App{}
		err := e.cache.Get(ctx, types.NamespacedName{Namespace: fleetNamespace, Name: benchApp}, app)
		st := app.Status.Rollout
		if err == nil && st != nil && strings.Contains(st.Revision, commit) && st.Phase == flotillav1.RolloutComplete {
			return
		}
		if time.Now().After(deadline) {
			e.b.Fatalf("the rollout of %s is not Complete within %s: %+v (error %v)\nsites not done:\n%s", commit, timeout, st, err, e.sitesNotDone(ctx, commit))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkRolloutApplied asserts that every ClusterSync carries the digest the
// fleet renders and that the member API servers hold every logical
// cluster's objects at the fleet's releases.
func (e *hubEnv) checkRolloutApplied(ctx context.Context, fl *rolloutFleet) {
	e.b.Helper()
	dir := e.b.TempDir()
	if err := fl.write(dir); err != nil {
		e.b.Fatal(err)
	}
	want, err := renderFleet(ctx, dir)
	if err != nil {
		e.b.Fatal(err)
	}
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
	seen := 0
	for _, m := range e.members {
		cl, err := m.NewClient(nil)
		if err != nil {
			e.b.Fatal(err)
		}
		cms := &corev1.ConfigMapList{}
		if err := cl.List(ctx, cms, client.InNamespace(benchNamespace), client.MatchingLabels{flotillav1.LabelApp: benchApp}); err != nil {
			e.b.Fatal(err)
		}
		for _, cm := range cms.Items {
			a := cm.Annotations
			if a["bench.flotilla.dev/release"] != fl.release || a[stageReleaseAnnotation] != "s1" {
				e.b.Fatalf("%s: ConfigMap %s is at release %q, stage release %q; want %q, %q",
					m.Name(), cm.Name, a["bench.flotilla.dev/release"], a[stageReleaseAnnotation], fl.release, "s1")
			}
			seen++
		}
	}
	if seen != 2*fl.clusters {
		e.b.Fatalf("the members hold %d ConfigMaps of app %s, want %d", seen, benchApp, 2*fl.clusters)
	}
}

// rolloutResult is what BenchmarkRollout measured.
type rolloutResult struct {
	n     int
	fleet *rolloutFleet
	// alone are the four baseline commits; aloneTimes each one's time to
	// its stage's clusters synced.
	alone      []*phaseResult
	aloneTimes []time.Duration
	rollout    *phaseResult
	// completeAt is when the controller's cache showed the App's rollout
	// Complete.
	completeAt time.Duration
}

func (r *rolloutResult) aloneSum() (total time.Duration) {
	for _, d := range r.aloneTimes {
		total += d
	}
	return total
}

func (r *rolloutResult) reportMetrics(b *testing.B) {
	perCluster := func(v float64) float64 { return v / float64(r.n) }
	var aloneHub, aloneMember float64
	for _, ph := range r.alone {
		aloneHub += ph.hub.total()
		aloneMember += ph.requests.total()
	}
	b.ReportMetric(r.rollout.wall.Seconds(), "rollout-s")
	b.ReportMetric(r.aloneSum().Seconds(), "stages-alone-s")
	b.ReportMetric(r.rollout.wall.Seconds()/r.aloneSum().Seconds(), "rollout/stages-alone")
	b.ReportMetric(perCluster(r.rollout.hub.total()), "rollout-hub-req/cluster")
	b.ReportMetric(perCluster(aloneHub), "stages-alone-hub-req/cluster")
	b.ReportMetric(perCluster(r.rollout.requests.total()), "rollout-member-req/cluster")
	b.ReportMetric(perCluster(aloneMember), "stages-alone-member-req/cluster")
}

func (r *rolloutResult) printDetails() {
	p := func(format string, args ...any) { fmt.Printf("    "+format+"\n", args...) }
	p("--- Rollout N=%d details", r.n)
	p("N=%d over K=%d API servers, %d sync workers, %d stages of %d; load average at the end: %s",
		r.n, memberServers, syncWorkers, len(rolloutStages), r.n/len(rolloutStages), loadAverage())
	for i, s := range rolloutStages {
		ph := r.alone[i]
		names := r.fleet.stageClusters(s)
		p("stage %s alone: its %d clusters synced first %7s last %7s; all %d (the others unchanged) by %7s",
			s, len(names), ms(firstOf(ph.times.byCluster, names)), ms(r.aloneTimes[i]), r.n, ms(ph.wall))
	}
	p("stages alone, sum: %s", ms(r.aloneSum()))
	t := r.rollout.times
	var prevReady time.Duration
	for i, s := range rolloutStages {
		names := r.fleet.stageClusters(s)
		rel := firstOf(t.released, names)
		ready := lastOf(t.byCluster, names)
		gap := "from the commit"
		if i > 0 {
			gap = "after the previous stage Ready: " + ms(rel-prevReady)
		}
		p("rollout stage %s: released %7s (last %7s; %s), synced first %7s last %7s (%s after its release)",
			s, ms(rel), ms(lastOf(t.released, names)), gap, ms(firstOf(t.byCluster, names)), ms(ready), ms(ready-rel))
		prevReady = ready
	}
	p("rollout: last stage Ready %s, App rollout Complete in the cache %s; ratio to the stages alone %.2f (goal <= 1.2)",
		ms(r.rollout.wall), ms(r.completeAt), r.rollout.wall.Seconds()/r.aloneSum().Seconds())
	for _, ph := range append(slices.Clone(r.alone), r.rollout) {
		p("%-14s controller requests per cluster {%s}", ph.name, ph.requests.perCluster(r.n))
		p("%-14s member API servers served per cluster %s", ph.name, ph.server.perCluster(r.n))
		p("%-14s hub API server served per cluster %s", ph.name, ph.hub.perCluster(r.n))
		p("%-14s CPU in %s: %s", ph.name, ms(ph.wall), ph.cpu)
	}
}

// firstOf is the earliest of times among names (zero if none has one).
func firstOf(times map[string]time.Duration, names []string) time.Duration {
	first := time.Duration(-1)
	for _, n := range names {
		if d, ok := times[n]; ok && (first < 0 || d < first) {
			first = d
		}
	}
	return max(first, 0)
}

// sitesNotDone describes the ClusterSyncs that are not Ready at commit, to
// say why a rollout did not complete.
func (e *hubEnv) sitesNotDone(ctx context.Context, commit string) string {
	syncs := &flotillav1.ClusterSyncList{}
	if err := e.cache.List(ctx, syncs, client.InNamespace(fleetNamespace)); err != nil {
		return err.Error()
	}
	var b strings.Builder
	for i := range syncs.Items {
		cs := &syncs.Items[i]
		rel := "<nil>"
		if cs.Spec.Rollout != nil {
			rel = cs.Spec.Rollout.Revision
		}
		ready := apimeta.FindStatusCondition(cs.Status.Conditions, "Ready")
		if strings.Contains(rel, commit) && strings.Contains(cs.Status.AppliedRevision, commit) && ready != nil && ready.Status == "True" && ready.ObservedGeneration == cs.Generation {
			continue
		}
		fmt.Fprintf(&b, "  %s gen %d observed %d released %s applied %s lastReady %s ready %+v\n", cs.Name, cs.Generation, cs.Status.ObservedGeneration, rel, cs.Status.AppliedRevision, cs.Status.LastReadyRevision, ready)
	}
	return b.String()
}
