// Package fleet loads and validates a fleet repository: the Cluster files
// under clusters/ and the App files under apps/<app>/app.yaml.
package fleet

import (
	"fmt"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// Fleet is a loaded fleet repository.
type Fleet struct {
	// Root is the absolute path of the fleet repository's root folder.
	Root string
	// Clusters are the declared clusters, sorted by name.
	Clusters []*flotillav1.Cluster
	// Apps are the declared apps, sorted by name.
	Apps []*flotillav1.App
	// ClusterFiles maps a cluster name to its file, relative to Root.
	ClusterFiles map[string]string
	// AppFiles maps an app name to its app.yaml, relative to Root.
	AppFiles map[string]string
}

// AppDir returns the folder of an app relative to Root ("apps/<name>").
func (f *Fleet) AppDir(app string) string { return "apps/" + app }

// Severity says whether a diagnostic blocks the fleet.
type Severity string

const (
	// SeverityError blocks validation.
	SeverityError Severity = "error"
	// SeverityWarning is reported but does not block.
	SeverityWarning Severity = "warning"
)

// Diagnostic is one problem found in a fleet repository.
type Diagnostic struct {
	// File is the path relative to the repository root.
	File string
	// Line is the 1-based line, or 0 when unknown.
	Line int
	// Severity is error or warning.
	Severity Severity
	// Message says what is wrong and what to change.
	Message string
}

// String formats the diagnostic as "path:line: message".
func (d Diagnostic) String() string {
	prefix := d.File
	if d.Line > 0 {
		prefix = fmt.Sprintf("%s:%d", d.File, d.Line)
	}
	if d.Severity == SeverityWarning {
		return fmt.Sprintf("%s: warning: %s", prefix, d.Message)
	}
	return fmt.Sprintf("%s: %s", prefix, d.Message)
}
