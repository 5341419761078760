package placement

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/fleet"
)

// Option changes how Place decides.
type Option func(*options)

type options struct {
	running    map[string]map[string]bool
	maxTargets int
	hubTaints  map[string][]corev1.Taint
	now        time.Time
	capacity   map[string]Capacity
	held       map[string]map[string]corev1.ResourceList
}

// WithMaxTargets caps the (app, cluster) pairs Place produces; over it,
// Place returns no target and an error naming the limit and the flag
// --max-targets. Zero or less means fleet.DefaultMaxTargets, which also
// applies without this option.
func WithMaxTargets(n int) Option {
	return func(o *options) { o.maxTargets = n }
}

// WithRunning tells Place where each app runs now (app name to cluster
// names). An app keeps running on a cluster that was tainted NoSchedule
// after it was placed there; only NoExecute removes it. Without this
// option every untolerated NoSchedule or NoExecute taint keeps the app off.
func WithRunning(running map[string][]string) Option {
	return func(o *options) {
		o.running = map[string]map[string]bool{}
		for app, clusters := range running {
			set := map[string]bool{}
			for _, c := range clusters {
				set[c] = true
			}
			o.running[app] = set
		}
	}
}

// Place decides, for every app of the fleet, which clusters it goes to,
// which overlays apply there in which order, the substitution variables and
// the replica counts. It is pure and deterministic: the same fleet gives the
// same result whatever the order of its clusters, apps and maps. It expects
// a Fleet from fleet.Load (defaults applied); it never reads the disk.
func Place(f *fleet.Fleet, opts ...Option) *Result {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.maxTargets <= 0 {
		o.maxTargets = fleet.DefaultMaxTargets
	}
	res := &Result{CapacityUsed: o.capacity != nil}
	if f == nil {
		return res
	}
	clusters := sortedClusters(f.Clusters)
	apps := sortedApps(f.Apps)
	ex := &explainer{f: &fleet.Fleet{Root: f.Root, ClusterOverlays: f.ClusterOverlays}, o: o, x: newFleetIndex(clusters, apps, &o), apps: apps, appIdx: make(map[string]int, len(apps)), facts: make([]appFacts, len(apps))}
	res.explain = ex
	// Each app's targets are kept apart and copied once into the result.
	perApp := make([][]Target, len(apps))
	scratch := make([]candidate, 0, len(clusters))
	n := 0
	for i, app := range apps {
		ex.appIdx[app.Name] = i
		perApp[i] = ex.appPlacement(f, i, res).place(scratch)
		n += len(perApp[i])
		// Checked after each app: one app adds at most one target per
		// cluster, and the clusters are capped by fleet.Limits.
		if n > o.maxTargets {
			return overTargetLimit(f, n, app.Name, o.maxTargets)
		}
	}
	if n > 0 {
		res.Targets = make([]Target, 0, n)
	}
	for _, targets := range perApp {
		res.Targets = append(res.Targets, targets...)
	}
	assignWaves(res, apps)
	warnUnplacedDependencies(f, res, apps)
	res.Warnings = fleet.SortDiagnostics(res.Warnings)
	res.Errors = fleet.SortDiagnostics(res.Errors)
	return res
}

// overTargetLimit drops every target (n so far) and reports, on the file of
// the app that went over it, that the fleet places too many.
func overTargetLimit(f *fleet.Fleet, n int, app string, limit int) *Result {
	return &Result{Errors: []fleet.Diagnostic{{
		File:     f.AppFiles[app],
		Severity: fleet.SeverityError,
		Message:  fleet.LimitMessage("targets", "(app, cluster) pairs placed up to app "+app, n, limit, "--max-targets"),
	}}}
}

// sortedClusters returns the clusters sorted by name, without nils or
// repeated names.
func sortedClusters(in []*flotillav1.Cluster) []*flotillav1.Cluster {
	out := make([]*flotillav1.Cluster, 0, len(in))
	for _, c := range in {
		if c != nil {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b *flotillav1.Cluster) int { return strings.Compare(a.Name, b.Name) })
	return slices.CompactFunc(out, func(a, b *flotillav1.Cluster) bool { return a.Name == b.Name })
}

// sortedApps returns the apps sorted by name, without nils or repeated
// names.
func sortedApps(in []*flotillav1.App) []*flotillav1.App {
	out := make([]*flotillav1.App, 0, len(in))
	for _, a := range in {
		if a != nil {
			out = append(out, a)
		}
	}
	slices.SortStableFunc(out, func(a, b *flotillav1.App) int { return strings.Compare(a.Name, b.Name) })
	return slices.CompactFunc(out, func(a, b *flotillav1.App) bool { return a.Name == b.Name })
}

// assignWaves sets Target.Wave from the dependsOn graph.
func assignWaves(res *Result, apps []*flotillav1.App) {
	byName := map[string]*flotillav1.App{}
	for _, a := range apps {
		byName[a.Name] = a
	}
	waves := map[string]int{}
	visiting := map[string]bool{}
	var wave func(name string) int
	wave = func(name string) int {
		if w, ok := waves[name]; ok {
			return w
		}
		if visiting[name] {
			return 0 // a cycle; fleet.Load reports it
		}
		visiting[name] = true
		w := 0
		for _, dep := range byName[name].Spec.DependsOn {
			if byName[dep] != nil {
				w = max(w, wave(dep)+1)
			}
		}
		visiting[name] = false
		waves[name] = w
		return w
	}
	for i := range res.Targets {
		res.Targets[i].Wave = wave(res.Targets[i].App)
	}
}

// warnUnplacedDependencies warns when an app depends on an app that is not
// placed on every cluster the dependent app goes to.
func warnUnplacedDependencies(f *fleet.Fleet, res *Result, apps []*flotillav1.App) {
	for _, a := range apps {
		file := f.AppFiles[a.Name]
		targets := res.ForApp(a.Name)
		for i, dep := range a.Spec.DependsOn {
			if f.App(dep) == nil || dep == a.Name {
				continue
			}
			var missing []string
			for _, t := range targets {
				if res.Target(dep, t.Cluster) == nil {
					missing = append(missing, t.Cluster)
				}
			}
			if len(missing) == 0 {
				continue
			}
			res.Warnings = append(res.Warnings, fleet.Diagnostic{
				File: file, Line: f.Line(file, "spec", "dependsOn", i), Severity: fleet.SeverityWarning,
				Message: fmt.Sprintf("spec.dependsOn[%d]: app %s depends on %s, which is not placed on %s %s, so %s can never become ready there; place %s there too or remove the dependency",
					i, a.Name, dep, plural(len(missing), "cluster", "clusters"), listNames(missing), a.Name, dep),
			})
		}
	}
}

// appPlacement places one app, or explains its decisions.
type appPlacement struct {
	f        *fleet.Fleet
	app      *flotillav1.App
	file     string
	x        *fleetIndex
	clusters []*flotillav1.Cluster
	running  map[string]bool
	// res is the result being built while placing; nil while explaining
	// (see placing).
	res *Result
	// hubTaints and now: see WithClusterTaints and WithNow.
	hubTaints map[string][]corev1.Taint
	now       time.Time
	capacity  map[string]Capacity
	held      map[string]corev1.ResourceList
	// resources are the resources whose figures the app reads, required
	// those it requires.
	resources []corev1.ResourceName
	required  []requirement
	// facts are what placing keeps for explaining.
	facts *appFacts
}

// placing says whether p places the app (and reports problems) rather
// than explains its decisions.
func (p *appPlacement) placing() bool { return p.res != nil }

// candidate is a cluster that passed selection, exclusion, taints and
// requires.
type candidate struct {
	// idx is the cluster's index in the fleet index (name order).
	idx     int
	cluster *flotillav1.Cluster
}

// stage is how far a cluster got through qualify.
type stage uint8

const (
	notSelected stage = iota
	// selectedOnly: selected, then excluded or kept off by a taint.
	selectedOnly
	// toleratedOnly: past the taints, but it does not meet requires.
	toleratedOnly
	// qualified: a candidate.
	qualified
)

// qualify takes cluster c, the i-th of the index, through selection,
// exclusion, taints and requires. Explaining (d not nil), it records each
// step on d.
func (p *appPlacement) qualify(i int, c *flotillav1.Cluster, sel *placementMatcher, d *Decision) stage {
	ok, why := sel.matches(i, c)
	if d != nil {
		d.Reasons = append(d.Reasons, why)
	}
	if !ok {
		return notSelected
	}
	if slices.Contains(p.app.Spec.Placement.Exclude, c.Name) {
		if d != nil {
			d.Reasons = append(d.Reasons, "excluded by placement.exclude")
		}
		return selectedOnly
	}
	if !p.tolerates(i, c, d) {
		return selectedOnly
	}
	if !p.fits(i, d) {
		return toleratedOnly
	}
	return qualified
}

// place places the app and returns its targets, sorted by cluster.
// scratch is room for the candidates, reused from app to app.
func (p *appPlacement) place(scratch []candidate) []Target {
	candidates := scratch[:0]
	selected, tolerated := 0, 0
	sel := p.placementSelector()
	for i, c := range p.clusters {
		st := p.qualify(i, c, sel, nil)
		if st >= selectedOnly {
			selected++
		}
		if st >= toleratedOnly {
			tolerated++
		}
		if st == qualified {
			candidates = append(candidates, candidate{idx: i, cluster: c})
		}
	}
	ranked := p.rank(candidates)
	if p.explainsChoice() {
		p.facts.order = make([]int32, len(ranked))
		for k, c := range ranked {
			p.facts.order[k] = int32(c.idx) //nolint:gosec // a cluster index, capped by fleet.Limits
		}
	}
	chosen := p.choose(p.keepRunningFirst(ranked), nil)
	p.warnNowhere(selected, tolerated, len(chosen))

	targets := make([]Target, len(chosen))
	for i, cand := range chosen {
		targets[i] = p.target(cand)
	}
	p.applyOverlays(chosen, targets)
	p.divideReplicas(chosen, targets)
	return targets
}

// explainsChoice says whether the decisions of the app's candidates say
// how they ranked or were chosen, which needs the ranked order kept.
func (p *appPlacement) explainsChoice() bool {
	pl := p.app.Spec.Placement
	return p.ranks() || pl.MaxClusters != nil || pl.Spread != nil
}

// target builds the target of the app on a chosen cluster, without
// overlays and replicas.
func (p *appPlacement) target(c candidate) Target {
	basePath := p.app.Spec.Path
	if basePath == "" {
		basePath = fleet.DefaultBasePath
	}
	return Target{
		App:              p.app.Name,
		Cluster:          c.cluster.Name,
		Namespace:        p.app.Spec.Namespace,
		NamespaceDefault: p.app.Spec.NamespaceMode == flotillav1.NamespaceDefault,
		Base:             path.Join(p.f.AppDir(p.app.Name), basePath),
		Vars:             maps.Clone(p.x.vars[c.idx]),
	}
}

// clusterVars returns the substitution variables of a cluster.
func clusterVars(c *flotillav1.Cluster) map[string]string {
	vars := make(map[string]string, 1+len(c.Labels)+len(c.Spec.Vars))
	vars["cluster.name"] = c.Name
	for k, v := range c.Labels {
		vars["cluster.labels."+k] = v
	}
	for k, v := range c.Spec.Vars {
		vars["cluster.vars."+k] = v
	}
	return vars
}

// warnNowhere warns when the app goes to no cluster at all.
func (p *appPlacement) warnNowhere(selected, tolerated, chosen int) {
	if len(p.clusters) == 0 || chosen > 0 {
		return
	}
	pl := p.app.Spec.Placement
	if selected == 0 {
		field := "clusterSelector"
		if pl.ClusterSelector == nil {
			field = "clusterNames"
		}
		p.warnf([]any{"spec", "placement", field}, "spec.placement: %s matches no cluster, so app %s goes nowhere; fix the selector or the names",
			describePlacement(pl), p.app.Name)
		return
	}
	if tolerated > 0 && len(pl.Requires) > 0 {
		note := ""
		if p.capacity == nil {
			note = " (live capacity was not used: pass the clusters' capacity, for example with --status-ref)"
		}
		p.warnf([]any{"spec", "placement", "requires"}, "spec.placement.requires: no cluster it selects has %s available%s, so app %s goes nowhere; free capacity, add clusters or lower the requirement; run flotilla explain to see the figures",
			describeResources(pl.Requires), note, p.app.Name)
		return
	}
	p.warnf([]any{"spec", "placement"}, "spec.placement: every cluster it selects is excluded or keeps the app off with a taint, so app %s goes nowhere; run flotilla explain to see why", p.app.Name)
}

// warnf reports a warning on the app's file while placing.
func (p *appPlacement) warnf(fieldPath []any, format string, args ...any) {
	if !p.placing() {
		return
	}
	p.res.Warnings = append(p.res.Warnings, fleet.Diagnostic{
		File: p.file, Line: p.f.Line(p.file, fieldPath...), Severity: fleet.SeverityWarning, Message: fmt.Sprintf(format, args...),
	})
}

// errorf reports an error on the app's file while placing.
func (p *appPlacement) errorf(fieldPath []any, format string, args ...any) {
	if !p.placing() {
		return
	}
	p.res.Errors = append(p.res.Errors, fleet.Diagnostic{
		File: p.file, Line: p.f.Line(p.file, fieldPath...), Severity: fleet.SeverityError, Message: fmt.Sprintf(format, args...),
	})
}

// plural picks the singular or plural form.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// listNames joins names, shortening long lists.
func listNames(names []string) string {
	const show = 5
	if len(names) <= show {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:show], ", "), len(names)-show)
}
