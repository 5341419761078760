package fleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// maxNodeVisits caps the YAML nodes visited while decoding one file,
	// aliases included, so that an alias bomb cannot exhaust memory. The
	// cap for a file is also at most twice its size plus nodeVisitsSlack:
	// every node takes at least two bytes, so a file without aliases never
	// reaches it, and alias expansion stays linear in the file's size.
	maxNodeVisits   = 1_000_000
	nodeVisitsSlack = 10_000
	// maxDepth caps the nesting of YAML values in a fleet file.
	maxDepth = 200
)

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	objectMetaType      = reflect.TypeFor[metav1.ObjectMeta]()
	yamlLineRE          = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

// metadataFields are the metadata fields a fleet file may set.
var metadataFields = map[string]bool{"name": true, "labels": true, "annotations": true}

// decodeDocument parses data as exactly one YAML document and decodes it
// strictly into target (a pointer to a struct). Unknown fields, duplicate
// fields, values of the wrong type and malformed YAML are reported with
// their line; the fields that decoded cleanly are still stored into
// target. It returns the parsed document (nil when the YAML is malformed)
// and whether target holds a decoded object.
func decodeDocument(r *reporter, data []byte, kind string, target any) (*yaml.Node, bool) {
	doc, ok := parseSingleDocument(r, data, kind)
	if !ok {
		return nil, false
	}
	r.root = doc
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		r.errorAt(top.Line, "the file must hold one %s object, a mapping with apiVersion, kind, metadata and spec; found %s", kind, describeNode(top))
		return doc, false
	}
	c := &converter{r: r, maxVisits: min(maxNodeVisits, 2*len(data)+nodeVisitsSlack)}
	val, _ := c.value(top, reflect.TypeOf(target).Elem(), nil, 0)
	if val == nil || c.budgetReached {
		return doc, false
	}
	raw, err := json.Marshal(val)
	if err != nil {
		r.errorAt(top.Line, "could not encode the decoded %s: %v; report this as a bug", kind, err)
		return doc, false
	}
	if err := json.Unmarshal(raw, target); err != nil {
		r.errorAt(top.Line, "could not decode the %s: %v; check the field types against docs/fleet-repository.md", kind, err)
		return doc, false
	}
	return doc, true
}

// parseSingleDocument parses data and requires exactly one YAML document
// whose content is not empty.
func parseSingleDocument(r *reporter, data []byte, kind string) (doc *yaml.Node, ok bool) {
	defer func() {
		// The YAML library must not take the process down on hostile input.
		if p := recover(); p != nil {
			r.errorAt(0, "malformed YAML: the parser failed (%v); fix the syntax of the file", p)
			doc, ok = nil, false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line, msg := yamlErrorLine(err)
			r.errorAt(line, "malformed YAML: %s; fix the syntax at this line", msg)
			return nil, false
		}
		if n.Kind == yaml.DocumentNode && (len(n.Content) == 0 || isNull(n.Content[0])) {
			// An empty document ("---" with nothing after it) is
			// tolerated, as kubectl does.
			continue
		}
		docs = append(docs, &n)
	}
	switch {
	case len(docs) == 0:
		r.errorAt(0, "the file is empty; it must hold one %s object (apiVersion: %s, kind: %s)", kind, apiVersion, kind)
		return nil, false
	case len(docs) > 1:
		r.errorAt(docs[1].Line, "the file holds %d YAML documents; a %s file holds exactly one: move the others to their own files", len(docs), strings.ToLower(kind))
		return nil, false
	}
	return docs[0], true
}

// yamlErrorLine extracts the line from a YAML parser error.
func yamlErrorLine(err error) (int, string) {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return line, m[2]
	}
	return 0, strings.TrimPrefix(msg, "yaml: ")
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describeNode says what a node is, for error messages.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return strconv.Quote(v)
	default:
		return "an unsupported YAML node"
	}
}

// converter walks a YAML node tree along a Go type and produces a value that
// encoding/json decodes into that type, reporting every mismatch.
type converter struct {
	r             *reporter
	maxVisits     int
	visits        int
	budgetReached bool
}

// value converts n for a field of type t. It returns nil, false when the
// value is dropped because of an error (already reported).
func (c *converter) value(n *yaml.Node, t reflect.Type, path fieldPath, depth int) (any, bool) {
	if !c.visit(n, path, depth) {
		return nil, false
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			c.r.errorAt(n.Line, "%s: the alias *%s names no anchor; define the anchor or write the value out", pathOrTop(path), n.Value)
			return nil, false
		}
		return c.value(n.Alias, t, path, depth+1)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if isNull(n) {
		return nil, true
	}
	if t.Implements(jsonUnmarshalerType) || reflect.PointerTo(t).Implements(jsonUnmarshalerType) {
		return c.opaque(n, t, path, depth)
	}
	switch t.Kind() {
	case reflect.Struct:
		return c.structValue(n, t, path, depth)
	case reflect.Map:
		return c.mapValue(n, t, path, depth)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.r.errorAt(n.Line, "%s: must be a list (items starting with \"- \"), found %s", pathOrTop(path), describeNode(n))
			return nil, false
		}
		out := make([]any, 0, len(n.Content))
		for i, item := range n.Content {
			v, ok := c.value(item, t.Elem(), path.child(i), depth+1)
			if !ok {
				// Keep the indexes of the other items stable.
				v = reflect.Zero(t.Elem()).Interface()
			}
			out = append(out, v)
		}
		return out, true
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			c.r.errorAt(n.Line, "%s: must be a single value, found %s", pathOrTop(path), describeNode(n))
			return nil, false
		}
		// The literal text is kept: a version written 1.10 stays "1.10".
		return n.Value, true
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
			c.r.errorAt(n.Line, "%s: must be true or false, found %s", pathOrTop(path), describeNode(n))
			return nil, false
		}
		return b, true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var i int64
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&i) != nil || reflect.Zero(t).OverflowInt(i) {
			c.r.errorAt(n.Line, "%s: must be a whole number that fits in %d bits, found %s", pathOrTop(path), t.Bits(), describeNode(n))
			return nil, false
		}
		return i, true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		var u uint64
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&u) != nil || reflect.Zero(t).OverflowUint(u) {
			c.r.errorAt(n.Line, "%s: must be a non-negative whole number that fits in %d bits, found %s", pathOrTop(path), t.Bits(), describeNode(n))
			return nil, false
		}
		return u, true
	case reflect.Float32, reflect.Float64:
		var f float64
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&f) != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			c.r.errorAt(n.Line, "%s: must be a number, found %s", pathOrTop(path), describeNode(n))
			return nil, false
		}
		return f, true
	case reflect.Interface:
		return c.generic(n, path, depth)
	default:
		c.r.errorAt(n.Line, "%s: values of Go type %s are not supported in fleet files; report this as a bug", pathOrTop(path), t)
		return nil, false
	}
}

// visit counts a node against the budget and the depth limit.
func (c *converter) visit(n *yaml.Node, path fieldPath, depth int) bool {
	if c.budgetReached {
		return false
	}
	c.visits++
	if c.visits > c.maxVisits {
		c.budgetReached = true
		c.r.errorAt(n.Line, "%s: the file expands to more than %d YAML values (too many aliases?); write the values out or split the file", pathOrTop(path), c.maxVisits)
		return false
	}
	if depth > maxDepth {
		c.budgetReached = true
		c.r.errorAt(n.Line, "%s: values are nested more than %d levels deep; flatten them", pathOrTop(path), maxDepth)
		return false
	}
	return true
}

// structValue converts a mapping into the JSON fields of struct type t.
func (c *converter) structValue(n *yaml.Node, t reflect.Type, path fieldPath, depth int) (any, bool) {
	if n.Kind != yaml.MappingNode {
		c.r.errorAt(n.Line, "%s: must be a mapping of fields (key: value), found %s", pathOrTop(path), describeNode(n))
		return nil, false
	}
	fields := jsonFields(t)
	out := make(map[string]any, len(n.Content)/2)
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key, ok := c.key(k, path, seen)
		if !ok {
			continue
		}
		fpath := path.child(key)
		ft, known := fields[key]
		switch {
		case !known:
			c.r.errorAt(k.Line, "%s: unknown field; %s", fpath, unknownFieldHint(key, path, fields))
			continue
		case len(path) == 0 && key == "status":
			c.r.errorAt(k.Line, "status: is reported by the hub and cannot be set in a fleet file; remove it")
			continue
		case t == objectMetaType && !metadataFields[key]:
			c.r.errorAt(k.Line, "%s: cannot be set in a fleet file (only metadata.name, metadata.labels and metadata.annotations are read); remove it", fpath)
			continue
		}
		if val, ok := c.value(v, ft, fpath, depth+1); ok && val != nil {
			out[key] = val
		}
	}
	return out, true
}

// mapValue converts a mapping into a map with string keys.
func (c *converter) mapValue(n *yaml.Node, t reflect.Type, path fieldPath, depth int) (any, bool) {
	if n.Kind != yaml.MappingNode {
		c.r.errorAt(n.Line, "%s: must be a mapping of key: value pairs, found %s", pathOrTop(path), describeNode(n))
		return nil, false
	}
	if t.Key().Kind() != reflect.String {
		c.r.errorAt(n.Line, "%s: maps with %s keys are not supported in fleet files; report this as a bug", pathOrTop(path), t.Key())
		return nil, false
	}
	out := make(map[string]any, len(n.Content)/2)
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, ok := c.key(n.Content[i], path, seen)
		if !ok {
			continue
		}
		val, ok := c.value(n.Content[i+1], t.Elem(), path.child(key), depth+1)
		if !ok {
			continue
		}
		if val == nil && t.Elem().Kind() == reflect.String {
			val = ""
		}
		out[key] = val
	}
	return out, true
}

// key validates a mapping key: a scalar, not a merge key, not repeated.
func (c *converter) key(k *yaml.Node, path fieldPath, seen map[string]int) (string, bool) {
	if k.Kind == yaml.AliasNode && k.Alias != nil {
		k = k.Alias
	}
	if k.Kind != yaml.ScalarNode {
		c.r.errorAt(k.Line, "%s: a key must be a single value, found %s", pathOrTop(path), describeNode(k))
		return "", false
	}
	if k.Tag == "!!merge" {
		c.r.errorAt(k.Line, "%s: YAML merge keys (<<) are not supported in fleet files; write the fields out", pathOrTop(path))
		return "", false
	}
	if first, dup := seen[k.Value]; dup {
		c.r.errorAt(k.Line, "%s: is set twice (first at line %d); keep one", path.child(k.Value), first)
		return "", false
	}
	seen[k.Value] = k.Line
	return k.Value, true
}

// opaque converts a value for a type with its own JSON decoding (durations,
// times, quantities) and checks that the type accepts it.
func (c *converter) opaque(n *yaml.Node, t reflect.Type, path fieldPath, depth int) (any, bool) {
	v, ok := c.generic(n, path, depth)
	if !ok {
		return nil, false
	}
	raw, err := json.Marshal(v)
	if err == nil {
		err = json.Unmarshal(raw, reflect.New(t).Interface())
	}
	if err != nil {
		c.r.errorAt(n.Line, "%s: invalid value %s: %v; %s", pathOrTop(path), describeNode(n), err, formatHint(t))
		return nil, false
	}
	return v, true
}

// formatHint says how to write a value of a type with its own format.
func formatHint(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[metav1.Duration]():
		return "write a duration such as 90s, 5m or 1h"
	case reflect.TypeFor[metav1.Time]():
		return "write an RFC 3339 time such as 2025-01-31T08:00:00Z"
	default:
		return "see docs/fleet-repository.md for the format of this field"
	}
}

// generic converts any YAML value into plain JSON values.
func (c *converter) generic(n *yaml.Node, path fieldPath, depth int) (any, bool) {
	if !c.visit(n, path, depth) {
		return nil, false
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			c.r.errorAt(n.Line, "%s: the alias *%s names no anchor; define the anchor or write the value out", pathOrTop(path), n.Value)
			return nil, false
		}
		return c.generic(n.Alias, path, depth+1)
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			c.r.errorAt(n.Line, "%s: invalid value %s: %v", pathOrTop(path), describeNode(n), err)
			return nil, false
		}
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			c.r.errorAt(n.Line, "%s: %s is not a finite number; quote it to use it as text", pathOrTop(path), describeNode(n))
			return nil, false
		}
		return v, true
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, item := range n.Content {
			v, ok := c.generic(item, path.child(i), depth+1)
			if !ok {
				return nil, false
			}
			out = append(out, v)
		}
		return out, true
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		seen := make(map[string]int, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, ok := c.key(n.Content[i], path, seen)
			if !ok {
				return nil, false
			}
			v, ok := c.generic(n.Content[i+1], path.child(key), depth+1)
			if !ok {
				return nil, false
			}
			out[key] = v
		}
		return out, true
	default:
		c.r.errorAt(n.Line, "%s: unsupported YAML value; write a plain value, list or mapping", pathOrTop(path))
		return nil, false
	}
}

// pathOrTop names a path, or the top level of the file.
func pathOrTop(p fieldPath) string {
	if len(p) == 0 {
		return "the top level"
	}
	return p.String()
}

// unknownFieldHint suggests the field the author probably meant, or lists
// the fields allowed at that place.
func unknownFieldHint(key string, parent fieldPath, fields map[string]reflect.Type) string {
	names := make([]string, 0, len(fields))
	for name := range fields {
		if len(parent) == 0 && name == "status" {
			continue
		}
		if len(parent) == 1 && parent[0] == "metadata" && !metadataFields[name] {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	best, bestDist := "", 3
	for _, name := range names {
		if strings.EqualFold(name, key) {
			best = name
			break
		}
		if d := editDistance(strings.ToLower(key), strings.ToLower(name)); d < bestDist {
			best, bestDist = name, d
		}
	}
	where := "here"
	if len(parent) > 0 {
		where = "in " + parent.String()
	}
	if best != "" {
		return fmt.Sprintf("did you mean %q? (fields allowed %s: %s)", best, where, strings.Join(names, ", "))
	}
	return fmt.Sprintf("remove it or use one of the fields allowed %s: %s", where, strings.Join(names, ", "))
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// jsonFields returns the JSON field names of a struct type and their types,
// with inline (embedded) structs flattened, as encoding/json sees them.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if cached, ok := fieldCache.Load(t); ok {
		return cached.(map[string]reflect.Type)
	}
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					out[k] = v
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	fieldCache.Store(t, out)
	return out
}
