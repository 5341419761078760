package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/flotilla-gitops/flotilla/internal/pipeline"
	"github.com/flotilla-gitops/flotilla/placement"
)

func init() { extraCommands = append(extraCommands, newRenderCommand) }

type renderFlags struct {
	repo, cluster, app, out string
}

func newRenderCommand() *cobra.Command {
	f := renderFlags{repo: "."}
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Print the exact manifests a cluster receives, offline",
		Long: `Render the manifests one cluster receives from a fleet repository, exactly as
the controller applies them: every app placed on the cluster, in app name
order, as one multi-document YAML stream on stdout.

With --out, write one file per cluster and app instead,
<out>/<cluster>/<app>.yaml; --cluster is then optional (all clusters).

The fleet must be valid: when any file has an error, nothing is rendered
(the controller would not apply it either) and the errors are printed.`,
		Example: `  flotilla render --repo examples/factory-fleet --cluster factory-lyon
  flotilla render --repo . --cluster factory-lyon --app adc-inference
  flotilla render --repo . --out rendered/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRender(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.repo, "repo", f.repo, "folder of the fleet repository (holding clusters/ and apps/)")
	fl.StringVar(&f.cluster, "cluster", "", "cluster to render (required unless --out is set)")
	fl.StringVar(&f.app, "app", "", "render only this app")
	fl.StringVar(&f.out, "out", "", "write <out>/<cluster>/<app>.yaml files instead of printing")
	addLimitFlags(fl)
	addCapacityFlags(fl)
	return cmd
}

func runRender(cmd *cobra.Command, f renderFlags) error {
	if f.cluster == "" && f.out == "" {
		return usageErrorf("render: set --cluster (or --out to render every cluster into files)")
	}
	out, err := loadFleet(cmd, f.repo, newRenderer())
	if err != nil {
		return err
	}
	clusters := out.ClusterNames()
	if f.cluster != "" {
		if err := checkName("cluster", "--cluster", f.cluster, clusters); err != nil {
			return err
		}
		clusters = []string{f.cluster}
	}
	if f.app != "" {
		if err := checkName("app", "--app", f.app, out.AppNames()); err != nil {
			return err
		}
	}
	if out.HasErrors() {
		return fleetErrors(cmd.ErrOrStderr(), out, "render")
	}
	printDiagnostics(cmd.ErrOrStderr(), out.Warnings())

	if f.out == "" {
		targets := clusterTargets(out, f.cluster, f.app)
		if f.app != "" && len(targets) == 0 {
			return &ExitError{Code: exitFailed, Err: fmt.Errorf("render: app %s is not placed on cluster %s; run flotilla explain --repo %s --cluster %s --app %s to see why",
				f.app, f.cluster, f.repo, f.cluster, f.app)}
		}
		_, err := cmd.OutOrStdout().Write(out.ClusterYAML(f.cluster, f.app))
		return err
	}
	written := 0
	for _, c := range clusters {
		for _, t := range clusterTargets(out, c, f.app) {
			if err := writeRendered(f.out, out, t); err != nil {
				return err
			}
			written++
		}
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s under %s\n", count(written, "file", "files"), f.out)
	return nil
}

// clusterTargets returns the targets of a cluster, sorted by app, limited
// to one app when app is set.
func clusterTargets(out *pipeline.Output, cluster, app string) []placement.Target {
	var ts []placement.Target
	for _, t := range out.Placement.ForCluster(cluster) {
		if app == "" || t.App == app {
			ts = append(ts, t)
		}
	}
	return ts
}

// writeRendered writes one target's YAML to <dir>/<cluster>/<app>.yaml.
func writeRendered(dir string, out *pipeline.Output, t placement.Target) error {
	res := out.Render(t.App, t.Cluster)
	if res == nil || res.Manifest == nil {
		return fmt.Errorf("render: app %s on cluster %s was not rendered", t.App, t.Cluster)
	}
	folder := filepath.Join(dir, t.Cluster)
	if err := os.MkdirAll(folder, 0o750); err != nil {
		return fmt.Errorf("render: create the output folder %s: %w", folder, err)
	}
	file := filepath.Join(folder, t.App+".yaml")
	if err := os.WriteFile(file, res.Manifest.YAML, 0o600); err != nil { // rendered manifests may hold Secret data
		return fmt.Errorf("render: write %s: %w", file, err)
	}
	return nil
}
