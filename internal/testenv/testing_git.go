package testenv

import (
	"path/filepath"
	"testing"
)

// NewGitServer starts a Git server for the test and closes it in t.Cleanup.
// An empty opts.Dir gives a folder under t.TempDir().
func NewGitServer(t testing.TB, opts GitServerOptions) *GitServer {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	s, err := StartGitServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("closing git server: %v", err)
		}
	})
	return s
}

// NewRepository creates a repository on s for the test, like
// GitServer.CreateRepository, failing the test on error.
func NewRepository(t testing.TB, s *GitServer, name, seedDir string) *GitRepository {
	t.Helper()
	repo, err := s.CreateRepository(t.Context(), name, seedDir)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// TestWorkdir is a GitWorkdir for tests: its methods fail the test instead of
// returning errors. The embedded GitWorkdir gives access to the error-returning
// methods.
type TestWorkdir struct {
	*GitWorkdir
	t testing.TB
}

// CloneWorkdir clones repoURL with the real git into a folder under
// t.TempDir(), like Clone, failing the test on error.
func CloneWorkdir(t testing.TB, repoURL string, env ...string) *TestWorkdir {
	t.Helper()
	w, err := Clone(t.Context(), repoURL, filepath.Join(t.TempDir(), "clone"), env...)
	if err != nil {
		t.Fatal(err)
	}
	return &TestWorkdir{GitWorkdir: w, t: t}
}

// WriteFile writes data to the slash-separated path rel of the clone.
func (w *TestWorkdir) WriteFile(rel string, data []byte) {
	w.t.Helper()
	if err := w.GitWorkdir.WriteFile(rel, data); err != nil {
		w.t.Fatal(err)
	}
}

// CopyDir copies the local folder src into the folder rel of the clone.
func (w *TestWorkdir) CopyDir(src, rel string) {
	w.t.Helper()
	if err := w.GitWorkdir.CopyDir(src, rel); err != nil {
		w.t.Fatal(err)
	}
}

// Remove removes the file or folder at rel of the clone.
func (w *TestWorkdir) Remove(rel string) {
	w.t.Helper()
	if err := w.GitWorkdir.Remove(rel); err != nil {
		w.t.Fatal(err)
	}
}

// Git runs the real git with args in the clone and returns its output.
func (w *TestWorkdir) Git(args ...string) string {
	w.t.Helper()
	out, err := w.GitWorkdir.Git(w.t.Context(), args...)
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

// CommitAll stages every change, commits it and returns the commit's hash.
func (w *TestWorkdir) CommitAll(msg string) string {
	w.t.Helper()
	rev, err := w.GitWorkdir.CommitAll(w.t.Context(), msg)
	if err != nil {
		w.t.Fatal(err)
	}
	return rev
}

// Push pushes the current branch to origin.
func (w *TestWorkdir) Push() {
	w.t.Helper()
	if err := w.GitWorkdir.Push(w.t.Context()); err != nil {
		w.t.Fatal(err)
	}
}

// CommitAndPush commits every change and pushes it, returning the commit.
func (w *TestWorkdir) CommitAndPush(msg string) string {
	w.t.Helper()
	rev := w.CommitAll(msg)
	w.Push()
	return rev
}

// Pull fast-forwards the current branch from origin.
func (w *TestWorkdir) Pull() {
	w.t.Helper()
	if err := w.GitWorkdir.Pull(w.t.Context()); err != nil {
		w.t.Fatal(err)
	}
}

// Head returns the hash of the commit checked out.
func (w *TestWorkdir) Head() string {
	w.t.Helper()
	rev, err := w.GitWorkdir.Head(w.t.Context())
	if err != nil {
		w.t.Fatal(err)
	}
	return rev
}
