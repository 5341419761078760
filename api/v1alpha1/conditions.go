package v1alpha1

// Condition types used on Flotilla objects, alongside the shared Ready,
// Reconciling and Stalled types of github.com/fluxcd/pkg/apis/meta.
const (
	// ReachableCondition says whether the hub can reach a cluster.
	ReachableCondition = "Reachable"
	// HealthyCondition says whether an app's objects are ready on a cluster.
	HealthyCondition = "Healthy"
)

// Reasons used in Flotilla conditions.
const (
	// ReasonSynced: the desired state is applied and healthy.
	ReasonSynced = "Synced"
	// ReasonProgressing: an apply or a health wait is under way.
	ReasonProgressing = "Progressing"
	// ReasonFetchFailed: the Git repository could not be fetched.
	ReasonFetchFailed = "FetchFailed"
	// ReasonInvalidFleet: the fleet repository has a configuration error.
	ReasonInvalidFleet = "InvalidFleet"
	// ReasonRenderFailed: kustomize could not build the app.
	ReasonRenderFailed = "RenderFailed"
	// ReasonApplyFailed: server-side apply failed.
	ReasonApplyFailed = "ApplyFailed"
	// ReasonPruneFailed: pruning stale objects failed.
	ReasonPruneFailed = "PruneFailed"
	// ReasonHealthCheckFailed: objects did not become ready in time.
	ReasonHealthCheckFailed = "HealthCheckFailed"
	// ReasonDependencyNotReady: a dependsOn app is not Ready yet.
	ReasonDependencyNotReady = "DependencyNotReady"
	// ReasonClusterUnreachable: the cluster did not answer.
	ReasonClusterUnreachable = "ClusterUnreachable"
	// ReasonKubeconfigInvalid: the cluster's kubeconfig is missing or refused.
	ReasonKubeconfigInvalid = "KubeconfigInvalid"
	// ReasonClusterTLSFailed: the TLS connection to the cluster failed (its
	// certificate is not trusted, or it does not speak TLS): fix the
	// kubeconfig's certificate-authority-data or server.
	ReasonClusterTLSFailed = "ClusterTLSFailed"
	// ReasonClusterAuthFailed: the cluster refused the kubeconfig's
	// credentials: fix its token or client certificate.
	ReasonClusterAuthFailed = "ClusterAuthFailed"
	// ReasonReachable: the cluster answered its heartbeat.
	ReasonReachable = "Reachable"
	// ReasonPullMode: the cluster syncs itself through an agent.
	ReasonPullMode = "PullMode"
	// ReasonSuspended: syncing is suspended.
	ReasonSuspended = "Suspended"
	// ReasonDeferred: a new revision waits for the site's hold to be lifted
	// or its update window to open.
	ReasonDeferred = "Deferred"
	// ReasonRolloutWaiting: the app's rollout has not released a revision
	// to this cluster yet.
	ReasonRolloutWaiting = "RolloutWaiting"
	// ReasonAgentRevoked: the pull cluster's agent identity was revoked;
	// the hub sends it nothing until a new registration is approved.
	ReasonAgentRevoked = "AgentRevoked"
	// ReasonDriftCorrected: objects changed by hand were restored.
	ReasonDriftCorrected = "DriftCorrected"
)

// Labels and annotations Flotilla sets.
const (
	// LabelManagedBy marks objects Flotilla applied; value "flotilla".
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of LabelManagedBy.
	ManagedByValue = "flotilla"
	// LabelApp names the app an applied object belongs to.
	LabelApp = "flotilla.dev/app"
	// LabelCluster names the cluster a ClusterSync is for.
	LabelCluster = "flotilla.dev/cluster"
	// LabelRepository names the FleetRepository an object came from.
	LabelRepository = "flotilla.dev/repository"
	// LabelRepositoryNamespace names the FleetRepository's namespace.
	LabelRepositoryNamespace = "flotilla.dev/repository-namespace"
	// AnnotationRolloutApprove, set to a new value on an App, approves the
	// stage its rollout waits at (`flotilla rollout approve`).
	AnnotationRolloutApprove = "flotilla.dev/rollout-approve"
	// AnnotationRolloutResume, set to a new value on an App, resumes a
	// halted, rolled-back or aborted rollout, or ends a pause early.
	AnnotationRolloutResume = "flotilla.dev/rollout-resume"
	// AnnotationRolloutAbort, set to a new value on an App, aborts its
	// rollout.
	AnnotationRolloutAbort = "flotilla.dev/rollout-abort"
	// HoldNamespace and HoldConfigMap name the ConfigMap that, present on a
	// member cluster, holds new revisions there (a site hold).
	HoldNamespace = "flotilla-system"
	// HoldConfigMap is the name of the hold ConfigMap.
	HoldConfigMap = "flotilla-hold"
	// FieldManager is the server-side apply field manager.
	FieldManager = "flotilla"
	// AnnotationAdopt, set to "true" on an object in Git, lets the app take
	// over that object when it already exists on a cluster without Flotilla
	// owner labels. Flotilla does not apply the annotation itself.
	AnnotationAdopt = "flotilla.dev/adopt"
	// AnnotationApproved, set to "true" on a ClusterRegistration by a
	// person (`flotilla cluster approve`), approves it. The hub counts it
	// only once it has marked the registration pending: a registration
	// that arrives already annotated has the annotation removed.
	AnnotationApproved = "flotilla.dev/approved"
	// AnnotationAgentRevoked is set by the hub on a pull cluster's agent
	// namespace when its agent identity is revoked, and removed when a new
	// one is issued. While it is set the hub writes nothing there: a watch
	// the revoked agent opened before the revocation stays open until it
	// times out (the API server authorizes a watch when it starts), and it
	// must not carry new desired state.
	AnnotationAgentRevoked = "flotilla.dev/agent-revoked"
	// AnnotationPrune, set to PruneDisabled on an object in Git, keeps the
	// object on the cluster when the app stops rendering it (or is
	// removed): it is released (owner labels and field ownership removed)
	// instead of deleted. Flotilla applies the annotation, so that it is
	// still known once the object has left Git.
	AnnotationPrune = "flotilla.dev/prune"
	// PruneDisabled is the value of AnnotationPrune that disables pruning.
	PruneDisabled = "disabled"
	// AnnotationCreateOnly, set to "true" on an object in Git, makes
	// Flotilla create the object when it is missing and never update it
	// afterwards; drift detection ignores it. Flotilla applies the
	// annotation.
	AnnotationCreateOnly = "flotilla.dev/create-only"
	// AnnotationIgnoreFields, set on an object in Git to a comma-separated
	// list of JSON pointers (for example "/spec/replicas"), names fields
	// another controller owns: Flotilla sets them when it creates the
	// object, never sends them afterwards, and drift detection ignores
	// them. Flotilla applies the annotation.
	AnnotationIgnoreFields = "flotilla.dev/ignore-fields"
)
