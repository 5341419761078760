package render

import (
	"bytes"
	"fmt"
	"strings"
)

// Variable syntax, applied to the YAML text of each rendered object:
//
//	${cluster.name}          the cluster's name
//	${cluster.labels.<key>}  one of the cluster's labels
//	${cluster.vars.<key>}    one of the cluster's vars
//	$${                      a literal "${" (the escape)
//
// Keys are made of letters, digits and "._/-" (label keys such as
// topology.kubernetes.io/region work). A variable that is not defined for
// the cluster is an error, never an empty string. Any other ${...} — a
// name outside cluster., a malformed name, a default such as ${x:=y}, or a
// "${" with no "}" on the same line — is an error too, because it is almost
// always a typo; write $${ for a literal "${". A "$" not followed by "{" is
// kept as is. (So a literal "$" right before a variable cannot be written:
// "$${cluster.name}" is the escape, a literal "${cluster.name}".)
//
// Substitution is textual: the value is inserted where the reference is
// written, so an unquoted "replicas: ${cluster.vars.lines}" becomes an
// integer and a quoted "${cluster.vars.port}" stays a string. It may change
// scalars only (scalars.go): a value that would add a key, end a quoted
// string or start a comment is refused. It happens on the output of a
// cached build when that gives the same result as building the files with
// the values written in, and on the build's inputs, per cluster, when it
// does not (inputs.go).

// Variable name prefixes.
const (
	varPrefix       = "cluster."
	varName         = "cluster.name"
	varLabelsPrefix = "cluster.labels."
	varVarsPrefix   = "cluster.vars."
)

// VariableError is a malformed, unknown or undefined ${...} reference.
// errors.Is matches it against ErrInvalidVariable or ErrUndefinedVariable.
type VariableError struct {
	// Variable is the reference as written between "${" and "}" (up to the
	// end of the line when unterminated).
	Variable string
	// Offset is the byte offset of the reference's "$" in the text.
	Offset int
	kind   error
	msg    string
}

// Error implements error.
func (e *VariableError) Error() string { return e.msg }

// Is matches ErrInvalidVariable or ErrUndefinedVariable.
func (e *VariableError) Is(target error) bool { return target == e.kind }

// segment is a literal run of text or, when isVar, a variable name.
type segment struct {
	text  string
	isVar bool
}

// template is a text split into literals and variable references, parsed
// once per cached object and expanded once per cluster.
type template struct {
	segs []segment
	// names are the distinct variables referenced, in order of first use.
	names []string
	// err is the first syntax error; expand returns it.
	err *VariableError
}

// parseTemplate splits text at ${...} references and resolves $${ escapes.
func parseTemplate(text []byte) *template {
	t := &template{}
	var lit strings.Builder
	seen := map[string]bool{}
	flush := func() {
		if lit.Len() > 0 {
			t.segs = append(t.segs, segment{text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(text); {
		j := bytes.IndexByte(text[i:], '$')
		if j < 0 {
			lit.Write(text[i:])
			break
		}
		lit.Write(text[i : i+j])
		i += j
		rest := text[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("$${")):
			lit.WriteString("${")
			i += 3
		case bytes.HasPrefix(rest, []byte("${")):
			end := bytes.IndexAny(rest[2:], "}\n")
			if end < 0 || rest[2+end] != '}' {
				ref := rest[2:]
				if nl := bytes.IndexByte(ref, '\n'); nl >= 0 {
					ref = ref[:nl]
				}
				t.err = &VariableError{Variable: string(ref), Offset: i, kind: ErrInvalidVariable,
					msg: fmt.Sprintf("unterminated variable reference \"${%s\": close it with \"}\" or write $${ for a literal ${", ref)}
				return t
			}
			name := string(rest[2 : 2+end])
			if err := checkVariableName(name, i); err != nil {
				t.err = err
				return t
			}
			flush()
			t.segs = append(t.segs, segment{text: name, isVar: true})
			if !seen[name] {
				seen[name] = true
				t.names = append(t.names, name)
			}
			i += 2 + end + 1
		default:
			lit.WriteByte('$')
			i++
		}
	}
	flush()
	return t
}

// checkVariableName accepts cluster.name, cluster.labels.<key> and
// cluster.vars.<key>.
func checkVariableName(name string, offset int) *VariableError {
	invalid := func(format string, args ...any) *VariableError {
		return &VariableError{Variable: name, Offset: offset, kind: ErrInvalidVariable, msg: fmt.Sprintf(format, args...)}
	}
	if !strings.HasPrefix(name, varPrefix) {
		return invalid("unknown variable ${%s}: only ${cluster.name}, ${cluster.labels.<key>} and ${cluster.vars.<key>} are substituted; write $${%s} for a literal ${%s}", name, name, name)
	}
	var key string
	switch {
	case name == varName:
		return nil
	case strings.HasPrefix(name, varLabelsPrefix):
		key = name[len(varLabelsPrefix):]
	case strings.HasPrefix(name, varVarsPrefix):
		key = name[len(varVarsPrefix):]
	default:
		return invalid("unknown variable ${%s}: only ${cluster.name}, ${cluster.labels.<key>} and ${cluster.vars.<key>} are substituted", name)
	}
	if !validVarKey(key) {
		return invalid("invalid variable ${%s}: the key %q must be letters, digits and \"._/-\" (defaults such as ${x:=y} are not supported)", name, key)
	}
	return nil
}

// validVarKey reports whether key is a non-empty run of letters, digits and
// "._/-".
func validVarKey(key string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == '/', c == '-':
		default:
			return false
		}
	}
	return true
}

// size returns the length of the template expanded with vars, without
// expanding it, or the first undefined variable. It allocates nothing, so a
// caller checks the result against a limit before expanding.
func (t *template) size(vars map[string]string) (int64, error) {
	if t.err != nil {
		return 0, t.err
	}
	var n int64
	for _, s := range t.segs {
		if !s.isVar {
			n += int64(len(s.text))
			continue
		}
		v, ok := vars[s.text]
		if !ok {
			return 0, undefined(s.text)
		}
		n += int64(len(v))
	}
	return n, nil
}

// expand substitutes vars into the template. The size of the result is
// computed first so expand allocates once.
func (t *template) expand(vars map[string]string) ([]byte, error) {
	return t.expandLimit(vars, -1)
}

// errExpandLimit is returned by expandLimit when the result would be
// larger than its limit; nothing was allocated.
type errExpandLimit struct{ size int64 }

func (e *errExpandLimit) Error() string {
	return fmt.Sprintf("the text would be %d bytes once variables are substituted", e.size)
}

// expandLimit is expand that refuses, before allocating, a result larger
// than limit bytes (no limit when limit is negative).
func (t *template) expandLimit(vars map[string]string, limit int64) ([]byte, error) {
	n, err := t.size(vars)
	if err != nil {
		return nil, err
	}
	if limit >= 0 && n > limit {
		return nil, &errExpandLimit{size: n}
	}
	out := make([]byte, 0, n)
	for _, s := range t.segs {
		if s.isVar {
			out = append(out, vars[s.text]...)
		} else {
			out = append(out, s.text...)
		}
	}
	return out, nil
}

// biggest returns the variable that contributes the most bytes to the
// expanded template, for error messages.
func (t *template) biggest(vars map[string]string) string {
	total := map[string]int{}
	best, bestN := "", -1
	for _, s := range t.segs {
		if s.isVar {
			total[s.text] += len(vars[s.text])
			if total[s.text] > bestN {
				best, bestN = s.text, total[s.text]
			}
		}
	}
	return best
}

// undefined explains where to define a missing variable.
func undefined(name string) *VariableError {
	var hint string
	switch {
	case name == varName:
		hint = "the target carries no cluster.name (a bug in the caller)"
	case strings.HasPrefix(name, varLabelsPrefix):
		key := name[len(varLabelsPrefix):]
		hint = fmt.Sprintf("add the label %q to the Cluster's metadata.labels, or write $${%s} for a literal ${%s}", key, name, name)
	default:
		key := name[len(varVarsPrefix):]
		hint = fmt.Sprintf("add %q under the Cluster's spec.vars, or write $${%s} for a literal ${%s}", key, name, name)
	}
	return &VariableError{Variable: name, Offset: -1, kind: ErrUndefinedVariable,
		msg: fmt.Sprintf("variable ${%s} is not defined for this cluster: %s", name, hint)}
}

// Substitute replaces ${cluster.name}, ${cluster.labels.<key>} and
// ${cluster.vars.<key>} in text with their values from vars (keyed without
// "${" and "}", as placement.Target.Vars), and $${ with a literal "${". It
// returns a *VariableError for an undefined variable or a malformed or
// unknown reference.
func Substitute(text []byte, vars map[string]string) ([]byte, error) {
	if !bytes.Contains(text, []byte("${")) {
		return bytes.Clone(text), nil
	}
	out, err := parseTemplate(text).expand(vars)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Variables returns the distinct variables text references, in order of
// first use, or a *VariableError for a malformed or unknown reference.
func Variables(text []byte) ([]string, error) {
	t := parseTemplate(text)
	if t.err != nil {
		return nil, t.err
	}
	return t.names, nil
}
