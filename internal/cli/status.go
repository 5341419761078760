package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/source"
	"github.com/flotilla-gitops/flotilla/status/branch"
	"github.com/flotilla-gitops/flotilla/status/report"
)

func init() { extraCommands = append(extraCommands, newStatusCommand) }

func newStatusCommand() *cobra.Command {
	var (
		kubeconfig, namespace, repository, repoDir, statusBranch, output string
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Print the fleet status: clusters × apps, revision, health, stale sites",
		Long: `Print the fleet status table. It reads either the hub (--kubeconfig) or,
with no cluster at all, the status branch of a local clone (--repo).`,
		Example: `  flotilla status --kubeconfig hub.kubeconfig -n fleet
  flotilla status --repo . -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return &ExitError{Code: 2, Err: fmt.Errorf("--output %q: use table or json", output)}
			}
			var reports []report.Report
			var err error
			if repoDir != "" {
				var r report.Report
				r, err = statusFromBranch(cmd.Context(), repoDir, statusBranch)
				reports = []report.Report{r}
			} else {
				reports, err = statusFromHub(cmd.Context(), kubeconfig, namespace, repository)
			}
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			return printReports(cmd.OutOrStdout(), reports, output)
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the hub (default: $KUBECONFIG, then ~/.kube/config)")
	f.StringVarP(&namespace, "namespace", "n", "", "namespace of the FleetRepositories (default: all namespaces)")
	f.StringVar(&repository, "repository", "", "only this FleetRepository")
	f.StringVar(&repoDir, "repo", "", "read the status branch of this local clone instead of the hub")
	f.StringVar(&statusBranch, "branch", branch.DefaultBranch, "status branch to read with --repo (origin/<branch> is preferred when fetched)")
	f.StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

func printReports(w io.Writer, reports []report.Report, output string) error {
	if output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if len(reports) == 1 {
			return enc.Encode(reports[0])
		}
		return enc.Encode(reports)
	}
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if r.Repository != "" {
			fmt.Fprintf(w, "%s at %s\n", r.Repository, report.ShortRevision(r.Revision))
		}
		if err := report.WriteTable(w, r, time.Now()); err != nil {
			return err
		}
	}
	return nil
}

func statusFromHub(ctx context.Context, kubeconfig, namespace, repository string) ([]report.Report, error) {
	cl, _, err := connectHub(kubeconfig, "")
	if err != nil {
		return nil, err
	}
	repos := &flotillav1.FleetRepositoryList{}
	if err := cl.List(ctx, repos, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("list FleetRepositories on the hub: %w", err)
	}
	var reports []report.Report
	for i := range repos.Items {
		repo := &repos.Items[i]
		if repository != "" && repo.Name != repository {
			continue
		}
		sel := client.MatchingLabels{flotillav1.LabelRepository: repo.Name, flotillav1.LabelRepositoryNamespace: repo.Namespace}
		clusters := &flotillav1.ClusterList{}
		syncs := &flotillav1.ClusterSyncList{}
		if err := cl.List(ctx, clusters, client.InNamespace(repo.Namespace), sel); err != nil {
			return nil, fmt.Errorf("list Clusters: %w", err)
		}
		if err := cl.List(ctx, syncs, client.InNamespace(repo.Namespace), sel); err != nil {
			return nil, fmt.Errorf("list ClusterSyncs: %w", err)
		}
		apps := &flotillav1.AppList{}
		if err := cl.List(ctx, apps, client.InNamespace(repo.Namespace), sel); err != nil {
			return nil, fmt.Errorf("list Apps: %w", err)
		}
		rep := report.Build(repo, clusters.Items, syncs.Items)
		report.AddRollouts(&rep, apps.Items)
		reports = append(reports, rep)
	}
	if len(reports) == 0 {
		return nil, fmt.Errorf("no FleetRepository found on the hub (namespace %q, repository %q)", namespace, repository)
	}
	return reports, nil
}

func statusFromBranch(ctx context.Context, dir, branch string) (report.Report, error) {
	repo, err := source.OpenLocal(dir)
	if err != nil {
		return report.Report{}, err
	}
	defer repo.Close()
	var snap *source.Snapshot
	var errs []string
	for _, rev := range []string{"origin/" + branch, branch} {
		s, err := repo.ExtractRevision(ctx, rev)
		if err == nil {
			snap = s
			break
		}
		errs = append(errs, err.Error())
	}
	if snap == nil {
		return report.Report{}, fmt.Errorf("read status branch %s in %s: %s; run `git fetch origin %s` first", branch, dir, strings.Join(errs, "; "), branch)
	}
	defer snap.Release()
	entries, err := os.ReadDir(filepath.Join(snap.Dir, report.StatusDir))
	if err != nil {
		return report.Report{}, fmt.Errorf("read status branch %s: no %s/ folder: %w", branch, report.StatusDir, err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		p := filepath.Join(report.StatusDir, e.Name())
		b, err := os.ReadFile(filepath.Join(snap.Dir, p))
		if err != nil {
			return report.Report{}, fmt.Errorf("read %s on branch %s: %w", p, branch, err)
		}
		files[filepath.ToSlash(p)] = b
	}
	r, err := report.ParseFiles(files)
	if err != nil {
		return report.Report{}, err
	}
	r.Repository = "branch " + branch + " of " + dir
	r.Revision = snap.Ref
	return r, nil
}
