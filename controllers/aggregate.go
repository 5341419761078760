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

// syncIsSynced reports whether a ClusterSync runs its desired digest.
func syncIsSynced(cs *flotillav1.ClusterSync) bool {
	return cs.Spec.Digest != "" && cs.Status.AppliedDigest == cs.Spec.Digest
}

// syncIsReady reports whether a ClusterSync is synced, healthy and Ready.
func syncIsReady(cs *flotillav1.ClusterSync) bool {
	return syncIsSynced(cs) && conditions.IsTrue(cs, meta.ReadyCondition) &&
		conditions.GetObservedGeneration(cs, meta.ReadyCondition) == cs.Generation
}

// AppAggregate is an app's status computed from its ClusterSyncs.
type AppAggregate struct {
	// Selected, Synced and Healthy count clusters.
	Selected, Synced, Healthy int32
	// Clusters are the selected cluster names, sorted.
	Clusters []string
	// Failures are the clusters that are not Ready, sorted by name.
	Failures []flotillav1.ClusterFailure
	// Progressing is true when some cluster is still being synced without
	// having failed.
	Progressing bool
}

// aggregateApp computes an app's aggregated status from its ClusterSyncs.
// It is pure: the same syncs always give the same result.
func aggregateApp(syncs []flotillav1.ClusterSync) AppAggregate {
	var agg AppAggregate
	for i := range syncs {
		cs := &syncs[i]
		if !cs.DeletionTimestamp.IsZero() {
			continue
		}
		agg.Selected++
		agg.Clusters = append(agg.Clusters, cs.Spec.Cluster)
		synced := syncIsSynced(cs)
		if synced {
			agg.Synced++
		}
		if synced && conditions.IsTrue(cs, flotillav1.HealthyCondition) {
			agg.Healthy++
		}
		if syncIsReady(cs) {
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
type ClusterAggregate struct {
	// Total and Ready count the apps placed on the cluster.
	Total, Ready int32
	// Revision is the revision every app on the cluster runs, or "" when
	// they are not all synced to their desired revision.
	Revision string
}

// aggregateCluster computes a cluster's app summary from its ClusterSyncs.
func aggregateCluster(syncs []flotillav1.ClusterSync) ClusterAggregate {
	var agg ClusterAggregate
	allSynced := true
	revision := ""
	for i := range syncs {
		cs := &syncs[i]
		if !cs.DeletionTimestamp.IsZero() {
			continue
		}
		agg.Total++
		if syncIsReady(cs) {
			agg.Ready++
		}
		if !syncIsSynced(cs) || (revision != "" && cs.Status.AppliedRevision != revision) {
			allSynced = false
		}
		revision = cs.Status.AppliedRevision
	}
	if allSynced && agg.Total > 0 {
		agg.Revision = revision
	}
	return agg
}
