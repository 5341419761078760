package placement

import (
	"fmt"
	"path"

	"github.com/flotilla-gitops/flotilla/fleet"
)

// applyOverlays adds to each target, in declared order, every overlay whose
// clusterSelector or clusterNames matches its cluster, then the cluster's
// own overlay folder when it exists.
func (p *appPlacement) applyOverlays(chosen []candidate, targets []Target) {
	appDir := p.f.AppDir(p.app.Name)
	for i, o := range p.app.Spec.Overlays {
		set, err := newClusterSet(o.ClusterSelector, o.ClusterNames, false)
		if err != nil {
			p.errorf([]any{"spec", "overlays", i, "clusterSelector"}, "spec.overlays[%d].clusterSelector: is invalid: %v; fix it so that it selects clusters", i, err)
		}
		ovPath := path.Join(appDir, fleet.OverlayPath(o))
		applied := 0
		for j, c := range chosen {
			ok, why := set.match(c.cluster)
			if !ok {
				c.decision.Reasons = append(c.decision.Reasons, fmt.Sprintf("overlay %s does not apply: %s", o.Name, why))
				continue
			}
			applied++
			reason := fmt.Sprintf("overlay %s applies: %s", o.Name, why)
			c.decision.Reasons = append(c.decision.Reasons, reason)
			targets[j].Overlays = append(targets[j].Overlays, Overlay{Name: o.Name, Path: ovPath, Reason: reason})
		}
		if applied == 0 && len(chosen) > 0 {
			p.warnf([]any{"spec", "overlays", i}, "spec.overlays[%d]: overlay %s applies to none of the %d clusters app %s is placed on; fix its clusterSelector or clusterNames, or remove it",
				i, o.Name, len(chosen), p.app.Name)
		}
	}
	placed := map[string]bool{}
	for j, c := range chosen {
		name := c.cluster.Name
		placed[name] = true
		if !p.f.HasClusterOverlay(p.app.Name, name) {
			continue
		}
		ovPath := p.f.ClusterOverlayPath(p.app.Name, name)
		reason := fmt.Sprintf("overlay %s applies last: per-cluster overlay folder %s", name, ovPath)
		c.decision.Reasons = append(c.decision.Reasons, reason)
		targets[j].Overlays = append(targets[j].Overlays, Overlay{Name: name, Path: ovPath, Reason: reason})
	}
	for _, c := range p.clusters {
		if placed[c.Name] || !p.f.HasClusterOverlay(p.app.Name, c.Name) {
			continue
		}
		p.res.Warnings = append(p.res.Warnings, fleet.Diagnostic{
			File: p.f.ClusterOverlayPath(p.app.Name, c.Name), Severity: fleet.SeverityWarning,
			Message: fmt.Sprintf("the per-cluster overlay is not used: app %s is not placed on cluster %s (run flotilla explain --cluster %s --app %s to see why)", p.app.Name, c.Name, c.Name, p.app.Name),
		})
	}
}
