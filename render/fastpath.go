package render

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	yamlv2 "go.yaml.in/yaml/v2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// The fast path of variable substitution.
//
// The reference semantics (vars.go) substitute in the YAML text of an
// object and parse it again. Doing that for every target parses and prints
// every object that references a variable, which dominates the cost of a
// cached fleet render. The fast path gets the same result without parsing:
// at build time it finds the scalars that contain "${" (the holes), how
// each is printed in that text (plain, single- or double-quoted), and cuts
// the printed output at the holes; per target it expands each hole, types
// the result exactly as the parser would (a plain "3" is an integer, a
// quoted "3" a string), sets it in a copy of the object and splices its
// printed form into the output.
//
// It only takes the cases where that is provably the same as the text
// path: a hole whose value could change the text's structure (a line
// break, ": ", a leading indicator, a quote inside a quoted scalar, a
// plain scalar inside a flow collection, ...), a variable in a mapping key
// or a comment, or any error, sends the object down the text path, which
// then decides. FuzzFastPathMatchesText checks the equivalence.

// pathElem is a mapping key or a sequence index.
type pathElem struct {
	key   string
	index int // used when isIdx
	isIdx bool
}

// holeStyle is how a scalar with a variable is printed in the object's
// text.
type holeStyle uint8

const (
	holePlain holeStyle = iota
	holeDouble
	holeSingle
)

// hole is one scalar that references a variable.
type hole struct {
	path  []pathElem
	tmpl  *template
	style holeStyle
}

// fastPlan is the fast path of one cached object.
type fastPlan struct {
	holes []hole
	// segments are the object's printed YAML cut at the holes, in the
	// order of the text: segments[0] hole segments[1] hole ... segments[n].
	// cols[i] is the column where the hole after segments[i] is printed.
	// Nil when the cut failed: the object is then printed whole.
	segments [][]byte
	cols     []int
	// order[i] is the hole printed after segments[i].
	order []int
}

// planFast prepares the fast path of an object from kustomize's node of
// it, or returns nil when the object must always take the text path.
func planFast(node *kyaml.Node, obj map[string]any) *fastPlan {
	p := &fastPlan{}
	if !p.walk(node, nil, false) || len(p.holes) == 0 {
		return nil
	}
	for _, h := range p.holes {
		v, ok := lookupPath(obj, h.path)
		if !ok {
			return nil
		}
		if _, ok := v.(string); !ok {
			return nil
		}
	}
	p.cut(obj)
	return p
}

// walk collects the holes below n. It returns false when the object must
// take the text path.
func (p *fastPlan) walk(n *kyaml.Node, path []pathElem, inFlow bool) bool {
	if n == nil {
		return true
	}
	for _, c := range []string{n.HeadComment, n.LineComment, n.FootComment} {
		if strings.Contains(c, "${") {
			return false
		}
	}
	if n.Anchor != "" || n.Kind == kyaml.AliasNode {
		return false
	}
	flow := inFlow || n.Style&kyaml.FlowStyle != 0
	switch n.Kind {
	case kyaml.DocumentNode:
		for _, c := range n.Content {
			if !p.walk(c, path, flow) {
				return false
			}
		}
	case kyaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != kyaml.ScalarNode || strings.Contains(k.Value, "${") || k.Value == "<<" {
				return false
			}
			if !p.walk(v, appendPath(path, pathElem{key: k.Value}), flow) {
				return false
			}
		}
	case kyaml.SequenceNode:
		for i, c := range n.Content {
			if !p.walk(c, appendPath(path, pathElem{index: i, isIdx: true}), flow) {
				return false
			}
		}
	case kyaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return true
		}
		if n.Style&kyaml.TaggedStyle != 0 {
			return false
		}
		t := parseTemplate([]byte(n.Value))
		if t.err != nil {
			return false
		}
		style, ok := printedStyle(n)
		if !ok || (style == holePlain && flow) {
			return false
		}
		p.holes = append(p.holes, hole{path: path, tmpl: t, style: style})
	}
	return true
}

func appendPath(path []pathElem, e pathElem) []pathElem {
	out := make([]pathElem, len(path), len(path)+1)
	copy(out, path)
	return append(out, e)
}

// printedStyle is how kyaml prints the scalar (the printer may quote a
// scalar the source had plain, or the reverse): the text path sees that.
func printedStyle(n *kyaml.Node) (holeStyle, bool) {
	c := *n
	c.HeadComment, c.LineComment, c.FootComment = "", "", ""
	out, err := kyaml.String(&c)
	if err != nil || strings.Count(out, "\n") > 1 {
		return 0, false
	}
	switch {
	case strings.HasPrefix(out, `"`):
		return holeDouble, true
	case strings.HasPrefix(out, `'`):
		return holeSingle, true
	case strings.HasPrefix(out, "|"), strings.HasPrefix(out, ">"), strings.HasPrefix(out, "!"):
		return 0, false
	}
	return holePlain, true
}

// holeMarker is printed in place of hole i to cut the printed object.
func holeMarker(i int) string { return fmt.Sprintf("flotillahole%06dzq", i) }

// cut prints the object with markers in the holes and cuts the text at
// them. On any surprise it leaves segments nil.
func (p *fastPlan) cut(obj map[string]any) {
	marked := deepCopyMap(obj)
	for i, h := range p.holes {
		if !setPath(marked, h.path, holeMarker(i)) {
			return
		}
	}
	text, err := printObject(marked)
	if err != nil {
		return
	}
	// The printer sorts keys: find where each hole landed, then cut in
	// the order of the text.
	type mark struct{ hole, at int }
	marks := make([]mark, 0, len(p.holes))
	for i := range p.holes {
		m := []byte(holeMarker(i))
		at := bytes.Index(text, m)
		if at < 0 || bytes.Contains(text[at+len(m):], m) {
			return
		}
		marks = append(marks, mark{i, at})
	}
	slices.SortFunc(marks, func(a, b mark) int { return a.at - b.at })
	segments := make([][]byte, 0, len(marks)+1)
	cols := make([]int, 0, len(marks))
	order := make([]int, 0, len(marks))
	prev := 0
	for _, m := range marks {
		seg := text[prev:m.at]
		nl := bytes.LastIndexByte(seg, '\n')
		if nl < 0 && prev > 0 {
			return // two holes on one line: keep it simple
		}
		col := m.at - (prev + nl + 1)
		if nl < 0 {
			col = m.at
		}
		segments = append(segments, seg)
		cols = append(cols, col)
		order = append(order, m.hole)
		prev = m.at + len(holeMarker(m.hole))
	}
	if bytes.Contains(text[prev:], []byte("flotillahole")) {
		return
	}
	p.segments = append(segments, text[prev:])
	p.cols = cols
	p.order = order
}

// apply renders the object for vars by the fast path. ok is false when it
// cannot decide: the caller then takes the text path, which also produces
// the errors.
func (p *fastPlan) apply(base *unstructured.Unstructured, vars map[string]string) (u *unstructured.Unstructured, y []byte, ok bool) {
	values := make([]any, len(p.holes))
	for i, h := range p.holes {
		s, err := h.tmpl.expand(vars)
		if err != nil {
			return nil, nil, false
		}
		v, ok := typedValue(string(s), h.style)
		if !ok {
			return nil, nil, false
		}
		values[i] = v
	}
	u = base.DeepCopy()
	for i, h := range p.holes {
		if !setPath(u.Object, h.path, values[i]) {
			return nil, nil, false
		}
	}
	if p.segments == nil {
		y, err := printObject(u.Object)
		return u, y, err == nil
	}
	var reprs [][]byte
	size := 0
	for _, s := range p.segments {
		size += len(s)
	}
	reprs = make([][]byte, len(p.order))
	for i, h := range p.order {
		r, ok := scalarRepr(values[h], p.cols[i])
		if !ok {
			y, err := printObject(u.Object)
			return u, y, err == nil
		}
		reprs[i] = r
		size += len(r)
	}
	y = make([]byte, 0, size)
	for i, s := range p.segments {
		y = append(y, s...)
		if i < len(reprs) {
			y = append(y, reprs[i]...)
		}
	}
	return u, y, true
}

// typedValue is the value a hole's expanded text parses to in the text
// path, or ok=false when that is not certain without parsing the text.
func typedValue(s string, style holeStyle) (any, bool) {
	if !plainRunes(s) {
		return nil, false
	}
	switch style {
	case holeDouble:
		if strings.ContainsAny(s, "\"\\") {
			return nil, false
		}
		return s, true
	case holeSingle:
		if strings.Contains(s, "'") {
			return nil, false
		}
		return s, true
	}
	if !plainSafe(s) {
		return nil, false
	}
	// A plain scalar starting with a letter other than those of true,
	// false, null (and their capitalised forms) is a string; anything else
	// is typed by the parser itself.
	if c := s[0]; (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') && !strings.ContainsRune("tTfFnN", rune(c)) {
		return s, true
	}
	var v any
	if err := kyaml.Unmarshal([]byte(s), &v); err != nil {
		return nil, false
	}
	switch t := v.(type) {
	case nil, string, bool:
		return t, true
	case float64:
		return jsonNumber(t), true
	case int:
		return int64(t), true
	}
	return nil, false
}

// plainRunes reports whether s is valid UTF-8 made only of characters YAML
// prints and reads back as themselves in every scalar style: no control
// characters, and none of the Unicode line breaks (U+0085, U+2028,
// U+2029) or the byte order mark.
func plainRunes(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 0x20 && r <= 0x7e:
		case r >= 0xa0 && r <= 0xd7ff && r != 0x2028 && r != 0x2029:
		case r >= 0xe000 && r <= 0xfffd && r != 0xfeff:
		case r >= 0x10000 && r <= 0x10ffff:
		default:
			return false
		}
	}
	return true
}

// plainSafe reports whether s, written as a plain scalar value, is one
// scalar that parses the same alone as in a block mapping or sequence.
func plainSafe(s string) bool {
	if s == "" {
		return false
	}
	if strings.ContainsRune("-?:,[]{}#&*!|>'\"%@` ", rune(s[0])) {
		return false
	}
	if strings.HasPrefix(s, "---") || strings.HasPrefix(s, "...") {
		return false
	}
	if strings.HasSuffix(s, ":") || strings.HasSuffix(s, " ") {
		return false
	}
	return !strings.Contains(s, ": ") && !strings.Contains(s, " #")
}

// scalarRepr is how the printer (go-yaml v2, as kustomize) prints v as a
// mapping value or sequence item starting at column col, when that is one
// line the same as printed alone.
func scalarRepr(v any, col int) ([]byte, bool) {
	switch t := v.(type) {
	case int64:
		return strconv.AppendInt(nil, t, 10), true
	case bool:
		return strconv.AppendBool(nil, t), true
	case nil:
		return []byte("null"), true
	case string:
		if printsPlain(t) {
			return []byte(t), true
		}
	}
	out, err := yamlv2.Marshal(v)
	if err != nil || len(out) == 0 || out[len(out)-1] != '\n' {
		return nil, false
	}
	out = out[:len(out)-1]
	if bytes.IndexByte(out, '\n') >= 0 {
		return nil, false
	}
	// The printer folds long lines at spaces past column 80.
	if s, isStr := v.(string); isStr && strings.ContainsRune(s, ' ') && col+len(out) >= 80 {
		return nil, false
	}
	return out, true
}

// yaml11Words are the plain words go-yaml v2 reads as booleans or null, so
// prints quoted when they are strings.
var yaml11Words = map[string]bool{}

func init() {
	for _, w := range []string{"y", "yes", "n", "no", "true", "false", "on", "off", "null"} {
		yaml11Words[w] = true
		yaml11Words[strings.ToUpper(w[:1])+w[1:]] = true
		yaml11Words[strings.ToUpper(w)] = true
	}
}

// printsPlain reports, conservatively, that go-yaml v2 prints s as is: a
// letter, then letters, digits and "._/-", and not a YAML 1.1 boolean or
// null word. Anything else is left to the printer.
func printsPlain(s string) bool {
	if s == "" || yaml11Words[s] {
		return false
	}
	if c := s[0]; (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == '/', c == '-':
		default:
			return false
		}
	}
	return true
}

// lookupPath returns the value at path.
func lookupPath(obj any, path []pathElem) (any, bool) {
	cur := obj
	for _, e := range path {
		if e.isIdx {
			s, ok := cur.([]any)
			if !ok || e.index >= len(s) {
				return nil, false
			}
			cur = s[e.index]
			continue
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[e.key]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// setPath sets the value at an existing path.
func setPath(obj map[string]any, path []pathElem, v any) bool {
	if len(path) == 0 {
		return false
	}
	parent, ok := lookupPath(obj, path[:len(path)-1])
	if !ok {
		return false
	}
	last := path[len(path)-1]
	if last.isIdx {
		s, ok := parent.([]any)
		if !ok || last.index >= len(s) {
			return false
		}
		s[last.index] = v
		return true
	}
	m, ok := parent.(map[string]any)
	if !ok {
		return false
	}
	if _, ok := m[last.key]; !ok {
		return false
	}
	m[last.key] = v
	return true
}

func deepCopyMap(m map[string]any) map[string]any {
	return (&unstructured.Unstructured{Object: m}).DeepCopy().Object
}
