package branch

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/flotilla-gitops/flotilla/source"
)

// Defaults for Options fields left empty.
const (
	DefaultBranch      = "flotilla-status"
	DefaultAuthorName  = "Flotilla"
	DefaultAuthorEmail = "flotilla@flotilla.dev"
	DefaultMessage     = "Update Flotilla status"
	DefaultTimeout     = 60 * time.Second
	DefaultMaxAttempts = 8
	DefaultBackoff     = 250 * time.Millisecond
	// maxBackoff caps the wait between two attempts.
	maxBackoff = 10 * time.Second
)

// Author is the identity status commits are made with (author and
// committer).
type Author struct {
	Name  string
	Email string
}

// Options configures a Writer.
type Options struct {
	// URL of the repository: https://, http:// or ssh://.
	URL string
	// Branch receives the status commits; DefaultBranch when empty. It must
	// differ from the synced branch (see ValidateBranches).
	Branch string
	// Auth is shared with package source; nil means anonymous HTTP(S). Pushing
	// needs write access.
	Auth *source.Auth
	// Author of the commits; empty fields take the defaults.
	Author Author
	// Timeout bounds one attempt (fetch, commit and push).
	Timeout time.Duration
	// MaxAttempts bounds the attempts of one Write when pushes are rejected
	// because another writer moved the branch.
	MaxAttempts int
	// Backoff is the first wait between attempts; it doubles each time, up
	// to 10s, with jitter.
	Backoff time.Duration
	// OwnedDir, when set (for example "status"), is a folder this writer
	// owns: every file in it that a Write does not name is removed, so the
	// files of clusters that left the fleet go even after a restart. Files
	// outside it are kept as usual.
	OwnedDir string
}

// Writer commits status files to a branch of the fleet repository. The
// branch is separate from the synced one and has its own history (it starts
// as an orphan), so status commits never change the revision being synced.
//
// Several Writers (two controllers during a leader handover, pull-mode
// agents) may write to one branch at once: a push rejected because the
// branch moved is retried on top of the new tip, re-applying this Writer's
// files, so no writer's files are lost and the history stays linear. Writes
// through one Writer are serialised.
type Writer struct {
	opts Options
	mu   sync.Mutex
}

// NewWriter checks opts and fills in the defaults.
func NewWriter(opts Options) (*Writer, error) {
	if opts.Branch == "" {
		opts.Branch = DefaultBranch
	}
	if err := plumbing.NewBranchReferenceName(opts.Branch).Validate(); err != nil {
		return nil, fmt.Errorf("status branch %q: not a valid branch name: set statusBranch to a name such as %s", opts.Branch, DefaultBranch)
	}
	if _, err := opts.Auth.TransportAuth(opts.URL); err != nil {
		return nil, fmt.Errorf("status branch %s of %s: %w", opts.Branch, source.RedactURL(opts.URL), err)
	}
	if opts.Author.Name == "" {
		opts.Author.Name = DefaultAuthorName
	}
	if opts.Author.Email == "" {
		opts.Author.Email = DefaultAuthorEmail
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultBackoff
	}
	return &Writer{opts: opts}, nil
}

// ValidateBranches refuses a status branch equal to the synced branch: its
// commits would then be synced.
func ValidateBranches(statusBranch, syncedBranch string) error {
	if statusBranch == "" {
		statusBranch = DefaultBranch
	}
	if statusBranch == syncedBranch {
		return fmt.Errorf("status branch %q is the synced branch: set statusBranch to another branch, such as %s", statusBranch, DefaultBranch)
	}
	return nil
}

// Write commits files on top of the branch tip: each path (e.g.
// "status/factory-a.yaml" or "STATUS.md") gets the given content, and a nil
// content removes the path; every other file is kept. It creates the branch,
// as an orphan, when absent. It commits nothing, and returns false, when the
// files already have that content. A push rejected because the branch moved
// is retried, on the new tip, with backoff, up to MaxAttempts times.
func (w *Writer) Write(ctx context.Context, files map[string][]byte, message string) (committed bool, err error) {
	for p := range files {
		if err := checkPath(p); err != nil {
			return false, fmt.Errorf("write status file %q: %w", p, err)
		}
	}
	if message == "" {
		message = DefaultMessage
	}
	w.mu.Lock()
	defer w.mu.Unlock()

	log := ctrlLog(ctx).WithValues("url", source.RedactURL(w.opts.URL), "branch", w.opts.Branch)
	wait := w.opts.Backoff
	var lastErr error
	for attempt := 1; attempt <= w.opts.MaxAttempts; attempt++ {
		committed, rev, err := w.attempt(ctx, files, message)
		if err == nil {
			if committed {
				log.V(1).Info("status committed", "revision", rev, "attempt", attempt)
			}
			return committed, nil
		}
		lastErr = err
		if !retryable(ctx, err) || attempt == w.opts.MaxAttempts {
			break
		}
		log.V(1).Info("status push rejected, retrying on the new tip", "attempt", attempt, "error", err.Error())
		sleep := wait/2 + rand.N(wait/2+1) //nolint:gosec // retry jitter, not a secret: predictability is harmless
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("write status to branch %s of %s: %w", w.opts.Branch, source.RedactURL(w.opts.URL), ctx.Err())
		case <-time.After(sleep):
		}
		wait = min(wait*2, maxBackoff)
	}
	return false, fmt.Errorf("write status to branch %s of %s: %w", w.opts.Branch, source.RedactURL(w.opts.URL), lastErr)
}

// retryable reports whether another attempt may succeed: not when the
// caller gave up, nor for credential or configuration problems.
func retryable(ctx context.Context, err error) bool {
	switch {
	case ctx.Err() != nil,
		errors.Is(err, transport.ErrAuthenticationRequired),
		errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, transport.ErrRepositoryNotFound),
		errors.Is(err, transport.ErrInvalidAuthMethod),
		errors.Is(err, errPermanent):
		return false
	}
	return true
}

// errPermanent marks errors that retrying cannot fix.
var errPermanent = errors.New("permanent")
