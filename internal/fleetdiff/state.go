package fleetdiff

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/flotilla-gitops/flotilla/internal/pipeline"
)

// State is what a fleet deploys at one revision: the declared clusters and,
// per cluster, the apps placed there with their rendered objects.
type State struct {
	// Clusters are the declared clusters' names.
	Clusters []string
	// Placed maps a cluster name, then an app name, to the app placed on
	// that cluster. An app absent from the map is not placed there.
	Placed map[string]map[string]Placed
	// Errors are the fleet's error diagnostics at this revision, as
	// "path:line: message".
	Errors []string
}

// Placed is one app placed on one cluster.
type Placed struct {
	// Objects are the rendered objects.
	Objects []*unstructured.Unstructured
	// Digest identifies the rendered YAML; two equal non-empty digests
	// mean identical objects.
	Digest string
	// Err is set when the app did not render (or was not rendered because
	// its files have errors); Objects is then empty.
	Err string
}

// FromOutput builds the State of a pipeline output.
func FromOutput(o *pipeline.Output) *State {
	s := &State{Clusters: o.ClusterNames(), Placed: map[string]map[string]Placed{}}
	for _, d := range o.Errors() {
		s.Errors = append(s.Errors, d.String())
	}
	for _, t := range o.Placement.Targets {
		p := Placed{}
		switch res := o.Render(t.App, t.Cluster); {
		case res == nil:
			p.Err = "not rendered: the app or cluster file has errors"
		case res.Err != nil:
			p.Err = res.Err.Error()
		default:
			p.Objects, p.Digest = res.Manifest.Objects, res.Manifest.Digest
		}
		s.place(t.Cluster, t.App, p)
	}
	return s
}

// place records an app placed on a cluster.
func (s *State) place(cluster, app string, p Placed) {
	if s.Placed == nil {
		s.Placed = map[string]map[string]Placed{}
	}
	if s.Placed[cluster] == nil {
		s.Placed[cluster] = map[string]Placed{}
	}
	s.Placed[cluster][app] = p
}

// lookup returns the app placed on a cluster.
func (s *State) lookup(cluster, app string) (Placed, bool) {
	p, ok := s.Placed[cluster][app]
	return p, ok
}
