package render

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error Render returns is an *Error; errors.Is
// matches it against these kinds.
var (
	// ErrInvalidTarget: the target itself is malformed (empty or escaping
	// base or overlay path).
	ErrInvalidTarget = errors.New("invalid target")
	// ErrOverlayKind: an overlay is a Kustomization that Flotilla cannot
	// compose with the base (it does not include the base, or a second
	// one does too).
	ErrOverlayKind = errors.New("overlay cannot be composed")
	// ErrOutsideRoot: a path leaves the repository root, by "..", an
	// absolute path or a symbolic link.
	ErrOutsideRoot = errors.New("path outside the repository")
	// ErrRemoteBase: a kustomization refers to a remote base or file and
	// Options.AllowRemoteBases is false.
	ErrRemoteBase = errors.New("remote base not allowed")
	// ErrPluginNotAllowed: a kustomization uses an exec, Go or KRM-function
	// plugin.
	ErrPluginNotAllowed = errors.New("plugin not allowed")
	// ErrHelmNotAllowed: a kustomization inflates a Helm chart.
	ErrHelmNotAllowed = errors.New("helm chart inflation not allowed")
	// ErrUnsupportedField: a kustomization uses a field render refuses
	// (openapi, which changes kustomize's process-wide schema).
	ErrUnsupportedField = errors.New("unsupported kustomization field")
	// ErrFileTooLarge: a file is larger than Options.MaxFileSize.
	ErrFileTooLarge = errors.New("file too large")
	// ErrTooManyFiles: a build read more than Options.MaxFileReads files.
	ErrTooManyFiles = errors.New("too many files read")
	// ErrOutputTooLarge: the rendered YAML is larger than
	// Options.MaxOutputSize.
	ErrOutputTooLarge = errors.New("output too large")
	// ErrLimitExceeded: a build went over one of the limits that bound the
	// work and memory of a render whatever the input: Options.MaxTotalRead,
	// Options.MaxNestingDepth, the YAML alias expansion cap,
	// Options.MaxBuildTime or the render worker's memory limit. The message
	// names the limit and, when known, the file.
	ErrLimitExceeded = errors.New("render limit exceeded")
	// ErrKustomizationCycle: kustomizations include each other in a cycle.
	ErrKustomizationCycle = errors.New("kustomization cycle")
	// ErrUndefinedVariable: a ${cluster...} variable is not defined for the
	// cluster.
	ErrUndefinedVariable = errors.New("undefined variable")
	// ErrInvalidVariable: a ${...} reference is malformed or not a cluster
	// variable.
	ErrInvalidVariable = errors.New("invalid variable reference")
	// ErrVariableStructure: a variable's value would change the YAML
	// structure around its reference (add a key, end a quoted string, ...)
	// instead of only the scalar it is written in.
	ErrVariableStructure = errors.New("variable changes the YAML structure")
	// ErrWorkloadNotFound: a replica count names a workload the app does not
	// render.
	ErrWorkloadNotFound = errors.New("workload not found")
	// ErrBuild: kustomize failed for another reason (malformed YAML, missing
	// file, conflicting patches, ...). The message is kustomize's, with the
	// repository root removed from paths.
	ErrBuild = errors.New("kustomize build failed")
)

// Error is a failed render of one target. Its message starts with what
// failed (the app and cluster), then the file and object concerned, then the
// reason and what to change, for example:
//
//	render app "web" for cluster "f1": apps/web/base/kustomization.yaml:
//	resources entry "https://example.com/x.yaml" is a remote file; ...
type Error struct {
	// App is the target's app.
	App string
	// Cluster is the target's cluster.
	Cluster string
	// File is the file concerned, relative to the repository root, when
	// known.
	File string
	// Object is the object concerned as Kind/namespace/name (Kind/name when
	// cluster-scoped), when known.
	Object string
	// Err is the reason. errors.Is(err, ErrRemoteBase) and the like work
	// through it.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "render app %q for cluster %q: ", e.App, e.Cluster)
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Object != "" {
		b.WriteString(e.Object)
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the reason.
func (e *Error) Unwrap() error { return e.Err }

// reason is an error message of a known kind: its text reads naturally (no
// "kind: " prefix) while errors.Is still matches the kind.
type reason struct {
	kind error
	msg  string
	// file is the repository-relative file the reason is about, if any.
	file string
	// cause is an underlying error, if any.
	cause error
}

func (r *reason) Error() string { return r.msg }

func (r *reason) Is(target error) bool { return target == r.kind }

func (r *reason) Unwrap() error { return r.cause }

// newReason builds a reason of the given kind.
func newReason(kind error, file, format string, args ...any) *reason {
	return &reason{kind: kind, file: file, msg: fmt.Sprintf(format, args...)}
}

// targetError wraps err as an *Error of target app/cluster, taking the file
// from a reason when err carries one.
func targetError(app, cluster, object string, err error) *Error {
	e := &Error{App: app, Cluster: cluster, Object: object, Err: err}
	var r *reason
	if errors.As(err, &r) {
		e.File = r.file
	}
	return e
}

// buildError is kustomize's own error with the repository root removed
// from the paths it mentions.
type buildError struct {
	msg   string
	cause error
}

func (e *buildError) Error() string { return "kustomize build failed: " + e.msg }

func (e *buildError) Is(target error) bool { return target == ErrBuild }

func (e *buildError) Unwrap() error { return e.cause }

// maxErrorText caps the text of kustomize's error kept in a build error;
// the rest is left out in the middle. kustomize quotes nested errors at
// each level, so its text can grow much larger than the input.
const maxErrorText = 8 << 10

// newBuildError relativises the paths in kustomize's message and truncates
// it to maxErrorText bytes.
func newBuildError(err error, roots ...string) *buildError {
	msg := truncateText(err.Error(), maxErrorText)
	for _, r := range roots {
		if r == "" {
			continue
		}
		msg = strings.ReplaceAll(msg, r+"/", "")
		msg = strings.ReplaceAll(msg, r, ".")
	}
	return &buildError{msg: msg, cause: err}
}
