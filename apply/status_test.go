package apply

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/ssa"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// TestSummaryListsFirstChanges checks the one-line change summary shared
// by the hub and the agent: unchanged objects are left out and at most five
// changes are named.
func TestSummaryListsFirstChanges(t *testing.T) {
	if got := (&Result{ChangeSet: ssa.NewChangeSet()}).Summary(); got != "no changes" {
		t.Fatalf("empty: %q", got)
	}
	cs := ssa.NewChangeSet()
	cs.Add(ssa.ChangeSetEntry{Subject: "ConfigMap/a/same", Action: ssa.UnchangedAction})
	for i := range 6 {
		cs.Add(ssa.ChangeSetEntry{Subject: fmt.Sprintf("ConfigMap/a/c%d", i), Action: ssa.CreatedAction})
	}
	got := (&Result{ChangeSet: cs, Pruned: []string{"ConfigMap/a/old"}}).Summary()
	if !strings.HasPrefix(got, "7 change(s): ") || !strings.HasSuffix(got, "and 2 more") || strings.Contains(got, "same") {
		t.Fatalf("summary: %q", got)
	}
}

// TestDriftDue checks when the next drift check is due: after the last
// check, else after the last apply, at once with neither.
func TestDriftDue(t *testing.T) {
	if d := DriftDue(&flotillav1.ClusterSyncStatus{}, time.Minute); d != 0 {
		t.Fatalf("never applied: due in %s", d)
	}
	applied := metav1.NewTime(time.Now().Add(-50 * time.Second))
	if d := DriftDue(&flotillav1.ClusterSyncStatus{LastAppliedTime: &applied}, time.Minute); d <= 0 || d > 10*time.Second {
		t.Fatalf("applied 50s ago, interval 1m: due in %s", d)
	}
	checked := metav1.NewTime(time.Now().Add(-2 * time.Minute))
	if d := DriftDue(&flotillav1.ClusterSyncStatus{LastAppliedTime: &applied, LastDriftCheckTime: &checked}, time.Minute); d != 0 {
		t.Fatalf("checked 2m ago, interval 1m: due in %s", d)
	}
}
