package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"

	"github.com/flotilla-gitops/flotilla/apply"
	"github.com/flotilla-gitops/flotilla/internal/pipeline"
	"github.com/flotilla-gitops/flotilla/placement"
)

func init() { extraCommands = append(extraCommands, newRenderCommand) }

type renderFlags struct {
	repo, cluster, app, out, repository string
}

func newRenderCommand() *cobra.Command {
	f := renderFlags{repo: "."}
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Print the exact manifests a cluster receives, offline",
		Long: `Render the manifests one cluster receives from a fleet repository, exactly as
the controller applies them: every app placed on the cluster, in app name
order, as one multi-document YAML stream on stdout. Objects are printed as
the controller sends them: with Flotilla's owner labels (the FleetRepository
is --repository, by default flotilla-system/<folder name of --repo>), the
namespace removed from cluster-scoped kinds (builtin kinds, and custom kinds
whose CRD the cluster receives too) and set on namespaced objects without
one, and Flotilla's Git-only annotations removed, so a policy checker run on
the output sees what the cluster gets.

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
	fl.StringVar(&f.repository, "repository", "", "NAMESPACE/NAME of the FleetRepository on the hub, for the owner labels (default flotilla-system/<folder name of --repo>)")
	addLimitFlags(fl)
	addCapacityFlags(fl)
	return cmd
}

func runRender(cmd *cobra.Command, f renderFlags) error {
	if f.cluster == "" && f.out == "" {
		return usageErrorf("render: set --cluster (or --out to render every cluster into files)")
	}
	repository, err := parseRepository(f.repository, f.repo)
	if err != nil {
		return err
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
	scope := offlineScope(out)

	if f.out == "" {
		targets := clusterTargets(out, f.cluster, f.app)
		if f.app != "" && len(targets) == 0 {
			return &ExitError{Code: exitFailed, Err: fmt.Errorf("render: app %s is not placed on cluster %s; run flotilla explain --repo %s --cluster %s --app %s to see why",
				f.app, f.cluster, f.repo, f.cluster, f.app)}
		}
		var buf bytes.Buffer
		for _, t := range targets {
			y, err := preparedYAML(out, scope, t, repository)
			if err != nil {
				return &ExitError{Code: exitFailed, Err: err}
			}
			if len(y) == 0 {
				continue
			}
			if buf.Len() > 0 {
				buf.WriteString("---\n")
			}
			buf.Write(y)
		}
		_, err := cmd.OutOrStdout().Write(buf.Bytes())
		return err
	}
	written := 0
	for _, c := range clusters {
		for _, t := range clusterTargets(out, c, f.app) {
			if err := writeRendered(f.out, out, scope, t, repository); err != nil {
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
func writeRendered(dir string, out *pipeline.Output, scope apply.ScopeFunc, t placement.Target, repository types.NamespacedName) error {
	y, err := preparedYAML(out, scope, t, repository)
	if err != nil {
		return err
	}
	folder := filepath.Join(dir, t.Cluster)
	if err := os.MkdirAll(folder, 0o750); err != nil {
		return fmt.Errorf("render: create the output folder %s: %w", folder, err)
	}
	file := filepath.Join(folder, t.App+".yaml")
	if err := os.WriteFile(file, y, 0o600); err != nil { // rendered manifests may hold Secret data
		return fmt.Errorf("render: write %s: %w", file, err)
	}
	return nil
}
