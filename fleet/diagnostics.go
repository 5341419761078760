package fleet

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// HasErrors reports whether any diagnostic has severity error.
func HasErrors(diags []Diagnostic) bool {
	for _, d := range diags {
		if d.Severity != SeverityWarning {
			return true
		}
	}
	return false
}

// SortDiagnostics sorts diagnostics by file, then line, then message, and
// drops exact duplicates.
func SortDiagnostics(diags []Diagnostic) []Diagnostic {
	slices.SortStableFunc(diags, func(a, b Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Message, b.Message),
			cmp.Compare(a.Severity, b.Severity),
		)
	})
	return slices.Compact(diags)
}

// ValidationError carries the error diagnostics of a fleet repository as
// one error, for callers that need an error value (for example to set a
// Stalled condition).
type ValidationError struct {
	// Diagnostics are the errors, sorted by file and line.
	Diagnostics []Diagnostic
}

// Error lists every diagnostic, one per line.
func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid fleet repository: %d error(s)", len(e.Diagnostics))
	for _, d := range e.Diagnostics {
		b.WriteString("\n")
		b.WriteString(d.String())
	}
	return b.String()
}

// AsError returns a *ValidationError holding the error diagnostics, or nil
// when there are none. Warnings are left out.
func AsError(diags []Diagnostic) error {
	var errs []Diagnostic
	for _, d := range diags {
		if d.Severity != SeverityWarning {
			errs = append(errs, d)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &ValidationError{Diagnostics: SortDiagnostics(errs)}
}

// reporter collects the diagnostics of one file.
type reporter struct {
	file  string
	root  *yamlNode
	diags []Diagnostic
}

// errorf records an error at the line of a field path.
func (r *reporter) errorf(path fieldPath, format string, args ...any) {
	r.add(SeverityError, lineOf(r.root, path...), format, args...)
}

// warnf records a warning at the line of a field path.
func (r *reporter) warnf(path fieldPath, format string, args ...any) {
	r.add(SeverityWarning, lineOf(r.root, path...), format, args...)
}

// errorAt records an error at a known line.
func (r *reporter) errorAt(line int, format string, args ...any) {
	r.add(SeverityError, line, format, args...)
}

// maxDiagnosticsPerFile caps the diagnostics of one file, so that a hostile
// or badly broken file cannot flood the output.
const maxDiagnosticsPerFile = 100

func (r *reporter) add(sev Severity, line int, format string, args ...any) {
	switch {
	case len(r.diags) < maxDiagnosticsPerFile:
		r.diags = append(r.diags, Diagnostic{File: r.file, Line: line, Severity: sev, Message: fmt.Sprintf(format, args...)})
	case len(r.diags) == maxDiagnosticsPerFile:
		r.diags = append(r.diags, Diagnostic{File: r.file, Severity: SeverityError,
			Message: fmt.Sprintf("more than %d problems in this file; fix these first, then validate again", maxDiagnosticsPerFile)})
	}
}
