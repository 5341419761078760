package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestCheckedInSchemasAreCurrent fails when docs/schema is older than the
// CRDs: regenerate with go run ./hack/crd2schema.
func TestCheckedInSchemasAreCurrent(t *testing.T) {
	if err := run(crdDir, "../../docs/schema", true); err != nil {
		t.Fatal(err)
	}
}

// TestFleetFilesMatchSchemas checks every Cluster and App file the
// repository ships (the example fleet and the template) against the
// schemas, so that editors never flag a valid file.
func TestFleetFilesMatchSchemas(t *testing.T) {
	schemas := map[string]object{
		"Cluster": loadSchema(t, "../../docs/schema/cluster.json"),
		"App":     loadSchema(t, "../../docs/schema/app.json"),
	}
	var files []string
	for _, root := range []string{"../../examples/factory-fleet", "../../fleet-repo-template"} {
		clusters, _ := filepath.Glob(filepath.Join(root, "clusters", "*.yaml"))
		apps, _ := filepath.Glob(filepath.Join(root, "apps", "*", "app.yaml"))
		if len(clusters) == 0 || len(apps) == 0 {
			t.Fatalf("%s: found %d cluster and %d app files, want some of each", root, len(clusters), len(apps))
		}
		files = append(files, clusters...)
		files = append(files, apps...)
	}
	for _, f := range files {
		doc := loadYAML(t, f)
		kind, _ := doc["kind"].(string)
		schema := schemas[kind]
		if schema == nil {
			t.Errorf("%s: kind %q has no schema", f, kind)
			continue
		}
		for _, problem := range validate(schema, doc, "") {
			t.Errorf("%s: %s", f, problem)
		}
	}
}

// TestSchemasRefuseWhatTheLoaderRefuses shows the validator used above can
// fail: mistakes the fleet loader rejects are flagged by the schemas too.
func TestSchemasRefuseWhatTheLoaderRefuses(t *testing.T) {
	app := loadSchema(t, "../../docs/schema/app.json")
	cluster := loadSchema(t, "../../docs/schema/cluster.json")
	cases := map[string]struct {
		schema object
		doc    string
	}{
		"unknown spec field": {app, "apiVersion: flotilla.dev/v1alpha1\nkind: App\nmetadata: {name: a}\nspec: {namespace: a, placment: {}}\n"},
		"misspelt selector":  {app, "apiVersion: flotilla.dev/v1alpha1\nkind: App\nmetadata: {name: a}\nspec: {namespace: a, placement: {clusterSelector: {matchLabel: {a: b}}}}\n"},
		"missing namespace":  {app, "apiVersion: flotilla.dev/v1alpha1\nkind: App\nmetadata: {name: a}\nspec: {}\n"},
		"maxClusters zero":   {app, "apiVersion: flotilla.dev/v1alpha1\nkind: App\nmetadata: {name: a}\nspec: {namespace: a, placement: {maxClusters: 0}}\n"},
		"wrong kind":         {cluster, "apiVersion: flotilla.dev/v1alpha1\nkind: App\nmetadata: {name: a}\n"},
		"wrong apiVersion":   {cluster, "apiVersion: flotilla.dev/v1\nkind: Cluster\nmetadata: {name: a}\n"},
		"metadata namespace": {cluster, "apiVersion: flotilla.dev/v1alpha1\nkind: Cluster\nmetadata: {name: a, namespace: b}\n"},
		"bad access mode":    {cluster, "apiVersion: flotilla.dev/v1alpha1\nkind: Cluster\nmetadata: {name: a}\nspec: {access: {mode: Poll}}\n"},
		"var not a scalar":   {cluster, "apiVersion: flotilla.dev/v1alpha1\nkind: Cluster\nmetadata: {name: a}\nspec: {vars: {lines: [6]}}\n"},
		"bad cluster name":   {cluster, "apiVersion: flotilla.dev/v1alpha1\nkind: Cluster\nmetadata: {name: Factory_A}\n"},
		"status":             {cluster, "apiVersion: flotilla.dev/v1alpha1\nkind: Cluster\nmetadata: {name: a}\nstatus: {}\n"},
	}
	for name, tc := range cases {
		var doc object
		if err := yaml.Unmarshal([]byte(tc.doc), &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if problems := validate(tc.schema, doc, ""); len(problems) == 0 {
			t.Errorf("%s: the schema accepts it, want a problem", name)
		}
	}
}

func loadSchema(t *testing.T, file string) object {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var s object
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return s
}

func loadYAML(t *testing.T, file string) object {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc object
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return doc
}

// validate checks a decoded document against the subset of JSON Schema
// that Convert writes (type, enum, properties, required,
// additionalProperties, items, anyOf, minimum, maxLength, pattern) and
// returns one line per problem.
func validate(schema object, v any, path string) []string {
	var problems []string
	fail := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s: %s", orRoot(path), fmt.Sprintf(format, args...)))
	}
	if anyOf, ok := schema["anyOf"].([]any); ok {
		matched := false
		for _, alt := range anyOf {
			if len(validate(alt.(object), v, path)) == 0 {
				matched = true
				break
			}
		}
		if !matched {
			fail("matches none of anyOf")
		}
	}
	if t, ok := schema["type"]; ok && !hasType(t, v) {
		fail("is %T, want %v", v, t)
		return problems
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return equalJSON(e, v) }) {
		fail("%v is not one of %v", v, enum)
	}
	if min, ok := schema["minimum"].(float64); ok {
		if n, isNum := v.(float64); isNum && n < min {
			fail("%v is below the minimum %v", n, min)
		}
	}
	if s, isStr := v.(string); isStr {
		if max, ok := schema["maxLength"].(float64); ok && float64(len(s)) > max {
			fail("is longer than %v", max)
		}
		if p, ok := schema["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(s) {
			fail("%q does not match %s", s, p)
		}
	}
	switch val := v.(type) {
	case map[string]any:
		props, _ := schema["properties"].(object)
		for _, req := range stringList(schema["required"]) {
			if _, ok := val[req]; !ok {
				fail("%s is required", req)
			}
		}
		keys := make([]string, 0, len(val))
		for k := range val {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if p, ok := props[k].(object); ok {
				problems = append(problems, validate(p, val[k], path+"."+k)...)
				continue
			}
			switch ap := schema["additionalProperties"].(type) {
			case bool:
				if !ap {
					fail("unknown field %s", k)
				}
			case map[string]any:
				problems = append(problems, validate(ap, val[k], path+"."+k)...)
			}
		}
	case []any:
		if items, ok := schema["items"].(object); ok {
			for i, item := range val {
				problems = append(problems, validate(items, item, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	return problems
}

// hasType reports whether v has the JSON Schema type t (a name or a list).
func hasType(t any, v any) bool {
	if list, ok := t.([]any); ok {
		return slices.ContainsFunc(list, func(one any) bool { return hasType(one, v) })
	}
	switch t {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "integer":
		n, ok := v.(float64)
		return ok && n == math.Trunc(n)
	case "number":
		_, ok := v.(float64)
		return ok
	case "null":
		return v == nil
	}
	return false
}

func orRoot(path string) string {
	if path == "" {
		return "(root)"
	}
	return path[1:]
}

// TestSchemasAcceptWhatTheLoaderAccepts covers forms the fleet loader reads
// that a too-strict schema would flag in an editor.
func TestSchemasAcceptWhatTheLoaderAccepts(t *testing.T) {
	app := loadSchema(t, "../../docs/schema/app.json")
	cluster := loadSchema(t, "../../docs/schema/cluster.json")
	cases := map[string]struct {
		schema object
		doc    string
	}{
		"unquoted scalar vars and labels": {cluster, "apiVersion: flotilla.dev/v1alpha1\nkind: Cluster\nmetadata: {name: a, labels: {gpu: true}}\nspec: {vars: {lines: 8, ratio: 1.5, on: false}}\n"},
		"cluster without spec":            {cluster, "apiVersion: flotilla.dev/v1alpha1\nkind: Cluster\nmetadata: {name: a}\n"},
		"empty selector selects all":      {app, "apiVersion: flotilla.dev/v1alpha1\nkind: App\nmetadata: {name: a}\nspec: {namespace: a, overlays: [{name: o, clusterSelector: {}}]}\n"},
		"every placement field": {app, `apiVersion: flotilla.dev/v1alpha1
kind: App
metadata: {name: a}
spec:
  namespace: a
  path: base
  placement:
    clusterSelector: {matchExpressions: [{key: gpu, operator: In, values: ["true"]}]}
    clusterNames: [x]
    exclude: [other]
    tolerations: [{operator: Exists}]
    maxClusters: 2
    spread: {labelKey: region, maxPerValue: 1}
    rankBy: {label: tier, descending: true}
    replicas:
      - {workload: {name: w}, total: 3, weightBy: {var: lines}}
      - {workload: {kind: StatefulSet, name: s}, total: 2, staticWeights: [{clusters: [x], weight: 1}]}
  dependsOn: [b]
  rollout: {canary: [x], maxUnavailable: 1}
  healthTimeout: 5m
  prune: false
`},
	}
	for name, tc := range cases {
		var doc object
		if err := yaml.Unmarshal([]byte(tc.doc), &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, problem := range validate(tc.schema, doc, "") {
			t.Errorf("%s: %s", name, problem)
		}
	}
}
