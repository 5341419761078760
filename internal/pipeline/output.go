package pipeline

import (
	"bytes"

	"github.com/flotilla-gitops/flotilla/fleet"
	"github.com/flotilla-gitops/flotilla/placement"
	"github.com/flotilla-gitops/flotilla/render"
)

// Output is what the offline stages produce for one fleet repository.
type Output struct {
	// Root is the repository root, absolute with symbolic links resolved.
	Root string
	// Fleet is the loaded fleet; it holds what decoded even when there are
	// errors.
	Fleet *fleet.Fleet
	// Placement is the placement of every app.
	Placement *placement.Result
	// Renders are the rendered targets, in the order of
	// Placement.Targets, without the Skipped ones.
	Renders []render.Result
	// Skipped are targets not rendered because their app or cluster file
	// has errors.
	Skipped []placement.Target
	// Diagnostics are every problem of every stage (load, placement,
	// render), sorted by file then line.
	Diagnostics []fleet.Diagnostic

	renderIndex map[targetKey]int
}

type targetKey struct{ app, cluster string }

// HasErrors reports whether any stage found an error. A fleet with errors
// must not be applied.
func (o *Output) HasErrors() bool { return fleet.HasErrors(o.Diagnostics) }

// Errors returns the error diagnostics.
func (o *Output) Errors() []fleet.Diagnostic { return o.bySeverity(fleet.SeverityError) }

// Warnings returns the warning diagnostics.
func (o *Output) Warnings() []fleet.Diagnostic { return o.bySeverity(fleet.SeverityWarning) }

func (o *Output) bySeverity(sev fleet.Severity) []fleet.Diagnostic {
	var out []fleet.Diagnostic
	for _, d := range o.Diagnostics {
		isWarning := d.Severity == fleet.SeverityWarning
		if isWarning == (sev == fleet.SeverityWarning) {
			out = append(out, d)
		}
	}
	return out
}

// Render returns the render result of an app on a cluster, or nil when the
// app is not placed there or its target was skipped.
func (o *Output) Render(app, cluster string) *render.Result {
	i, ok := o.renderIndex[targetKey{app, cluster}]
	if !ok {
		return nil
	}
	return &o.Renders[i]
}

// Rendered returns the number of targets rendered without error.
func (o *Output) Rendered() int {
	n := 0
	for _, r := range o.Renders {
		if r.Err == nil {
			n++
		}
	}
	return n
}

// ClusterNames returns the names of the declared clusters, sorted.
func (o *Output) ClusterNames() []string {
	names := make([]string, 0, len(o.Fleet.Clusters))
	for _, c := range o.Fleet.Clusters {
		names = append(names, c.Name)
	}
	return names
}

// AppNames returns the names of the declared apps, sorted.
func (o *Output) AppNames() []string {
	names := make([]string, 0, len(o.Fleet.Apps))
	for _, a := range o.Fleet.Apps {
		names = append(names, a.Name)
	}
	return names
}

// ClusterYAML returns the exact multi-document YAML a cluster receives: the
// rendered YAML of every app placed on it (only app, when set), in app name
// order, separated by "---". Apps that render no objects, failed or were
// skipped add nothing.
func (o *Output) ClusterYAML(cluster, app string) []byte {
	var buf bytes.Buffer
	for _, t := range o.Placement.ForCluster(cluster) {
		if app != "" && t.App != app {
			continue
		}
		res := o.Render(t.App, t.Cluster)
		if res == nil || res.Manifest == nil || len(res.Manifest.YAML) == 0 {
			continue
		}
		if buf.Len() > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(res.Manifest.YAML)
	}
	return buf.Bytes()
}
