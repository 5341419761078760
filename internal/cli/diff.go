package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/spf13/cobra"

	"github.com/flotilla-gitops/flotilla/internal/fleetdiff"
	"github.com/flotilla-gitops/flotilla/internal/pipeline"
	"github.com/flotilla-gitops/flotilla/render"
	"github.com/flotilla-gitops/flotilla/source"
)

func init() { extraCommands = append(extraCommands, newDiffCommand) }

// Output formats of flotilla diff.
const (
	formatText     = "text"
	formatMarkdown = "markdown"
	formatJSON     = "json"
)

type diffFlags struct {
	repo, base, head, format string
}

func newDiffCommand() *cobra.Command {
	f := diffFlags{repo: ".", head: "HEAD", format: formatText}
	cmd := &cobra.Command{
		Use:   "diff",
		Short: "Show which clusters a change touches, and how, between two revisions",
		Long: `Render every (app, cluster) target of a fleet repository at two Git
revisions, offline and with no cluster, and report per cluster what changes:
apps newly selected or deselected by placement, objects added, removed and
changed (with a unified YAML diff), and replica changes. Secret data and
stringData values are masked ("***:<hash>"; the hash is keyed per run, so it
shows that a value changed without revealing it).

--repo is a Git work tree (or a folder inside one: the fleet repository may
live in a sub-folder, which is then compared at both revisions). Builds whose
files did not change are shared between the two revisions, so unchanged
apps are rendered once.

Formats: text (terminal), markdown (a pull-request comment: a summary first,
then one collapsible section per site), json (machine-readable, versioned by
its schemaVersion field).

Exit code 0 when nothing changes, 1 when something changes, 2 on an error,
including a fleet that is invalid at the head revision (its errors are
printed).`,
		Example: `  flotilla diff --base main --head HEAD
  flotilla diff --repo . --base origin/main --head HEAD --format markdown > comment.md
  flotilla diff --base v1.4.0 --head main --format json | jq '.changed[].cluster'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDiff(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.repo, "repo", f.repo, "Git work tree of the fleet repository, or the fleet's folder inside one")
	fl.StringVar(&f.base, "base", "", "revision to compare from: branch, tag, commit or expression such as origin/main or HEAD~1 (required)")
	fl.StringVar(&f.head, "head", f.head, "revision to compare to")
	fl.StringVar(&f.format, "format", f.format, "output format: text, markdown or json")
	addLimitFlags(fl)
	addCapacityFlags(fl)
	return cmd
}

func runDiff(cmd *cobra.Command, f diffFlags) error {
	switch f.format {
	case formatText, formatMarkdown, formatJSON:
	default:
		return usageErrorf("diff: unknown --format %q: use text, markdown or json", f.format)
	}
	if f.base == "" || f.head == "" {
		return usageErrorf("diff: set --base and --head to the two revisions to compare")
	}
	opts := []pipeline.Option{pipeline.WithLimits(limitsFromFlags(cmd))}
	capOpt, err := capacityOption(cmd, f.repo)
	if err != nil {
		return err
	}
	if capOpt != nil {
		opts = append(opts, capOpt)
	}
	report, err := diffRevisions(cmd.Context(), cmd.ErrOrStderr(), f.repo, f.base, f.head, newRenderer(), opts...)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	switch f.format {
	case formatMarkdown:
		err = fleetdiff.WriteMarkdown(w, report, fleetdiff.MarkdownOptions{})
	case formatJSON:
		err = fleetdiff.WriteJSON(w, report)
	default:
		err = fleetdiff.WriteText(w, report)
	}
	if err != nil {
		return &ExitError{Code: exitUsage, Err: fmt.Errorf("diff: write the report: %w", err)}
	}
	if report.HasChanges() {
		return &ExitError{Code: exitFailed}
	}
	return nil
}

// diffRevisions extracts both revisions of the repository at repoDir, runs
// the pipeline on each with the one renderer r (so that builds whose files
// are the same at both revisions run once), and compares them. A fleet
// that is invalid at the head is an exit-2 error, its errors printed to
// errOut; one invalid at the base is compared as far as it renders.
func diffRevisions(ctx context.Context, errOut io.Writer, repoDir, baseRev, headRev string, r *render.Renderer, opts ...pipeline.Option) (*fleetdiff.Report, error) {
	fail := func(err error) error { return &ExitError{Code: exitUsage, Err: err} }
	repo, err := source.OpenLocal(repoDir)
	if err != nil {
		return nil, fail(fmt.Errorf("diff: %w", err))
	}
	defer func() {
		if err := repo.Close(); err != nil {
			fmt.Fprintf(errOut, "warning: %v\n", err)
		}
	}()
	sub, err := fleetSubdir(repoDir)
	if err != nil {
		return nil, fail(fmt.Errorf("diff: %w", err))
	}
	baseSnap, err := repo.ExtractRevision(ctx, baseRev)
	if err != nil {
		return nil, fail(fmt.Errorf("diff: base revision: %w", err))
	}
	defer baseSnap.Release()
	headSnap, err := repo.ExtractRevision(ctx, headRev)
	if err != nil {
		return nil, fail(fmt.Errorf("diff: head revision: %w", err))
	}
	defer headSnap.Release()
	if err := checkFleetFolder(filepath.Join(headSnap.Dir, sub), fmt.Sprintf("%s at %s", repoDir, headRev)); err != nil {
		return nil, err
	}
	warnUncommitted(ctx, errOut, repoDir, headRev)

	base, err := pipeline.Run(ctx, filepath.Join(baseSnap.Dir, sub), r, opts...)
	var baseState *fleetdiff.State
	switch {
	case errors.Is(err, pipeline.ErrUnreadable):
		// The fleet folder does not exist at the base (it is new): every
		// cluster and app is added.
		baseState = &fleetdiff.State{Errors: []string{fmt.Sprintf("%s: the fleet folder does not exist at %s", orDot(sub), baseRev)}}
	case err != nil:
		return nil, fail(fmt.Errorf("diff: base revision %s: %w", baseRev, err))
	default:
		baseState = fleetdiff.FromOutput(base)
	}
	head, err := pipeline.Run(ctx, filepath.Join(headSnap.Dir, sub), r, opts...)
	if err != nil {
		return nil, fail(fmt.Errorf("diff: head revision %s: %w", headRev, err))
	}
	noteCapacity(errOut, head)
	if head.HasErrors() {
		errs := head.Errors()
		printDiagnostics(errOut, errs)
		return nil, fail(fmt.Errorf("diff: the fleet repository is invalid at the head revision %s: %s; run flotilla validate on it",
			headRev, count(len(errs), "error", "errors")))
	}
	report := fleetdiff.Compare(baseState, fleetdiff.FromOutput(head), fleetdiff.Options{})
	if err := report.AddRolloutPlans(head.RolloutStages); err != nil {
		return nil, fail(fmt.Errorf("diff: head revision %s: %w", headRev, err))
	}
	report.Base = fleetdiff.Revision{Ref: baseRev, Commit: baseSnap.Revision}
	report.Head = fleetdiff.Revision{Ref: headRev, Commit: headSnap.Revision}
	return report, nil
}

// fleetSubdir returns the folder of the fleet repository dir relative to
// the root of its Git work tree ("" when dir is the root or the repository
// is bare), slash-separated.
func fleetSubdir(dir string) (string, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return "", fmt.Errorf("open repository %s: %w: pass a folder of a Git checkout", dir, err)
	}
	wt, err := repo.Worktree()
	if errors.Is(err, git.ErrIsBareRepository) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("open the work tree of %s: %w", dir, err)
	}
	top, err := filepath.EvalSymlinks(wt.Filesystem.Root())
	if err != nil {
		return "", fmt.Errorf("resolve the work tree of %s: %w", dir, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", dir, err)
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return "", fmt.Errorf("resolve %s: %w", dir, err)
	}
	rel, err := filepath.Rel(top, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is not inside the work tree %s", dir, top)
	}
	if rel == "." {
		return "", nil
	}
	return filepath.ToSlash(rel), nil
}

func orDot(s string) string {
	if s == "" {
		return "."
	}
	return s
}
