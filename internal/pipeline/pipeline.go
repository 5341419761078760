// Package pipeline runs the offline stages of Flotilla on one checked-out
// fleet repository: load and validate (fleet), place (placement) and render
// (render). Every front door that needs all three — `flotilla validate`,
// `render`, `explain`, `diff` — calls Run, so that no stage is ever
// re-implemented per command.
package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/flotilla-gitops/flotilla/fleet"
	"github.com/flotilla-gitops/flotilla/placement"
	"github.com/flotilla-gitops/flotilla/render"
)

// Option changes how Run loads and places a fleet.
type Option func(*options)

type options struct {
	load        []fleet.Option
	place       []placement.Option
	onlyIfValid bool
	namespaces  bool
}

// WithPlacementOptions passes options to placement.Place.
func WithPlacementOptions(opts ...placement.Option) Option {
	return func(o *options) { o.place = append(o.place, opts...) }
}

// WithLimits caps the clusters, apps and targets of the fleet (see
// fleet.Limits; zero fields take the defaults, which also apply without
// this option).
func WithLimits(l fleet.Limits) Option {
	l = l.WithDefaults()
	return func(o *options) {
		o.load = append(o.load, fleet.WithLimits(l))
		o.place = append(o.place, placement.WithMaxTargets(l.Targets))
	}
}

// CheckNamespaces makes Run warn, for apps whose spec.namespace is forced
// (namespaceMode Force), about objects whose own namespace it replaces and
// Namespace objects it renames. It costs one more build per base and
// overlay combination of such apps.
func CheckNamespaces() Option {
	return func(o *options) { o.namespaces = true }
}

// RenderOnlyIfValid makes Run render nothing when loading or placement
// found an error: every target is then Skipped. The hub controller, which
// never applies an invalid fleet, uses it to spend no render on one;
// `flotilla validate` does not, to report every render error at once.
func RenderOnlyIfValid() Option {
	return func(o *options) { o.onlyIfValid = true }
}

// ErrUnreadable is returned by Run when the repository root itself cannot
// be read, so that there is nothing to load.
var ErrUnreadable = errors.New("fleet repository unreadable")

// Run loads the fleet repository at root, places every app and renders
// every target with r. It reports problems as diagnostics, never as an
// error: the Output holds everything that could be computed, so that tools
// can still explain a broken fleet. Targets whose app or cluster file has
// errors are not rendered (their problems are already reported, and a
// render of a half-valid app would only repeat them); Output.Skipped lists
// them. With RenderOnlyIfValid, any load or placement error skips every
// target. Two apps that render the same object for one cluster are an
// error on the second app's file.
//
// Run returns an error only when root cannot be read at all (wrapping
// ErrUnreadable) or ctx is cancelled.
func Run(ctx context.Context, root string, r *render.Renderer, opts ...Option) (*Output, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	f, diags := fleet.Load(root, o.load...)
	if f == nil {
		msg := "no diagnostic"
		if len(diags) > 0 {
			msg = diags[0].String()
		}
		return nil, fmt.Errorf("load the fleet repository %s: %s: %w", root, msg, ErrUnreadable)
	}
	out := &Output{Root: f.Root, Fleet: f, renderIndex: map[targetKey]int{}}
	out.Placement = placement.Place(f, o.place...)
	diags = append(diags, out.Placement.Warnings...)
	diags = append(diags, out.Placement.Errors...)

	broken := filesWithErrors(diags)
	invalid := o.onlyIfValid && fleet.HasErrors(diags)
	var targets []placement.Target
	for _, t := range out.Placement.Targets {
		if invalid || broken[f.AppFiles[t.App]] || broken[f.ClusterFiles[t.Cluster]] {
			out.Skipped = append(out.Skipped, t)
			continue
		}
		targets = append(targets, t)
	}
	out.Renders = r.RenderAll(ctx, f.Root, targets)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("render the fleet repository %s: %w", root, err)
	}
	for i, res := range out.Renders {
		out.renderIndex[targetKey{res.Target.App, res.Target.Cluster}] = i
	}
	diags = append(diags, renderDiagnostics(out.Renders)...)
	diags = append(diags, buildWarnings(out.Renders)...)
	diags = append(diags, controlDiagnostics(f, out.Renders)...)
	diags = append(diags, objectConflicts(f, out.Renders)...)
	if o.namespaces {
		diags = append(diags, namespaceDiagnostics(ctx, f, r, out.Renders)...)
	}
	out.Diagnostics = fleet.SortDiagnostics(diags)
	return out, nil
}

// filesWithErrors returns the files that have at least one error.
func filesWithErrors(diags []fleet.Diagnostic) map[string]bool {
	files := map[string]bool{}
	for _, d := range diags {
		if d.Severity != fleet.SeverityWarning {
			files[d.File] = true
		}
	}
	return files
}
