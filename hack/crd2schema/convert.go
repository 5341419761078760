package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"sigs.k8s.io/yaml"
)

// jsonSchemaDraft is the JSON Schema dialect written; draft-07 is the one
// editors (yaml-language-server, IntelliJ) support best.
const jsonSchemaDraft = "http://json-schema.org/draft-07/schema#"

// dnsLabelPattern is the syntax of cluster and app names.
const dnsLabelPattern = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

// object is a decoded JSON or YAML mapping.
type object = map[string]any

// Convert turns a CustomResourceDefinition (YAML) into the JSON Schema of
// the fleet file that declares such an object: the served version's
// openAPIV3Schema without status, with apiVersion and kind fixed, metadata
// limited to what a fleet file may set (name, labels, annotations), and
// unknown fields refused, as the fleet loader refuses them.
func Convert(crdYAML []byte) ([]byte, error) {
	var crd object
	if err := yaml.Unmarshal(crdYAML, &crd); err != nil {
		return nil, fmt.Errorf("parsing the CRD: %w", err)
	}
	spec, _ := crd["spec"].(object)
	if spec == nil {
		return nil, errors.New("the CRD has no spec")
	}
	group, _ := spec["group"].(string)
	names, _ := spec["names"].(object)
	kind, _ := names["kind"].(string)
	if group == "" || kind == "" {
		return nil, errors.New("the CRD has no spec.group or spec.names.kind")
	}
	version, root, err := storageSchema(spec)
	if err != nil {
		return nil, err
	}

	props, _ := root["properties"].(object)
	if props == nil {
		return nil, errors.New("the openAPIV3Schema has no properties")
	}
	delete(props, "status")
	props["apiVersion"] = object{
		"description": "The API version of fleet files.",
		"type":        "string",
		"enum":        []any{group + "/" + version},
	}
	props["kind"] = object{
		"description": "The kind of object this file declares.",
		"type":        "string",
		"enum":        []any{kind},
	}
	props["metadata"] = metadataSchema(kind)
	required := []any{"apiVersion", "kind", "metadata"}
	if specSchema, ok := props["spec"].(object); ok && len(stringList(specSchema["required"])) > 0 {
		required = append(required, "spec")
	}
	root["required"] = required

	clean(root)
	root["$schema"] = jsonSchemaDraft
	root["title"] = fmt.Sprintf("Flotilla %s (%s/%s)", kind, group, version)

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encoding the schema: %w", err)
	}
	return buf.Bytes(), nil
}

// storageSchema returns the storage version of a CRD spec and its
// openAPIV3Schema.
func storageSchema(spec object) (string, object, error) {
	versions, _ := spec["versions"].([]any)
	for _, v := range versions {
		ver, _ := v.(object)
		if storage, _ := ver["storage"].(bool); !storage {
			continue
		}
		name, _ := ver["name"].(string)
		schema, _ := ver["schema"].(object)
		root, _ := schema["openAPIV3Schema"].(object)
		if root == nil {
			return "", nil, fmt.Errorf("version %s has no schema.openAPIV3Schema", name)
		}
		return name, root, nil
	}
	return "", nil, errors.New("the CRD has no storage version")
}

// metadataSchema is what a fleet file may set in metadata.
func metadataSchema(kind string) object {
	stringMap := func(desc string) object {
		return object{
			"description":          desc,
			"type":                 "object",
			"additionalProperties": scalarText(),
		}
	}
	labelsDesc := "Labels of the " + kind + "."
	nameDesc := "The " + kind + "'s name."
	switch kind {
	case "Cluster":
		labelsDesc = "The cluster's labels (region, role, gpu, ...): what clusterSelector, spread, rankBy and weightBy read, and ${cluster.labels.<key>} substitutes."
		nameDesc = "The cluster's name: the file is clusters/<name>.yaml."
	case "App":
		nameDesc = "The app's name: the file is apps/<name>/app.yaml."
	}
	return object{
		"description": "Only name, labels and annotations may be set in a fleet file.",
		"type":        "object",
		"properties": object{
			"name": object{
				"description": nameDesc,
				"type":        "string",
				"maxLength":   63,
				"pattern":     dnsLabelPattern,
			},
			"labels":      stringMap(labelsDesc),
			"annotations": stringMap("Annotations, ignored by placement."),
		},
		"required":             []any{"name"},
		"additionalProperties": false,
	}
}

// clean rewrites an OpenAPI v3 schema node, and every node under it, into
// JSON Schema: Kubernetes extensions are dropped, nullable becomes a null
// type, integer formats (not JSON Schema formats) are dropped, maps of
// strings accept any scalar (see scalarText), and objects with declared
// properties refuse unknown ones.
func clean(node object) {
	for k := range node {
		if len(k) > 13 && k[:13] == "x-kubernetes-" {
			delete(node, k)
		}
	}
	if f, _ := node["format"].(string); f == "int32" || f == "int64" {
		delete(node, "format")
	}
	if nullable, _ := node["nullable"].(bool); nullable {
		if t, ok := node["type"].(string); ok {
			node["type"] = []any{t, "null"}
		}
	}
	delete(node, "nullable")
	if ap, ok := node["additionalProperties"].(object); ok && len(ap) == 1 && ap["type"] == "string" {
		node["additionalProperties"] = scalarText()
	}
	if props, ok := node["properties"].(object); ok {
		for _, p := range props {
			if child, ok := p.(object); ok {
				clean(child)
			}
		}
		if _, set := node["additionalProperties"]; !set {
			node["additionalProperties"] = false
		}
	}
	for _, key := range []string{"items", "additionalProperties"} {
		if child, ok := node[key].(object); ok {
			clean(child)
		}
	}
	for _, key := range []string{"anyOf", "oneOf", "allOf"} {
		if list, ok := node[key].([]any); ok {
			for _, item := range list {
				if child, ok := item.(object); ok {
					clean(child)
				}
			}
		}
	}
}

// scalarText is the schema of a value in a map of strings (vars, labels,
// annotations, matchLabels). The fleet loader reads any scalar there as its
// literal text (8 is "8", 1.10 stays "1.10"), so the schema accepts
// numbers and booleans too rather than flag a file the loader accepts.
func scalarText() object {
	return object{"type": []any{"string", "number", "boolean"}}
}

// stringList returns the strings of a decoded list.
func stringList(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, item := range list {
		if s, ok := item.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
