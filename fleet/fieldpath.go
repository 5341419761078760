package fleet

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// yamlNode is a parsed YAML node.
type yamlNode = yaml.Node

// fieldPath is the path of a field in a file: mapping keys (string) and
// sequence indexes (int).
type fieldPath []any

// String formats the path as "spec.overlays[1].clusterSelector"; keys that
// are not plain words (label keys such as "example.com/gpu") are quoted in
// brackets.
func (p fieldPath) String() string {
	var b strings.Builder
	for _, seg := range p {
		switch s := seg.(type) {
		case int:
			b.WriteString("[" + strconv.Itoa(s) + "]")
		case string:
			if isPlainKey(s) {
				if b.Len() > 0 {
					b.WriteString(".")
				}
				b.WriteString(s)
			} else {
				b.WriteString("[" + strconv.Quote(s) + "]")
			}
		}
	}
	return b.String()
}

// child returns a new path with more segments, never sharing the backing
// array with p.
func (p fieldPath) child(segs ...any) fieldPath {
	out := make(fieldPath, 0, len(p)+len(segs))
	out = append(out, p...)
	return append(out, segs...)
}

func isPlainKey(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r != '_' && r != '-' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// lineOf returns the line of the deepest field of path found under root:
// the line of the key for mapping entries, of the item for sequence items.
// It returns 0 when root is nil.
func lineOf(root *yaml.Node, path ...any) int {
	n := root
	if n == nil {
		return 0
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return n.Line
		}
		n = n.Content[0]
	}
	line := n.Line
	for _, seg := range path {
		n = deref(n)
		if n == nil {
			break
		}
		next := (*yaml.Node)(nil)
		switch s := seg.(type) {
		case string:
			if n.Kind != yaml.MappingNode {
				return line
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == s {
					line = n.Content[i].Line
					next = n.Content[i+1]
					break
				}
			}
		case int:
			if n.Kind != yaml.SequenceNode || s < 0 || s >= len(n.Content) {
				return line
			}
			next = n.Content[s]
			line = next.Line
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

// deref follows alias nodes (at most a few hops, aliases never chain long).
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}
