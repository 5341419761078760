package apply

import (
	"fmt"
	"strings"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// The helpers below read and summarize a ClusterSyncStatus; the hub's
// ClusterSync reconciler and the pull-mode agent (whose Bundle status embeds
// the same record) share them.

// DriftDue returns how long until the next drift check of a sync whose
// status is st and whose drift interval is interval, or 0 when it is due.
// The last drift check counts, else the last apply; with neither it is due.
func DriftDue(st *flotillav1.ClusterSyncStatus, interval time.Duration) time.Duration {
	last := st.LastDriftCheckTime
	if last == nil {
		last = st.LastAppliedTime
	}
	if last == nil {
		return 0
	}
	if d := time.Until(last.Add(interval)); d > 0 {
		return d
	}
	return 0
}

// HealthWaitStart returns when the objects were last written to the
// cluster, which is when their health timeout starts: the last apply, or the
// last drift correction when it came later (it recreated or changed objects
// that may need time to become ready again). Nil when nothing was applied.
func HealthWaitStart(st *flotillav1.ClusterSyncStatus) *metav1.Time {
	start := st.LastAppliedTime
	if corrected := st.LastDriftCheckTime; len(st.DriftedObjects) > 0 && corrected != nil &&
		(start == nil || corrected.After(start.Time)) {
		start = corrected
	}
	return start
}

// maxListedChanges bounds how many changes Summary names.
const maxListedChanges = 5

// Summary describes what the sync changed in one line, for events and
// logs: "no changes", or the count followed by the first few changes.
func (r *Result) Summary() string {
	if r == nil || r.ChangeSet == nil {
		return "no changes"
	}
	var parts []string
	for _, e := range r.ChangeSet.Entries {
		if string(e.Action) != "unchanged" {
			parts = append(parts, e.String())
		}
	}
	if len(r.Pruned) > 0 {
		parts = append(parts, "pruned "+strings.Join(r.Pruned, ", "))
	}
	if len(r.Released) > 0 {
		parts = append(parts, "released "+strings.Join(r.Released, ", "))
	}
	if len(parts) == 0 {
		return "no changes"
	}
	heading := fmt.Sprintf("%d change(s)", len(parts))
	if len(parts) > maxListedChanges {
		parts = append(parts[:maxListedChanges:maxListedChanges], fmt.Sprintf("and %d more", len(parts)-maxListedChanges))
	}
	return heading + ": " + strings.Join(parts, "; ")
}

// MarkSynced records in st, whose conditions obj holds, that the cluster
// runs revision and that it is healthy: Ready and Healthy at obj's
// generation, nothing in progress, no error.
func MarkSynced(obj conditions.Setter, st *flotillav1.ClusterSyncStatus, revision string) {
	st.AppliedRevision = revision
	st.LastReadyRevision = revision
	st.WaitingFor = ""
	st.LastError = ""
	conditions.MarkTrue(obj, flotillav1.HealthyCondition, meta.SucceededReason, "all %d objects are ready", len(st.Inventory))
	conditions.MarkTrue(obj, meta.ReadyCondition, flotillav1.ReasonSynced, "revision %s applied and healthy", revision)
	conditions.Delete(obj, meta.ReconcilingCondition)
	conditions.Delete(obj, meta.StalledCondition)
}
