package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A --repo that is not a fleet repository fails with exit code 2 and one
// plain sentence naming the folder and what to pass, not a chain of
// wrapped errors (it used to exit 0 for validate on an empty folder, and
// render said "cannot read" twice with lstat details).
func TestNotAFleetRepositoryExitsTwoWithOneCause(t *testing.T) {
	empty := t.TempDir()
	file := filepath.Join(empty, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(empty, "missing")
	for _, tc := range []struct {
		repo, want string
	}{
		{empty, empty + " is not a fleet repository: it has neither clusters/ nor apps/; pass --repo with the folder that holds them"},
		{missing, "cannot read the fleet repository " + missing + ": no such folder; pass --repo with the folder that holds clusters/ and apps/"},
		{file, "cannot read the fleet repository " + file + ": it is a file, not a folder; pass --repo"},
	} {
		for _, args := range [][]string{
			{"validate", "--repo", tc.repo},
			{"render", "--repo", tc.repo, "--cluster", "x"},
			{"explain", "--repo", tc.repo, "--cluster", "x"},
		} {
			code, _, errOut := runCLI(t, args...)
			if code != exitUsage {
				t.Errorf("%v: exit code %d, want 2; stderr: %s", args, code, errOut)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("%v: stderr %q does not say %q", args, errOut, tc.want)
			}
			if n := strings.Count(errOut, "fleet repository"); n != 1 {
				t.Errorf("%v: stderr says \"fleet repository\" %d times, want once: %s", args, n, errOut)
			}
		}
	}
}

// diff on a Git checkout whose head holds no fleet exits 2; with
// uncommitted changes it warns that it compared commits only.
func TestDiffNotAFleetAndUncommittedChanges(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"README.md": "not a fleet\n"})
	g := newGitRepo(t, dir)
	g.commit("readme")
	code, _, errOut := runCLI(t, "diff", "--repo", dir, "--base", "HEAD", "--head", "HEAD")
	if code != exitUsage || !strings.Contains(errOut, "is not a fleet repository") {
		t.Errorf("diff of a non-fleet checkout: exit %d, stderr %q; want 2 and \"is not a fleet repository\"", code, errOut)
	}

	repo := newExampleRepo(t)
	code, _, errOut = runCLI(t, "diff", "--repo", repo.fleet, "--base", "main", "--head", "HEAD")
	if code != 0 || strings.Contains(errOut, "not committed") {
		t.Fatalf("clean work tree: exit %d, stderr %q; want 0 and no warning", code, errOut)
	}
	writeFiles(t, repo.fleet, map[string]string{"apps/new.txt": "uncommitted\n"})
	code, _, errOut = runCLI(t, "diff", "--repo", repo.fleet, "--base", "main", "--head", "HEAD")
	if code != 0 {
		t.Fatalf("dirty work tree: exit %d, stderr %q", code, errOut)
	}
	if !strings.Contains(errOut, "not committed: diff compared the commits HEAD only") {
		t.Errorf("dirty work tree: stderr %q does not warn that uncommitted changes were left out", errOut)
	}
}
