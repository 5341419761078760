// Package fleetdiff compares what a fleet repository deploys at two
// revisions, per cluster: clusters that change, apps newly selected or
// deselected by placement, objects added, removed and changed (with a
// unified YAML diff), and replica changes. It is pure: it compares two
// States (built from pipeline outputs by FromOutput) and returns a Report,
// which WriteText, WriteMarkdown and WriteJSON print. Secret data is masked
// in every diff it produces.
package fleetdiff

import "fmt"

// SchemaVersion is the version of the JSON form of a Report. It changes
// only when a field is removed or changes meaning.
const SchemaVersion = 1

// Report is the difference between two revisions of a fleet.
type Report struct {
	// SchemaVersion is SchemaVersion.
	SchemaVersion int `json:"schemaVersion"`
	// Base is the revision compared from.
	Base Revision `json:"base"`
	// Head is the revision compared to.
	Head Revision `json:"head"`
	// Clusters is the number of clusters declared at the base or the head.
	Clusters int `json:"clusters"`
	// Changed are the clusters that change, sorted by name.
	Changed []ClusterDiff `json:"changed"`
	// BaseErrors are the errors of the fleet at the base revision. Targets
	// that did not render there are compared as if they had no objects.
	BaseErrors []string `json:"baseErrors,omitempty"`
	// Rollouts say how the change reaches the sites of the changed apps
	// that have a staged rollout (see AddRolloutPlans).
	Rollouts []RolloutPlan `json:"rollouts,omitempty"`
}

// Revision names one side of the comparison.
type Revision struct {
	// Ref is the revision as given (a branch, tag or expression).
	Ref string `json:"ref"`
	// Commit is the full commit SHA, when known.
	Commit string `json:"commit,omitempty"`
}

// String returns "ref (abcdef123456)", or the ref alone.
func (r Revision) String() string {
	switch {
	case r.Commit == "" || r.Commit == r.Ref:
		return r.Ref
	case len(r.Commit) > 12:
		return fmt.Sprintf("%s (%s)", r.Ref, r.Commit[:12])
	default:
		return fmt.Sprintf("%s (%s)", r.Ref, r.Commit)
	}
}

// HasChanges reports whether any cluster changes.
func (r *Report) HasChanges() bool { return len(r.Changed) > 0 }

// ChangedNames returns the names of the clusters that change, sorted.
func (r *Report) ChangedNames() []string {
	names := make([]string, 0, len(r.Changed))
	for _, c := range r.Changed {
		names = append(names, c.Cluster)
	}
	return names
}

// Cluster returns the diff of one cluster, or nil when it does not change.
func (r *Report) Cluster(name string) *ClusterDiff {
	for i := range r.Changed {
		if r.Changed[i].Cluster == name {
			return &r.Changed[i]
		}
	}
	return nil
}

// ClusterChange says how a cluster itself changes.
type ClusterChange string

// Cluster changes.
const (
	// ClusterModified: the cluster is declared at both revisions.
	ClusterModified ClusterChange = "modified"
	// ClusterAdded: the cluster is declared at the head only.
	ClusterAdded ClusterChange = "added"
	// ClusterRemoved: the cluster is declared at the base only.
	ClusterRemoved ClusterChange = "removed"
)

// ClusterDiff is what changes on one cluster.
type ClusterDiff struct {
	// Cluster is the cluster's name.
	Cluster string `json:"cluster"`
	// Change says whether the cluster is new, removed or modified.
	Change ClusterChange `json:"change"`
	// Apps are the apps that change on the cluster, sorted by name.
	Apps []AppDiff `json:"apps"`
}

// App returns the diff of one app on the cluster, or nil.
func (c *ClusterDiff) App(name string) *AppDiff {
	for i := range c.Apps {
		if c.Apps[i].App == name {
			return &c.Apps[i]
		}
	}
	return nil
}

// PlacementChange says whether placement moved an app onto or off a
// cluster.
type PlacementChange string

// Placement changes.
const (
	// PlacementUnchanged: the app is placed on the cluster at both
	// revisions.
	PlacementUnchanged PlacementChange = "unchanged"
	// PlacementSelected: the app is placed on the cluster at the head
	// only.
	PlacementSelected PlacementChange = "selected"
	// PlacementDeselected: the app is placed on the cluster at the base
	// only.
	PlacementDeselected PlacementChange = "deselected"
)

// AppDiff is what changes for one app on one cluster.
type AppDiff struct {
	// App is the app's name.
	App string `json:"app"`
	// Placement says whether the app moves onto or off the cluster.
	Placement PlacementChange `json:"placement"`
	// Objects are the objects added, removed or changed, sorted by key.
	Objects []ObjectDiff `json:"objects"`
	// Replicas are the workloads whose spec.replicas change, sorted by
	// key.
	Replicas []ReplicaChange `json:"replicas,omitempty"`
	// BaseError is set when the app did not render at the base revision;
	// its head objects are then all reported as added.
	BaseError string `json:"baseError,omitempty"`
	// HeadError is set when the app does not render at the head revision.
	HeadError string `json:"headError,omitempty"`
}

// Counts returns the number of objects added, changed and removed.
func (a *AppDiff) Counts() (added, changed, removed int) {
	for _, o := range a.Objects {
		switch o.Action {
		case ObjectAdded:
			added++
		case ObjectChanged:
			changed++
		case ObjectRemoved:
			removed++
		}
	}
	return added, changed, removed
}

// ObjectKey identifies an object on a cluster.
type ObjectKey struct {
	// Group is the API group, "" for the core group.
	Group string `json:"group"`
	// Kind is the object's kind.
	Kind string `json:"kind"`
	// Namespace is empty for cluster-scoped objects.
	Namespace string `json:"namespace,omitempty"`
	// Name is the object's name.
	Name string `json:"name"`
}

// String formats the key as "[group/]Kind [namespace/]name", for example
// "apps/Deployment adc/adc-inference" or "Namespace adc".
func (k ObjectKey) String() string {
	kind := k.Kind
	if k.Group != "" {
		kind = k.Group + "/" + k.Kind
	}
	if k.Namespace != "" {
		return kind + " " + k.Namespace + "/" + k.Name
	}
	return kind + " " + k.Name
}

// path is the key as a path, for diff headers.
func (k ObjectKey) path() string {
	g := k.Group
	if g == "" {
		g = "core"
	}
	ns := k.Namespace
	if ns == "" {
		ns = "_cluster"
	}
	return g + "/" + k.Kind + "/" + ns + "/" + k.Name
}

// compare orders keys by group, kind, namespace, name.
func (k ObjectKey) compare(o ObjectKey) int {
	for _, p := range [][2]string{{k.Group, o.Group}, {k.Kind, o.Kind}, {k.Namespace, o.Namespace}, {k.Name, o.Name}} {
		if p[0] != p[1] {
			if p[0] < p[1] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// ObjectAction says what happens to an object.
type ObjectAction string

// Object actions.
const (
	// ObjectAdded: the object exists at the head only.
	ObjectAdded ObjectAction = "added"
	// ObjectRemoved: the object exists at the base only.
	ObjectRemoved ObjectAction = "removed"
	// ObjectChanged: the object exists at both revisions and differs.
	ObjectChanged ObjectAction = "changed"
)

// ObjectDiff is one object added, removed or changed.
type ObjectDiff struct {
	ObjectKey
	// Action says whether the object is added, removed or changed.
	Action ObjectAction `json:"action"`
	// Diff is the unified diff of the object's YAML (Secret data masked),
	// from the base to the head.
	Diff string `json:"diff"`
}

// ReplicaChange is a workload whose spec.replicas changes.
type ReplicaChange struct {
	ObjectKey
	// Before is the replicas at the base, nil when the workload is absent
	// there or sets none.
	Before *int64 `json:"before"`
	// After is the replicas at the head, nil when the workload is absent
	// there or sets none.
	After *int64 `json:"after"`
}

// String formats the change as "apps/Deployment adc/x: 3 → 4".
func (r ReplicaChange) String() string {
	return fmt.Sprintf("%s: %s → %s", r.ObjectKey, replicaText(r.Before), replicaText(r.After))
}

func replicaText(n *int64) string {
	if n == nil {
		return "none"
	}
	return fmt.Sprint(*n)
}
