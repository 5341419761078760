package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func init() { extraCommands = append(extraCommands, newValidateCommand) }

func newValidateCommand() *cobra.Command {
	repo := "."
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a fleet repository offline: every file, every reference, every render",
		Long: `Load every Cluster and App file of a fleet repository, check the schema and
every reference, place every app and render every (app, cluster) target,
then print every problem at once as "path:line: message".

Exit code 0 when the repository is valid (warnings allowed), 1 when it has
errors, 2 on a usage error (bad flag, unreadable folder).`,
		Example: `  flotilla validate
  flotilla validate --repo examples/factory-fleet`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runValidate(cmd, repo)
		},
	}
	cmd.Flags().StringVar(&repo, "repo", repo, "folder of the fleet repository (holding clusters/ and apps/)")
	addLimitFlags(cmd.Flags())
	return cmd
}

func runValidate(cmd *cobra.Command, repo string) error {
	out, err := loadFleet(cmd, repo, newRenderer())
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	printDiagnostics(w, out.Diagnostics)
	errs, warns := len(out.Errors()), len(out.Warnings())
	targets := len(out.Placement.Targets)
	summary := fmt.Sprintf("%s, %s, %s rendered", count(len(out.Fleet.Clusters), "cluster", "clusters"),
		count(len(out.Fleet.Apps), "app", "apps"), count(targets, "target", "targets"))
	if errs == 0 {
		if warns > 0 {
			summary += ", " + count(warns, "warning", "warnings")
		}
		fmt.Fprintf(w, "ok: %s\n", summary)
		return nil
	}
	summary = fmt.Sprintf("%s, %s, %d of %s rendered", count(len(out.Fleet.Clusters), "cluster", "clusters"),
		count(len(out.Fleet.Apps), "app", "apps"), out.Rendered(), count(targets, "target", "targets"))
	if n := len(out.Skipped); n > 0 {
		summary += fmt.Sprintf(" (%d skipped: their app or cluster file has errors)", n)
	}
	fmt.Fprintf(w, "failed: %s, %s; %s\n", count(errs, "error", "errors"), count(warns, "warning", "warnings"), summary)
	return &ExitError{Code: exitFailed, Err: fmt.Errorf("validate %s: %s", out.Root, count(errs, "error", "errors"))}
}
