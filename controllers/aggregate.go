package controllers

import (
	"fmt"
	"sort"
	"strings"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// desiredOf looks up the desired state of a ClusterSync (nil: not rendered).
type desiredOf func(cs *flotillav1.ClusterSync) *Desired

// syncIsSynced reports whether a ClusterSync runs its desired state d.
func syncIsSynced(cs *flotillav1.ClusterSync, d *Desired) bool {
	return d != nil && d.Digest != "" && cs.Status.AppliedDigest == d.Digest
}

// syncIsReady reports whether a ClusterSync runs its desired state d and is
// healthy and Ready.
func syncIsReady(cs *flotillav1.ClusterSync, d *Desired) bool {
	return syncIsSynced(cs, d) && lastSyncReady(cs)
}

// lastSyncReady reports whether a ClusterSync's status says Ready for its
// current generation, whatever has been rendered since.
func lastSyncReady(cs *flotillav1.ClusterSync) bool {
	return conditions.IsTrue(cs, meta.ReadyCondition) &&
		conditions.GetObservedGeneration(cs, meta.ReadyCondition) == cs.Generation
}

// AppAggregate is an app's status computed from its ClusterSyncs.
type AppAggregate struct {
	// Selected, Synced and Healthy count clusters.
	Selected, Synced, Healthy int32
	// Clusters are the selected cluster names, sorted.
	Clusters []string
	// Revision is the revision most of the app's desired states were
	// rendered from: the latest one, unless most renders failed since ("" when
	// this process has rendered none of it yet).
	Revision string
	// Failures are the clusters that are not Ready, sorted by name.
	Failures []flotillav1.ClusterFailure
	// Progressing is true when some cluster is still being synced without
	// having failed.
	Progressing bool
}

// aggregateApp computes an app's aggregated status from its ClusterSyncs
// and their desired states. It is pure: the same inputs always give the
// same result.
func aggregateApp(syncs []flotillav1.ClusterSync, desired desiredOf) AppAggregate {
	var agg AppAggregate
	revisions := map[string]int{}
	for i := range syncs {
		cs := &syncs[i]
		if leftCluster(cs) {
			continue
		}
		agg.Selected++
		agg.Clusters = append(agg.Clusters, cs.Spec.Cluster)
		d := desired(cs)
		if d != nil {
			revisions[d.Revision]++
		}
		synced := syncIsSynced(cs, d)
		if synced {
			agg.Synced++
		}
		if synced && conditions.IsTrue(cs, flotillav1.HealthyCondition) {
			agg.Healthy++
		}
		if syncIsReady(cs, d) {
			continue
		}
		ready := conditions.Get(cs, meta.ReadyCondition)
		switch {
		case ready == nil:
			agg.Progressing = true
		case ready.Status == metav1.ConditionFalse:
			agg.Failures = append(agg.Failures, flotillav1.ClusterFailure{
				Cluster: cs.Spec.Cluster, Reason: ready.Reason, Message: ready.Message,
			})
		default:
			agg.Progressing = true
		}
	}
	for rev, n := range revisions {
		if best := revisions[agg.Revision]; n > best || (n == best && rev > agg.Revision) {
			agg.Revision = rev
		}
	}
	sort.Strings(agg.Clusters)
	sort.Slice(agg.Failures, func(i, j int) bool { return agg.Failures[i].Cluster < agg.Failures[j].Cluster })
	return agg
}

// readyMessage summarises an aggregate in one line for the Ready condition.
func (a AppAggregate) readyMessage() string {
	if len(a.Failures) == 0 {
		if a.Progressing {
			return fmt.Sprintf("%d of %d clusters ready, the others are syncing", a.Healthy, a.Selected)
		}
		return fmt.Sprintf("ready on %d of %d clusters", a.Healthy, a.Selected)
	}
	parts := make([]string, 0, len(a.Failures))
	for _, f := range a.Failures {
		parts = append(parts, fmt.Sprintf("%s (%s)", f.Cluster, f.Reason))
	}
	const maxListed = 5
	if len(parts) > maxListed {
		parts = append(parts[:maxListed], fmt.Sprintf("and %d more", len(parts)-maxListed))
	}
	return fmt.Sprintf("%d of %d clusters not ready: %s", len(a.Failures), a.Selected, strings.Join(parts, ", "))
}

// ClusterAggregate is a cluster's app summary computed from its ClusterSyncs.
//
// It holds no revision on purpose: every commit would change it, and
// recording it would cost a Cluster status write per cluster per commit.
// The ClusterSyncs record each app's applied revision.
type ClusterAggregate struct {
	// Total and Ready count the apps placed on the cluster.
	Total, Ready int32
}

// aggregateCluster computes a cluster's app summary from its ClusterSyncs'
// own status: an app counts as ready when its last sync is Ready. It does
// not compare with a newer render the sync has not picked up yet: that
// would flip the summary (and write the Cluster twice) on every commit
// whenever a summary happens to run in between. The App's synced count and
// each ClusterSync's appliedRevision say how far a rollout has come.
func aggregateCluster(syncs []flotillav1.ClusterSync) ClusterAggregate {
	var agg ClusterAggregate
	for i := range syncs {
		cs := &syncs[i]
		if leftCluster(cs) {
			continue
		}
		agg.Total++
		if lastSyncReady(cs) {
			agg.Ready++
		}
	}
	return agg
}
