package v1alpha1

import (
	"crypto/sha256"
	"encoding/hex"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Pull-mode agents (spec.access.mode: Pull) never give the hub a kubeconfig.
// Each pull cluster has its own namespace on the hub (AgentNamespace), where
// the hub writes the cluster's desired state (Bundles, BundleChunks) and the
// agent, with an identity that may read and write nothing else, reports its
// heartbeat (Agent) and each app's status (Bundle status).

// Names of the objects in an agent namespace.
const (
	// AgentObjectName is the name of the Agent object, the agent's
	// ServiceAccount and its Role and RoleBinding in the agent namespace.
	AgentObjectName = "agent"
	// LabelAgentCluster marks an agent namespace with its cluster's name.
	LabelAgentCluster = "flotilla.dev/agent-cluster"
	// LabelAgentFleetNamespace marks an agent namespace with the namespace of
	// the FleetRepository its cluster belongs to.
	LabelAgentFleetNamespace = "flotilla.dev/agent-fleet-namespace"
	// BootstrapServiceAccount is the ServiceAccount, in the fleet namespace,
	// whose short-lived tokens agents register with: it may only create and
	// read ClusterRegistrations.
	BootstrapServiceAccount = "flotilla-bootstrap"
)

// AgentNamespace returns the hub namespace of a pull cluster: "flotilla-"
// followed by the fleet namespace and the cluster's name, shortened with a
// hash when longer than a namespace name may be.
func AgentNamespace(fleetNamespace, cluster string) string {
	name := "flotilla-" + fleetNamespace + "-" + cluster
	if len(name) <= 63 {
		return name
	}
	sum := sha256.Sum256([]byte(fleetNamespace + "/" + cluster))
	return name[:52] + "-" + hex.EncodeToString(sum[:])[:10]
}

// ClusterRegistrationSpec is what an agent sends, with the bootstrap
// credential, to obtain its own identity.
type ClusterRegistrationSpec struct {
	// ClusterName is the cluster the agent runs in, as named in Git
	// (clusters/<name>.yaml).
	ClusterName string `json:"clusterName"`
	// PublicKey is the agent's X25519 public key (32 bytes). The hub seals
	// the issued credential to it, so only this agent can read it.
	PublicKey []byte `json:"publicKey"`
	// AgentVersion is the agent's version, for information.
	// +optional
	AgentVersion string `json:"agentVersion,omitempty"`
}

// SealedCredential is a credential encrypted to the agent's public key.
type SealedCredential struct {
	// EphemeralPublicKey is the hub's one-time X25519 public key.
	EphemeralPublicKey []byte `json:"ephemeralPublicKey"`
	// Nonce is the AES-GCM nonce.
	Nonce []byte `json:"nonce"`
	// Ciphertext is the AES-256-GCM sealed token.
	Ciphertext []byte `json:"ciphertext"`
}

// ClusterRegistrationStatus is the hub's answer.
type ClusterRegistrationStatus struct {
	// Conditions: Approved (by the cluster being declared in Git with mode
	// Pull, or by a person), Issued (the credential is sealed below),
	// Revoked.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Namespace is the cluster's agent namespace on the hub.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// ServiceAccount is the identity issued, in Namespace.
	// +optional
	ServiceAccount string `json:"serviceAccount,omitempty"`
	// Credential is the issued token, sealed to spec.publicKey: it is
	// ciphertext, never the token itself.
	// +optional
	Credential *SealedCredential `json:"credential,omitempty"`
	// ExpirationTime is when the issued token expires unless the agent
	// renews it (it renews its own token long before).
	// +optional
	ExpirationTime *metav1.Time `json:"expirationTime,omitempty"`
}

// ClusterRegistration is an agent's request for its own identity, created
// with the bootstrap credential in the fleet namespace.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=freg;fregs,categories=flotilla
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterName`
// +kubebuilder:printcolumn:name="Approved",type=string,JSONPath=`.status.conditions[?(@.type=="Approved")].status`
// +kubebuilder:printcolumn:name="Issued",type=string,JSONPath=`.status.conditions[?(@.type=="Issued")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterRegistration struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the agent's request.
	Spec ClusterRegistrationSpec `json:"spec,omitempty"`
	// Status is the hub's answer.
	// +optional
	Status ClusterRegistrationStatus `json:"status,omitempty"`
}

// ClusterRegistrationList is a list of ClusterRegistrations.
//
// +kubebuilder:object:root=true
type ClusterRegistrationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the registrations.
	Items []ClusterRegistration `json:"items"`
}

// AgentStatus is the heartbeat an agent writes about its cluster.
type AgentStatus struct {
	// LastHeartbeatTime is when the agent last reported.
	// +optional
	LastHeartbeatTime *metav1.Time `json:"lastHeartbeatTime,omitempty"`
	// AgentVersion is the agent's version.
	// +optional
	AgentVersion string `json:"agentVersion,omitempty"`
	// KubernetesVersion is the member cluster's server version.
	// +optional
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	// Capacity is the member cluster's capacity.
	// +optional
	Capacity *ClusterCapacity `json:"capacity,omitempty"`
	// Hold is set while the site holds new revisions.
	// +optional
	Hold *ClusterHold `json:"hold,omitempty"`
	// Conditions reported by the agent (Ready: it reaches the hub and its
	// cluster).
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Agent is the heartbeat object of one pull cluster, named "agent" in its
// agent namespace; only the agent writes its status.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=flotilla
// +kubebuilder:printcolumn:name="Heartbeat",type=date,JSONPath=`.status.lastHeartbeatTime`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.agentVersion`
type Agent struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Status is what the agent reports.
	// +optional
	Status AgentStatus `json:"status,omitempty"`
}

// AgentList is a list of Agents.
//
// +kubebuilder:object:root=true
type AgentList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the agents.
	Items []Agent `json:"items"`
}

// BundleDeletion says what the agent does with a bundle's objects when the
// hub asks it to remove the bundle.
// +kubebuilder:validation:Enum=Prune;Orphan
type BundleDeletion string

const (
	// BundleDeletionPrune deletes what the bundle applied.
	BundleDeletionPrune BundleDeletion = "Prune"
	// BundleDeletionOrphan leaves the objects in place, unmanaged.
	BundleDeletionOrphan BundleDeletion = "Orphan"
)

// BundleSpec is one app's desired state for one pull cluster, rendered by
// the hub (the same pipeline as push mode) and gated by the same rollout,
// hold and update-window rules.
type BundleSpec struct {
	// App is the app's name.
	App string `json:"app"`
	// Cluster is the cluster's name.
	Cluster string `json:"cluster"`
	// Repository is the name of the FleetRepository the app comes from (in
	// the fleet namespace): with it the agent labels the objects it applies
	// exactly as the hub labels a push cluster's objects.
	// +optional
	Repository string `json:"repository,omitempty"`
	// Revision is the Git revision the content was rendered from.
	Revision string `json:"revision"`
	// Digest is "sha256:<hex>" of the uncompressed content; the agent
	// refuses content that does not match it.
	Digest string `json:"digest"`
	// Namespace is the app's target namespace.
	Namespace string `json:"namespace"`
	// DependsOn lists the apps that must be Ready on this cluster first.
	// +optional
	DependsOn []string `json:"dependsOn,omitempty"`
	// Prune deletes objects the app no longer renders.
	// +optional
	Prune bool `json:"prune,omitempty"`
	// AdoptExisting takes over objects that exist without Flotilla's labels.
	// +optional
	AdoptExisting bool `json:"adoptExisting,omitempty"`
	// HealthTimeout is how long objects may take to become ready.
	// +optional
	HealthTimeout *metav1.Duration `json:"healthTimeout,omitempty"`
	// DriftInterval is how often the agent checks for drift.
	// +optional
	DriftInterval *metav1.Duration `json:"driftInterval,omitempty"`
	// Content is the gzip-compressed YAML stream of the objects, when it
	// fits in this object.
	// +optional
	Content []byte `json:"content,omitempty"`
	// Chunks name, in order, the BundleChunks whose data concatenated is
	// the compressed content, when it is too large for one object.
	// +optional
	Chunks []string `json:"chunks,omitempty"`
	// Deletion, when set, asks the agent to remove the bundle: prune or
	// orphan what it applied, then report status.removed.
	// +optional
	Deletion BundleDeletion `json:"deletion,omitempty"`
	// Suspend, set by the hub while the app, its cluster or its
	// FleetRepository is suspended, stops the agent's applies and drift
	// corrections; the hub leaves the rest of the spec as it was.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
	// ReconcileRequestedAt is passed on from a reconcile request on the hub
	// (see flotilla.dev/reconcile-requested-at): a new value makes the
	// agent check for drift now; status.lastHandledReconcileAt echoes it.
	// +optional
	ReconcileRequestedAt string `json:"reconcileRequestedAt,omitempty"`
}

// BundleStatus is what the agent reports for one bundle: the same record
// as a push-mode ClusterSync, copied there by the hub.
type BundleStatus struct {
	ClusterSyncStatus `json:",inline"`
	// ObservedDigest is the spec.digest the agent last acted on.
	// +optional
	ObservedDigest string `json:"observedDigest,omitempty"`
	// Removed is true once the agent acted on spec.deletion.
	// +optional
	Removed bool `json:"removed,omitempty"`
}

// Bundle is one app's desired state for one pull cluster, in the cluster's
// agent namespace on the hub.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=flotilla
// +kubebuilder:printcolumn:name="App",type=string,JSONPath=`.spec.app`
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.spec.revision`
// +kubebuilder:printcolumn:name="Applied",type=string,JSONPath=`.status.appliedRevision`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Bundle struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state.
	Spec BundleSpec `json:"spec,omitempty"`
	// Status is what the agent reports.
	// +optional
	Status BundleStatus `json:"status,omitempty"`
}

// BundleList is a list of Bundles.
//
// +kubebuilder:object:root=true
type BundleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the bundles.
	Items []Bundle `json:"items"`
}

// BundleChunk is an immutable, content-addressed piece of a large bundle's
// compressed content, named "chunk-" followed by the first 40 hex digits of
// its data's sha256.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=flotilla
type BundleChunk struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Data is up to 512 KiB of compressed content.
	Data []byte `json:"data"`
}

// BundleChunkList is a list of BundleChunks.
//
// +kubebuilder:object:root=true
type BundleChunkList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the chunks.
	Items []BundleChunk `json:"items"`
}

func init() {
	register(&ClusterRegistration{}, &ClusterRegistrationList{})
	register(&Agent{}, &AgentList{})
	register(&Bundle{}, &BundleList{})
	register(&BundleChunk{}, &BundleChunkList{})
}
