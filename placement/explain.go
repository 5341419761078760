package placement

import (
	"github.com/flotilla-gitops/flotilla/fleet"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// explainer is what Place keeps to rebuild decisions on demand: its
// inputs, the fleet index and, per app, the facts that depend on the other
// clusters (how the candidates ranked, the sums of the replica weights).
// Every other step of a decision depends only on the app and the cluster
// and is taken again. It is only read after Place returns.
type explainer struct {
	// f is the part of the fleet explaining reads: its per-cluster
	// overlay folders (the clusters and apps are in x and apps, sorted,
	// so that equal fleets give equal results).
	f      *fleet.Fleet
	o      options
	x      *fleetIndex
	apps   []*flotillav1.App
	appIdx map[string]int
	facts  []appFacts
}

// appFacts are what placing one app keeps for explaining it.
type appFacts struct {
	// order holds the candidates' cluster indexes in ranked order (kept
	// when explainsChoice).
	order []int32
	// numeric is true when rankBy compared numbers rather than strings.
	numeric bool
	// divisions are, per spec.placement.replicas entry, whether it was
	// divided and the sum of the weights (none when nothing was chosen).
	divisions []division
}

// division is what dividing one replica division kept.
type division struct {
	divided bool
	sum     string
}

// appPlacement returns the placement of the i-th app of fleet f: placing
// when res is set, explaining otherwise.
func (e *explainer) appPlacement(f *fleet.Fleet, i int, res *Result) *appPlacement {
	app := e.apps[i]
	resources := capacityResources(app)
	return &appPlacement{
		f: f, app: app, file: f.AppFiles[app.Name], x: e.x, clusters: e.x.clusters, running: e.o.running[app.Name], res: res,
		hubTaints: e.o.hubTaints, now: e.o.now, capacity: e.o.capacity, held: e.o.held[app.Name],
		resources: resources, required: requirements(app, resources, e.x), facts: &e.facts[i],
	}
}

// appExplainer rebuilds the decisions about one app.
type appExplainer struct {
	p   *appPlacement
	sel *placementMatcher
	// rankPos is each candidate's place in the ranked order, by cluster
	// index; steps what choose did with each. Both are built on first use.
	rankPos map[int]int
	steps   map[int][]chooseStep
}

// explainApp returns the explainer of an app, or nil when the result does
// not know it.
func (r *Result) explainApp(app string) *appExplainer {
	if r == nil || r.explain == nil {
		return nil
	}
	i, ok := r.explain.appIdx[app]
	if !ok {
		return nil
	}
	p := r.explain.appPlacement(r.explain.f, i, nil)
	return &appExplainer{p: p, sel: p.placementSelector()}
}

// decision rebuilds the decision about the app on the i-th cluster; t is
// the app's target there, nil when it is not placed there.
func (a *appExplainer) decision(i int, t *Target) Decision {
	p := a.p
	c := p.x.clusters[i]
	d := Decision{App: p.app.Name, Cluster: c.Name}
	if p.qualify(i, c, a.sel, &d) != qualified {
		return d
	}
	if p.ranks() {
		d.Reasons = append(d.Reasons, p.rankReason(i, a.rankPosition(i), len(p.facts.order), &d))
	}
	if p.prefersRunning() && p.running[c.Name] {
		d.Reasons = append(d.Reasons, preferredReason)
	}
	if pl := p.app.Spec.Placement; pl.MaxClusters != nil || pl.Spread != nil {
		for _, s := range a.chooseSteps()[i] {
			d.Reasons = append(d.Reasons, s.reason(p, c))
		}
	}
	if t == nil {
		return d
	}
	d.Placed = true
	p.overlayReasons(i, c, &d)
	p.replicaReasons(candidate{idx: i, cluster: c}, t, &d)
	return d
}

// rankPosition returns where the i-th cluster, a candidate, ranked.
func (a *appExplainer) rankPosition(i int) int {
	if a.rankPos == nil {
		a.rankPos = make(map[int]int, len(a.p.facts.order))
		for k, idx := range a.p.facts.order {
			a.rankPos[int(idx)] = k
		}
	}
	return a.rankPos[i]
}

// chooseSteps replays choose over the ranked candidates, keeping what it
// did with each, by cluster index.
func (a *appExplainer) chooseSteps() map[int][]chooseStep {
	if a.steps == nil {
		p := a.p
		a.steps = map[int][]chooseStep{}
		ranked := make([]candidate, len(p.facts.order))
		for k, idx := range p.facts.order {
			ranked[k] = candidate{idx: int(idx), cluster: p.x.clusters[idx]}
		}
		p.choose(p.keepRunningFirst(ranked), func(c candidate, s chooseStep) {
			a.steps[c.idx] = append(a.steps[c.idx], s)
		})
	}
	return a.steps
}

// Decision rebuilds the decision about an app on a cluster, or returns nil
// when either is unknown. It reads the fleet and the options Place was
// given: do not change them after placing.
func (r *Result) Decision(app, cluster string) *Decision {
	a := r.explainApp(app)
	if a == nil {
		return nil
	}
	i, ok := a.p.x.byName[cluster]
	if !ok {
		return nil
	}
	d := a.decision(i, r.Target(app, cluster))
	return &d
}

// Decisions rebuilds the decision about every app on every cluster, placed
// or not, sorted by app then cluster. It costs about as much as placing
// again: prefer Decision and DecisionsFor.
func (r *Result) Decisions() []Decision {
	if r == nil || r.explain == nil {
		return nil
	}
	e := r.explain
	out := make([]Decision, 0, len(e.apps)*len(e.x.clusters))
	for _, app := range e.apps {
		out = append(out, r.appDecisions(app.Name)...)
	}
	return out
}

// DecisionsFor rebuilds the decisions about one app: those on the clusters
// it is placed on first, then the others, each group sorted by cluster,
// at most limit of them (every one when limit is negative). omitted counts
// those left out.
func (r *Result) DecisionsFor(app string, limit int) (decisions []Decision, omitted int) {
	a := r.explainApp(app)
	if a == nil {
		return nil, 0
	}
	n := len(a.p.clusters)
	if limit < 0 || limit > n {
		limit = n
	}
	targets := r.ForApp(app)
	out := make([]Decision, 0, limit)
	placed := make(map[int]bool, len(targets))
	for k := range targets {
		i := a.p.x.byName[targets[k].Cluster]
		placed[i] = true
		if len(out) < limit {
			out = append(out, a.decision(i, &targets[k]))
		}
	}
	for i := 0; i < n && len(out) < limit; i++ {
		if !placed[i] {
			out = append(out, a.decision(i, nil))
		}
	}
	return out, n - len(out)
}

// appDecisions rebuilds the decisions about one app on every cluster, in
// cluster order.
func (r *Result) appDecisions(app string) []Decision {
	a := r.explainApp(app)
	if a == nil {
		return nil
	}
	targets := r.ForApp(app)
	out := make([]Decision, 0, len(a.p.clusters))
	k := 0
	for i, c := range a.p.clusters {
		var t *Target
		if k < len(targets) && targets[k].Cluster == c.Name {
			t = &targets[k]
			k++
		}
		out = append(out, a.decision(i, t))
	}
	return out
}
