package rollout

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// Site is one cluster of the app as the rollout sees it.
type Site struct {
	// Name of the cluster.
	Name string
	// Released is the revision the site may run ("" when nothing has been
	// released to it yet).
	Released string
	// Applied is the revision whose render the site runs.
	Applied string
	// Ready says the site is synced and healthy at Applied.
	Ready bool
	// Failed says the site failed at Released: its apply failed, or it was
	// not Ready within the app's health timeout.
	Failed bool
	// UpToDate says the rollout's revision renders exactly what the site
	// already runs: moving it changes nothing on the cluster, so it is
	// released at once and counts against no cap.
	UpToDate bool
	// LastReady is the newest revision that was Ready on the site.
	LastReady string
	// Deferred says why the site must not start a new revision now (a hold
	// set on the site, or outside its update windows); empty when free.
	Deferred string
}

// Commands are one-shot requests from a person.
type Commands struct {
	// Approve passes the current stage's approval gate.
	Approve bool
	// Resume continues a halted, rolled-back or aborted rollout, or ends a
	// pause early.
	Resume bool
	// Abort stops the rollout and returns sites that are not Ready at the
	// new revision to their last Ready revision.
	Abort bool
}

// Input is everything Step decides from.
type Input struct {
	// Revision is the newest rendered revision: the one to roll out.
	Revision string
	// Policy is the rollout's onFailure.
	Policy flotillav1.RolloutFailurePolicy
	// Stages are the resolved stages (see Stages).
	Stages []Stage
	// Sites are the app's sites, each in exactly one stage.
	Sites []Site
	// Status is the persisted status from the last step (nil: none).
	Status *flotillav1.RolloutStatus
	// Commands from a person, handled once.
	Commands Commands
	// Now is the current time.
	Now time.Time
}

// Event is a transition worth telling people about.
type Event struct {
	// Warning marks failures.
	Warning bool
	// Reason is a CamelCase reason.
	Reason string
	// Message says what happened.
	Message string
}

// Output is what Step decided.
type Output struct {
	// Status is the new persisted status.
	Status flotillav1.RolloutStatus
	// Release maps each site whose released revision changes to its new
	// released revision.
	Release map[string]string
	// Events are the transitions of this step.
	Events []Event
	// RequeueAfter is when time alone changes the decision (a pause ends);
	// zero when only a change of the inputs does.
	RequeueAfter time.Duration
}

// Step advances a rollout by one decision. It is pure and deterministic.
func Step(in Input) Output {
	s := &stepper{in: in, out: Output{Release: map[string]string{}}, sites: map[string]*Site{}, changed: map[string]bool{}, rolledBack: map[string]bool{}}
	for i := range in.Sites {
		s.sites[in.Sites[i].Name] = &in.Sites[i]
	}
	s.run()
	s.summarise()
	return s.out
}

type stepper struct {
	in    Input
	out   Output
	sites map[string]*Site
	// changed marks the stages where the revision changes what a site
	// runs (carried over from the persisted status).
	changed map[string]bool
	// rolledBack marks the sites a rollback returned to their last Ready
	// revision: once returned they no longer run the failed revision, yet
	// they are still the sites it failed on (carried over from the
	// persisted failed lists).
	rolledBack map[string]bool
}

func (s *stepper) event(warning bool, reason, format string, args ...any) {
	s.out.Events = append(s.out.Events, Event{Warning: warning, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// released returns the revision a site runs under this step's decisions.
func (s *stepper) released(site *Site) string {
	if r, ok := s.out.Release[site.Name]; ok {
		return r
	}
	return site.Released
}

func (s *stepper) release(site *Site, rev string) {
	if site.Released == rev {
		delete(s.out.Release, site.Name)
		return
	}
	s.out.Release[site.Name] = rev
}

// done: Ready at the rollout's revision.
func (s *stepper) done(site *Site) bool {
	r := s.in.Revision
	return site.Released == r && site.Applied == r && site.Ready
}

// inProgress: released the rollout's revision, not Ready at it, not failed.
func (s *stepper) inProgress(site *Site) bool {
	return s.released(site) == s.in.Revision && !s.done(site) && !(site.Failed && site.Released == s.in.Revision)
}

func (s *stepper) failed(site *Site) bool {
	return site.Released == s.in.Revision && site.Failed
}

func (s *stepper) run() {
	in := s.in
	st := flotillav1.RolloutStatus{}
	if in.Status != nil {
		st = *in.Status.DeepCopy()
	}
	now := metav1.NewTime(in.Now)
	if st.Revision != in.Revision {
		if st.Revision != "" && st.Phase != flotillav1.RolloutComplete {
			s.event(false, "RolloutSuperseded", "revision %s supersedes the rollout of %s (%s at stage %q)", short(in.Revision), short(st.Revision), st.Phase, st.StageName)
		}
		st = flotillav1.RolloutStatus{Revision: in.Revision, Phase: flotillav1.RolloutProgressing, StartTime: &now}
		s.event(false, "RolloutStarted", "rolling out revision %s in %d stage(s)", short(in.Revision), len(in.Stages))
	}
	s.out.Status = st
	p := &s.out.Status
	for _, ss := range p.Stages {
		s.changed[ss.Name] = ss.Changed
	}

	switch {
	case in.Commands.Abort && p.Phase != flotillav1.RolloutComplete && p.Phase != flotillav1.RolloutAborted:
		p.Phase = flotillav1.RolloutAborted
		s.event(true, "RolloutAborted", "rollout of %s aborted", short(in.Revision))
	case in.Commands.Resume:
		switch p.Phase {
		case flotillav1.RolloutHalted, flotillav1.RolloutRolledBack, flotillav1.RolloutAborted:
			s.event(false, "RolloutResumed", "rollout of %s resumed from %s", short(in.Revision), p.Phase)
			p.Phase = flotillav1.RolloutProgressing
		case flotillav1.RolloutPaused:
			if int(p.Stage) < len(in.Stages) && p.StageReadyTime != nil {
				t := metav1.NewTime(in.Now.Add(-in.Stages[p.Stage].Pause))
				p.StageReadyTime = &t
				s.event(false, "RolloutResumed", "pause of stage %q ended early", in.Stages[p.Stage].Name)
			}
		}
	}
	if in.Commands.Approve && p.Phase == flotillav1.RolloutWaitingForApproval {
		p.ApprovedStages = p.Stage + 1
		s.event(false, "StageApproved", "stage %q approved", in.Stages[p.Stage].Name)
	}

	if p.Phase == flotillav1.RolloutProgressing || p.Phase == flotillav1.RolloutPaused || p.Phase == flotillav1.RolloutWaitingForApproval || p.Phase == flotillav1.RolloutComplete {
		var failed []string
		for _, site := range in.Sites {
			if s.failed(&site) {
				failed = append(failed, site.Name)
			}
		}
		if len(failed) > 0 && p.Phase != flotillav1.RolloutComplete {
			if in.Policy == flotillav1.RolloutRollback {
				p.Phase = flotillav1.RolloutRolledBack
				s.event(true, "RolloutRolledBack", "revision %s failed on %s; returning them to their last Ready revision", short(in.Revision), strings.Join(failed, ", "))
			} else {
				p.Phase = flotillav1.RolloutHalted
				s.event(true, "RolloutHalted", "revision %s failed on %s; the rollout is halted", short(in.Revision), strings.Join(failed, ", "))
			}
		}
	}

	switch p.Phase {
	case flotillav1.RolloutRolledBack:
		for _, ss := range p.Stages {
			for _, name := range ss.Failed {
				s.rolledBack[name] = true
			}
		}
		for i := range in.Sites {
			site := &in.Sites[i]
			if s.failed(site) && site.LastReady != "" && site.LastReady != in.Revision {
				s.release(site, site.LastReady)
			}
			if s.failed(site) {
				s.rolledBack[site.Name] = true
			}
		}
		return
	case flotillav1.RolloutAborted:
		for i := range in.Sites {
			site := &in.Sites[i]
			if site.Released == in.Revision && !s.done(site) && site.LastReady != "" && site.LastReady != in.Revision {
				s.release(site, site.LastReady)
			}
		}
		return
	case flotillav1.RolloutHalted:
		return
	}
	s.advance()
}

// advance releases what the caps allow and passes the gates of stages
// that are done, as far as it can in one step.
func (s *stepper) advance() {
	p := &s.out.Status
	// A site the revision does not change moves at once, whatever its
	// stage: nothing changes on its cluster.
	for _, site := range s.in.Sites {
		if site.UpToDate && s.released(&site) != s.in.Revision {
			s.release(s.sites[site.Name], s.in.Revision)
		}
	}
	for {
		cur := int(p.Stage)
		// Earlier stages catch up (a deferred site that became free) and
		// the current stage fills up to its cap.
		for j := 0; j <= cur && j < len(s.in.Stages); j++ {
			s.fill(j)
		}
		if cur >= len(s.in.Stages) {
			if p.Phase != flotillav1.RolloutComplete {
				p.Phase = flotillav1.RolloutComplete
				s.event(false, "RolloutComplete", "revision %s rolled out to every stage", short(s.in.Revision))
			}
			return
		}
		stage := s.in.Stages[cur]
		if !s.stageDone(cur) {
			p.Phase = flotillav1.RolloutProgressing
			return
		}
		if p.StageReadyTime == nil {
			t := metav1.NewTime(s.in.Now)
			p.StageReadyTime = &t
		}
		// A stage the revision changes nothing in has nothing to bake or
		// approve.
		gated := s.changed[stage.Name]
		if gated && stage.Pause > 0 {
			if left := p.StageReadyTime.Add(stage.Pause).Sub(s.in.Now); left > 0 {
				if p.Phase != flotillav1.RolloutPaused {
					s.event(false, "StagePaused", "stage %q is Ready; pausing %s before the next stage", stage.Name, stage.Pause)
				}
				p.Phase = flotillav1.RolloutPaused
				s.out.RequeueAfter = left
				return
			}
		}
		if gated && stage.Approval && int(p.ApprovedStages) <= cur {
			if p.Phase != flotillav1.RolloutWaitingForApproval {
				s.event(false, "WaitingForApproval", "stage %q is Ready; waiting for approval (flotilla rollout approve)", stage.Name)
			}
			p.Phase = flotillav1.RolloutWaitingForApproval
			return
		}
		p.Stage++
		p.StageReadyTime = nil
		p.Phase = flotillav1.RolloutProgressing
		if int(p.Stage) < len(s.in.Stages) {
			s.event(false, "StageStarted", "stage %q done; starting stage %q", stage.Name, s.in.Stages[p.Stage].Name)
		}
	}
}

// fill releases the rollout's revision to the free sites of stage j, up to
// its cap of sites in progress. Sites the revision does not change are
// released at once.
func (s *stepper) fill(j int) {
	stage := s.in.Stages[j]
	busy := 0
	for _, name := range stage.Sites {
		if site := s.sites[name]; site != nil && s.inProgress(site) && !site.UpToDate {
			busy++
		}
	}
	for _, name := range stage.Sites {
		site := s.sites[name]
		if site == nil || s.released(site) == s.in.Revision {
			continue
		}
		switch {
		case site.UpToDate:
			s.release(site, s.in.Revision)
		case site.Deferred != "":
		case busy < stage.MaxUnavailable:
			s.release(site, s.in.Revision)
			s.changed[stage.Name] = true
			busy++
		}
	}
}

// stageDone: every site of the stage is Ready at the revision; a deferred
// site not yet released blocks only the first stage.
func (s *stepper) stageDone(j int) bool {
	for _, name := range s.in.Stages[j].Sites {
		site := s.sites[name]
		if site == nil || s.done(site) {
			continue
		}
		if j > 0 && site.Deferred != "" && s.released(site) != s.in.Revision {
			continue
		}
		return false
	}
	return true
}

// summarise fills the counts, per-stage summaries and message.
func (s *stepper) summarise() {
	p := &s.out.Status
	p.Total = int32(len(s.in.Sites))
	p.Updated = 0
	p.Stages = p.Stages[:0]
	for _, stage := range s.in.Stages {
		ss := flotillav1.RolloutStageStatus{Name: stage.Name, Sites: int32(len(stage.Sites)), Changed: s.changed[stage.Name]}
		for _, name := range stage.Sites {
			site := s.sites[name]
			if site == nil {
				continue
			}
			switch {
			case s.done(site):
				ss.Updated++
			case s.failed(site), p.Phase == flotillav1.RolloutRolledBack && s.rolledBack[name]:
				ss.Failed = append(ss.Failed, name)
			case site.Deferred != "" && s.released(site) != s.in.Revision:
				ss.Deferred = append(ss.Deferred, name)
			}
		}
		p.Updated += ss.Updated
		p.Stages = append(p.Stages, ss)
	}
	p.Progress = fmt.Sprintf("%d/%d", p.Updated, p.Total)
	p.StageName = ""
	if int(p.Stage) < len(s.in.Stages) {
		p.StageName = s.in.Stages[p.Stage].Name
	}
	p.Message = s.message()
}

func (s *stepper) message() string {
	p := &s.out.Status
	switch p.Phase {
	case flotillav1.RolloutComplete:
		return fmt.Sprintf("revision %s is out: %d/%d sites Ready", short(p.Revision), p.Updated, p.Total)
	case flotillav1.RolloutPaused:
		return fmt.Sprintf("stage %q Ready; paused until %s", p.StageName, p.StageReadyTime.Add(s.in.Stages[p.Stage].Pause).UTC().Format(time.RFC3339))
	case flotillav1.RolloutWaitingForApproval:
		return fmt.Sprintf("stage %q Ready; waiting for approval: flotilla rollout approve", p.StageName)
	case flotillav1.RolloutHalted, flotillav1.RolloutRolledBack:
		var failed []string
		for _, ss := range p.Stages {
			failed = append(failed, ss.Failed...)
		}
		return fmt.Sprintf("revision %s failed on %s; push a fix, or flotilla rollout resume", short(p.Revision), strings.Join(failed, ", "))
	case flotillav1.RolloutAborted:
		return fmt.Sprintf("rollout of %s aborted; push a new revision, or flotilla rollout resume", short(p.Revision))
	}
	if int(p.Stage) >= len(p.Stages) {
		return fmt.Sprintf("%d/%d sites Ready", p.Updated, p.Total)
	}
	cur := p.Stages[p.Stage]
	msg := fmt.Sprintf("stage %q: %d/%d sites Ready", cur.Name, cur.Updated, cur.Sites)
	if len(cur.Deferred) > 0 {
		msg += "; deferred: " + strings.Join(cur.Deferred, ", ")
	}
	return msg
}

// short abbreviates a revision such as "main@sha1:0123456789abcdef..." or a
// bare commit hash to its first 12 hex digits after the last ':' or '@'.
func short(rev string) string {
	i := strings.LastIndexAny(rev, ":@")
	h := rev[i+1:]
	if len(h) > 12 {
		h = h[:12]
	}
	if i < 0 {
		return h
	}
	return rev[:i+1] + h
}
