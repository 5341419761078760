package rollout

import (
	"maps"
	"slices"
	"testing"
	"time"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

func fourStages() []Stage {
	return []Stage{
		{Name: "canary", Sites: []string{"dresden"}, MaxUnavailable: 1},
		{Name: "europe", Sites: []string{"lyon", "milan"}, MaxUnavailable: 1},
		{Name: "rest", Sites: []string{"austin", "hsinchu", "penang", "tokyo"}, MaxUnavailable: 1},
	}
}

func TestGoodRevisionReachesEveryStageInOrder(t *testing.T) {
	w := newWorld(fourStages(), "v1")
	w.run("v2", 100, flotillav1.RolloutComplete)
	if w.status.Phase != flotillav1.RolloutComplete {
		t.Fatalf("phase %s after 100 steps: %s", w.status.Phase, w.status.Message)
	}
	for name, s := range w.sites {
		if s.Applied != "v2" || !s.Ready {
			t.Errorf("site %s runs %s ready=%v; want v2 Ready", name, s.Applied, s.Ready)
		}
	}
	if w.status.Progress != "7/7" {
		t.Errorf("progress %q, want 7/7", w.status.Progress)
	}
	for stage, busy := range w.maxBusy {
		if busy > 1 {
			t.Errorf("stage %s had %d sites updating at once; maxUnavailable is 1", stage, busy)
		}
	}
}

func TestStagesStartOnlyAfterTheEarlierOnesAreReady(t *testing.T) {
	w := newWorld(fourStages(), "v1")
	for range 100 {
		w.step("v2", Commands{}, time.Second)
		canaryReady := w.sites["dresden"].Applied == "v2" && w.sites["dresden"].Ready
		for _, n := range []string{"lyon", "milan", "austin", "hsinchu", "penang", "tokyo"} {
			if w.sites[n].Released == "v2" && !canaryReady {
				t.Fatalf("%s got v2 before the canary was Ready", n)
			}
		}
		europeReady := w.sites["lyon"].Ready && w.sites["lyon"].Applied == "v2" && w.sites["milan"].Ready && w.sites["milan"].Applied == "v2"
		for _, n := range []string{"austin", "hsinchu", "penang", "tokyo"} {
			if w.sites[n].Released == "v2" && !europeReady {
				t.Fatalf("%s got v2 before europe was Ready", n)
			}
		}
		if w.status.Phase == flotillav1.RolloutComplete {
			return
		}
	}
	t.Fatal("rollout did not complete")
}

func TestFailingCanaryHaltsAndOthersKeepTheirRevision(t *testing.T) {
	w := newWorld(fourStages(), "v1")
	w.bad["v2"] = true
	w.run("v2", 50, flotillav1.RolloutHalted)
	if w.status.Phase != flotillav1.RolloutHalted {
		t.Fatalf("phase %s, want Halted", w.status.Phase)
	}
	// Keep stepping: a halted rollout releases nothing more.
	w.run("v2", 20)
	if got := slices.Sorted(maps.Keys(w.received["v2"])); !slices.Equal(got, []string{"dresden"}) {
		t.Fatalf("v2 reached %v; want only the canary", got)
	}
	for name, s := range w.sites {
		if name != "dresden" && (s.Applied != "v1" || s.Released != "v1") {
			t.Errorf("%s runs %s (released %s); want v1", name, s.Applied, s.Released)
		}
	}
	if s := w.sites["dresden"]; s.Applied != "v2" || !s.Failed {
		t.Errorf("halt must leave the canary on v2 (failed); got %+v", *s)
	}
	if !hasEvent(w.events, "RolloutHalted") {
		t.Error("no RolloutHalted event")
	}
}

func TestRollbackReturnsFailedSitesToTheirLastReadyRevision(t *testing.T) {
	w := newWorld(fourStages(), "v1")
	w.policy = flotillav1.RolloutRollback
	w.bad["v2"] = true
	w.run("v2", 50, flotillav1.RolloutRolledBack)
	if w.status.Phase != flotillav1.RolloutRolledBack {
		t.Fatalf("phase %s, want RolledBack", w.status.Phase)
	}
	w.run("v2", 10)
	if s := w.sites["dresden"]; s.Applied != "v1" || !s.Ready || s.Released != "v1" {
		t.Fatalf("canary after rollback: %+v; want v1 Ready", *s)
	}
	if got := slices.Sorted(maps.Keys(w.received["v2"])); !slices.Equal(got, []string{"dresden"}) {
		t.Fatalf("v2 reached %v; want only the canary", got)
	}
	if w.status.Phase != flotillav1.RolloutRolledBack {
		t.Fatalf("a rolled-back rollout must stay rolled back until a new revision; phase %s", w.status.Phase)
	}
}

func TestMaxUnavailableCapsEachStage(t *testing.T) {
	stages := []Stage{{Name: "all", Sites: []string{"a", "b", "c", "d", "e", "f"}, MaxUnavailable: 2}}
	w := newWorld(stages, "v1")
	w.settle = 3
	w.run("v2", 100, flotillav1.RolloutComplete)
	if w.status.Phase != flotillav1.RolloutComplete {
		t.Fatalf("phase %s", w.status.Phase)
	}
	if w.maxBusy["all"] != 2 {
		t.Fatalf("at most %d sites were updating at once; want exactly the cap, 2", w.maxBusy["all"])
	}
}

func TestPauseWaitsItsDuration(t *testing.T) {
	stages := fourStages()
	stages[0].Pause = 10 * time.Minute
	w := newWorld(stages, "v1")
	w.run("v2", 20, flotillav1.RolloutPaused)
	if w.status.Phase != flotillav1.RolloutPaused {
		t.Fatalf("phase %s, want Paused", w.status.Phase)
	}
	out := w.step("v2", Commands{}, 0)
	if out.RequeueAfter <= 0 || out.RequeueAfter > 10*time.Minute {
		t.Fatalf("RequeueAfter %s; want the rest of the pause", out.RequeueAfter)
	}
	w.now = w.now.Add(out.RequeueAfter - time.Second)
	w.step("v2", Commands{}, 0)
	if w.sites["lyon"].Released == "v2" {
		t.Fatal("europe started before the pause ended")
	}
	w.now = w.now.Add(time.Second)
	w.step("v2", Commands{}, 0)
	if w.sites["lyon"].Released != "v2" {
		t.Fatalf("europe did not start when the pause ended (phase %s)", w.status.Phase)
	}
}

func TestApprovalWaitsForAPerson(t *testing.T) {
	stages := fourStages()
	stages[0].Approval = true
	w := newWorld(stages, "v1")
	w.run("v2", 20, flotillav1.RolloutWaitingForApproval)
	if w.status.Phase != flotillav1.RolloutWaitingForApproval {
		t.Fatalf("phase %s, want WaitingForApproval", w.status.Phase)
	}
	w.now = w.now.Add(24 * time.Hour)
	w.run("v2", 5)
	if w.sites["lyon"].Released == "v2" {
		t.Fatal("europe started without approval")
	}
	w.step("v2", Commands{Approve: true}, time.Second)
	if w.sites["lyon"].Released != "v2" {
		t.Fatalf("europe did not start after approval (phase %s)", w.status.Phase)
	}
	// An approval is for the stage that waited, not for later ones.
	if w.status.ApprovedStages != 1 {
		t.Fatalf("approvedStages %d, want 1", w.status.ApprovedStages)
	}
}

func TestApproveWhileProgressingDoesNothing(t *testing.T) {
	stages := fourStages()
	stages[1].Approval = true
	w := newWorld(stages, "v1")
	w.step("v2", Commands{Approve: true}, time.Second)
	if w.status.ApprovedStages != 0 {
		t.Fatal("an approval given before a stage waits must not pre-approve it")
	}
}

func TestDeferredSiteBlocksOnlyTheFirstStage(t *testing.T) {
	w := newWorld(fourStages(), "v1")
	w.sites["dresden"].Deferred = "held: production run"
	w.run("v2", 20)
	if len(w.received["v2"]) != 0 || w.status.Phase != flotillav1.RolloutProgressing {
		t.Fatalf("a held canary must keep the rollout waiting; v2 reached %v, phase %s", w.received["v2"], w.status.Phase)
	}
	if got := w.status.Stages[0].Deferred; !slices.Equal(got, []string{"dresden"}) {
		t.Fatalf("stage deferred = %v", got)
	}
	w.sites["dresden"].Deferred = ""
	w.sites["milan"].Deferred = "outside update window"
	w.run("v2", 100, flotillav1.RolloutComplete)
	if w.status.Phase != flotillav1.RolloutComplete {
		t.Fatalf("a deferred site in a later stage must not block: phase %s (%s)", w.status.Phase, w.status.Message)
	}
	if s := w.sites["milan"]; s.Applied != "v1" {
		t.Fatalf("deferred milan runs %s; want v1", s.Applied)
	}
	w.sites["milan"].Deferred = ""
	w.run("v2", 10)
	if s := w.sites["milan"]; s.Applied != "v2" || !s.Ready {
		t.Fatalf("milan did not catch up once free: %+v", *s)
	}
}

func TestNewRevisionSupersedesAHaltedRollout(t *testing.T) {
	w := newWorld(fourStages(), "v1")
	w.bad["v2"] = true
	w.run("v2", 50, flotillav1.RolloutHalted)
	w.run("v3", 100, flotillav1.RolloutComplete)
	if w.status.Phase != flotillav1.RolloutComplete || w.status.Revision != "v3" {
		t.Fatalf("v3 rollout: phase %s revision %s", w.status.Phase, w.status.Revision)
	}
	if !hasEvent(w.events, "RolloutSuperseded") {
		t.Error("no RolloutSuperseded event")
	}
	for n, s := range w.sites {
		if s.Applied != "v3" || !s.Ready {
			t.Errorf("%s: %+v", n, *s)
		}
	}
}

func TestUpToDateSitesMoveAtOnce(t *testing.T) {
	w := newWorld(fourStages(), "v1")
	for _, n := range []string{"austin", "tokyo"} {
		w.sites[n].UpToDate = true
	}
	w.step("v2", Commands{}, time.Second)
	for _, n := range []string{"austin", "tokyo"} {
		if w.sites[n].Released != "v2" {
			t.Errorf("%s renders the same at v2 and must be released at once", n)
		}
	}
	if w.sites["lyon"].Released == "v2" {
		t.Error("lyon (changed) must wait for the canary")
	}
}

func TestAbortReturnsUnfinishedSites(t *testing.T) {
	stages := []Stage{{Name: "all", Sites: []string{"a", "b"}, MaxUnavailable: 2}}
	w := newWorld(stages, "v1")
	w.settle = 5
	w.step("v2", Commands{}, time.Second)
	w.step("v2", Commands{Abort: true}, time.Second)
	if w.status.Phase != flotillav1.RolloutAborted {
		t.Fatalf("phase %s", w.status.Phase)
	}
	w.run("v2", 10)
	for n, s := range w.sites {
		if s.Applied != "v1" || !s.Ready {
			t.Errorf("%s after abort: %+v; want v1 Ready", n, *s)
		}
	}
	w.step("v2", Commands{Resume: true}, time.Second)
	w.run("v2", 20, flotillav1.RolloutComplete)
	if w.status.Phase != flotillav1.RolloutComplete {
		t.Fatalf("resume after abort: phase %s", w.status.Phase)
	}
}

func TestStepIsDeterministicAndResumesFromStatus(t *testing.T) {
	w := newWorld(fourStages(), "v1")
	w.run("v2", 4)
	in := Input{Revision: "v2", Stages: w.stages, Sites: w.list(), Status: w.status, Now: w.now}
	a, b := Step(in), Step(in)
	if !equalOutputs(a, b) {
		t.Fatalf("two steps on the same input differ:\n%+v\n%+v", a, b)
	}
	// A restarted controller has only the persisted status and the sites:
	// it must not start over nor release beyond the cap.
	st := w.status.DeepCopy()
	restarted := Step(Input{Revision: "v2", Stages: w.stages, Sites: w.list(), Status: st, Now: w.now})
	if restarted.Status.Stage != w.status.Stage || hasEvent(restarted.Events, "RolloutStarted") {
		t.Fatalf("restart lost the stage: %d -> %d (events %v)", w.status.Stage, restarted.Status.Stage, restarted.Events)
	}
}

func equalOutputs(a, b Output) bool {
	return maps.Equal(a.Release, b.Release) && a.Status.Phase == b.Status.Phase && a.Status.Stage == b.Status.Stage &&
		a.Status.Message == b.Status.Message && len(a.Events) == len(b.Events) && a.RequeueAfter == b.RequeueAfter
}

func hasEvent(evs []Event, reason string) bool {
	for _, e := range evs {
		if e.Reason == reason {
			return true
		}
	}
	return false
}

func TestGatesApplyOnlyWhereTheRevisionChangesSomething(t *testing.T) {
	stages := fourStages()
	stages[0].Approval = true
	stages[1].Pause = time.Hour
	w := newWorld(stages, "v1")
	// The commit changes only austin (in "rest"): the canary and europe
	// render the same, so their gates have nothing to guard.
	for n, s := range w.sites {
		if n != "austin" {
			s.UpToDate = true
		}
	}
	w.run("v2", 20, flotillav1.RolloutComplete)
	if w.status.Phase != flotillav1.RolloutComplete {
		t.Fatalf("phase %s (%s); gates of unchanged stages must not hold the rollout", w.status.Phase, w.status.Message)
	}
	if s := w.sites["austin"]; s.Applied != "v2" || !s.Ready {
		t.Fatalf("austin: %+v", *s)
	}
	// The same gates hold when the stage does change.
	w2 := newWorld(stages, "v1")
	w2.run("v2", 20, flotillav1.RolloutWaitingForApproval)
	if w2.status.Phase != flotillav1.RolloutWaitingForApproval || !w2.status.Stages[0].Changed {
		t.Fatalf("a changed canary must wait for approval: phase %s", w2.status.Phase)
	}
}

// Once a rollback has returned a failed site to its last Ready revision,
// the site no longer runs the failed revision; the status must still say
// which site it failed on, for as long as the rollout stays rolled back.
func TestRolledBackStatusKeepsNamingTheFailedSites(t *testing.T) {
	w := newWorld(fourStages(), "v1")
	w.policy = flotillav1.RolloutRollback
	w.bad["v2"] = true
	w.run("v2", 50, flotillav1.RolloutRolledBack)
	w.run("v2", 10)
	if s := w.sites["dresden"]; s.Released != "v1" || !s.Ready {
		t.Fatalf("canary not rolled back: %+v", *s)
	}
	if got := w.status.Stages[0].Failed; !slices.Equal(got, []string{"dresden"}) {
		t.Errorf("canary stage failed = %v after the rollback, want [dresden]", got)
	}
	if want := "revision v2 failed on dresden; push a fix, or flotilla rollout resume"; w.status.Message != want {
		t.Errorf("message %q, want %q", w.status.Message, want)
	}
}
