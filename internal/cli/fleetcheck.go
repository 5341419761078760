package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Mistakes that must fail in CI: a --repo that is not a fleet repository
// (exit 2, said once and plainly), and a diff that silently leaves out
// uncommitted changes.

// errNotFleet says that a folder is not a fleet repository.
var errNotFleet = errors.New("not a fleet repository")

// checkFleetFolder returns an exit-2 error when dir cannot be read or holds
// neither clusters/ nor apps/; where names it in the message (dir itself,
// or a revision for diff).
func checkFleetFolder(dir, where string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return usageErrorf("cannot read the fleet repository %s: no such folder; pass --repo with the folder that holds clusters/ and apps/", where)
	case err != nil:
		return usageErrorf("cannot read the fleet repository %s: %v; pass --repo with the folder that holds clusters/ and apps/", where, unwrapPath(err))
	case !st.IsDir():
		return usageErrorf("cannot read the fleet repository %s: it is a file, not a folder; pass --repo with the folder that holds clusters/ and apps/", where)
	}
	for _, sub := range []string{"clusters", "apps"} {
		if st, err := os.Stat(filepath.Join(dir, sub)); err == nil && st.IsDir() {
			return nil
		}
	}
	return &ExitError{Code: exitUsage, Err: fmt.Errorf("%s is %w: it has neither clusters/ nor apps/; pass --repo with the folder that holds them", where, errNotFleet)}
}

// unwrapPath drops the "stat <path>:" of an fs error: the message names
// the path already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// warnUncommitted writes a warning to w when the Git work tree at repoDir
// has uncommitted changes (under the fleet folder) while diff compares
// commits only: the changes are not in the report.
func warnUncommitted(ctx context.Context, w io.Writer, repoDir, head string) {
	out, err := exec.CommandContext(ctx, "git", "-C", repoDir, "status", "--porcelain", "--untracked-files=normal", "--", ".").Output()
	if err != nil || len(strings.TrimSpace(string(out))) == 0 {
		return
	}
	n := len(strings.Split(strings.TrimSpace(string(out)), "\n"))
	fmt.Fprintf(w, "warning: %s under %s %s not committed: diff compared the commits %s only; commit (or stash) them to compare what you changed\n",
		count(n, "file", "files"), repoDir, map[bool]string{true: "is", false: "are"}[n == 1], head)
}
