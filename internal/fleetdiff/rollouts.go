package fleetdiff

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/flotilla-gitops/flotilla/rollout"
)

// RolloutPlan says how a change reaches the sites of one app that has a
// staged rollout: the stages in order, each with the sites the change
// touches there.
type RolloutPlan struct {
	// App is the app's name.
	App string `json:"app"`
	// Stages are the app's rollout stages at the head revision.
	Stages []PlanStage `json:"stages"`
}

// PlanStage is one stage of a RolloutPlan.
type PlanStage struct {
	// Name of the stage.
	Name string `json:"name"`
	// Changed are the stage's sites this change touches, sorted.
	Changed []string `json:"changed"`
	// Sites is how many sites the stage holds.
	Sites int `json:"sites"`
	// Gate says what the rollout waits for after the stage ("" none).
	Gate string `json:"gate,omitempty"`
}

// AddRolloutPlans records, for every changed app that has a rollout, how the
// change rolls out; stagesOf returns an app's stages at the head revision
// (nil for an app without a rollout).
func (r *Report) AddRolloutPlans(stagesOf func(app string) ([]rollout.Stage, error)) error {
	changedOn := map[string]map[string]bool{}
	for _, c := range r.Changed {
		for _, a := range c.Apps {
			if changedOn[a.App] == nil {
				changedOn[a.App] = map[string]bool{}
			}
			changedOn[a.App][c.Cluster] = true
		}
	}
	apps := make([]string, 0, len(changedOn))
	for a := range changedOn {
		apps = append(apps, a)
	}
	sort.Strings(apps)
	r.Rollouts = nil
	for _, app := range apps {
		stages, err := stagesOf(app)
		if err != nil {
			return err
		}
		if stages == nil {
			continue
		}
		plan := RolloutPlan{App: app}
		for _, st := range stages {
			ps := PlanStage{Name: st.Name, Sites: len(st.Sites), Gate: gate(st)}
			for _, s := range st.Sites {
				if changedOn[app][s] {
					ps.Changed = append(ps.Changed, s)
				}
			}
			plan.Stages = append(plan.Stages, ps)
		}
		r.Rollouts = append(r.Rollouts, plan)
	}
	return nil
}

func gate(st rollout.Stage) string {
	var g []string
	if st.Pause > 0 {
		g = append(g, "pause "+st.Pause.Round(time.Second).String())
	}
	if st.Approval {
		g = append(g, "approval")
	}
	return strings.Join(g, ", ")
}

// String says in one line how the change rolls out, for example
// "adc-inference rolls out in 3 stages: canary (factory-dresden) → europe
// (factory-lyon; then pause 2m0s) → rest (unchanged)".
func (p RolloutPlan) String() string {
	parts := make([]string, 0, len(p.Stages))
	for _, s := range p.Stages {
		what := "unchanged"
		if len(s.Changed) > 0 {
			what = strings.Join(s.Changed, ", ")
		}
		if s.Gate != "" && len(s.Changed) > 0 {
			what += "; then " + s.Gate
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", s.Name, what))
	}
	return fmt.Sprintf("%s rolls out in %s: %s", p.App, plural(len(p.Stages), "stage", "stages"), strings.Join(parts, " → "))
}
