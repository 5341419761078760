package placement

import (
	"fmt"
	"path"
	"slices"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
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
		set.useIndex(p.x)
		ovPath := path.Join(appDir, fleet.OverlayPath(o))
		applied := 0
		for j, c := range chosen {
			ok, why := set.match(c.idx, c.cluster)
			if !ok {
				continue
			}
			applied++
			targets[j].Overlays = append(targets[j].Overlays, Overlay{Name: o.Name, Path: ovPath, Reason: overlayReason(o, true, why)})
		}
		if applied == 0 && len(chosen) > 0 {
			p.warnf([]any{"spec", "overlays", i}, "spec.overlays[%d]: overlay %s applies to none of the %d clusters app %s is placed on; fix its clusterSelector or clusterNames, or remove it",
				i, o.Name, len(chosen), p.app.Name)
		}
	}
	for j, c := range chosen {
		name := c.cluster.Name
		if !p.f.HasClusterOverlay(p.app.Name, name) {
			continue
		}
		ovPath := p.f.ClusterOverlayPath(p.app.Name, name)
		targets[j].Overlays = append(targets[j].Overlays, Overlay{Name: name, Path: ovPath, Reason: clusterOverlayReason(name, ovPath)})
	}
	p.warnUnusedClusterOverlays(chosen)
}

// warnUnusedClusterOverlays warns about each per-cluster overlay folder of
// the app for a cluster it is not placed on, in cluster order.
func (p *appPlacement) warnUnusedClusterOverlays(chosen []candidate) {
	var unused []int
	for name, ok := range p.f.ClusterOverlays[p.app.Name] {
		if i, known := p.x.byName[name]; ok && known {
			unused = append(unused, i)
		}
	}
	if len(unused) == 0 {
		return
	}
	placed := make(map[int]bool, len(chosen))
	for _, c := range chosen {
		placed[c.idx] = true
	}
	slices.Sort(unused)
	for _, i := range unused {
		if placed[i] {
			continue
		}
		name := p.clusters[i].Name
		p.res.Warnings = append(p.res.Warnings, fleet.Diagnostic{
			File: p.f.ClusterOverlayPath(p.app.Name, name), Severity: fleet.SeverityWarning,
			Message: fmt.Sprintf("the per-cluster overlay is not used: app %s is not placed on cluster %s (run flotilla explain --cluster %s --app %s to see why)", p.app.Name, name, name, p.app.Name),
		})
	}
}

// overlayReasons records on d, for the chosen cluster c (the i-th of the
// index), whether each overlay applies and why, then its per-cluster
// overlay.
func (p *appPlacement) overlayReasons(i int, c *flotillav1.Cluster, d *Decision) {
	for _, o := range p.app.Spec.Overlays {
		set, _ := newClusterSet(o.ClusterSelector, o.ClusterNames, false)
		ok, why := set.match(i, c)
		d.Reasons = append(d.Reasons, overlayReason(o, ok, why))
	}
	if p.f.HasClusterOverlay(p.app.Name, c.Name) {
		d.Reasons = append(d.Reasons, clusterOverlayReason(c.Name, p.f.ClusterOverlayPath(p.app.Name, c.Name)))
	}
}

// overlayReason says whether an overlay applies, and why.
func overlayReason(o flotillav1.Overlay, applies bool, why string) string {
	if applies {
		return fmt.Sprintf("overlay %s applies: %s", o.Name, why)
	}
	return fmt.Sprintf("overlay %s does not apply: %s", o.Name, why)
}

// clusterOverlayReason says that a per-cluster overlay applies.
func clusterOverlayReason(cluster, ovPath string) string {
	return fmt.Sprintf("overlay %s applies last: per-cluster overlay folder %s", cluster, ovPath)
}
