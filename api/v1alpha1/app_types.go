package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AppSpec is what a fleet repository declares about one app in
// apps/<app>/app.yaml.
type AppSpec struct {
	// Namespace is the namespace the app's namespaced objects go to on every
	// cluster. Flotilla creates it when missing (and never prunes it).
	// namespaceMode says whether it replaces the namespaces objects set
	// themselves.
	Namespace string `json:"namespace"`

	// NamespaceMode is Force or Default. Force (the default) puts every
	// namespaced object in spec.namespace, whatever namespace it sets
	// itself, as kustomize's namespace field does. Default sets
	// spec.namespace only on namespaced objects that set none, so one app
	// may span several namespaces and Namespace objects keep their names.
	// +optional
	NamespaceMode NamespaceMode `json:"namespaceMode,omitempty"`

	// Path is the kustomize base, relative to the app's folder.
	// Defaults to "base".
	// +optional
	Path string `json:"path,omitempty"`

	// Placement selects the clusters the app goes to.
	// +optional
	Placement Placement `json:"placement,omitempty"`

	// Overlays are kustomize Components applied on top of the base. Every
	// overlay whose selector matches a cluster applies, in the order
	// declared; then the folder overlays/<cluster-name>, if it exists,
	// applies last.
	// +optional
	Overlays []Overlay `json:"overlays,omitempty"`

	// DependsOn names apps that must be Ready on a cluster before this app
	// is applied there.
	// +optional
	DependsOn []string `json:"dependsOn,omitempty"`

	// Rollout controls how a new revision reaches the clusters.
	// +optional
	Rollout *RolloutSpec `json:"rollout,omitempty"`

	// HealthTimeout is how long to wait for the applied objects to become
	// ready before the sync is reported unhealthy. Defaults to 5m.
	// +optional
	HealthTimeout *metav1.Duration `json:"healthTimeout,omitempty"`

	// Prune deletes objects that a new revision no longer renders.
	// Defaults to true.
	// +optional
	Prune *bool `json:"prune,omitempty"`

	// AdoptExisting lets the app take over objects that already exist on a
	// cluster without any Flotilla owner labels (for example made by hand
	// or by another tool). Without it, such an object is refused unless
	// its manifest carries the annotation flotilla.dev/adopt: "true".
	// Adopted objects are released, not deleted, when the app stops
	// rendering them. Objects owned by another Flotilla app are never
	// taken over. Defaults to false.
	// +optional
	AdoptExisting bool `json:"adoptExisting,omitempty"`
}

// NamespaceMode says how an app's spec.namespace applies to its objects.
// +kubebuilder:validation:Enum=Force;Default
type NamespaceMode string

const (
	// NamespaceForce puts every namespaced object in spec.namespace and
	// renames Namespace objects to it (kustomize's namespace field).
	NamespaceForce NamespaceMode = "Force"
	// NamespaceDefault sets spec.namespace only where an object has no
	// namespace; explicit namespaces and Namespace objects are kept.
	NamespaceDefault NamespaceMode = "Default"
)

// Placement selects clusters for an app. A cluster is a candidate when it
// matches clusterSelector or is listed in clusterNames (with neither set,
// every cluster is a candidate), is not in exclude, and every taint it has
// is tolerated. maxClusters and spread then choose among the candidates.
type Placement struct {
	// ClusterSelector selects clusters by their labels.
	// +optional
	ClusterSelector *metav1.LabelSelector `json:"clusterSelector,omitempty"`

	// ClusterNames selects clusters by name, in addition to the selector.
	// +optional
	ClusterNames []string `json:"clusterNames,omitempty"`

	// Exclude removes clusters by name, whatever selected them.
	// +optional
	Exclude []string `json:"exclude,omitempty"`

	// Tolerations let the app onto clusters with matching taints.
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// MaxClusters caps how many clusters are chosen. Candidates are ranked by
	// rankBy (then by name) and chosen in that order, honouring spread.
	// +optional
	// +kubebuilder:validation:Minimum=1
	MaxClusters *int32 `json:"maxClusters,omitempty"`

	// Spread limits how many chosen clusters may share a value of a label.
	// +optional
	Spread *SpreadConstraint `json:"spread,omitempty"`

	// RankBy orders candidates before maxClusters and spread choose among
	// them. Without it, candidates are taken in name order.
	// +optional
	RankBy *RankBy `json:"rankBy,omitempty"`

	// Replicas divides the replicas of named workloads across the chosen
	// clusters.
	// +optional
	Replicas []ReplicaDivision `json:"replicas,omitempty"`

	// Requires keeps the app off clusters whose live available capacity
	// (Cluster status.capacity.available) is below these amounts, for
	// example {nvidia.com/gpu: 4}. A cluster whose capacity is unknown does
	// not qualify.
	// +optional
	Requires corev1.ResourceList `json:"requires,omitempty"`

	// Failover makes the app leave a cluster the hub tainted
	// flotilla.dev/unreachable, failover.tolerationSeconds after the taint's
	// timeAdded, for the next candidate (spec.placement.tolerations do not
	// apply to that taint). Without it the app stays on its cluster while it
	// is down.
	// +optional
	Failover *FailoverSpec `json:"failover,omitempty"`
}

// FailbackPolicy says whether a failed-over app returns when its cluster
// recovers.
// +kubebuilder:validation:Enum=Return;Stay
type FailbackPolicy string

const (
	// FailbackReturn moves the app back once the cluster is reachable again
	// and the app is placed there by its placement rules.
	FailbackReturn FailbackPolicy = "Return"
	// FailbackStay keeps the app where it failed over to, as long as it
	// still fits there.
	FailbackStay FailbackPolicy = "Stay"
)

// FailoverSpec is an app's failover policy.
type FailoverSpec struct {
	// TolerationSeconds is how long the app stays on a cluster after it is
	// tainted flotilla.dev/unreachable. Defaults to 0: it leaves at once.
	// +optional
	// +kubebuilder:validation:Minimum=0
	TolerationSeconds *int64 `json:"tolerationSeconds,omitempty"`
	// Failback is Return or Stay. Defaults to Stay.
	// +optional
	Failback FailbackPolicy `json:"failback,omitempty"`
	// KeepObjects leaves the app's objects on the failed cluster when it
	// comes back. By default they are pruned once the cluster is back and
	// the app is Ready where it moved.
	// +optional
	KeepObjects bool `json:"keepObjects,omitempty"`
}

// SpreadConstraint limits how many chosen clusters share a label value.
type SpreadConstraint struct {
	// LabelKey is the cluster label to spread across (for example region).
	LabelKey string `json:"labelKey"`
	// MaxPerValue is how many clusters may share one value. Defaults to 1.
	// +optional
	// +kubebuilder:validation:Minimum=1
	MaxPerValue int32 `json:"maxPerValue,omitempty"`
}

// ValueSource names a cluster label or var; exactly one is set.
type ValueSource struct {
	// Label is a cluster label key.
	// +optional
	Label string `json:"label,omitempty"`
	// Var is a cluster var key.
	// +optional
	Var string `json:"var,omitempty"`
	// Available is a resource name (cpu, memory, nvidia.com/gpu, ...): the
	// cluster's live available amount of it (status.capacity.available).
	// +optional
	Available corev1.ResourceName `json:"available,omitempty"`
}

// RankBy orders clusters by a label or var value, numerically when every
// value is a number and lexically otherwise; ties break by name.
type RankBy struct {
	ValueSource `json:",inline"`
	// Descending puts the largest value first.
	// +optional
	Descending bool `json:"descending,omitempty"`
}

// WorkloadRef names a workload in the app's rendered manifests.
type WorkloadRef struct {
	// Kind of the workload. Defaults to Deployment.
	// +optional
	Kind string `json:"kind,omitempty"`
	// Name of the workload.
	Name string `json:"name"`
}

// ReplicaDivision divides a total number of replicas of one workload across
// the chosen clusters, like Karmada's Divided scheduling. The shares are
// integers that always sum to Total; remainders go to the largest
// fractional parts, ties broken by cluster name.
type ReplicaDivision struct {
	// Workload is the object whose spec.replicas is set on each cluster.
	Workload WorkloadRef `json:"workload"`
	// Total is the number of replicas across all chosen clusters.
	// +kubebuilder:validation:Minimum=0
	Total int32 `json:"total"`
	// WeightBy weights each cluster by a numeric label or var. A cluster
	// without the value, or with zero, gets no replicas.
	// +optional
	WeightBy *ValueSource `json:"weightBy,omitempty"`
	// StaticWeights weights clusters by name. Clusters not listed weigh 0.
	// With neither WeightBy nor StaticWeights every cluster weighs 1.
	// +optional
	StaticWeights []StaticWeight `json:"staticWeights,omitempty"`
}

// StaticWeight gives a fixed weight to named clusters.
type StaticWeight struct {
	// Clusters are cluster names.
	Clusters []string `json:"clusters"`
	// Weight is the weight of each of them.
	// +kubebuilder:validation:Minimum=0
	Weight int32 `json:"weight"`
}

// Overlay is a kustomize Component applied to the clusters it selects.
type Overlay struct {
	// Name of the overlay, unique within the app.
	Name string `json:"name"`
	// Path is the Component folder, relative to the app's folder.
	// Defaults to "overlays/<name>".
	// +optional
	Path string `json:"path,omitempty"`
	// ClusterSelector selects clusters by label.
	// +optional
	ClusterSelector *metav1.LabelSelector `json:"clusterSelector,omitempty"`
	// ClusterNames selects clusters by name, in addition to the selector.
	// +optional
	ClusterNames []string `json:"clusterNames,omitempty"`
}

// ClusterFailure is one cluster on which an app is not Ready, and why.
type ClusterFailure struct {
	// Cluster name.
	Cluster string `json:"cluster"`
	// Reason is a CamelCase reason.
	Reason string `json:"reason"`
	// Message says what is wrong.
	// +optional
	Message string `json:"message,omitempty"`
}

// AppStatus aggregates the app's sync across its clusters.
type AppStatus struct {
	// ObservedGeneration is the generation last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready, Reconciling, Stalled.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Revision is the Git revision the app was last rendered from.
	// +optional
	Revision string `json:"revision,omitempty"`
	// Clusters lists the names of the clusters chosen by placement.
	// +optional
	Clusters []string `json:"clusters,omitempty"`
	// Selected is the number of clusters chosen by placement.
	// +optional
	Selected int32 `json:"selected"`
	// Synced is the number of them running the desired revision.
	// +optional
	Synced int32 `json:"synced"`
	// Healthy is the number of them where the app is healthy.
	// +optional
	Healthy int32 `json:"healthy"`
	// Failures lists the clusters where the app is not Ready, and why.
	// +optional
	Failures []ClusterFailure `json:"failures,omitempty"`
	// Rollout is the state of the app's rollout, for apps with
	// spec.rollout.
	// +optional
	Rollout *RolloutStatus `json:"rollout,omitempty"`
	// Placement records the live capacity figures the last placement of
	// an app that reads them (requires, rankBy.available,
	// weightBy.available) used, per cluster.
	// +optional
	Placement *PlacementStatus `json:"placement,omitempty"`
}

// MaxPlacementDecisions bounds the decisions AppStatus.Placement lists.
const MaxPlacementDecisions = 50

// PlacementStatus is the capacity side of an app's last placement.
type PlacementStatus struct {
	// Revision is the Git revision placed.
	// +optional
	Revision string `json:"revision,omitempty"`
	// Time is when the hub placed it.
	// +optional
	Time *metav1.Time `json:"time,omitempty"`
	// Decisions are the decisions with their figures: the clusters chosen
	// first, then the others, each group by name, at most
	// MaxPlacementDecisions.
	// +optional
	Decisions []PlacementDecision `json:"decisions,omitempty"`
	// Omitted is the number of decisions left out of Decisions.
	// +optional
	Omitted int32 `json:"omitted,omitempty"`
}

// PlacementDecision is one cluster's placement decision and the figures it
// used.
type PlacementDecision struct {
	// Cluster is the cluster's name.
	Cluster string `json:"cluster"`
	// Placed is true when the app goes there.
	Placed bool `json:"placed"`
	// Reason is the capacity step of the decision, for example "meets
	// requires nvidia.com/gpu=4: nvidia.com/gpu 6 available of 8".
	// +optional
	Reason string `json:"reason,omitempty"`
	// Available is the cluster's available amounts as the app saw them
	// (with what the app itself holds there added back).
	// +optional
	Available corev1.ResourceList `json:"available,omitempty"`
	// Allocatable is the cluster's allocatable amounts.
	// +optional
	Allocatable corev1.ResourceList `json:"allocatable,omitempty"`
	// Held is what the app's own pods request there.
	// +optional
	Held corev1.ResourceList `json:"held,omitempty"`
}

// App is one application of the fleet: declared in Git as
// apps/<app>/app.yaml and mirrored on the hub with its aggregated status.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=fapp;fapps,categories=flotilla
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=`.spec.namespace`,priority=1
// +kubebuilder:printcolumn:name="Selected",type=integer,JSONPath=`.status.selected`
// +kubebuilder:printcolumn:name="Synced",type=integer,JSONPath=`.status.synced`
// +kubebuilder:printcolumn:name="Healthy",type=integer,JSONPath=`.status.healthy`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.status.revision`
// +kubebuilder:printcolumn:name="Suspended",type=string,JSONPath=`.metadata.annotations.flotilla\.dev/suspended`
// +kubebuilder:printcolumn:name="Rollout",type=string,JSONPath=`.status.rollout.phase`
// +kubebuilder:printcolumn:name="Stage",type=string,JSONPath=`.status.rollout.stageName`
// +kubebuilder:printcolumn:name="Updated",type=string,JSONPath=`.status.rollout.progress`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type App struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the app as declared in Git.
	Spec AppSpec `json:"spec,omitempty"`
	// Status aggregates the app's clusters.
	// +optional
	Status AppStatus `json:"status,omitempty"`
}

// AppList is a list of Apps.
//
// +kubebuilder:object:root=true
type AppList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the apps.
	Items []App `json:"items"`
}

func init() {
	register(&App{}, &AppList{})
}
