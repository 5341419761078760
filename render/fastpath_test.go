package render

import (
	"reflect"
	"strings"
	"testing"

	yamlv2 "go.yaml.in/yaml/v2"
	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/api/resmap"
)

// fastPathObjects reference variables in every way the fast path handles:
// plain, quoted, inside text, long folded lines, sequences, flow
// collections (where a "${" is always quoted).
const fastPathObjects = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-${cluster.name}
  labels:
    plain: ${cluster.vars.a}
    dq: "${cluster.vars.b}"
    sq: 'x-${cluster.vars.c}'
  annotations:
    long: "some long text with spaces ${cluster.vars.a} and more words to pass the eighty column limit ${cluster.vars.b}"
    mixed: pre ${cluster.vars.a} post
    escaped: $${cluster.vars.a}
spec:
  replicas: ${cluster.vars.a}
  template:
    spec:
      containers:
      - name: c
        image: ${cluster.vars.b}/img:${cluster.vars.c}
        env:
        - name: E
          value: ${cluster.vars.c}
        - name: F
          value: "${cluster.vars.a}"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: flow
data:
  list: "x"
  args: ${cluster.vars.b}
  nested:
    - ${cluster.vars.a}
    - [a, "${cluster.vars.c}"]
`

// builtObjects prepares objects as a build does.
func builtObjects(t testing.TB, text string) []builtObject {
	t.Helper()
	rm, err := resmap.NewFactory(provider.NewDepProvider().GetResourceFactory()).NewResMapFromBytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	var out []builtObject
	for _, res := range rm.Resources() {
		bo, err := newBuiltObject(res, true)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, bo)
	}
	return out
}

// checkFastMatchesText renders every object both ways and fails on any
// difference in error, YAML or object.
func checkFastMatchesText(t *testing.T, objs []builtObject, vars map[string]string) {
	t.Helper()
	for _, o := range objs {
		fu, fy, ferr := o.render(vars, true)
		tu, ty, terr := o.render(vars, false)
		if (ferr == nil) != (terr == nil) {
			t.Fatalf("%s with %q: fast error %v, text error %v", o.id, vars, ferr, terr)
		}
		if ferr != nil {
			if ferr.Error() != terr.Error() {
				t.Fatalf("%s: fast error %q, text error %q", o.id, ferr, terr)
			}
			continue
		}
		if string(fy) != string(ty) {
			t.Fatalf("%s with %q: YAML differs\n--- fast\n%s\n--- text\n%s", o.id, vars, fy, ty)
		}
		if !reflect.DeepEqual(fu.Object, tu.Object) {
			t.Fatalf("%s with %q: objects differ\nfast: %#v\ntext: %#v", o.id, vars, fu.Object, tu.Object)
		}
	}
}

var fastPathValues = []string{
	"3", "-3", "0", "007", "0x1F", "1.5", "1.0", "1e3", ".inf", "true", "True", "false", "yes", "no", "on", "off", "y",
	"null", "Null", "~", "", " ", "a b", "a: b", "a:b", "a #b", "a#b", "#x", "- x", "-x", "-", "? x", "[x]", "{x}", "x]",
	"*x", "&x", "!x", "!!str 3", "|", ">", "%x", "@x", "`x", "'x'", "x'y", `"x"`, `x"y`, `x\y`, "x\ty", "x\ny", "---", "...",
	"harbor.local", "Grüße", "工場", "2001-12-14", "12:30", "1_000", "+1", "0o17", "NaN", "nan", "<<", "=", "x:",
	strings.Repeat("word ", 20), strings.Repeat("w", 120), "${cluster.name}", "$${x}",
}

// The fast path and the text path agree on every tricky value.
func TestFastPathMatchesText(t *testing.T) {
	objs := builtObjects(t, fastPathObjects)
	if objs[0].plan == nil {
		t.Fatal("the Deployment has no fast path")
	}
	if objs[0].plan.segments == nil {
		t.Fatal("the Deployment's printed form was not cut at its holes")
	}
	simple := map[string]string{"cluster.name": "c1", "cluster.vars.a": "3", "cluster.vars.b": "harbor.local", "cluster.vars.c": "v1"}
	for _, o := range objs[:2] {
		if _, _, ok := o.plan.apply(o.obj, simple); !ok {
			t.Fatalf("%s: the fast path declined simple values", o.id)
		}
	}
	for _, a := range fastPathValues {
		for _, b := range []string{"harbor.local", a} {
			vars := map[string]string{"cluster.name": "c1", "cluster.vars.a": a, "cluster.vars.b": b, "cluster.vars.c": a}
			checkFastMatchesText(t, objs, vars)
		}
	}
	// An undefined variable: same error both ways.
	checkFastMatchesText(t, objs, map[string]string{"cluster.name": "c1"})
}

// FuzzFastPathMatchesText: for any values, the fast path gives exactly
// what substituting in the text and parsing again gives.
func FuzzFastPathMatchesText(f *testing.F) {
	for _, v := range fastPathValues {
		f.Add(v, "x", v)
	}
	objs := builtObjects(f, fastPathObjects)
	f.Fuzz(func(t *testing.T, a, b, c string) {
		checkFastMatchesText(t, objs, map[string]string{"cluster.name": "c1", "cluster.vars.a": a, "cluster.vars.b": b, "cluster.vars.c": c})
	})
}

// printsPlain never claims plain printing for a string go-yaml v2 quotes.
func TestPrintsPlainAgreesWithPrinter(t *testing.T) {
	words := append([]string{"harbor.local", "factory-a", "v1.2.3", "a/b_c-d.e", "Y", "YES", "Off", "NULL", "Null", "nULL",
		"e", "E1", "x1e3", "inf", "Inf", "nan", "NaN", "a..b", "a-", "a_", "z9"}, fastPathValues...)
	for _, w := range words {
		want, err := yamlv2.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		if printsPlain(w) && string(want) != w+"\n" {
			t.Errorf("printsPlain(%q) but the printer writes %q", w, want)
		}
	}
}

func FuzzPrintsPlain(f *testing.F) {
	f.Add("harbor.local")
	f.Add("Yes")
	f.Fuzz(func(t *testing.T, s string) {
		if !printsPlain(s) {
			return
		}
		out, err := yamlv2.Marshal(s)
		if err != nil || string(out) != s+"\n" {
			t.Fatalf("printsPlain(%q) but the printer writes %q (%v)", s, out, err)
		}
	})
}
