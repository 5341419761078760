package fleetdiff

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

var testKey = []byte("test-mask-key")

// obj parses one object from YAML.
func obj(t *testing.T, text string) *unstructured.Unstructured {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		t.Fatal(err)
	}
	return u
}

func deployment(t *testing.T, ns, name string, replicas int, image string) *unstructured.Unstructured {
	return obj(t, fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
  namespace: %s
spec:
  replicas: %d
  template:
    spec:
      containers:
      - name: main
        image: %s
`, name, ns, replicas, image))
}

func configMap(t *testing.T, ns, name, value string) *unstructured.Unstructured {
	return obj(t, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\ndata:\n  key: %s\n", name, ns, value))
}

// state builds a State: clusters, then (cluster, app, objects...) triples.
type placement struct {
	cluster, app string
	objects      []*unstructured.Unstructured
	err          string
}

func state(clusters []string, placed ...placement) *State {
	s := &State{Clusters: clusters}
	for _, p := range placed {
		s.place(p.cluster, p.app, Placed{Objects: p.objects, Err: p.err})
	}
	return s
}

func TestCompare(t *testing.T) {
	two := []string{"a", "b"}
	type wantApp struct {
		cluster, app string
		placement    PlacementChange
		actions      []string // "added apps/Deployment ns/name"
		replicas     []string // ReplicaChange.String()
	}
	cases := []struct {
		name        string
		base, head  func(t *testing.T) *State
		wantChanged []string
		wantApps    []wantApp
		wantChange  map[string]ClusterChange
	}{
		{
			name: "nothing changes",
			base: func(t *testing.T) *State {
				return state(two, placement{"a", "web", []*unstructured.Unstructured{deployment(t, "web", "web", 2, "web:1")}, ""})
			},
			head: func(t *testing.T) *State {
				return state(two, placement{"a", "web", []*unstructured.Unstructured{deployment(t, "web", "web", 2, "web:1")}, ""})
			},
		},
		{
			name: "an object changes on one cluster only",
			base: func(t *testing.T) *State {
				return state(two,
					placement{"a", "web", []*unstructured.Unstructured{deployment(t, "web", "web", 2, "web:1"), configMap(t, "web", "conf", "x")}, ""},
					placement{"b", "web", []*unstructured.Unstructured{deployment(t, "web", "web", 2, "web:1"), configMap(t, "web", "conf", "x")}, ""})
			},
			head: func(t *testing.T) *State {
				return state(two,
					placement{"a", "web", []*unstructured.Unstructured{deployment(t, "web", "web", 2, "web:1"), configMap(t, "web", "conf", "x")}, ""},
					placement{"b", "web", []*unstructured.Unstructured{deployment(t, "web", "web", 2, "web:2"), configMap(t, "web", "conf", "x")}, ""})
			},
			wantChanged: []string{"b"},
			wantApps:    []wantApp{{"b", "web", PlacementUnchanged, []string{"changed apps/Deployment web/web"}, nil}},
		},
		{
			name: "objects added and removed, replicas changed",
			base: func(t *testing.T) *State {
				return state(two, placement{"a", "web", []*unstructured.Unstructured{deployment(t, "web", "web", 3, "web:1"), configMap(t, "web", "old", "x")}, ""})
			},
			head: func(t *testing.T) *State {
				return state(two, placement{"a", "web", []*unstructured.Unstructured{deployment(t, "web", "web", 4, "web:1"), configMap(t, "web", "new", "x")}, ""})
			},
			wantChanged: []string{"a"},
			wantApps: []wantApp{{"a", "web", PlacementUnchanged,
				[]string{"added ConfigMap web/new", "removed ConfigMap web/old", "changed apps/Deployment web/web"},
				[]string{"apps/Deployment web/web: 3 → 4"}}},
		},
		{
			name: "placement moves an app from one cluster to another",
			base: func(t *testing.T) *State {
				return state(two, placement{"a", "train", []*unstructured.Unstructured{deployment(t, "ml", "train", 1, "t:1")}, ""})
			},
			head: func(t *testing.T) *State {
				return state(two, placement{"b", "train", []*unstructured.Unstructured{deployment(t, "ml", "train", 1, "t:1")}, ""})
			},
			wantChanged: []string{"a", "b"},
			wantApps: []wantApp{
				{"a", "train", PlacementDeselected, []string{"removed apps/Deployment ml/train"}, []string{"apps/Deployment ml/train: 1 → none"}},
				{"b", "train", PlacementSelected, []string{"added apps/Deployment ml/train"}, []string{"apps/Deployment ml/train: none → 1"}},
			},
		},
		{
			name: "an app selected with no objects is still a change",
			base: func(t *testing.T) *State { return state(two) },
			head: func(t *testing.T) *State {
				return state(two, placement{"a", "empty", nil, ""})
			},
			wantChanged: []string{"a"},
			wantApps:    []wantApp{{"a", "empty", PlacementSelected, nil, nil}},
		},
		{
			name: "clusters added and removed",
			base: func(t *testing.T) *State {
				return state([]string{"a", "old"}, placement{"old", "web", []*unstructured.Unstructured{configMap(t, "web", "c", "x")}, ""})
			},
			head: func(t *testing.T) *State {
				return state([]string{"a", "new"})
			},
			wantChanged: []string{"new", "old"},
			wantApps:    []wantApp{{"old", "web", PlacementDeselected, []string{"removed ConfigMap web/c"}, nil}},
			wantChange:  map[string]ClusterChange{"new": ClusterAdded, "old": ClusterRemoved},
		},
		{
			name: "an app that failed to render at the base shows its head objects as added",
			base: func(t *testing.T) *State {
				return state(two, placement{"a", "web", nil, "undefined variable"})
			},
			head: func(t *testing.T) *State {
				return state(two, placement{"a", "web", []*unstructured.Unstructured{configMap(t, "web", "c", "x")}, ""})
			},
			wantChanged: []string{"a"},
			wantApps:    []wantApp{{"a", "web", PlacementUnchanged, []string{"added ConfigMap web/c"}, nil}},
		},
		{
			name: "the same render failure on both sides is no change",
			base: func(t *testing.T) *State { return state(two, placement{"a", "web", nil, "boom"}) },
			head: func(t *testing.T) *State { return state(two, placement{"a", "web", nil, "boom"}) },
		},
		{
			name: "cluster-scoped objects and key order",
			base: func(t *testing.T) *State { return state(two, placement{"a", "ns", nil, ""}) },
			head: func(t *testing.T) *State {
				return state(two, placement{"a", "ns", []*unstructured.Unstructured{
					obj(t, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n"),
					configMap(t, "web", "c", "x"),
				}, ""})
			},
			wantChanged: []string{"a"},
			wantApps:    []wantApp{{"a", "ns", PlacementUnchanged, []string{"added ConfigMap web/c", "added Namespace web"}, nil}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Compare(tc.base(t), tc.head(t), Options{MaskKey: testKey})
			if got := r.ChangedNames(); !slices.Equal(got, tc.wantChanged) && (len(got) > 0 || len(tc.wantChanged) > 0) {
				t.Fatalf("changed clusters %v, want %v", got, tc.wantChanged)
			}
			if r.HasChanges() != (len(tc.wantChanged) > 0) {
				t.Errorf("HasChanges() = %v", r.HasChanges())
			}
			nApps := 0
			for _, c := range r.Changed {
				nApps += len(c.Apps)
				want := tc.wantChange[c.Cluster]
				if want == "" {
					want = ClusterModified
				}
				if c.Change != want {
					t.Errorf("cluster %s: change %s, want %s", c.Cluster, c.Change, want)
				}
			}
			if nApps != len(tc.wantApps) {
				t.Errorf("%d app diffs, want %d: %+v", nApps, len(tc.wantApps), r.Changed)
			}
			for _, w := range tc.wantApps {
				c := r.Cluster(w.cluster)
				if c == nil || c.App(w.app) == nil {
					t.Errorf("no diff for app %s on cluster %s", w.app, w.cluster)
					continue
				}
				a := c.App(w.app)
				if a.Placement != w.placement {
					t.Errorf("%s/%s: placement %s, want %s", w.cluster, w.app, a.Placement, w.placement)
				}
				var actions []string
				for _, o := range a.Objects {
					actions = append(actions, string(o.Action)+" "+o.String())
					if o.Diff == "" {
						t.Errorf("%s/%s: %s has no diff", w.cluster, w.app, o.ObjectKey)
					}
				}
				if !slices.Equal(actions, w.actions) {
					t.Errorf("%s/%s: objects %q, want %q", w.cluster, w.app, actions, w.actions)
				}
				var replicas []string
				for _, rc := range a.Replicas {
					replicas = append(replicas, rc.String())
				}
				if !slices.Equal(replicas, w.replicas) {
					t.Errorf("%s/%s: replicas %q, want %q", w.cluster, w.app, replicas, w.replicas)
				}
			}
		})
	}
}

func TestCompareShowsAUnifiedYAMLDiff(t *testing.T) {
	base := state([]string{"a"}, placement{"a", "web", []*unstructured.Unstructured{deployment(t, "web", "web", 2, "web:1")}, ""})
	head := state([]string{"a"}, placement{"a", "web", []*unstructured.Unstructured{deployment(t, "web", "web", 2, "web:2")}, ""})
	r := Compare(base, head, Options{MaskKey: testKey})
	got := r.Changed[0].Apps[0].Objects[0].Diff
	want := `--- base/a/apps/Deployment/web/web
+++ head/a/apps/Deployment/web/web
@@ -8,5 +8,5 @@
   template:
     spec:
       containers:
-      - image: web:1
+      - image: web:2
         name: main
`
	if got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	added := Compare(state([]string{"a"}), head, Options{MaskKey: testKey}).Changed[0].Apps[0].Objects[0].Diff
	if !strings.HasPrefix(added, "--- /dev/null\n+++ head/a/apps/Deployment/web/web\n@@ -0,0 +1,12 @@\n+apiVersion: apps/v1\n") {
		t.Errorf("diff of an added object:\n%s", added)
	}
}

func TestCompareSkipsIdenticalDigests(t *testing.T) {
	// Equal digests short-circuit the object comparison: the objects are
	// not even looked at.
	base := &State{Clusters: []string{"a"}}
	base.place("a", "web", Placed{Digest: "sha256:1", Objects: []*unstructured.Unstructured{configMap(t, "web", "c", "x")}})
	head := &State{Clusters: []string{"a"}}
	head.place("a", "web", Placed{Digest: "sha256:1", Objects: []*unstructured.Unstructured{configMap(t, "web", "c", "y")}})
	if r := Compare(base, head, Options{}); r.HasChanges() {
		t.Errorf("equal digests reported as a change: %+v", r.Changed)
	}
	head.Placed["a"]["web"] = Placed{Digest: "sha256:2", Objects: head.Placed["a"]["web"].Objects}
	if r := Compare(base, head, Options{}); !r.HasChanges() {
		t.Error("different digests and objects reported as no change")
	}
}

func TestSummary(t *testing.T) {
	r := &Report{Clusters: 40}
	if got := r.Summary(); got != "no site changes (40 sites compared)" {
		t.Errorf("Summary() = %q", got)
	}
	r.Changed = []ClusterDiff{{Cluster: "central"}, {Cluster: "factory-a"}, {Cluster: "factory-b"}}
	if got := r.Summary(); got != "3 of 40 sites change: central, factory-a, factory-b" {
		t.Errorf("Summary() = %q", got)
	}
	r.Changed = nil
	for i := range 25 {
		r.Changed = append(r.Changed, ClusterDiff{Cluster: fmt.Sprintf("f%02d", i)})
	}
	if got := r.Summary(); !strings.HasPrefix(got, "25 of 40 sites change: f00, f01") || !strings.HasSuffix(got, "f19 and 5 more") {
		t.Errorf("Summary() = %q", got)
	}
	one := int64(1)
	a := AppDiff{App: "train", Placement: PlacementSelected,
		Objects:  []ObjectDiff{{Action: ObjectAdded}, {Action: ObjectAdded}},
		Replicas: []ReplicaChange{{ObjectKey: ObjectKey{Group: "apps", Kind: "Deployment", Namespace: "ml", Name: "train"}, After: &one}}}
	if got := a.Summary(); got != "train: newly selected, 2 added, replicas of Deployment train none → 1" {
		t.Errorf("AppDiff.Summary() = %q", got)
	}
}
