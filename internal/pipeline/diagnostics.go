package pipeline

import (
	"errors"
	"fmt"
	"strings"

	"github.com/flotilla-gitops/flotilla/apply"
	"github.com/flotilla-gitops/flotilla/fleet"
	"github.com/flotilla-gitops/flotilla/render"
)

// maxClustersNamed is how many clusters a grouped render error names before
// it says "and N more".
const maxClustersNamed = 5

// renderDiagnostics turns failed renders into diagnostics that name the
// file concerned. The same failure of an app on many clusters (a broken
// base fails everywhere) becomes one diagnostic listing the clusters.
func renderDiagnostics(results []render.Result) []fleet.Diagnostic {
	type group struct {
		file, app, object, reason string
		clusters                  []string
	}
	var groups []*group
	index := map[[4]string]*group{}
	for _, res := range results {
		if res.Err == nil {
			continue
		}
		g := group{file: res.Target.Base, app: res.Target.App, reason: res.Err.Error()}
		var re *render.Error
		if errors.As(res.Err, &re) {
			if re.File != "" {
				g.file = re.File
			}
			g.object = re.Object
			if re.Err != nil {
				g.reason = re.Err.Error()
			}
		}
		k := [4]string{g.file, g.app, g.object, g.reason}
		if index[k] == nil {
			index[k] = &g
			groups = append(groups, &g)
		}
		index[k].clusters = append(index[k].clusters, res.Target.Cluster)
	}
	diags := make([]fleet.Diagnostic, 0, len(groups))
	for _, g := range groups {
		var b strings.Builder
		fmt.Fprintf(&b, "app %s does not render for %s", g.app, clusterList(g.clusters))
		if g.object != "" {
			fmt.Fprintf(&b, " (object %s)", g.object)
		}
		b.WriteString(": ")
		b.WriteString(g.reason)
		diags = append(diags, fleet.Diagnostic{File: g.file, Severity: fleet.SeverityError, Message: b.String()})
	}
	return diags
}

// clusterList names clusters as "cluster a" or "clusters a, b and 3 more".
func clusterList(names []string) string {
	if len(names) == 1 {
		return "cluster " + names[0]
	}
	if len(names) <= maxClustersNamed {
		return "clusters " + strings.Join(names, ", ")
	}
	return fmt.Sprintf("clusters %s and %d more", strings.Join(names[:maxClustersNamed], ", "), len(names)-maxClustersNamed)
}

// buildWarnings turns the warnings of the renders (deprecated kustomize
// fields) into warning diagnostics on the files concerned, once per file
// and message whatever the number of targets that read the file.
func buildWarnings(results []render.Result) []fleet.Diagnostic {
	seen := map[render.Warning]bool{}
	var diags []fleet.Diagnostic
	for _, res := range results {
		if res.Manifest == nil {
			continue
		}
		for _, w := range res.Manifest.Warnings {
			if seen[w] {
				continue
			}
			seen[w] = true
			diags = append(diags, fleet.Diagnostic{File: w.File, Severity: fleet.SeverityWarning, Message: w.Message})
		}
	}
	return diags
}

// controlDiagnostics reports, as errors on the app's file, rendered objects
// whose per-object control annotations (flotilla.dev/create-only,
// ignore-fields, prune) are malformed: the sync would refuse them. Once per
// app and object.
func controlDiagnostics(f *fleet.Fleet, results []render.Result) []fleet.Diagnostic {
	seen := map[string]bool{}
	var diags []fleet.Diagnostic
	for _, res := range results {
		if res.Manifest == nil {
			continue
		}
		for _, o := range res.Manifest.Objects {
			err := apply.CheckControls(o)
			if err == nil {
				continue
			}
			id := fmt.Sprintf("%s/%s/%s/%s", res.Target.App, o.GetKind(), o.GetNamespace(), o.GetName())
			if seen[id] {
				continue
			}
			seen[id] = true
			diags = append(diags, fleet.Diagnostic{File: f.AppFiles[res.Target.App], Severity: fleet.SeverityError,
				Message: fmt.Sprintf("app %s renders %s %s: %v", res.Target.App, o.GetKind(), o.GetName(), err)})
		}
	}
	return diags
}
