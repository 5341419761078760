package fleetdiff

import (
	"fmt"
	"strings"
)

// maxSummaryNames is how many changed sites the summary line names before
// it says "and N more".
const maxSummaryNames = 20

// Summary returns the one-line summary of a report, for example
// "3 of 40 sites change: central, factory-a, factory-b", or
// "no site changes (40 sites compared)".
func (r *Report) Summary() string {
	if !r.HasChanges() {
		return fmt.Sprintf("no site changes (%s compared)", plural(r.Clusters, "site", "sites"))
	}
	names := r.ChangedNames()
	list := strings.Join(names, ", ")
	if len(names) > maxSummaryNames {
		list = fmt.Sprintf("%s and %d more", strings.Join(names[:maxSummaryNames], ", "), len(names)-maxSummaryNames)
	}
	verb := "change"
	if len(names) == 1 {
		verb = "changes"
	}
	return fmt.Sprintf("%d of %s %s: %s", len(names), plural(r.Clusters, "site", "sites"), verb, list)
}

// Summary describes a cluster's changes on one line, for example
// "adc-inference: 1 changed, replicas 5 → 6; defect-training: newly
// selected, 1 added".
func (c *ClusterDiff) Summary() string {
	var parts []string
	switch c.Change {
	case ClusterAdded:
		parts = append(parts, "new cluster")
	case ClusterRemoved:
		parts = append(parts, "cluster removed")
	}
	for i := range c.Apps {
		parts = append(parts, c.Apps[i].Summary())
	}
	if len(c.Apps) == 0 {
		parts = append(parts, "no app placed")
	}
	return strings.Join(parts, "; ")
}

// Summary describes an app's changes on one cluster, for example
// "adc-inference: 1 changed, replicas 5 → 6".
func (a *AppDiff) Summary() string {
	var parts []string
	switch a.Placement {
	case PlacementSelected:
		parts = append(parts, "newly selected")
	case PlacementDeselected:
		parts = append(parts, "deselected")
	}
	added, changed, removed := a.Counts()
	for _, n := range []struct {
		n    int
		what string
	}{{added, "added"}, {changed, "changed"}, {removed, "removed"}} {
		if n.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n.n, n.what))
		}
	}
	for _, rc := range a.Replicas {
		parts = append(parts, fmt.Sprintf("replicas of %s %s %s → %s", rc.Kind, rc.Name, replicaText(rc.Before), replicaText(rc.After)))
	}
	if a.HeadError != "" {
		parts = append(parts, "does not render at head")
	}
	if a.BaseError != "" {
		parts = append(parts, "did not render at base")
	}
	if len(parts) == 0 {
		parts = append(parts, "no object changes")
	}
	return a.App + ": " + strings.Join(parts, ", ")
}

// plural formats "1 site" or "3 sites".
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
