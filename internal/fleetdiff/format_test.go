package fleetdiff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// sampleReport changes two of three clusters: an image on "b", an app
// moving from "a" to "b".
func sampleReport(t *testing.T) *Report {
	base := state([]string{"a", "b", "c"},
		placement{"a", "train", []*unstructured.Unstructured{deployment(t, "ml", "train", 1, "t:1")}, ""},
		placement{"b", "web", []*unstructured.Unstructured{deployment(t, "web", "web", 2, "web:1")}, ""},
		placement{"c", "web", []*unstructured.Unstructured{deployment(t, "web", "web", 2, "web:1")}, ""})
	head := state([]string{"a", "b", "c"},
		placement{"b", "train", []*unstructured.Unstructured{deployment(t, "ml", "train", 1, "t:1")}, ""},
		placement{"b", "web", []*unstructured.Unstructured{deployment(t, "web", "web", 2, "web:2")}, ""},
		placement{"c", "web", []*unstructured.Unstructured{deployment(t, "web", "web", 2, "web:1")}, ""})
	r := Compare(base, head, Options{MaskKey: testKey})
	r.Base = Revision{Ref: "origin/main", Commit: "1111111111111111111111111111111111111111"}
	r.Head = Revision{Ref: "HEAD", Commit: "2222222222222222222222222222222222222222"}
	return r
}

func TestWriteMarkdown(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, sampleReport(t), MarkdownOptions{}); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	// The summary comes first, before any section.
	summary := strings.Index(md, "**2 of 3 sites change:** a, b")
	details := strings.Index(md, "<details>")
	if summary < 0 || details < 0 || summary > details {
		t.Fatalf("the summary does not come first:\n%s", md)
	}
	if strings.Count(md, "<details><summary>") != 2 || strings.Count(md, "</details>") != 2 {
		t.Errorf("want one collapsible section per changed site:\n%s", md)
	}
	wantInOrder(t, md,
		"Comparing `origin/main (111111111111)` → `HEAD (222222222222)`.",
		"- **a**: train: deselected, 1 removed, replicas of Deployment train 1 → none",
		"- **b**: train: newly selected, 1 added, replicas of Deployment train none → 1; web: 1 changed",
		"<details><summary><b>a</b>:", "#### train", "- replicas of `apps/Deployment ml/train`: 1 → none", "```diff\n--- base/a/apps/Deployment/ml/train\n+++ /dev/null", "```", "</details>",
		"<details><summary><b>b</b>:", "#### train", "#### web", "```diff\n", "-      - image: web:1\n+      - image: web:2\n", "```", "</details>")
	if strings.Contains(md, "<b>c</b>") {
		t.Error("the unchanged site c has a section")
	}

	var none bytes.Buffer
	if err := WriteMarkdown(&none, Compare(state([]string{"a"}), state([]string{"a"}), Options{}), MarkdownOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(none.String(), "**No site changes** (1 site compared).") || strings.Contains(none.String(), "<details>") {
		t.Errorf("report without changes:\n%s", none.String())
	}
}

func TestWriteMarkdownFencesCannotBeClosedByContent(t *testing.T) {
	tricky := configMap(t, "web", "c", "'``` </details> <script>'")
	r := Compare(state([]string{"a"}), state([]string{"a"}, placement{"a", "web<x>", []*unstructured.Unstructured{tricky}, ""}), Options{})
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, r, MarkdownOptions{}); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	if !strings.Contains(md, "````diff\n") {
		t.Errorf("the diff fence is not longer than the backticks inside:\n%s", md)
	}
	if strings.Contains(md, "web<x>") || !strings.Contains(md, "web&lt;x&gt;") {
		t.Errorf("an app name is not HTML-escaped outside code blocks:\n%s", md)
	}
}

func TestWriteMarkdownStaysUnderTheSizeCap(t *testing.T) {
	var clusters []string
	var base, head []placement
	for i := range 30 {
		c := fmt.Sprintf("site-%02d", i)
		clusters = append(clusters, c)
		big := strings.Repeat("x", 2000)
		base = append(base, placement{c, "web", []*unstructured.Unstructured{configMap(t, "web", "c", big+"1")}, ""})
		head = append(head, placement{c, "web", []*unstructured.Unstructured{configMap(t, "web", "c", big+"2")}, ""})
	}
	r := Compare(state(clusters, base...), state(clusters, head...), Options{})
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, r, MarkdownOptions{MaxBytes: 20000}); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	if len(md) > 20000 {
		t.Errorf("%d bytes, over the 20000 cap", len(md))
	}
	if !strings.Contains(md, "**30 of 30 sites change:**") || !strings.Contains(md, "- **site-29**") {
		t.Errorf("the summary does not list every site:\n%.600s", md)
	}
	if !strings.Contains(md, "Diff omitted to keep this comment short") {
		t.Error("no site has its diff omitted, yet the full report cannot fit")
	}
	if !strings.Contains(md, "```diff") {
		t.Error("no site kept its diff")
	}
}

func TestWriteJSONIsStableAndComplete(t *testing.T) {
	r := sampleReport(t)
	var a, b bytes.Buffer
	if err := WriteJSON(&a, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(&b, sampleReport(t)); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Error("the same comparison gave different JSON")
	}
	var got struct {
		SchemaVersion int `json:"schemaVersion"`
		Base          struct{ Ref, Commit string }
		Clusters      int
		Changed       []struct {
			Cluster string
			Change  string
			Apps    []struct {
				App       string
				Placement string
				Objects   []struct {
					Group, Kind, Namespace, Name, Action, Diff string
				}
				Replicas []struct {
					Kind          string
					Before, After *int64
				}
			}
		}
	}
	if err := json.Unmarshal(a.Bytes(), &got); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, a.String())
	}
	if got.SchemaVersion != SchemaVersion || got.Base.Ref != "origin/main" || got.Clusters != 3 || len(got.Changed) != 2 {
		t.Fatalf("unexpected report: %+v", got)
	}
	b0 := got.Changed[1]
	if b0.Cluster != "b" || b0.Change != "modified" || len(b0.Apps) != 2 || b0.Apps[0].App != "train" || b0.Apps[0].Placement != "selected" {
		t.Fatalf("unexpected cluster b: %+v", b0)
	}
	o := b0.Apps[1].Objects[0]
	if o.Group != "apps" || o.Kind != "Deployment" || o.Namespace != "web" || o.Name != "web" || o.Action != "changed" || !strings.Contains(o.Diff, "+      - image: web:2") {
		t.Errorf("unexpected object: %+v", o)
	}
	rep := b0.Apps[0].Replicas[0]
	if rep.Before != nil || rep.After == nil || *rep.After != 1 {
		t.Errorf("unexpected replicas: %+v", rep)
	}

	// No change still gives an empty list, not null.
	var empty bytes.Buffer
	if err := WriteJSON(&empty, Compare(state(nil), state(nil), Options{})); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(empty.String(), `"changed": []`) {
		t.Errorf("no change: %s", empty.String())
	}
}

func TestWriteText(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteText(&buf, sampleReport(t)); err != nil {
		t.Fatal(err)
	}
	wantInOrder(t, buf.String(),
		"base: origin/main (111111111111)\nhead: HEAD (222222222222)\n2 of 3 sites change: a, b\n",
		"=== a\n", "app train: deselected", "  replicas apps/Deployment ml/train: 1 → none", "  - apps/Deployment ml/train\n    --- base/a/",
		"=== b\n", "app train: newly selected", "  + apps/Deployment ml/train", "app web: 1 changed", "  ~ apps/Deployment web/web", "    +      - image: web:2")
}

// wantInOrder fails unless text contains each part, in this order.
func wantInOrder(t *testing.T, text string, parts ...string) {
	t.Helper()
	rest := text
	for _, p := range parts {
		i := strings.Index(rest, p)
		if i < 0 {
			t.Fatalf("output lacks %q (after the previous parts):\n%s", p, text)
		}
		rest = rest[i+len(p):]
	}
}
