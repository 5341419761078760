package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrNothingToCommit is returned (wrapped) by GitWorkdir.CommitAll when the
// working tree has no change.
var ErrNothingToCommit = errors.New("nothing to commit")

// GitWorkdir is a clone on disk changed with the real git command, as a user
// would: write files, commit, push. The user's and the system's git
// configuration are ignored; commits are made by DefaultAuthorName unless
// SetAuthor says otherwise. A GitWorkdir is not safe for concurrent use.
type GitWorkdir struct {
	dir         string
	extraEnv    []string
	authorName  string
	authorEmail string
}

// Clone clones repoURL into dir (which must not exist or be empty) with the
// real git. repoURL may carry credentials
// (GitRepository.HTTPURLWithCredentials); for SSH URLs pass
// GitServer.GitSSHEnv() as env. env entries ("KEY=value") are added to every
// git command run in the clone.
func Clone(ctx context.Context, repoURL, dir string, env ...string) (*GitWorkdir, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("cloning %s: resolving %s: %w", redact(repoURL), dir, err)
	}
	w := &GitWorkdir{
		dir:         abs,
		extraEnv:    append([]string(nil), env...),
		authorName:  DefaultAuthorName,
		authorEmail: DefaultAuthorEmail,
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fmt.Errorf("cloning %s: %w", redact(repoURL), err)
	}
	if _, err := runGit(ctx, filepath.Dir(abs), w.env(), "clone", "--quiet", repoURL, abs); err != nil {
		return nil, fmt.Errorf("cloning: %w", err)
	}
	return w, nil
}

// Dir returns the clone's folder.
func (w *GitWorkdir) Dir() string { return w.dir }

// SetAuthor sets the author and committer of the next commits.
func (w *GitWorkdir) SetAuthor(name, email string) {
	w.authorName, w.authorEmail = name, email
}

// env returns the environment of git commands in this clone.
func (w *GitWorkdir) env() []string {
	return gitEnv(append([]string{
		"GIT_AUTHOR_NAME=" + w.authorName, "GIT_AUTHOR_EMAIL=" + w.authorEmail,
		"GIT_COMMITTER_NAME=" + w.authorName, "GIT_COMMITTER_EMAIL=" + w.authorEmail,
	}, w.extraEnv...)...)
}

// path resolves a slash-separated path relative to the clone, refusing paths
// that leave it.
func (w *GitWorkdir) path(rel string) (string, error) {
	local := filepath.FromSlash(rel)
	if !filepath.IsLocal(local) {
		return "", fmt.Errorf("path %q must be relative and stay inside the clone %s", rel, w.dir)
	}
	return filepath.Join(w.dir, local), nil
}

// WriteFile writes data to the slash-separated path rel of the clone,
// creating parent folders.
func (w *GitWorkdir) WriteFile(rel string, data []byte) error {
	path, err := w.path(rel)
	if err != nil {
		return fmt.Errorf("writing file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("writing %s: %w", rel, err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil { //nolint:gosec // repository content, world-readable like a checkout
		return fmt.Errorf("writing %s: %w", rel, err)
	}
	return nil
}

// CopyDir copies the content of the local folder src into the slash-separated
// folder rel of the clone ("." for its root), keeping file modes.
func (w *GitWorkdir) CopyDir(src, rel string) error {
	path, err := w.path(rel)
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	if err := os.MkdirAll(path, 0o750); err != nil {
		return fmt.Errorf("copying %s into %s: %w", src, rel, err)
	}
	if err := copyTree(src, path); err != nil {
		return fmt.Errorf("copying %s into %s: %w", src, rel, err)
	}
	return nil
}

// Remove removes the file or folder at the slash-separated path rel of the
// clone. Removing a missing path is not an error.
func (w *GitWorkdir) Remove(rel string) error {
	path, err := w.path(rel)
	if err != nil {
		return fmt.Errorf("removing: %w", err)
	}
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("removing %s: %w", rel, err)
	}
	return nil
}

// Git runs the real git with args in the clone and returns its trimmed
// standard output.
func (w *GitWorkdir) Git(ctx context.Context, args ...string) (string, error) {
	return runGit(ctx, w.dir, w.env(), args...)
}

// CommitAll stages every change (new, modified and removed files) and commits
// it with msg, returning the new commit's hash. With no change it returns an
// error wrapping ErrNothingToCommit.
func (w *GitWorkdir) CommitAll(ctx context.Context, msg string) (string, error) {
	if _, err := w.Git(ctx, "add", "--all"); err != nil {
		return "", fmt.Errorf("committing %q: %w", msg, err)
	}
	status, err := w.Git(ctx, "status", "--porcelain")
	if err != nil {
		return "", fmt.Errorf("committing %q: %w", msg, err)
	}
	if status == "" {
		return "", fmt.Errorf("committing %q in %s: %w", msg, w.dir, ErrNothingToCommit)
	}
	if _, err := w.Git(ctx, "commit", "--quiet", "-m", msg); err != nil {
		return "", fmt.Errorf("committing %q: %w", msg, err)
	}
	return w.Head(ctx)
}

// Push pushes the current branch to the branch of the same name on origin.
func (w *GitWorkdir) Push(ctx context.Context) error {
	if _, err := w.Git(ctx, "push", "--quiet", "origin", "HEAD"); err != nil {
		return fmt.Errorf("pushing: %w", err)
	}
	return nil
}

// CommitAndPush is CommitAll followed by Push; it returns the pushed commit.
func (w *GitWorkdir) CommitAndPush(ctx context.Context, msg string) (string, error) {
	rev, err := w.CommitAll(ctx, msg)
	if err != nil {
		return "", err
	}
	return rev, w.Push(ctx)
}

// Pull fetches origin and fast-forwards the current branch.
func (w *GitWorkdir) Pull(ctx context.Context) error {
	if _, err := w.Git(ctx, "pull", "--quiet", "--ff-only"); err != nil {
		return fmt.Errorf("pulling: %w", err)
	}
	return nil
}

// Head returns the hash of the commit checked out.
func (w *GitWorkdir) Head(ctx context.Context) (string, error) {
	rev, err := w.Git(ctx, "rev-parse", "HEAD")
	if err != nil {
		return "", fmt.Errorf("reading HEAD: %w", err)
	}
	return rev, nil
}
