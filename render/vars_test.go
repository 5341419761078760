package render

import (
	"errors"
	"strings"
	"testing"
)

var testVars = map[string]string{
	"cluster.name":          "factory-a",
	"cluster.labels.region": "eu-west",
	"cluster.labels.topology.kubernetes.io/region": "eu",
	"cluster.vars.lines":                           "3",
	"cluster.vars.registry":                        "harbor.a.local",
	"cluster.vars.empty":                           "",
	"cluster.vars.dollar":                          "${cluster.name}",
}

func TestSubstitute(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		kind           error
		msgParts       []string
	}{
		{name: "no variables", in: "a: b\n", want: "a: b\n"},
		{name: "name", in: "name: ${cluster.name}", want: "name: factory-a"},
		{name: "label", in: "${cluster.labels.region}", want: "eu-west"},
		{name: "label key with prefix", in: "${cluster.labels.topology.kubernetes.io/region}", want: "eu"},
		{name: "var", in: "replicas: ${cluster.vars.lines}", want: "replicas: 3"},
		{name: "several in one line", in: "${cluster.vars.registry}/adc:${cluster.vars.lines}", want: "harbor.a.local/adc:3"},
		{name: "empty value is allowed", in: "x${cluster.vars.empty}y", want: "xy"},
		{name: "value is not substituted again", in: "${cluster.vars.dollar}", want: "${cluster.name}"},
		{name: "escape", in: "home: $${HOME}", want: "home: ${HOME}"},
		{name: "escaped cluster variable", in: "$${cluster.name}", want: "${cluster.name}"},
		{name: "escape then variable", in: "$${x} ${cluster.name}", want: "${x} factory-a"},
		{name: "dollar alone", in: "cost: 5$ and $PATH and $(cmd) and $$", want: "cost: 5$ and $PATH and $(cmd) and $$"},
		{name: "dollar before escape", in: "$$${x}", want: "$${x}"},
		{name: "trailing dollar", in: "a$", want: "a$"},
		{name: "multi-line", in: "a: ${cluster.name}\nb: ${cluster.vars.lines}\n", want: "a: factory-a\nb: 3\n"},

		{name: "undefined var", in: "x: ${cluster.vars.nope}", kind: ErrUndefinedVariable,
			msgParts: []string{"${cluster.vars.nope} is not defined", `add "nope" under the Cluster's spec.vars`, "$${cluster.vars.nope}"}},
		{name: "undefined label", in: "${cluster.labels.gpu}", kind: ErrUndefinedVariable,
			msgParts: []string{`add the label "gpu" to the Cluster's metadata.labels`}},
		{name: "not a cluster variable", in: "${HOME}", kind: ErrInvalidVariable,
			msgParts: []string{"unknown variable ${HOME}", "write $${HOME} for a literal ${HOME}"}},
		{name: "unknown cluster field", in: "${cluster.region}", kind: ErrInvalidVariable, msgParts: []string{"unknown variable ${cluster.region}"}},
		{name: "empty key", in: "${cluster.vars.}", kind: ErrInvalidVariable, msgParts: []string{`the key ""`}},
		{name: "default syntax", in: "${cluster.vars.x:=1}", kind: ErrInvalidVariable, msgParts: []string{"defaults such as ${x:=y} are not supported"}},
		{name: "empty reference", in: "${}", kind: ErrInvalidVariable, msgParts: []string{"unknown variable ${}"}},
		{name: "unterminated", in: "a: ${cluster.name\nb: c}", kind: ErrInvalidVariable, msgParts: []string{`unterminated variable reference "${cluster.name"`}},
		{name: "unterminated at end", in: "${", kind: ErrInvalidVariable, msgParts: []string{"unterminated"}},
		{name: "nested", in: "${cluster.vars.${cluster.name}}", kind: ErrInvalidVariable},
		{name: "space in name", in: "${cluster.vars.a b}", kind: ErrInvalidVariable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Substitute([]byte(tc.in), testVars)
			if tc.kind == nil {
				if err != nil {
					t.Fatalf("Substitute(%q): %v", tc.in, err)
				}
				if string(got) != tc.want {
					t.Fatalf("Substitute(%q) = %q, want %q", tc.in, got, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Substitute(%q) = %q, want an error", tc.in, got)
			}
			var ve *VariableError
			if !errors.As(err, &ve) || !errors.Is(err, tc.kind) {
				t.Fatalf("error %v (%T) is not a %v VariableError", err, err, tc.kind)
			}
			wantContains(t, err.Error(), tc.msgParts...)
		})
	}
}

func TestVariables(t *testing.T) {
	got, err := Variables([]byte("${cluster.name} $${cluster.vars.skip} ${cluster.vars.a} ${cluster.name}"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "cluster.name,cluster.vars.a" {
		t.Fatalf("Variables = %v", got)
	}
	if _, err := Variables([]byte("${nope}")); !errors.Is(err, ErrInvalidVariable) {
		t.Fatalf("err = %v", err)
	}
}

// escapeAll writes s so that Substitute gives s back: every "${" becomes
// the escape "$${".
func escapeAll(s string) string { return strings.ReplaceAll(s, "${", "$${") }

// FuzzSubstitute checks, for any text and value: no panic; errors are
// *VariableError of a known kind; an escaped text comes back unchanged;
// and a variable between escaped texts is replaced by its value, once.
func FuzzSubstitute(f *testing.F) {
	for _, s := range [][3]string{
		{"replicas: ", "3", "\n"},
		{"image: ", "harbor.local", "/adc:${cluster.vars.v}"},
		{"$", "x", "$${"},
		{"a$$", "${cluster.name}", "}"},
		{"${", "}", "${cluster."},
		{"", "", ""},
		{"\n${\n", "$${", "${cluster.vars.a:=b}"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, prefix, value, suffix string) {
		vars := map[string]string{"cluster.name": "c", "cluster.vars.k": value, "cluster.labels.l": value}

		// Arbitrary text: no panic, typed errors.
		for _, text := range []string{prefix, prefix + value + suffix, prefix + "${" + value + "}" + suffix} {
			out, err := Substitute([]byte(text), vars)
			if err != nil {
				var ve *VariableError
				if !errors.As(err, &ve) || (!errors.Is(err, ErrInvalidVariable) && !errors.Is(err, ErrUndefinedVariable)) {
					t.Fatalf("Substitute(%q): untyped error %v", text, err)
				}
				if out != nil {
					t.Fatalf("Substitute(%q) returned output with an error", text)
				}
				continue
			}
			if !strings.Contains(text, "${") && string(out) != text {
				t.Fatalf("Substitute(%q) = %q: text without ${ must not change", text, out)
			}
			if _, err := Variables([]byte(text)); err != nil {
				t.Fatalf("Substitute(%q) succeeded but Variables fails: %v", text, err)
			}
		}

		// Escaped text comes back as is.
		for _, s := range []string{prefix, value, suffix} {
			out, err := Substitute([]byte(escapeAll(s)), vars)
			if err != nil || string(out) != s {
				t.Fatalf("Substitute(escape(%q)) = %q, %v; want the text back", s, out, err)
			}
		}

		// A variable between escaped texts. A "$" right before "${" would
		// make an escape: that text cannot be written, skip it.
		if strings.HasSuffix(prefix, "$") {
			return
		}
		text := escapeAll(prefix) + "${cluster.vars.k}" + escapeAll(suffix)
		out, err := Substitute([]byte(text), vars)
		if err != nil || string(out) != prefix+value+suffix {
			t.Fatalf("Substitute(%q) = %q, %v; want %q", text, out, err, prefix+value+suffix)
		}
	})
}
