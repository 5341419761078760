package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flotilla-gitops/flotilla/fleet"
	"github.com/flotilla-gitops/flotilla/internal/pipeline"
	"github.com/flotilla-gitops/flotilla/render"
)

// Exit codes of the offline commands (validate, render, explain, diff).
const (
	// exitFailed: the fleet has errors (validate, render), or diff found
	// changes.
	exitFailed = 1
	// exitUsage: bad flags or arguments, an unknown cluster or app, an
	// unreadable repository.
	exitUsage = 2
)

// usageErrorf returns an error that exits with code 2.
func usageErrorf(format string, args ...any) error {
	return &ExitError{Code: exitUsage, Err: fmt.Errorf(format, args...)}
}

// loadFleet runs the offline pipeline on the fleet repository at repo. An
// unreadable repository is a usage error.
//
// With --status-ref or --status-dir, placement uses the clusters' capacity
// recorded on the status branch; otherwise, when an app places by live
// capacity, a note on stderr says it was not used.
func loadFleet(cmd *cobra.Command, repo string, r *render.Renderer) (*pipeline.Output, error) {
	if err := checkFleetFolder(repo, repo); err != nil {
		return nil, err
	}
	opts := []pipeline.Option{pipeline.WithLimits(limitsFromFlags(cmd)), pipeline.CheckNamespaces()}
	capOpt, err := capacityOption(cmd, repo)
	if err != nil {
		return nil, err
	}
	if capOpt != nil {
		opts = append(opts, capOpt)
	}
	out, err := pipeline.Run(cmd.Context(), repo, r, opts...)
	noteCapacity(cmd.ErrOrStderr(), out)
	if errors.Is(err, pipeline.ErrUnreadable) {
		return nil, &ExitError{Code: exitUsage, Err: fmt.Errorf("%w; pass --repo with the folder that holds clusters/ and apps/", err)}
	}
	if err != nil {
		return nil, &ExitError{Code: exitUsage, Err: err}
	}
	return out, nil
}

// Flags of the fleet size limits.
const (
	flagMaxClusters = "max-clusters"
	flagMaxApps     = "max-apps"
	flagMaxTargets  = "max-targets"
)

// addLimitFlags adds --max-clusters, --max-apps and --max-targets (see
// fleet.Limits), and --render-max-build-time, to a command that loads a
// fleet.
func addLimitFlags(fl *pflag.FlagSet) {
	fl.DurationVar(&renderMaxBuildTime, "render-max-build-time", render.DefaultMaxBuildTime,
		"longest wall-clock time of one kustomize build; a build past it is killed and reported")
	fl.Int(flagMaxClusters, fleet.DefaultMaxClusters, "refuse a fleet repository with more cluster files")
	fl.Int(flagMaxApps, fleet.DefaultMaxApps, "refuse a fleet repository with more app folders")
	fl.Int(flagMaxTargets, fleet.DefaultMaxTargets, "refuse a fleet repository that places more (app, cluster) pairs")
}

// limitsFromFlags reads the limit flags of cmd; a command without them
// gets the defaults.
func limitsFromFlags(cmd *cobra.Command) fleet.Limits {
	get := func(name string) int {
		n, _ := cmd.Flags().GetInt(name) // 0 (the default) when not defined
		return n
	}
	return fleet.Limits{Clusters: get(flagMaxClusters), Apps: get(flagMaxApps), Targets: get(flagMaxTargets)}
}

// newRenderer returns the renderer of one command run.
// newRenderer renders in worker processes, as the hub does: a build that
// runs past render.DefaultMaxBuildTime or render.DefaultMaxWorkerMemory is
// killed and reported, so a pull request cannot hang or exhaust the CI job
// that previews it.
func newRenderer() *render.Renderer {
	return render.New(render.Options{Isolate: true, MaxBuildTime: renderMaxBuildTime})
}

// renderMaxBuildTime is the --render-max-build-time of the offline
// commands (zero: render.DefaultMaxBuildTime).
var renderMaxBuildTime time.Duration

// printDiagnostics writes one diagnostic per line as "path:line: message".
func printDiagnostics(w io.Writer, diags []fleet.Diagnostic) {
	for _, d := range diags {
		fmt.Fprintln(w, d.String())
	}
}

// fleetErrors returns an exit-1 error saying the fleet has errors, after
// printing them.
func fleetErrors(w io.Writer, out *pipeline.Output, what string) error {
	errs := out.Errors()
	printDiagnostics(w, errs)
	return &ExitError{Code: exitFailed, Err: fmt.Errorf("%s: the fleet repository has %s; run flotilla validate --repo %s and fix them first",
		what, count(len(errs), "error", "errors"), out.Root)}
}

// checkName returns a usage error when name is not among known.
func checkName(kind, flag, name string, known []string) error {
	if slices.Contains(known, name) {
		return nil
	}
	if len(known) == 0 {
		return usageErrorf("unknown %s %q: the fleet repository declares no %s", kind, name, kind)
	}
	return usageErrorf("unknown %s %q given to %s: the fleet repository declares %s", kind, name, flag, strings.Join(known, ", "))
}

// count formats "1 error" or "3 errors".
func count(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
