// Package placement decides, purely and deterministically, which apps go to
// which clusters, which overlays apply there and how replicas are divided.
// It has no Kubernetes client.
package placement

import (
	"sort"
	"time"

	"github.com/flotilla-gitops/flotilla/fleet"
)

// Overlay is one kustomize Component applied to a target.
type Overlay struct {
	// Name of the overlay (the cluster's name for the per-cluster overlay).
	Name string
	// Path of the Component folder, relative to the repository root.
	Path string
	// Reason says why it applies (which selector or name matched).
	Reason string
}

// Replicas is the share of one workload's replicas for one cluster.
type Replicas struct {
	// Kind of the workload.
	Kind string
	// Name of the workload.
	Name string
	// Count is the replicas this cluster runs.
	Count int32
}

// Target is one app placed on one cluster, with everything render needs.
type Target struct {
	// App is the app's name.
	App string
	// Cluster is the cluster's name.
	Cluster string
	// Namespace is the app's target namespace.
	Namespace string
	// NamespaceDefault sets Namespace only on namespaced objects without
	// one (the app's spec.namespaceMode: Default); otherwise Namespace is
	// forced on every namespaced object.
	NamespaceDefault bool
	// Base is the kustomize base folder, relative to the repository root.
	Base string
	// Overlays apply in this order on top of the base.
	Overlays []Overlay
	// Replicas are the workload replica counts for this cluster.
	Replicas []Replicas
	// Vars are the substitution variables, keyed without the ${}:
	// "cluster.name", "cluster.labels.<key>", "cluster.vars.<key>".
	// Every target has its own map.
	Vars map[string]string
	// Wave orders apps by dependsOn: 0 for an app without dependencies,
	// otherwise one more than the highest wave of the apps it depends on.
	Wave int
}

// Decision explains why an app is or is not placed on a cluster. Place
// does not build decisions: Result.Decision, DecisionsFor and Decisions
// rebuild them on demand from what Place kept.
type Decision struct {
	// App is the app's name.
	App string
	// Cluster is the cluster's name.
	Cluster string
	// Placed is true when the app goes to the cluster.
	Placed bool
	// Reasons are human-readable steps, in order, that led to the decision.
	Reasons []string
	// Figures are the live capacity figures the decision used (for the
	// resources the app's requires, rankBy.available and
	// weightBy.available name), sorted by resource; empty when it used
	// none or the cluster's capacity is unknown.
	Figures []Figure
}

// Result is the outcome of placement for a whole fleet.
type Result struct {
	// Targets are the (app, cluster) pairs chosen, sorted by app then
	// cluster.
	Targets []Target
	// Warnings are problems that do not block, such as a selector that
	// matches no cluster; they name the app file and line.
	Warnings []fleet.Diagnostic
	// Errors are problems only visible against the clusters, such as a
	// non-numeric weight; a fleet with errors must not be applied.
	Errors []fleet.Diagnostic
	// RecheckAt is the earliest time at which an app tolerating the hub's
	// unreachable taint stops tolerating it (see WithClusterTaints): the
	// result is only valid until then. Zero when nothing expires.
	RecheckAt time.Time
	// CapacityUsed is true when Place had live capacity figures
	// (WithCapacity); false means requires, rankBy.available and
	// weightBy.available saw every cluster's capacity as unknown.
	CapacityUsed bool
	// explain is what Place kept to rebuild the decisions (see
	// Decision); nil when the result has none.
	explain *explainer
}

// Target returns the target of an app on a cluster, or nil when the app is
// not placed there.
func (r *Result) Target(app, cluster string) *Target {
	i := sort.Search(len(r.Targets), func(i int) bool {
		t := r.Targets[i]
		return t.App > app || (t.App == app && t.Cluster >= cluster)
	})
	if i < len(r.Targets) && r.Targets[i].App == app && r.Targets[i].Cluster == cluster {
		return &r.Targets[i]
	}
	return nil
}

// ForCluster returns the targets of one cluster, sorted by app.
func (r *Result) ForCluster(cluster string) []Target {
	var out []Target
	for _, t := range r.Targets {
		if t.Cluster == cluster {
			out = append(out, t)
		}
	}
	return out
}

// ForApp returns the targets of one app, sorted by cluster.
func (r *Result) ForApp(app string) []Target {
	lo := sort.Search(len(r.Targets), func(i int) bool { return r.Targets[i].App >= app })
	hi := lo
	for hi < len(r.Targets) && r.Targets[hi].App == app {
		hi++
	}
	return r.Targets[lo:hi:hi]
}

// Clusters returns the names of the clusters an app is placed on, sorted.
func (r *Result) Clusters(app string) []string {
	targets := r.ForApp(app)
	out := make([]string, 0, len(targets))
	for _, t := range targets {
		out = append(out, t.Cluster)
	}
	return out
}
