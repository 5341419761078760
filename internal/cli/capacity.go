package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flotilla-gitops/flotilla/internal/pipeline"
	"github.com/flotilla-gitops/flotilla/placement"
	"github.com/flotilla-gitops/flotilla/source"
	"github.com/flotilla-gitops/flotilla/status/report"
)

// Flags of the live capacity the offline commands may use.
const (
	flagStatusRef = "status-ref"
	flagStatusDir = "status-dir"
)

// addCapacityFlags adds --status-ref and --status-dir: where to read the
// clusters' capacity that the hub recorded on the status branch.
func addCapacityFlags(fl *pflag.FlagSet) {
	fl.String(flagStatusRef, "", "Git revision of the status branch (for example origin/flotilla-status) whose status/<cluster>.yaml files give the clusters' live capacity, so that requires, rankBy.available and weightBy.available place as the hub would")
	fl.String(flagStatusDir, "", "folder holding a checkout of the status branch (its status/<cluster>.yaml files), instead of --status-ref")
}

// capacityOption returns the placement option that feeds the capacity
// recorded on the status branch to the pipeline, or nil when neither
// --status-ref nor --status-dir is set. repoDir is the fleet repository
// whose Git repository holds the status branch.
func capacityOption(cmd *cobra.Command, repoDir string) (pipeline.Option, error) {
	ref, _ := cmd.Flags().GetString(flagStatusRef)
	dir, _ := cmd.Flags().GetString(flagStatusDir)
	switch {
	case ref != "" && dir != "":
		return nil, usageErrorf("set one of --%s and --%s", flagStatusRef, flagStatusDir)
	case ref != "":
		repo, err := source.OpenLocal(repoDir)
		if err != nil {
			return nil, usageErrorf("--%s: %v", flagStatusRef, err)
		}
		defer repo.Close()
		snap, err := repo.ExtractRevision(cmd.Context(), ref)
		if err != nil {
			return nil, usageErrorf("--%s %s: %v; fetch the status branch first (git fetch origin flotilla-status)", flagStatusRef, ref, err)
		}
		defer snap.Release()
		dir = snap.Dir
	case dir == "":
		return nil, nil
	}
	caps, err := readStatusCapacities(dir)
	if err != nil {
		return nil, usageErrorf("--%s/--%s: %v", flagStatusRef, flagStatusDir, err)
	}
	return pipeline.WithPlacementOptions(placement.WithCapacity(caps)), nil
}

// readStatusCapacities reads the capacity of each cluster from the
// status/<cluster>.yaml files under dir.
func readStatusCapacities(dir string) (map[string]placement.Capacity, error) {
	paths, err := filepath.Glob(filepath.Join(dir, report.StatusDir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("list the status files: %w", err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%s holds no %s/<cluster>.yaml files: is it the status branch?", dir, report.StatusDir)
	}
	files := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read status file: %w", err)
		}
		files[report.StatusDir+"/"+filepath.Base(p)] = b
	}
	r, err := report.ParseFiles(files)
	if err != nil {
		return nil, err
	}
	caps := map[string]placement.Capacity{}
	for _, c := range r.Clusters {
		if c.Capacity != nil {
			caps[c.Cluster] = placement.Capacity{Allocatable: c.Capacity.Allocatable, Available: c.Capacity.Available}
		}
	}
	return caps, nil
}

// noteCapacity says, when the fleet has apps that read live capacity and
// none was given, that the placement shown did not use it.
func noteCapacity(w io.Writer, out *pipeline.Output) {
	if out == nil || out.Placement == nil || out.Placement.CapacityUsed || out.Fleet == nil {
		return
	}
	for _, a := range out.Fleet.Apps {
		if placement.ReadsCapacity(a) {
			fmt.Fprintf(w, "note: live capacity not used: app %s places by live capacity (requires, rankBy.available or weightBy.available), and every cluster's capacity is unknown here; pass --%s origin/flotilla-status (or --%s) to place with the figures the hub recorded\n",
				a.Name, flagStatusRef, flagStatusDir)
			return
		}
	}
}
