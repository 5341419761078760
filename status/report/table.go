package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// WriteTable prints the clusters × apps matrix for a terminal: one row per
// cluster, one column per app, stale clusters flagged with since when.
func WriteTable(w io.Writer, r Report, now time.Time) error {
	apps := r.Apps()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	header := append([]string{"CLUSTER", "REACHABLE", "MODE", "REVISION", "GPU", "CPU", "MEMORY"}, upper(apps)...)
	fmt.Fprintln(tw, strings.Join(header, "	"))
	for _, c := range r.Clusters {
		row := append([]string{c.Cluster, reachWord(c, "STALE"), modeWord(c), orDash(ShortRevision(c.Revision))}, c.Capacity.cells()...)
		byApp := map[string]AppStatus{}
		for _, a := range c.Apps {
			byApp[a.App] = a
		}
		for _, a := range apps {
			if s, ok := byApp[a]; ok {
				row = append(row, s.cell())
			} else {
				row = append(row, "-")
			}
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("print status table: %w", err)
	}
	for _, ro := range r.Rollouts {
		fmt.Fprintf(w, "rollout %s: %s %s, stage %s, %s sites updated: %s\n", ro.App, ShortRevision(ro.Revision), ro.Phase, orDash(ro.Stage), ro.Progress, oneLine(ro.Message))
	}
	for _, c := range r.Clusters {
		if c.Stale {
			fmt.Fprintf(w, "! %s is stale: not reachable %s\n", c.Cluster, since(c.LastSeen, now))
		}
	}
	for _, c := range r.Clusters {
		for _, a := range c.Apps {
			if a.Ready == "False" && a.Reason != "ClusterUnreachable" {
				fmt.Fprintf(w, "! %s on %s: %s: %s\n", a.App, c.Cluster, a.Reason, oneLine(a.Message))
			}
		}
	}
	return nil
}

// cells prints the GPU, CPU and memory columns: "available/allocatable",
// or "-" without figures.
func (c *Capacity) cells() []string {
	out := []string{"-", "-", "-"}
	if c == nil {
		return out
	}
	for i, name := range []corev1.ResourceName{"nvidia.com/gpu", corev1.ResourceCPU, corev1.ResourceMemory} {
		avail, alloc := c.Available[name], c.Allocatable[name]
		out[i] = avail.String() + "/" + alloc.String()
	}
	return out
}

func upper(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToUpper(s)
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
