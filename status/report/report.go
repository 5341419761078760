// Package report turns the hub's view of a fleet (Clusters and
// ClusterSyncs) into a Report: the clusters × apps matrix that the status
// branch stores (status/<cluster>.yaml and STATUS.md) and that
// `flotilla status` prints. It is pure: lists in, values out.
package report

import (
	"sort"
	"strings"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// AppStatus is one app's state on one cluster.
type AppStatus struct {
	// App is the app's name.
	App string `json:"app"`
	// Revision is the Git revision applied.
	Revision string `json:"revision,omitempty"`
	// Synced is true when the repository's latest revision is applied
	// (directly, or because it renders what the cluster already runs).
	Synced bool `json:"synced"`
	// Healthy is true when the applied objects are ready.
	Healthy bool `json:"healthy"`
	// Ready is "True", "False" or "Unknown".
	Ready string `json:"ready"`
	// Reason is the Ready condition's reason.
	Reason string `json:"reason,omitempty"`
	// Message is the Ready condition's message when not ready.
	Message string `json:"message,omitempty"`
}

// ClusterStatus is one cluster's line of the report.
type ClusterStatus struct {
	// Cluster is the cluster's name.
	Cluster string `json:"cluster"`
	// Revision is the revision every app on the cluster has applied, if
	// they agree.
	Revision string `json:"revision,omitempty"`
	// Mode is how the hub reaches the cluster: Push (it connects) or Pull
	// (an agent in the cluster syncs it and reports its heartbeat).
	Mode string `json:"mode,omitempty"`
	// Reachable is "True", "False" or "Unknown" (not probed yet): for a
	// pull cluster, whether its agent's heartbeat is recent.
	Reachable string `json:"reachable"`
	// Stale is true when the cluster stopped answering.
	Stale bool `json:"stale,omitempty"`
	// LastSeen is the last heartbeat, recorded only for stale clusters so
	// that the report changes only when something changes.
	LastSeen *metav1.Time `json:"lastSeen,omitempty"`
	// KubernetesVersion is the cluster's server version.
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	// LastError says why the cluster is unreachable or failing.
	LastError string `json:"lastError,omitempty"`
	// Capacity is the cluster's live capacity as its last heartbeat
	// measured it (without the time, so that the file changes only when
	// the figures do). Offline commands read it with --status-ref.
	Capacity *Capacity `json:"capacity,omitempty"`
	// Apps are the apps placed on the cluster, by name.
	Apps []AppStatus `json:"apps"`
}

// Capacity is a cluster's allocatable and available amounts per resource.
type Capacity struct {
	// Allocatable is the sum of the ready, schedulable nodes' allocatable
	// amounts.
	Allocatable corev1.ResourceList `json:"allocatable,omitempty"`
	// Available is Allocatable minus what the cluster's pods request.
	Available corev1.ResourceList `json:"available,omitempty"`
}

// Report is the whole fleet's status.
type Report struct {
	// Repository is "<namespace>/<name>" of the FleetRepository.
	Repository string `json:"repository"`
	// Revision is the latest fetched revision.
	Revision string `json:"revision,omitempty"`
	// Clusters are sorted by name.
	Clusters []ClusterStatus `json:"clusters"`
	// Rollouts are the staged rollouts of the apps that have one (see
	// AddRollouts); only STATUS.md and the table show them.
	Rollouts []Rollout `json:"rollouts,omitempty"`
}

// Build computes the report of a repository from the hub objects.
func Build(repo *flotillav1.FleetRepository, clusters []flotillav1.Cluster, syncs []flotillav1.ClusterSync) Report {
	r := Report{Repository: repo.Namespace + "/" + repo.Name, Revision: repo.Status.Revision}
	byCluster := map[string][]AppStatus{}
	for i := range syncs {
		cs := &syncs[i]
		if !cs.DeletionTimestamp.IsZero() {
			continue
		}
		ready := apimeta.FindStatusCondition(cs.Status.Conditions, meta.ReadyCondition)
		healthy := apimeta.IsStatusConditionTrue(cs.Status.Conditions, flotillav1.HealthyCondition)
		a := AppStatus{
			App:      cs.Spec.App,
			Revision: cs.Status.AppliedRevision,
			Synced:   cs.Status.AppliedRevision != "" && cs.Status.AppliedRevision == repo.Status.Revision,
			Healthy:  healthy,
			Ready:    "Unknown",
		}
		if ready != nil {
			a.Ready, a.Reason = string(ready.Status), ready.Reason
			if ready.Status != metav1.ConditionTrue {
				a.Message = ready.Message
			}
		}
		byCluster[cs.Spec.Cluster] = append(byCluster[cs.Spec.Cluster], a)
	}
	for i := range clusters {
		c := &clusters[i]
		cs := ClusterStatus{Cluster: c.Name, Mode: modeOf(c), Reachable: "Unknown", KubernetesVersion: c.Status.KubernetesVersion}
		if reach := apimeta.FindStatusCondition(c.Status.Conditions, flotillav1.ReachableCondition); reach != nil {
			cs.Reachable = string(reach.Status)
			if reach.Status == metav1.ConditionFalse {
				cs.Stale = true
				cs.LastSeen = c.Status.LastHeartbeatTime
				cs.LastError = reach.Message
			}
		}
		if capa := c.Status.Capacity; capa != nil && capa.Available != nil {
			cs.Capacity = &Capacity{Allocatable: capa.Allocatable.DeepCopy(), Available: capa.Available.DeepCopy()}
		}
		cs.Apps = byCluster[c.Name]
		sort.Slice(cs.Apps, func(i, j int) bool { return cs.Apps[i].App < cs.Apps[j].App })
		cs.Revision = commonRevision(cs.Apps)
		r.Clusters = append(r.Clusters, cs)
	}
	sort.Slice(r.Clusters, func(i, j int) bool { return r.Clusters[i].Cluster < r.Clusters[j].Cluster })
	return r
}

// modeOf returns a cluster's access mode, Push when unset.
func modeOf(c *flotillav1.Cluster) string {
	if c.Spec.Access.Mode == "" {
		return string(flotillav1.AccessPush)
	}
	return string(c.Spec.Access.Mode)
}

// reachWord is the one-word reachability of a cluster for the tables.
func reachWord(c ClusterStatus, stale string) string {
	switch c.Reachable {
	case "True":
		return "yes"
	case "False":
		return stale
	}
	return "unknown"
}

// modeWord is a cluster's mode for the tables ("push" for reports written
// before the mode was recorded).
func modeWord(c ClusterStatus) string {
	if c.Mode == "" {
		return "push"
	}
	return strings.ToLower(c.Mode)
}

// commonRevision returns the revision all apps have applied, or "" when
// they differ or there are none.
func commonRevision(apps []AppStatus) string {
	if len(apps) == 0 {
		return ""
	}
	rev := apps[0].Revision
	for _, a := range apps[1:] {
		if a.Revision != rev {
			return ""
		}
	}
	return rev
}

// Apps returns the sorted names of every app in the report.
func (r Report) Apps() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range r.Clusters {
		for _, a := range c.Apps {
			if !seen[a.App] {
				seen[a.App] = true
				out = append(out, a.App)
			}
		}
	}
	sort.Strings(out)
	return out
}

// ShortRevision shortens "main@sha1:<40 hex>" to "main@<7 hex>".
func ShortRevision(rev string) string {
	ref, sha, ok := strings.Cut(rev, "@sha1:")
	if !ok {
		sha = strings.TrimPrefix(rev, "sha1:")
		ref = ""
	}
	if len(sha) > 7 {
		sha = sha[:7]
	}
	if ref == "" {
		return sha
	}
	return ref + "@" + sha
}

// cell is the one-word state of an app on a cluster.
func (a AppStatus) cell() string {
	switch {
	case a.Ready == "True":
		return "ready"
	case a.Reason == flotillav1.ReasonProgressing || a.Reason == "":
		return "syncing"
	case a.Reason == flotillav1.ReasonDependencyNotReady:
		return "waiting"
	case a.Reason == flotillav1.ReasonClusterUnreachable:
		return "offline"
	default:
		return "failed"
	}
}

// since formats how long ago t was, for stale clusters.
func since(t *metav1.Time, now time.Time) string {
	if t == nil {
		return "never seen"
	}
	return "since " + t.UTC().Format(time.RFC3339) + " (" + now.Sub(t.Time).Round(time.Second).String() + " ago)"
}
