package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const crdDir = "../../config/crd/bases"

// convertFile converts one CRD of the repository and decodes the schema.
func convertFile(t *testing.T, crd string) object {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(crdDir, crd))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Convert(data)
	if err != nil {
		t.Fatalf("Convert(%s): %v", crd, err)
	}
	var schema object
	if err := json.Unmarshal(out, &schema); err != nil {
		t.Fatalf("Convert(%s) wrote invalid JSON: %v", crd, err)
	}
	return schema
}

// at walks a schema along property names ("items" steps into an array).
func at(t *testing.T, schema object, path ...string) object {
	t.Helper()
	node := schema
	for _, step := range path {
		var next object
		if step == "items" {
			next, _ = node["items"].(object)
		} else {
			props, _ := node["properties"].(object)
			next, _ = props[step].(object)
		}
		if next == nil {
			t.Fatalf("schema has no %s", strings.Join(path, "."))
		}
		node = next
	}
	return node
}

func TestConvertFixesHeaderAndDropsStatus(t *testing.T) {
	for crd, kind := range map[string]string{"flotilla.dev_clusters.yaml": "Cluster", "flotilla.dev_apps.yaml": "App"} {
		schema := convertFile(t, crd)
		if schema["$schema"] != jsonSchemaDraft {
			t.Errorf("%s: $schema = %v, want %s", crd, schema["$schema"], jsonSchemaDraft)
		}
		props := schema["properties"].(object)
		if _, ok := props["status"]; ok {
			t.Errorf("%s: status is still in the schema; a fleet file cannot set it", crd)
		}
		if got := at(t, schema, "apiVersion")["enum"]; !equalJSON(got, []any{"flotilla.dev/v1alpha1"}) {
			t.Errorf("%s: apiVersion enum = %v", crd, got)
		}
		if got := at(t, schema, "kind")["enum"]; !equalJSON(got, []any{kind}) {
			t.Errorf("%s: kind enum = %v, want [%s]", crd, got, kind)
		}
		meta := at(t, schema, "metadata")
		if meta["additionalProperties"] != false {
			t.Errorf("%s: metadata accepts unknown fields", crd)
		}
		if _, ok := meta["properties"].(object)["namespace"]; ok {
			t.Errorf("%s: metadata.namespace is allowed, but fleet files cannot set it", crd)
		}
		if !equalJSON(meta["required"], []any{"name"}) {
			t.Errorf("%s: metadata.required = %v, want [name]", crd, meta["required"])
		}
	}
}

func TestConvertRequiresSpecOnlyWhenSpecHasRequiredFields(t *testing.T) {
	app := convertFile(t, "flotilla.dev_apps.yaml")
	if !equalJSON(app["required"], []any{"apiVersion", "kind", "metadata", "spec"}) {
		t.Errorf("App required = %v; spec.namespace is required, so spec is", app["required"])
	}
	cluster := convertFile(t, "flotilla.dev_clusters.yaml")
	if !equalJSON(cluster["required"], []any{"apiVersion", "kind", "metadata"}) {
		t.Errorf("Cluster required = %v; a cluster may have no spec", cluster["required"])
	}
}

func TestConvertRefusesUnknownFieldsAndKeepsMaps(t *testing.T) {
	app := convertFile(t, "flotilla.dev_apps.yaml")
	for _, path := range [][]string{
		{"spec"},
		{"spec", "placement"},
		{"spec", "placement", "replicas", "items", "workload"},
		{"spec", "overlays", "items"},
		{"spec", "placement", "clusterSelector"},
	} {
		if got := at(t, app, path...)["additionalProperties"]; got != false {
			t.Errorf("%s: additionalProperties = %v, want false", strings.Join(path, "."), got)
		}
	}
	matchLabels := at(t, app, "spec", "placement", "clusterSelector", "matchLabels")
	if !equalJSON(matchLabels["additionalProperties"], scalarText()) {
		t.Errorf("matchLabels additionalProperties = %v, want a map of scalars", matchLabels["additionalProperties"])
	}
	cluster := convertFile(t, "flotilla.dev_clusters.yaml")
	vars := at(t, cluster, "spec", "vars")
	if !equalJSON(vars["additionalProperties"], scalarText()) {
		t.Errorf("vars additionalProperties = %v, want a map of scalars", vars["additionalProperties"])
	}
}

func TestCleanRewritesOpenAPIExtensions(t *testing.T) {
	node := object{
		"type":     "object",
		"nullable": true,
		"properties": object{
			"n":    object{"type": "integer", "format": "int32"},
			"when": object{"type": "string", "format": "date-time"},
			"ios": object{
				"anyOf":                      []any{object{"type": "integer"}, object{"type": "string"}},
				"x-kubernetes-int-or-string": true,
			},
			"list": object{"type": "array", "x-kubernetes-list-type": "atomic", "items": object{
				"type": "object", "properties": object{"a": object{"type": "string"}},
			}},
			"free": object{"type": "object", "x-kubernetes-preserve-unknown-fields": true},
			"strs": object{"type": "object", "additionalProperties": object{"type": "string"}},
		},
	}
	clean(node)
	want := object{
		"type":                 []any{"object", "null"},
		"additionalProperties": false,
		"properties": object{
			"n":    object{"type": "integer"},
			"when": object{"type": "string", "format": "date-time"},
			"ios":  object{"anyOf": []any{object{"type": "integer"}, object{"type": "string"}}},
			"list": object{"type": "array", "items": object{
				"type": "object", "additionalProperties": false, "properties": object{"a": object{"type": "string"}},
			}},
			"free": object{"type": "object"},
			"strs": object{"type": "object", "additionalProperties": scalarText()},
		},
	}
	if !equalJSON(node, want) {
		got, _ := json.MarshalIndent(node, "", " ")
		t.Errorf("clean gave\n%s", got)
	}
}

func TestConvertRejectsWhatIsNotACRD(t *testing.T) {
	for name, in := range map[string]string{
		"not yaml":      "{",
		"no spec":       "kind: CustomResourceDefinition\n",
		"no storage":    "spec: {group: g, names: {kind: K}, versions: [{name: v1, storage: false}]}\n",
		"no schema":     "spec: {group: g, names: {kind: K}, versions: [{name: v1, storage: true}]}\n",
		"no properties": "spec: {group: g, names: {kind: K}, versions: [{name: v1, storage: true, schema: {openAPIV3Schema: {type: object}}}]}\n",
	} {
		if _, err := Convert([]byte(in)); err == nil {
			t.Errorf("%s: Convert succeeded, want an error", name)
		}
	}
}

// equalJSON compares two decoded JSON values.
func equalJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}
