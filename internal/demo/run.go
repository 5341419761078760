package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// ErrInterrupted is returned (wrapped) by Run when ctx ends (Ctrl-C) before
// the demo has started.
var ErrInterrupted = errors.New("interrupted")

// NotSyncedError says the fleet did not sync in time, and why.
type NotSyncedError struct {
	// After is how long Run waited.
	After time.Duration
	// Problems are FleetState.Problems at the end of the wait.
	Problems []string
}

// Error names the first problems.
func (e *NotSyncedError) Error() string {
	const shown = 3
	p := e.Problems
	more := ""
	if len(p) > shown {
		more = fmt.Sprintf("; and %d more (listed above)", len(p)-shown)
		p = p[:shown]
	}
	return fmt.Sprintf("the fleet is not synced after %s: %s%s", e.After.Round(time.Second), strings.Join(p, "; "), more)
}

// RunOptions say how long Run waits and whether it stays up.
type RunOptions struct {
	// ExitWhenSynced stops the demo (and returns nil) once the fleet is
	// synced; when not synced within Timeout, Run returns a
	// *NotSyncedError. Otherwise Run keeps the demo up until ctx ends.
	ExitWhenSynced bool
	// Timeout bounds the start and the first sync. Without
	// ExitWhenSynced, a fleet not synced by then is reported and the demo
	// keeps running. Zero means 10 minutes.
	Timeout time.Duration
	// FlotillaCommand is how a person runs this binary, for the printed
	// next steps. Empty means "flotilla".
	FlotillaCommand string
}

// Run starts the demo, waits until the fleet is synced, prints the fleet
// table and the next steps, and keeps the demo up until ctx ends (unless
// run.ExitWhenSynced); then it stops and removes everything it started.
func Run(ctx context.Context, opts Options, run RunOptions) (retErr error) {
	if run.Timeout <= 0 {
		run.Timeout = 10 * time.Minute
	}
	if run.FlotillaCommand == "" {
		run.FlotillaCommand = "flotilla"
	}
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	p := &progress{out: out}
	begin := time.Now()
	p.printf("Flotilla demo: a hub, one cluster per cluster file and a Git server, all on this machine.\n")
	errTimeout := fmt.Errorf("not done within --timeout %s", run.Timeout)
	waitCtx, cancel := context.WithTimeoutCause(ctx, run.Timeout, errTimeout)
	defer cancel()

	d, err := Start(waitCtx, opts)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("start the demo: %w; everything started was stopped again", ErrInterrupted)
		}
		if errors.Is(context.Cause(waitCtx), errTimeout) {
			return fmt.Errorf("start the demo: %w: %w", errTimeout, err)
		}
		return err
	}
	defer func() {
		p.printf("\nStopping the demo: the controller, %s and the Git server...\n", plural(len(d.names)+1, "cluster"))
		info := d.Info()
		if err := d.Close(); err != nil {
			retErr = errors.Join(retErr, fmt.Errorf("stop the demo: %w", err))
			return
		}
		if info.Temporary {
			p.printf("Stopped, and removed %s.\n", info.Dir)
		} else {
			p.printf("Stopped; the folder %s is kept.\n", info.Dir)
		}
	}()

	state, err := d.WaitSynced(waitCtx)
	if err != nil && ctx.Err() != nil {
		return nil // Ctrl-C while waiting: stop quietly.
	}
	if err != nil {
		problems := []string{err.Error()}
		if state != nil && len(state.Problems()) > 0 {
			problems = state.Problems()
		}
		p.fail("the fleet is not synced after %s (%v); where it stands:", since(begin), err)
		p.printf("\n")
		if state == nil {
			p.printf("  %s\n", err)
		} else if err := printState(out, state); err != nil {
			return err
		}
		if run.ExitWhenSynced {
			return &NotSyncedError{After: time.Since(begin), Problems: problems}
		}
		p.printf("\nThe demo keeps running: `%s demo status` shows where the fleet stands.\n", run.FlotillaCommand)
	} else {
		p.printf("\n")
		if err := printState(out, state); err != nil {
			return err
		}
	}
	if run.ExitWhenSynced {
		return nil
	}
	if err := PrintNextSteps(out, d.Info(), run.FlotillaCommand); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// WaitSynced polls the hub every second until the fleet is synced (see
// FleetState.Problems), printing progress when it changes. When ctx ends
// first it returns the last state read (nil if none) and an error.
func (d *Demo) WaitSynced(ctx context.Context) (*FleetState, error) {
	start := time.Now()
	d.progress.step("waiting for the fleet to sync (%s; the controller applies each app, then waits until it is healthy)", plural(d.targets, "target"))
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	var last *FleetState
	var lastErr error
	lastLine := ""
	for {
		if err := d.controllerExited(); err != nil {
			return last, fmt.Errorf("the controller stopped: %w (its log: %s)", err, d.layout.ControllerLog())
		}
		if err := d.agentExited(); err != nil {
			return last, err
		}
		state, err := d.State(ctx)
		lastErr = err
		if err == nil {
			last = state
			if state.Synced() {
				ready, targets := state.Counts()
				d.progress.ok("fleet synced in %s: %d/%d targets ready at %s", since(start), ready, targets, shortRevision(state.Repository.Status.Revision))
				return state, nil
			}
			if line := summarize(state); line != lastLine {
				d.progress.info("%s", line)
				lastLine = line
			}
		}
		select {
		case <-ctx.Done():
			if lastErr != nil && ctx.Err() == nil {
				return last, lastErr
			}
			return last, fmt.Errorf("waiting for the fleet to sync: %w", context.Cause(ctx))
		case <-ticker.C:
		}
	}
}

// summarize counts the apps on clusters by state: "fetched main@1a2b3c4:
// 12/20 ready, 3 waiting, 5 syncing".
func summarize(s *FleetState) string {
	if s.Repository.Status.Revision == "" {
		return "fetching the repository"
	}
	counts := map[string]int{}
	for i := range s.Syncs {
		counts[cellOf(&s.Syncs[i], s.Repository.Status.Revision)]++
	}
	_, targets := s.Counts()
	parts := []string{fmt.Sprintf("%d/%d %s", counts[cellReady], targets, cellReady)}
	for _, cell := range []string{cellWaiting, cellSyncing, cellFailed, cellOffline} {
		if counts[cell] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[cell], cell))
		}
	}
	return fmt.Sprintf("fetched %s: %s", shortRevision(s.Repository.Status.Revision), strings.Join(parts, ", "))
}

// State reads the fleet's state from the hub, and the synced branch's
// commit from the Git server.
func (d *Demo) State(ctx context.Context) (*FleetState, error) {
	head, err := d.head()
	if err != nil {
		return nil, err
	}
	return ReadState(ctx, d.hubClient, d.opts.Namespace, d.repoName, head)
}

// head returns the commit of the synced branch in the server's repository.
func (d *Demo) head() (string, error) {
	repo, err := git.PlainOpen(d.repo.Path)
	if err != nil {
		return "", fmt.Errorf("open the demo's Git repository %s: %w", d.repo.Path, err)
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(d.repo.Branch), true)
	if err != nil {
		return "", fmt.Errorf("read branch %s of the demo's Git repository: %w", d.repo.Branch, err)
	}
	return ref.Hash().String(), nil
}

// PrintStatus writes the fleet table of the running demo, then why it is
// not synced, if it is not.
func (d *Demo) PrintStatus(ctx context.Context, w io.Writer) error {
	state, err := d.State(ctx)
	if err != nil {
		return err
	}
	return printState(w, state)
}

// printState writes the heading, the table and the problems.
func printState(w io.Writer, s *FleetState) error {
	r := s.Repository
	fmt.Fprintf(w, "FleetRepository %s/%s at %s:\n\n", r.Namespace, r.Name, shortRevision(r.Status.Revision))
	if err := PrintTable(w, s); err != nil {
		return err
	}
	if problems := s.Problems(); len(problems) > 0 {
		fmt.Fprintf(w, "\nNot synced:\n")
		for _, msg := range problems {
			fmt.Fprintf(w, "  - %s\n", msg)
		}
	} else {
		fmt.Fprintf(w, "\nSynced: every app is applied and healthy on every cluster it is placed on.\n")
	}
	return nil
}
