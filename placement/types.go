// Package placement decides, purely and deterministically, which apps go to
// which clusters, which overlays apply there and how replicas are divided.
// It has no Kubernetes client.
package placement

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
	// Base is the kustomize base folder, relative to the repository root.
	Base string
	// Overlays apply in this order on top of the base.
	Overlays []Overlay
	// Replicas are the workload replica counts for this cluster.
	Replicas []Replicas
	// Vars are the substitution variables, keyed without the ${}:
	// "cluster.name", "cluster.labels.<key>", "cluster.vars.<key>".
	Vars map[string]string
}

// Decision explains why an app is or is not placed on a cluster.
type Decision struct {
	// App is the app's name.
	App string
	// Cluster is the cluster's name.
	Cluster string
	// Placed is true when the app goes to the cluster.
	Placed bool
	// Reasons are human-readable steps, in order, that led to the decision.
	Reasons []string
}
