package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AccessMode says how Flotilla reaches a cluster.
// +kubebuilder:validation:Enum=Push;Pull
type AccessMode string

const (
	// AccessPush means the hub controller connects to the cluster with a
	// kubeconfig stored in a Secret on the hub.
	AccessPush AccessMode = "Push"
	// AccessPull means an agent inside the cluster pulls its own
	// desired state; the hub never connects to it.
	AccessPull AccessMode = "Pull"
)

// ClusterAccess says how the hub reaches a cluster.
type ClusterAccess struct {
	// Mode is Push (the hub connects with a kubeconfig) or Pull (an agent in
	// the cluster syncs itself). Defaults to Push.
	// +optional
	Mode AccessMode `json:"mode,omitempty"`

	// KubeconfigSecretRef names the Secret, in the FleetRepository's
	// namespace on the hub, that holds the kubeconfig for this cluster.
	// Defaults to a Secret named "<cluster>-kubeconfig" with key "value".
	// +optional
	KubeconfigSecretRef *SecretKeyRef `json:"kubeconfigSecretRef,omitempty"`
}

// SecretKeyRef names one key of a Secret in the same namespace.
type SecretKeyRef struct {
	// Name of the Secret.
	Name string `json:"name"`
	// Key in the Secret's data. Defaults to "value".
	// +optional
	Key string `json:"key,omitempty"`
}

// ClusterSpec is what a fleet repository declares about one cluster in
// clusters/<name>.yaml. The cluster's labels are its metadata.labels.
type ClusterSpec struct {
	// Vars are free-form values that apps substitute as
	// ${cluster.vars.<key>} (registry host, model version, ...).
	// +optional
	Vars map[string]string `json:"vars,omitempty"`

	// Taints keep apps off this cluster unless they tolerate them, as node
	// taints do for pods. Effect NoSchedule keeps new apps off;
	// NoExecute also removes apps already placed there.
	// +optional
	Taints []corev1.Taint `json:"taints,omitempty"`

	// Access says how the hub reaches this cluster.
	// +optional
	Access ClusterAccess `json:"access,omitempty"`

	// UpdateWindows are the periods in which a new revision of any app may
	// start on this cluster. Outside them the cluster keeps what it runs
	// (still drift-corrected) and is reported as deferred. No windows: any
	// time.
	// +optional
	UpdateWindows []UpdateWindow `json:"updateWindows,omitempty"`

	// PruneOnRemoval, when true, deletes everything Flotilla applied to this
	// cluster when it leaves the fleet: its cluster file is removed from Git or
	// its FleetRepository is deleted. By default the
	// objects are left in place and the cluster is simply no longer managed.
	// +optional
	PruneOnRemoval bool `json:"pruneOnRemoval,omitempty"`
}

// ClusterCapacity is what a cluster's nodes offer, per resource (cpu,
// memory, nvidia.com/gpu and any extended resource).
type ClusterCapacity struct {
	// Nodes is the number of nodes.
	Nodes int32 `json:"nodes"`
	// CPU is the sum of allocatable CPU.
	// +optional
	CPU *resource.Quantity `json:"cpu,omitempty"`
	// Memory is the sum of allocatable memory.
	// +optional
	Memory *resource.Quantity `json:"memory,omitempty"`
	// GPU is the sum of allocatable nvidia.com/gpu.
	// +optional
	GPU *resource.Quantity `json:"gpu,omitempty"`
	// Allocatable is the sum of the ready, schedulable nodes' allocatable
	// amounts, per resource.
	// +optional
	Allocatable corev1.ResourceList `json:"allocatable,omitempty"`
	// Available is Allocatable minus what the cluster's running and
	// pending pods request, per resource, never below zero.
	// +optional
	Available corev1.ResourceList `json:"available,omitempty"`
	// ObservedTime is when the figures were taken.
	// +optional
	ObservedTime *metav1.Time `json:"observedTime,omitempty"`
}

// TaintUnreachable is the NoExecute taint the hub sets on a cluster that
// has been unreachable (or not ready) for longer than the grace period. Apps
// that opt into failover leave the cluster after their tolerationSeconds
// for it; other apps stay.
const TaintUnreachable = "flotilla.dev/unreachable"

// ClusterHold is a hold a site set on itself.
type ClusterHold struct {
	// Since is when the hub first saw the hold.
	Since metav1.Time `json:"since"`
	// Reason is the hold's message (the ConfigMap's data.reason), if any.
	// +optional
	Reason string `json:"reason,omitempty"`
}

// ClusterStatus is what the hub observes about a cluster.
type ClusterStatus struct {
	// ObservedGeneration is the generation last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready, Reachable.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// LastHeartbeatTime is the last time the cluster answered.
	// +optional
	LastHeartbeatTime *metav1.Time `json:"lastHeartbeatTime,omitempty"`
	// KubernetesVersion is the server version the cluster reports.
	// +optional
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	// Capacity is the allocatable capacity of the cluster's nodes.
	// +optional
	Capacity *ClusterCapacity `json:"capacity,omitempty"`
	// Taints are the taints the hub sets on the cluster itself, added to
	// spec.taints for placement: flotilla.dev/unreachable (NoExecute) once
	// the cluster has been unreachable or not ready for the grace period,
	// with the time it was added.
	// +optional
	Taints []corev1.Taint `json:"taints,omitempty"`
	// Hold is set while the site holds new revisions (the ConfigMap
	// flotilla-hold in namespace flotilla-system on the cluster, read with
	// each heartbeat).
	// +optional
	Hold *ClusterHold `json:"hold,omitempty"`
	// AppsTotal is the number of apps placed on this cluster.
	// +optional
	AppsTotal int32 `json:"appsTotal,omitempty"`
	// AppsReady is the number of those apps that are synced and healthy.
	// +optional
	AppsReady int32 `json:"appsReady,omitempty"`
	// Apps is a summary such as "5/6" for printing.
	// +optional
	Apps string `json:"apps,omitempty"`
	// GPU is the nvidia.com/gpu figures for printing: "available/allocatable",
	// such as "2/8".
	// +optional
	GPU string `json:"gpu,omitempty"`
}

// Cluster is one member cluster of the fleet: declared in Git as
// clusters/<name>.yaml and mirrored on the hub with its observed status.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=fcl;fclusters,categories=flotilla
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.access.mode`
// +kubebuilder:printcolumn:name="Reachable",type=string,JSONPath=`.status.conditions[?(@.type=="Reachable")].status`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Suspended",type=string,JSONPath=`.metadata.annotations.flotilla\.dev/suspended`
// +kubebuilder:printcolumn:name="Apps",type=string,JSONPath=`.status.apps`
// +kubebuilder:printcolumn:name="Nodes",type=integer,JSONPath=`.status.capacity.nodes`
// +kubebuilder:printcolumn:name="GPU",type=string,JSONPath=`.status.gpu`,description="nvidia.com/gpu available/allocatable"
// +kubebuilder:printcolumn:name="CPU-Avail",type=string,JSONPath=`.status.capacity.available.cpu`
// +kubebuilder:printcolumn:name="Mem-Avail",type=string,JSONPath=`.status.capacity.available.memory`
// +kubebuilder:printcolumn:name="Heartbeat",type=date,JSONPath=`.status.lastHeartbeatTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Cluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the cluster as declared in Git.
	Spec ClusterSpec `json:"spec,omitempty"`
	// Status is what the hub observes.
	// +optional
	Status ClusterStatus `json:"status,omitempty"`
}

// ClusterList is a list of Clusters.
//
// +kubebuilder:object:root=true
type ClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the clusters.
	Items []Cluster `json:"items"`
}

func init() {
	register(&Cluster{}, &ClusterList{})
}
