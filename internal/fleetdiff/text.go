package fleetdiff

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteText prints a report for a terminal: the summary, then per
// changed cluster and app the replica changes and each object's unified
// diff.
func WriteText(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "base: %s\nhead: %s\n", r.Base, r.Head)
	if len(r.BaseErrors) > 0 {
		fmt.Fprintf(bw, "warning: the base revision has %s; apps that did not render there are shown as added:\n",
			plural(len(r.BaseErrors), "error", "errors"))
		for _, e := range r.BaseErrors {
			fmt.Fprintf(bw, "  %s\n", e)
		}
	}
	fmt.Fprintln(bw, r.Summary())
	for _, p := range r.Rollouts {
		fmt.Fprintln(bw, p.String())
	}
	for i := range r.Changed {
		c := &r.Changed[i]
		fmt.Fprintf(bw, "\n=== %s", c.Cluster)
		switch c.Change {
		case ClusterAdded:
			fmt.Fprint(bw, " (new cluster)")
		case ClusterRemoved:
			fmt.Fprint(bw, " (cluster removed)")
		}
		fmt.Fprintln(bw)
		if len(c.Apps) == 0 {
			fmt.Fprintln(bw, "no app placed")
		}
		for j := range c.Apps {
			writeTextApp(bw, &c.Apps[j])
		}
	}
	return bw.Flush()
}

func writeTextApp(w io.Writer, a *AppDiff) {
	fmt.Fprintf(w, "app %s\n", a.Summary())
	if a.HeadError != "" {
		fmt.Fprintf(w, "  head error: %s\n", a.HeadError)
	}
	if a.BaseError != "" {
		fmt.Fprintf(w, "  base error: %s\n", a.BaseError)
	}
	for _, rc := range a.Replicas {
		fmt.Fprintf(w, "  replicas %s\n", rc)
	}
	for _, o := range a.Objects {
		fmt.Fprintf(w, "  %s %s\n", actionMark(o.Action), o.ObjectKey)
		for _, line := range strings.SplitAfter(strings.TrimSuffix(o.Diff, "\n"), "\n") {
			fmt.Fprintf(w, "    %s", line)
		}
		fmt.Fprintln(w)
	}
}

// actionMark is the sign of an object action: + added, - removed,
// ~ changed.
func actionMark(a ObjectAction) string {
	switch a {
	case ObjectAdded:
		return "+"
	case ObjectRemoved:
		return "-"
	default:
		return "~"
	}
}

// WriteJSON prints a report as indented JSON (see Report for the fields;
// SchemaVersion versions them).
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode the diff report as JSON: %w", err)
	}
	return nil
}
