package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// RolloutSpec controls how a new revision of an app reaches its clusters:
// stage by stage, a bounded number of sites at a time, with bake times,
// approvals and a policy for failures. Without it every cluster moves to a
// new revision at once.
type RolloutSpec struct {
	// Canary names clusters that form a first stage of their own, before
	// the stages listed in Stages.
	// +optional
	Canary []string `json:"canary,omitempty"`
	// Stages are the rollout's stages, in order. Each selects, among the
	// clusters the app is placed on, the clusters not taken by an earlier
	// stage. Clusters in no stage form an implicit last stage, "rest".
	// +optional
	Stages []RolloutStage `json:"stages,omitempty"`
	// MaxUnavailable is the default of each stage's maxUnavailable: how
	// many of a stage's sites may be between "apply started" and "Ready" at
	// once, as a count or a percentage of the stage. Defaults to 1.
	// +optional
	// +kubebuilder:validation:XIntOrString
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
	// OnFailure says what happens when a site fails (its apply fails, or it
	// is not Ready within the app's healthTimeout): Halt stops the rollout
	// where it is; Rollback also returns each failed site to the last
	// revision that was Ready there. Defaults to Halt.
	// +optional
	// +kubebuilder:validation:Enum=Halt;Rollback
	OnFailure RolloutFailurePolicy `json:"onFailure,omitempty"`
}

// RolloutFailurePolicy is what a rollout does when a site fails.
type RolloutFailurePolicy string

const (
	// RolloutHalt stops the rollout; failed sites keep the new revision.
	RolloutHalt RolloutFailurePolicy = "Halt"
	// RolloutRollback stops the rollout and returns failed sites to their
	// last Ready revision.
	RolloutRollback RolloutFailurePolicy = "Rollback"
)

// RolloutStage is one step of a rollout.
type RolloutStage struct {
	// Name of the stage, unique within the app.
	Name string `json:"name"`
	// ClusterSelector selects clusters by their labels.
	// +optional
	ClusterSelector *metav1.LabelSelector `json:"clusterSelector,omitempty"`
	// ClusterNames selects clusters by name, in addition to the selector.
	// +optional
	ClusterNames []string `json:"clusterNames,omitempty"`
	// MaxUnavailable caps how many of this stage's sites may be between
	// "apply started" and "Ready" at once: a count, or a percentage of the
	// stage (rounded down, at least 1). Defaults to the rollout's.
	// +optional
	// +kubebuilder:validation:XIntOrString
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
	// Pause is a bake time: once every site of the stage is Ready, the
	// rollout waits this long before the next stage.
	// +optional
	Pause *metav1.Duration `json:"pause,omitempty"`
	// Approval makes the rollout wait, once the stage is Ready, until a
	// person approves (`flotilla rollout approve`, or the App annotation
	// flotilla.dev/approve).
	// +optional
	Approval bool `json:"approval,omitempty"`
}

// UpdateWindow is a recurring period in which a cluster accepts a new
// revision. Either Days and Start, or Schedule, says when it opens.
type UpdateWindow struct {
	// Days are the weekdays the window opens on (Mon, Tue, ... Sun).
	// Empty with Start set: every day.
	// +optional
	Days []string `json:"days,omitempty"`
	// Start is the opening time of day, "HH:MM" (24 h), in TimeZone.
	// +optional
	Start string `json:"start,omitempty"`
	// Schedule is a five-field cron expression for the opening times,
	// instead of Days and Start.
	// +optional
	Schedule string `json:"schedule,omitempty"`
	// Duration is how long the window stays open.
	Duration metav1.Duration `json:"duration"`
	// TimeZone is an IANA time zone name. Defaults to UTC.
	// +optional
	TimeZone string `json:"timeZone,omitempty"`
}

// RolloutPhase is where an app's rollout stands.
// +kubebuilder:validation:Enum=Progressing;Paused;WaitingForApproval;Halted;RolledBack;Aborted;Complete
type RolloutPhase string

// Rollout phases.
const (
	// RolloutProgressing: sites of the current stage are being updated.
	RolloutProgressing RolloutPhase = "Progressing"
	// RolloutPaused: the stage is Ready and its bake time runs.
	RolloutPaused RolloutPhase = "Paused"
	// RolloutWaitingForApproval: the stage is Ready and waits for a person.
	RolloutWaitingForApproval RolloutPhase = "WaitingForApproval"
	// RolloutHalted: a site failed; nothing more is released until a new
	// commit or a resume.
	RolloutHalted RolloutPhase = "Halted"
	// RolloutRolledBack: a site failed and failed sites returned to their
	// last Ready revision.
	RolloutRolledBack RolloutPhase = "RolledBack"
	// RolloutAborted: a person aborted the rollout; sites that had the new
	// revision returned to their last Ready revision.
	RolloutAborted RolloutPhase = "Aborted"
	// RolloutComplete: every stage is done.
	RolloutComplete RolloutPhase = "Complete"
)

// RolloutStatus is the persisted state of an app's rollout: enough for a
// restarted controller to continue where the last one stopped.
type RolloutStatus struct {
	// Revision is the revision being rolled out.
	Revision string `json:"revision"`
	// Stage is the index of the current stage (len(stages) when complete).
	Stage int32 `json:"stage"`
	// StageName is the current stage's name, for printing.
	// +optional
	StageName string `json:"stageName,omitempty"`
	// Phase is where the rollout stands.
	Phase RolloutPhase `json:"phase"`
	// StageReadyTime is when the current stage became Ready (its pause
	// counts from then).
	// +optional
	StageReadyTime *metav1.Time `json:"stageReadyTime,omitempty"`
	// ApprovedStages counts the stages whose approval gate was passed.
	// +optional
	ApprovedStages int32 `json:"approvedStages,omitempty"`
	// StartTime is when this revision's rollout began.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// Updated is the number of sites Ready at Revision.
	// +optional
	Updated int32 `json:"updated"`
	// Total is the number of sites the app is placed on.
	// +optional
	Total int32 `json:"total"`
	// Progress is "updated/total" for printing.
	// +optional
	Progress string `json:"progress,omitempty"`
	// Stages summarises each stage.
	// +optional
	Stages []RolloutStageStatus `json:"stages,omitempty"`
	// Message says what the rollout waits for, or why it stopped.
	// +optional
	Message string `json:"message,omitempty"`
	// LastHandledApprove, LastHandledResume and LastHandledAbort are the
	// values of the App's flotilla.dev/rollout-approve, -resume and -abort
	// annotations last acted on: a command is a new value.
	// +optional
	LastHandledApprove string `json:"lastHandledApprove,omitempty"`
	// +optional
	LastHandledResume string `json:"lastHandledResume,omitempty"`
	// +optional
	LastHandledAbort string `json:"lastHandledAbort,omitempty"`
}

// RolloutStageStatus summarises one stage of a rollout.
type RolloutStageStatus struct {
	// Name of the stage.
	Name string `json:"name"`
	// Sites is the number of sites in the stage.
	Sites int32 `json:"sites"`
	// Updated is how many of them are Ready at the rollout's revision.
	Updated int32 `json:"updated"`
	// Deferred lists sites that are held or outside their update windows.
	// +optional
	Deferred []string `json:"deferred,omitempty"`
	// Failed lists sites that failed at the rollout's revision.
	// +optional
	Failed []string `json:"failed,omitempty"`
}

// SyncRollout is what an app's rollout released to one site.
type SyncRollout struct {
	// Revision is the revision this site may run. Empty: nothing released
	// yet (a site new to the app waits for its stage).
	// +optional
	Revision string `json:"revision,omitempty"`
	// Stage is the name of the site's rollout stage.
	// +optional
	Stage string `json:"stage,omitempty"`
}
