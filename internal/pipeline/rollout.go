package pipeline

import (
	"fmt"

	"github.com/flotilla-gitops/flotilla/rollout"
)

// RolloutStages lays out the rollout stages of an app among the clusters it
// is placed on, exactly as the hub does. It returns nil without an error
// for an app without spec.rollout.
func (o *Output) RolloutStages(app string) ([]rollout.Stage, error) {
	a := o.Fleet.App(app)
	if a == nil || a.Spec.Rollout == nil || o.Placement == nil {
		return nil, nil
	}
	var members []rollout.Member
	for _, t := range o.Placement.Targets {
		if t.App != app {
			continue
		}
		m := rollout.Member{Name: t.Cluster}
		if c := o.Fleet.Cluster(t.Cluster); c != nil {
			m.Labels = c.Labels
		}
		members = append(members, m)
	}
	stages, err := rollout.Stages(a.Spec.Rollout, members)
	if err != nil {
		return nil, fmt.Errorf("app %s: %w", app, err)
	}
	return stages, nil
}
