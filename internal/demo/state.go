package demo

import (
	"context"
	"fmt"
	"sort"
	"strings"

	fluxmeta "github.com/fluxcd/pkg/apis/meta"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// FleetState is what the hub says about one FleetRepository's fleet at one
// moment, and the commit its synced branch points at on the Git server.
type FleetState struct {
	// Repository is the FleetRepository.
	Repository *flotillav1.FleetRepository
	// Head is the commit the synced branch points at on the Git server.
	Head string
	// Clusters, Apps and Syncs are the repository's objects on the hub,
	// sorted by name.
	Clusters []flotillav1.Cluster
	Apps     []flotillav1.App
	Syncs    []flotillav1.ClusterSync
}

// ReadState reads the FleetRepository ns/name and the Clusters, Apps and
// ClusterSyncs it owns from the hub. head is the synced branch's commit.
func ReadState(ctx context.Context, hub client.Reader, ns, name, head string) (*FleetState, error) {
	s := &FleetState{Repository: &flotillav1.FleetRepository{}, Head: head}
	if err := hub.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s.Repository); err != nil {
		return nil, fmt.Errorf("read FleetRepository %s/%s from the hub: %w", ns, name, err)
	}
	owned := []client.ListOption{client.InNamespace(ns), client.MatchingLabels{flotillav1.LabelRepository: name}}
	clusters := &flotillav1.ClusterList{}
	if err := hub.List(ctx, clusters, owned...); err != nil {
		return nil, fmt.Errorf("list Clusters in %s on the hub: %w", ns, err)
	}
	apps := &flotillav1.AppList{}
	if err := hub.List(ctx, apps, owned...); err != nil {
		return nil, fmt.Errorf("list Apps in %s on the hub: %w", ns, err)
	}
	syncs := &flotillav1.ClusterSyncList{}
	if err := hub.List(ctx, syncs, owned...); err != nil {
		return nil, fmt.Errorf("list ClusterSyncs in %s on the hub: %w", ns, err)
	}
	s.Clusters, s.Apps, s.Syncs = clusters.Items, apps.Items, syncs.Items
	sort.Slice(s.Clusters, func(i, j int) bool { return s.Clusters[i].Name < s.Clusters[j].Name })
	sort.Slice(s.Apps, func(i, j int) bool { return s.Apps[i].Name < s.Apps[j].Name })
	sort.Slice(s.Syncs, func(i, j int) bool {
		a, b := s.Syncs[i].Spec, s.Syncs[j].Spec
		if a.Cluster != b.Cluster {
			return a.Cluster < b.Cluster
		}
		return a.App < b.App
	})
	return s, nil
}

// Synced reports whether the fleet is synced: Problems is empty.
func (s *FleetState) Synced() bool { return len(s.Problems()) == 0 }

// Problems lists why the fleet is not synced, one sentence each; none means
// synced. The fleet is synced when all of these hold:
//
//   - the FleetRepository is Ready for its current generation, and the
//     revision it fetched is Head, the synced branch's commit on the server;
//   - the hub holds exactly status.targets ClusterSyncs for it (one per app
//     and cluster that placement chose);
//   - every ClusterSync has applied that revision (status.appliedRevision;
//     a revision that renders what a cluster already runs counts as
//     applied there) and is Ready (applied and healthy) for its current
//     generation;
//   - every member cluster is Reachable: the hub reaches it (push mode), or
//     its agent's heartbeat is recent (pull mode).
//
// Apps that placement keeps off a cluster (for example because of a taint)
// have no ClusterSync there and do not count.
func (s *FleetState) Problems() []string {
	var out []string
	repo := s.Repository
	ref := repo.Namespace + "/" + repo.Name
	ready := apimeta.FindStatusCondition(repo.Status.Conditions, fluxmeta.ReadyCondition)
	switch {
	case ready == nil:
		out = append(out, fmt.Sprintf("FleetRepository %s has not been fetched yet", ref))
	case ready.Status != metav1.ConditionTrue || ready.ObservedGeneration != repo.Generation:
		out = append(out, fmt.Sprintf("FleetRepository %s is not Ready: %s: %s", ref, ready.Reason, ready.Message))
	}
	if s.Head != "" && repo.Status.Revision != "" && commitOf(repo.Status.Revision) != s.Head {
		out = append(out, fmt.Sprintf("FleetRepository %s has fetched %q; the branch is at %s", ref, repo.Status.Revision, shortSHA(s.Head)))
	}
	if n := int(repo.Status.Targets); len(s.Syncs) != n {
		out = append(out, fmt.Sprintf("the hub holds %d ClusterSyncs; placement chose %d targets", len(s.Syncs), n))
	}
	for i := range s.Clusters {
		c := &s.Clusters[i]
		if cond := apimeta.FindStatusCondition(c.Status.Conditions, flotillav1.ReachableCondition); cond == nil || cond.Status != metav1.ConditionTrue {
			out = append(out, fmt.Sprintf("cluster %s is not reachable: %s", c.Name, conditionText(cond)))
		}
	}
	for i := range s.Syncs {
		if why := syncProblem(&s.Syncs[i], repo.Status.Revision); why != "" {
			out = append(out, fmt.Sprintf("%s on %s: %s", s.Syncs[i].Spec.App, s.Syncs[i].Spec.Cluster, why))
		}
	}
	return out
}

// syncProblem says why one ClusterSync is not synced at revision, or "".
func syncProblem(cs *flotillav1.ClusterSync, revision string) string {
	ready := apimeta.FindStatusCondition(cs.Status.Conditions, fluxmeta.ReadyCondition)
	switch {
	case cs.Status.AppliedRevision != revision:
		if ready != nil && ready.Status == metav1.ConditionFalse {
			return fmt.Sprintf("revision %q not applied: %s", revision, conditionText(ready))
		}
		if cs.Status.AppliedRevision == "" {
			return "not applied yet"
		}
		return fmt.Sprintf("at revision %q, not %q yet", cs.Status.AppliedRevision, revision)
	case ready == nil || ready.Status != metav1.ConditionTrue || ready.ObservedGeneration != cs.Generation:
		return "applied but not Ready: " + conditionText(ready)
	}
	return ""
}

// Counts returns how many ClusterSyncs are Ready at the fetched revision,
// and how many targets placement chose.
func (s *FleetState) Counts() (ready, targets int) {
	for i := range s.Syncs {
		if syncProblem(&s.Syncs[i], s.Repository.Status.Revision) == "" {
			ready++
		}
	}
	return ready, max(int(s.Repository.Status.Targets), len(s.Syncs))
}

// conditionText renders a condition as "Reason: message".
func conditionText(c *metav1.Condition) string {
	if c == nil {
		return "no status yet"
	}
	if c.Message == "" {
		return c.Reason
	}
	return c.Reason + ": " + c.Message
}

// commitOf returns the SHA of a revision such as "main@sha1:<sha>".
func commitOf(revision string) string {
	if i := strings.LastIndex(revision, "sha1:"); i >= 0 {
		return revision[i+len("sha1:"):]
	}
	return revision
}

// shortSHA abbreviates a commit SHA to 7 characters.
func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// shortRevision abbreviates "main@sha1:<sha>" to "main@<sha7>".
func shortRevision(revision string) string {
	if revision == "" {
		return "-"
	}
	i := strings.LastIndex(revision, "sha1:")
	if i < 0 {
		return revision
	}
	return revision[:i] + shortSHA(revision[i+len("sha1:"):])
}
