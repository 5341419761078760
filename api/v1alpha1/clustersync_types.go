package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClusterSyncSpec names the (app, cluster) pair that placement selected.
//
// The desired manifests are not part of the spec: the controller renders
// them from each fetched revision and keeps them in memory, so a commit
// costs one status write per ClusterSync, not a spec write and a status
// write. The status records what was applied (appliedRevision,
// appliedDigest); a sync has caught up with its repository when
// status.appliedRevision equals the FleetRepository's status.revision.
type ClusterSyncSpec struct {
	// App is the app's name.
	App string `json:"app"`
	// Cluster is the cluster's name.
	Cluster string `json:"cluster"`
	// DependsOn lists the apps that must be Ready on this cluster first.
	// +optional
	DependsOn []string `json:"dependsOn,omitempty"`
	// Rollout is set for apps with spec.rollout: the revision the app's
	// rollout released to this cluster. Without it the cluster follows the
	// repository's latest revision.
	// +optional
	Rollout *SyncRollout `json:"rollout,omitempty"`
}

// ObjectRef identifies one applied object in an inventory.
type ObjectRef struct {
	// ID is "<namespace>_<name>_<group>_<kind>", as in Flux inventories.
	ID string `json:"id"`
	// Version is the API version the object was applied with.
	Version string `json:"v"`
	// Adopted is true when the object existed before Flotilla applied it
	// and was taken over by opt-in (the flotilla.dev/adopt annotation or
	// the app's spec.adoptExisting). When the app stops rendering it, an
	// adopted object is released (Flotilla's labels and field ownership
	// are removed) instead of deleted.
	// +optional
	Adopted bool `json:"adopted,omitempty"`
}

// ClusterSyncStatus is the observed state of one app on one cluster.
type ClusterSyncStatus struct {
	// ObservedGeneration is the generation last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready, Healthy, Reconciling, Stalled.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// AppliedRevision is the newest Git revision whose render of this app
	// for this cluster is applied: a commit that renders the same manifests
	// advances it without calling the cluster.
	// +optional
	AppliedRevision string `json:"appliedRevision,omitempty"`
	// LastReadyRevision is the newest revision that was applied and Ready
	// here: what a rollback returns to.
	// +optional
	LastReadyRevision string `json:"lastReadyRevision,omitempty"`
	// AppliedDigest is the digest of the manifests last applied.
	// +optional
	AppliedDigest string `json:"appliedDigest,omitempty"`
	// LastAppliedTime is when the manifests were last applied.
	// +optional
	LastAppliedTime *metav1.Time `json:"lastAppliedTime,omitempty"`
	// LastDriftCheckTime is when drift was last checked.
	// +optional
	LastDriftCheckTime *metav1.Time `json:"lastDriftCheckTime,omitempty"`
	// DriftCorrections counts the drift corrections made so far.
	// +optional
	DriftCorrections int64 `json:"driftCorrections,omitempty"`
	// DriftedObjects lists the objects corrected at the last drift check.
	// +optional
	DriftedObjects []string `json:"driftedObjects,omitempty"`
	// WaitingFor names the dependency this sync waits for.
	// +optional
	WaitingFor string `json:"waitingFor,omitempty"`
	// LastError is the last error, if the last attempt failed.
	// +optional
	LastError string `json:"lastError,omitempty"`
	// Inventory lists the objects applied, for pruning.
	// +optional
	Inventory []ObjectRef `json:"inventory,omitempty"`
	// LastHandledReconcileAt is the reconcile request (the
	// flotilla.dev/reconcile-requested-at values of the sync's
	// FleetRepository, App, Cluster and itself) last acted on with a drift
	// check.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`
}

// ClusterSync records the sync of one app on one cluster.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=csync;csyncs,categories=flotilla
// +kubebuilder:printcolumn:name="App",type=string,JSONPath=`.spec.app`
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.cluster`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Healthy",type=string,JSONPath=`.status.conditions[?(@.type=="Healthy")].status`
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.status.appliedRevision`
// +kubebuilder:printcolumn:name="Drift",type=integer,JSONPath=`.status.driftCorrections`
// +kubebuilder:printcolumn:name="Suspended",type=string,JSONPath=`.status.conditions[?(@.type=="Suspended")].status`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterSync struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec names the pair and its desired state.
	Spec ClusterSyncSpec `json:"spec,omitempty"`
	// Status is the observed state.
	// +optional
	Status ClusterSyncStatus `json:"status,omitempty"`
}

// ClusterSyncList is a list of ClusterSyncs.
//
// +kubebuilder:object:root=true
type ClusterSyncList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the syncs.
	Items []ClusterSync `json:"items"`
}

func init() {
	register(&ClusterSync{}, &ClusterSyncList{})
}
