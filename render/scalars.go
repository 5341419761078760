package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// Substitution may change scalars only. Substitution is textual (the
// value is inserted where the reference is written, so an unquoted number
// becomes a number), but the result must have the same YAML structure as
// the text before substitution: the same documents, mappings, sequences
// and keys, and every scalar holding a reference must read back exactly as
// its own text with the values inserted. A value that would add a key, end
// a quoted string, start a comment or otherwise reach outside its scalar is
// refused with an error naming the variable.

// structureError is where substitution changed more than a scalar.
type structureError struct {
	// line is the 1-based line, in the text before substitution, of the
	// first node that differs.
	line int
	what string
}

func (e *structureError) Error() string {
	if e.line <= 0 {
		return e.what
	}
	return fmt.Sprintf("line %d: %s", e.line, e.what)
}

// decodeDocs parses every YAML document of text into nodes.
func decodeDocs(text []byte) ([]*kyaml.Node, error) {
	dec := kyaml.NewDecoder(bytes.NewReader(text))
	var docs []*kyaml.Node
	for {
		n := &kyaml.Node{}
		err := dec.Decode(n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, n)
	}
}

// checkScalarsOnly reports whether out, which is src with vars
// substituted, differs from src in scalar values only, as described above.
// A src that is not YAML is not checked (it is not read as YAML).
func checkScalarsOnly(src, out []byte, vars map[string]string) *structureError {
	before, err := decodeDocs(src)
	if err != nil {
		return nil
	}
	after, err := decodeDocs(out)
	if err != nil {
		return &structureError{what: fmt.Sprintf("the text is no longer valid YAML (%v)", err)}
	}
	if len(before) != len(after) {
		return &structureError{what: fmt.Sprintf("%d YAML documents became %d", len(before), len(after))}
	}
	for i := range before {
		if e := sameStructure(before[i], after[i], vars, false); e != nil {
			return e
		}
	}
	return nil
}

// plainStyle reports whether a scalar is written without quotes or block
// indicators, so that its text decides its type.
func plainStyle(n *kyaml.Node) bool {
	return n.Style&(kyaml.DoubleQuotedStyle|kyaml.SingleQuotedStyle|kyaml.LiteralStyle|kyaml.FoldedStyle) == 0
}

// scalarTags are the types a plain scalar may take once substituted.
var scalarTags = map[string]bool{
	"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!null": true,
}

// sameStructure compares a node before substitution with the same node
// after it. isKey is set for a mapping key, where "<<" merges.
func sameStructure(a, b *kyaml.Node, vars map[string]string, isKey bool) *structureError {
	differ := func(format string, args ...any) *structureError {
		return &structureError{line: a.Line, what: fmt.Sprintf(format, args...)}
	}
	if a.Kind != b.Kind {
		return differ("a %s became a %s", kindName(a.Kind), kindName(b.Kind))
	}
	if a.Anchor != b.Anchor || a.Kind == kyaml.AliasNode && a.Value != b.Value {
		return differ("an anchor or alias changed")
	}
	switch a.Kind {
	case kyaml.ScalarNode:
		if !strings.Contains(a.Value, "${") {
			if a.Value != b.Value || a.Tag != b.Tag {
				return differ("the value %q became %q", short(a.Value), short(b.Value))
			}
			return nil
		}
		want, err := parseTemplate([]byte(a.Value)).expand(vars)
		if err != nil {
			return differ("%v", err)
		}
		if b.Value != string(want) {
			return differ("the scalar %q reads back as %q instead of %q", short(a.Value), short(b.Value), short(string(want)))
		}
		if plainStyle(a) {
			if !scalarTags[b.Tag] && (isKey || b.Tag != "!!merge") {
				return differ("the value became a %s", b.Tag)
			}
		} else if a.Tag != b.Tag {
			return differ("the value became a %s", b.Tag)
		}
		return nil
	case kyaml.AliasNode:
		return nil
	}
	if len(a.Content) != len(b.Content) {
		return differ("a %s of %d entries became one of %d", kindName(a.Kind), len(a.Content), len(b.Content))
	}
	for i := range a.Content {
		if e := sameStructure(a.Content[i], b.Content[i], vars, a.Kind == kyaml.MappingNode && i%2 == 0); e != nil {
			return e
		}
	}
	return nil
}

func kindName(k kyaml.Kind) string {
	switch k {
	case kyaml.DocumentNode:
		return "document"
	case kyaml.SequenceNode:
		return "sequence"
	case kyaml.MappingNode:
		return "mapping"
	case kyaml.ScalarNode:
		return "scalar"
	case kyaml.AliasNode:
		return "alias"
	}
	return "node"
}

// short abbreviates a value for an error message.
func short(s string) string {
	const max = 60
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// culprit finds the variable whose value changes the structure of src:
// each referenced variable is substituted alone, the others replaced by a
// harmless word. It returns "" when no single variable does.
func culprit(t *template, src []byte, vars map[string]string) string {
	names := slicesSorted(t.names)
	trial := make(map[string]string, len(names))
	for _, n := range names {
		trial[n] = "x"
	}
	for _, n := range names {
		v, ok := vars[n]
		if !ok {
			continue
		}
		trial[n] = v
		out, err := t.expand(trial)
		bad := err == nil && checkScalarsOnly(src, out, trial) != nil
		trial[n] = "x"
		if bad {
			return n
		}
	}
	return ""
}

func slicesSorted(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}

// describeValue says what in a value can reach outside a scalar.
func describeValue(v string) string {
	switch {
	case strings.ContainsAny(v, "\n\r"):
		return "contains a line break"
	case strings.ContainsAny(v, "\"'\\"):
		return "contains a quote or backslash"
	case strings.Contains(v, ": ") || strings.HasSuffix(v, ":"):
		return `contains ": "`
	case strings.Contains(v, " #"):
		return `contains " #", which starts a comment`
	case strings.ContainsAny(v, ",[]{}"):
		return "contains a flow indicator (,[]{})"
	}
	return fmt.Sprintf("is %q", short(v))
}

// definedIn names where a variable's value comes from.
func definedIn(name, cluster string) string {
	file := fmt.Sprintf("clusters/%s.yaml", cluster)
	switch {
	case strings.HasPrefix(name, varLabelsPrefix):
		return fmt.Sprintf("metadata.labels[%q] of Cluster %q (%s)", name[len(varLabelsPrefix):], cluster, file)
	case strings.HasPrefix(name, varVarsPrefix):
		return fmt.Sprintf("spec.vars.%s of Cluster %q (%s)", name[len(varVarsPrefix):], cluster, file)
	}
	return fmt.Sprintf("the name of Cluster %q (%s)", cluster, file)
}

// structureReason explains a refused substitution in src, part of
// where (a file or an object); fileOf names the file that references a
// variable, when known.
func structureReason(t *template, src []byte, vars map[string]string, cluster, where string, fileOf func(string) string, se *structureError) *reason {
	name := culprit(t, src, vars)
	if name == "" {
		return newReason(ErrVariableStructure, fileOf(""),
			"substituting variables would change the YAML structure of %s (%s): a variable may only change a scalar value (a string or a number); check the values of %s",
			where, se, strings.Join(wrapNames(t.names), ", "))
	}
	return newReason(ErrVariableStructure, fileOf(name),
		"variable ${%s} would change the YAML structure of %s (%s): its value, set in %s, %s; a variable may only change a scalar value (a string or a number), never add keys, items or documents: change the value",
		name, where, se, definedIn(name, cluster), describeValue(vars[name]))
}

func wrapNames(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "${" + n + "}"
	}
	return out
}
