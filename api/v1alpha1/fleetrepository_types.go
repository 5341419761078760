package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GitRef selects what to sync from the repository; at most one of Tag and
// Commit is set, and Branch defaults to "main".
type GitRef struct {
	// Branch to follow. Defaults to main.
	// +optional
	Branch string `json:"branch,omitempty"`
	// Tag to sync; takes precedence over Branch.
	// +optional
	Tag string `json:"tag,omitempty"`
	// Commit SHA to sync; takes precedence over Tag and Branch.
	// +optional
	Commit string `json:"commit,omitempty"`
}

// GitAuthor is the identity status commits are made with.
type GitAuthor struct {
	// Name of the author. Defaults to "Flotilla".
	// +optional
	Name string `json:"name,omitempty"`
	// Email of the author. Defaults to "flotilla@flotilla.dev".
	// +optional
	Email string `json:"email,omitempty"`
}

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// Name of the object.
	Name string `json:"name"`
}

// FleetRepositorySpec points the hub at a fleet repository.
type FleetRepositorySpec struct {
	// URL of the Git repository: https://, http:// or ssh://.
	// +kubebuilder:validation:Pattern="^(https?|ssh)://.*$"
	URL string `json:"url"`

	// Ref selects the branch, tag or commit to sync.
	// +optional
	Ref GitRef `json:"ref,omitempty"`

	// Path is the fleet repository's root inside the Git repository.
	// Defaults to the repository root.
	// +optional
	Path string `json:"path,omitempty"`

	// Interval between fetches. Defaults to 1m.
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`

	// Timeout for one fetch. Defaults to 60s.
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// DriftInterval is how often applied objects are compared with the
	// cluster and corrected when changed by hand. Defaults to 10m.
	// +optional
	DriftInterval *metav1.Duration `json:"driftInterval,omitempty"`

	// SecretRef names a Secret with Git credentials: keys username and
	// password (HTTPS basic auth), bearerToken (HTTPS), or identity and
	// known_hosts (SSH; host keys are always verified).
	// +optional
	SecretRef *LocalObjectReference `json:"secretRef,omitempty"`

	// WebhookSecretRef names a Secret whose key "token" authenticates push
	// webhooks for this repository.
	// +optional
	WebhookSecretRef *LocalObjectReference `json:"webhookSecretRef,omitempty"`

	// StatusBranch is the branch sync status is committed to.
	// Defaults to flotilla-status. Set to "-" to disable status commits.
	// +optional
	StatusBranch string `json:"statusBranch,omitempty"`

	// StatusInterval is the least time between two status commits.
	// Defaults to 30s.
	// +optional
	StatusInterval *metav1.Duration `json:"statusInterval,omitempty"`

	// StatusAuthor is the author of status commits.
	// +optional
	StatusAuthor *GitAuthor `json:"statusAuthor,omitempty"`

	// Suspend stops fetching and syncing: no new revision is applied and no
	// drift is corrected on any cluster the repository covers, push or
	// pull; nothing is pruned. The Ready condition keeps its status; the
	// Suspended condition is True while suspended.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// FleetRepositoryStatus is the observed state of a fleet repository.
type FleetRepositoryStatus struct {
	// ObservedGeneration is the generation last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready, Reconciling, Stalled, Suspended.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Revision is the last fetched revision, as "<branch>@sha1:<sha>".
	// +optional
	Revision string `json:"revision,omitempty"`
	// LastFetchTime is when the repository was last fetched.
	// +optional
	LastFetchTime *metav1.Time `json:"lastFetchTime,omitempty"`
	// Clusters is the number of clusters the revision declares.
	// +optional
	Clusters int32 `json:"clusters,omitempty"`
	// Apps is the number of apps the revision declares.
	// +optional
	Apps int32 `json:"apps,omitempty"`
	// Targets is the number of (app, cluster) pairs placement chose.
	// +optional
	Targets int32 `json:"targets,omitempty"`
	// LastHandledReconcileAt records the last manual reconcile request.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`
}

// FleetRepository points the hub at a Git repository that declares a fleet.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=frepo;frepos,categories=flotilla
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.spec.url`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.status.revision`
// +kubebuilder:printcolumn:name="Clusters",type=integer,JSONPath=`.status.clusters`
// +kubebuilder:printcolumn:name="Apps",type=integer,JSONPath=`.status.apps`
// +kubebuilder:printcolumn:name="Suspended",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type FleetRepository struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says where the fleet repository is.
	Spec FleetRepositorySpec `json:"spec,omitempty"`
	// Status is what the hub observed.
	// +optional
	Status FleetRepositoryStatus `json:"status,omitempty"`
}

// FleetRepositoryList is a list of FleetRepositories.
//
// +kubebuilder:object:root=true
type FleetRepositoryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the repositories.
	Items []FleetRepository `json:"items"`
}

func init() {
	register(&FleetRepository{}, &FleetRepositoryList{})
}
