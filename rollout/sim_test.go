package rollout

import (
	"sort"
	"time"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// world simulates the sites of one app: each step it runs Step, applies
// the releases, and moves each released site one step towards Ready (or
// Failed, for a bad revision). It records what it saw, so tests assert on
// the sites' history rather than on Step's own account.
type world struct {
	stages   []Stage
	policy   flotillav1.RolloutFailurePolicy
	sites    map[string]*Site
	status   *flotillav1.RolloutStatus
	now      time.Time
	bad      map[string]bool            // revisions that never become Ready
	pending  map[string]int             // site -> steps left until its apply settles
	received map[string]map[string]bool // revision -> sites it was ever applied to
	maxBusy  map[string]int             // stage -> most sites seen between release and Ready at once
	events   []Event
	settle   int
}

func newWorld(stages []Stage, rev string) *world {
	w := &world{
		stages: stages, sites: map[string]*Site{}, now: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC),
		bad: map[string]bool{}, pending: map[string]int{}, received: map[string]map[string]bool{},
		maxBusy: map[string]int{}, settle: 2,
	}
	for _, st := range stages {
		for _, name := range st.Sites {
			w.sites[name] = &Site{Name: name, Released: rev, Applied: rev, Ready: true, LastReady: rev}
		}
	}
	return w
}

func (w *world) list() []Site {
	names := make([]string, 0, len(w.sites))
	for n := range w.sites {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]Site, 0, len(names))
	for _, n := range names {
		out = append(out, *w.sites[n])
	}
	return out
}

// step runs one decision for revision rev and lets time pass by dt.
func (w *world) step(rev string, cmds Commands, dt time.Duration) Output {
	out := Step(Input{Revision: rev, Policy: w.policy, Stages: w.stages, Sites: w.list(), Status: w.status, Commands: cmds, Now: w.now})
	st := out.Status
	w.status = &st
	w.events = append(w.events, out.Events...)
	for name, r := range out.Release {
		s := w.sites[name]
		s.Released = r
		if s.UpToDate {
			// Nothing changes on the cluster: the sync only records it.
			s.Applied, s.LastReady = r, r
			continue
		}
		if s.Applied != r {
			// An apply starts: the site runs r but is not Ready yet.
			s.Applied, s.Ready, s.Failed = r, false, false
			w.pending[name] = w.settle
			if w.received[r] == nil {
				w.received[r] = map[string]bool{}
			}
			w.received[r][name] = true
		}
	}
	for name, left := range w.pending {
		s := w.sites[name]
		if left > 1 {
			w.pending[name] = left - 1
			continue
		}
		delete(w.pending, name)
		if w.bad[s.Applied] {
			s.Failed = true
		} else {
			s.Ready = true
			s.LastReady = s.Applied
		}
	}
	for _, stg := range w.stages {
		busy := 0
		for _, n := range stg.Sites {
			s := w.sites[n]
			if s.Released == rev && !(s.Applied == rev && s.Ready) && !s.Failed && !s.UpToDate {
				busy++
			}
		}
		w.maxBusy[stg.Name] = max(w.maxBusy[stg.Name], busy)
	}
	w.now = w.now.Add(dt)
	return out
}

// run steps until the phase is one of stop or n steps have passed.
func (w *world) run(rev string, n int, stop ...flotillav1.RolloutPhase) {
	for range n {
		w.step(rev, Commands{}, time.Second)
		for _, p := range stop {
			if w.status.Phase == p {
				return
			}
		}
	}
}
