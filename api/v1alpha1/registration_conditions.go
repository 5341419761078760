package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Condition types of a ClusterRegistration.
const (
	// ApprovedCondition says whether the registration may obtain an
	// identity: True (approved), False (refused) or Unknown (waiting for a
	// person).
	ApprovedCondition = "Approved"
	// IssuedCondition is True once the credential is sealed in the status.
	IssuedCondition = "Issued"
	// RevokedCondition is True once the identity the registration obtained
	// was revoked; a revoked registration never obtains one again.
	RevokedCondition = "Revoked"
)

// Reasons of the ClusterRegistration conditions.
const (
	// ReasonClusterDeclaredPull: approved automatically, the cluster is
	// declared in Git with access.mode Pull and has no agent identity yet.
	ReasonClusterDeclaredPull = "ClusterDeclaredPull"
	// ReasonApprovedByUser: a person approved it (flotilla.dev/approved).
	ReasonApprovedByUser = "ApprovedByUser"
	// ReasonAwaitingApproval: a person must approve it.
	ReasonAwaitingApproval = "AwaitingApproval"
	// ReasonClusterNotDeclared: no Cluster of that name in the namespace.
	ReasonClusterNotDeclared = "ClusterNotDeclared"
	// ReasonPushCluster: the cluster is declared with access.mode Push; an
	// agent may not register for it.
	ReasonPushCluster = "PushCluster"
	// ReasonInvalidRegistration: the registration's spec is unusable.
	ReasonInvalidRegistration = "InvalidRegistration"
	// ReasonIssued: the credential is sealed in the status.
	ReasonIssued = "Issued"
	// ReasonRevokedByUser: a person revoked the identity.
	ReasonRevokedByUser = "RevokedByUser"
	// ReasonSuperseded: a newer registration of the same cluster was
	// approved, which replaced the identity.
	ReasonSuperseded = "Superseded"
	// ReasonClusterRemoved: the cluster left the fleet, and its agent
	// namespace with it.
	ReasonClusterRemoved = "ClusterRemoved"
)

// GetConditions returns the registration's status conditions.
func (in *ClusterRegistration) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the registration's status conditions.
func (in *ClusterRegistration) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }
