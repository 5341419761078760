// Package fleet loads and validates a fleet repository: the Cluster files
// under clusters/ and the App files under apps/<app>/app.yaml.
package fleet

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// Fleet is a loaded fleet repository.
type Fleet struct {
	// Root is the absolute path of the fleet repository's root folder, with
	// symbolic links resolved.
	Root string
	// Clusters are the declared clusters, sorted by name.
	Clusters []*flotillav1.Cluster
	// Apps are the declared apps, sorted by name.
	Apps []*flotillav1.App
	// ClusterFiles maps a cluster name to its file, relative to Root.
	ClusterFiles map[string]string
	// AppFiles maps an app name to its app.yaml, relative to Root.
	AppFiles map[string]string
	// ClusterOverlays maps an app name to the clusters that have a
	// per-cluster overlay folder apps/<app>/overlays/<cluster>. Load fills
	// it so that placement never has to read the disk.
	ClusterOverlays map[string]map[string]bool

	clusterIndex map[string]*flotillav1.Cluster
	appIndex     map[string]*flotillav1.App
	// nodes holds the parsed YAML document of every file, keyed by the
	// file's path relative to Root, to find the line of a field.
	nodes map[string]*yaml.Node
}

// AppDir returns the folder of an app relative to Root ("apps/<name>").
func (f *Fleet) AppDir(app string) string { return "apps/" + app }

// Cluster returns the cluster with the given name, or nil.
func (f *Fleet) Cluster(name string) *flotillav1.Cluster {
	if f == nil {
		return nil
	}
	if f.clusterIndex != nil {
		return f.clusterIndex[name]
	}
	for _, c := range f.Clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// App returns the app with the given name, or nil.
func (f *Fleet) App(name string) *flotillav1.App {
	if f == nil {
		return nil
	}
	if f.appIndex != nil {
		return f.appIndex[name]
	}
	for _, a := range f.Apps {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// HasClusterOverlay reports whether the folder apps/<app>/overlays/<cluster>
// exists in the repository.
func (f *Fleet) HasClusterOverlay(app, cluster string) bool {
	if f == nil {
		return false
	}
	return f.ClusterOverlays[app][cluster]
}

// ClusterOverlayPath returns the per-cluster overlay folder of an app,
// relative to Root: "apps/<app>/overlays/<cluster>".
func (f *Fleet) ClusterOverlayPath(app, cluster string) string {
	return "apps/" + app + "/overlays/" + cluster
}

// Line returns the 1-based line of a field in a file Load read, or 0 when
// the file or field is unknown. The path is a list of mapping keys
// (strings) and sequence indexes (ints), for example
// Line("apps/web/app.yaml", "spec", "overlays", 1, "clusterSelector").
// When only a prefix of the path exists, the line of the deepest field
// found is returned.
func (f *Fleet) Line(file string, path ...any) int {
	if f == nil || f.nodes == nil {
		return 0
	}
	return lineOf(f.nodes[file], path...)
}

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
