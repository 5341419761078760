package fleetdiff

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"strings"
)

// DefaultMaxMarkdownBytes keeps a Markdown report under the size of a
// GitHub pull-request comment (65,536 characters), with room to spare.
const DefaultMaxMarkdownBytes = 60000

// MarkdownOptions change WriteMarkdown.
type MarkdownOptions struct {
	// MaxBytes caps the report's size. Sites whose diff would go over it
	// are listed with their summary only. Zero means
	// DefaultMaxMarkdownBytes; negative means no cap.
	MaxBytes int
	// Title is the heading; default "Flotilla diff".
	Title string
}

// WriteMarkdown prints a report ready to post as a pull-request comment:
// the summary first ("3 of 40 sites change: ..."), one line per changed
// site, then one collapsible <details> section per site with the replica
// changes and a diff block per app.
func WriteMarkdown(w io.Writer, r *Report, opts MarkdownOptions) error {
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxMarkdownBytes
	}
	if opts.Title == "" {
		opts.Title = "Flotilla diff"
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "### %s\n\n", opts.Title)
	fmt.Fprintf(&buf, "Comparing %s → %s.\n\n", codeSpan(r.Base.String()), codeSpan(r.Head.String()))
	if len(r.BaseErrors) > 0 {
		fmt.Fprintf(&buf, "> **Warning:** the base revision has %s; apps that did not render there are shown as added.\n\n",
			plural(len(r.BaseErrors), "error", "errors"))
	}
	if !r.HasChanges() {
		fmt.Fprintf(&buf, "**No site changes** (%s compared).\n", plural(r.Clusters, "site", "sites"))
		_, err := w.Write(buf.Bytes())
		return err
	}
	summary := r.Summary()
	head, list, _ := strings.Cut(summary, ": ")
	fmt.Fprintf(&buf, "**%s:** %s\n\n", head, html.EscapeString(list))
	for i := range r.Changed {
		c := &r.Changed[i]
		fmt.Fprintf(&buf, "- **%s**: %s\n", html.EscapeString(c.Cluster), html.EscapeString(c.Summary()))
	}
	buf.WriteString("\n")
	for _, p := range r.Rollouts {
		fmt.Fprintf(&buf, "**Rollout:** %s\n\n", html.EscapeString(p.String()))
	}

	const omittedNote = "_%d more sites not shown to keep this comment short; run `flotilla diff` locally to see them._\n"
	reserve := len(omittedNote) + 20
	for i := range r.Changed {
		section := markdownSite(&r.Changed[i], true)
		if opts.MaxBytes > 0 && buf.Len()+len(section)+reserve > opts.MaxBytes {
			section = markdownSite(&r.Changed[i], false)
		}
		if opts.MaxBytes > 0 && buf.Len()+len(section)+reserve > opts.MaxBytes {
			fmt.Fprintf(&buf, omittedNote, len(r.Changed)-i)
			break
		}
		buf.Write(section)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// markdownSite renders one site's <details> section, with or without its
// diffs.
func markdownSite(c *ClusterDiff, withDiffs bool) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "<details><summary><b>%s</b>: %s</summary>\n\n", html.EscapeString(c.Cluster), html.EscapeString(c.Summary()))
	if !withDiffs {
		b.WriteString("Diff omitted to keep this comment short; run `flotilla diff` locally to see it.\n\n</details>\n\n")
		return b.Bytes()
	}
	for i := range c.Apps {
		a := &c.Apps[i]
		fmt.Fprintf(&b, "#### %s\n\n", html.EscapeString(a.App))
		if a.HeadError != "" {
			fmt.Fprintf(&b, "**Does not render at head:** %s\n\n", codeSpan(a.HeadError))
		}
		if a.BaseError != "" {
			fmt.Fprintf(&b, "Did not render at base: %s\n\n", codeSpan(a.BaseError))
		}
		for _, rc := range a.Replicas {
			fmt.Fprintf(&b, "- replicas of %s: %s → %s\n", codeSpan(rc.ObjectKey.String()), replicaText(rc.Before), replicaText(rc.After))
		}
		if len(a.Replicas) > 0 {
			b.WriteString("\n")
		}
		if len(a.Objects) == 0 {
			continue
		}
		var diff strings.Builder
		for _, o := range a.Objects {
			diff.WriteString(o.Diff)
		}
		fence := codeFence(diff.String())
		fmt.Fprintf(&b, "%sdiff\n%s%s\n\n", fence, diff.String(), fence)
	}
	b.WriteString("</details>\n\n")
	return b.Bytes()
}

// codeFence returns a backtick fence longer than any run of backticks in
// text, so that the text cannot close the block.
func codeFence(text string) string {
	return strings.Repeat("`", max(3, longestRun(text, '`')+1))
}

// codeSpan wraps text in an inline code span that its own backticks cannot
// close.
func codeSpan(text string) string {
	text = strings.ReplaceAll(text, "\n", " ")
	ticks := strings.Repeat("`", longestRun(text, '`')+1)
	if strings.HasPrefix(text, "`") || strings.HasSuffix(text, "`") {
		return ticks + " " + text + " " + ticks
	}
	return ticks + text + ticks
}

// longestRun returns the length of the longest run of c in s.
func longestRun(s string, c byte) int {
	best, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	return best
}
