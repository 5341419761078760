package report

import (
	"bytes"
	"fmt"
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// StatusDir is the folder of the per-cluster files on the status branch.
const StatusDir = "status"

// SummaryFile is the readable matrix at the root of the status branch.
const SummaryFile = "STATUS.md"

// Files renders the report as the status branch holds it: one
// status/<cluster>.yaml per cluster and STATUS.md. The content depends on
// the fleet's state only (no "now"), so an unchanged fleet writes nothing.
// The writer owns the status/ folder, so the files of clusters that left
// the fleet are removed when the next files are written.
func Files(r Report) (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, c := range r.Clusters {
		b, err := yaml.Marshal(c)
		if err != nil {
			return nil, fmt.Errorf("encode status of cluster %s: %w", c.Cluster, err)
		}
		files[path.Join(StatusDir, c.Cluster+".yaml")] = b
	}
	files[SummaryFile] = Markdown(r)
	return files, nil
}

// Markdown renders the clusters × apps matrix.
func Markdown(r Report) []byte {
	var b bytes.Buffer
	apps := r.Apps()
	fmt.Fprintf(&b, "# Fleet status\n\nRepository `%s`, latest revision `%s`.\n\n", r.Repository, ShortRevision(r.Revision))
	b.WriteString("| cluster | reachable | mode | revision |")
	for _, a := range apps {
		b.WriteString(" " + a + " |")
	}
	b.WriteString("\n|---|---|---|---|")
	for range apps {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	var stale []ClusterStatus
	for _, c := range r.Clusters {
		if c.Stale {
			stale = append(stale, c)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |", c.Cluster, reachWord(c, "**STALE**"), modeWord(c), ShortRevision(c.Revision))
		byApp := map[string]AppStatus{}
		for _, a := range c.Apps {
			byApp[a.App] = a
		}
		for _, a := range apps {
			if s, ok := byApp[a]; ok {
				b.WriteString(" " + s.cell() + " |")
			} else {
				b.WriteString(" – |")
			}
		}
		b.WriteString("\n")
	}
	if len(stale) > 0 {
		b.WriteString("\n## Stale sites\n\n")
		for _, c := range stale {
			seen := "never seen"
			if c.LastSeen != nil {
				seen = "stopped reporting; last seen " + c.LastSeen.UTC().Format("2006-01-02 15:04:05 UTC")
			}
			fmt.Fprintf(&b, "- **%s**: %s\n", c.Cluster, seen)
		}
	}
	rolloutsMarkdown(&b, r)
	var failing []string
	for _, c := range r.Clusters {
		for _, a := range c.Apps {
			if a.Ready == "False" {
				failing = append(failing, fmt.Sprintf("- **%s** on **%s**: %s — %s", a.App, c.Cluster, a.Reason, oneLine(a.Message)))
			}
		}
	}
	if len(failing) > 0 {
		sort.Strings(failing)
		b.WriteString("\n## Not ready\n\n" + strings.Join(failing, "\n") + "\n")
	}
	return b.Bytes()
}

// ParseFiles reads per-cluster status files back into a report.
func ParseFiles(files map[string][]byte) (Report, error) {
	var r Report
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		if !strings.HasPrefix(p, StatusDir+"/") || !strings.HasSuffix(p, ".yaml") {
			continue
		}
		var c ClusterStatus
		if err := yaml.UnmarshalStrict(files[p], &c); err != nil {
			return Report{}, fmt.Errorf("read status file %s: %w", p, err)
		}
		r.Clusters = append(r.Clusters, c)
	}
	return r, nil
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
