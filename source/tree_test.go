package source_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/flotilla-gitops/flotilla/source"
)

func TestSnapshotKeepsSymlinksAndModes(t *testing.T) {
	srv := newServer(t, testUser, testPass)
	url := srv.createRepo(t, "fleet.git")
	w := newWorkTree(t, srv.pushURL("fleet.git"))
	w.write("apps/web/base/deploy.yaml", "kind: Deployment\n")
	w.write("scripts/ci.sh", "#!/bin/sh\necho ok\n")
	if err := os.Chmod(filepath.Join(w.dir, "scripts/ci.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../base", filepath.Join(w.dir, "apps/web/link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../etc/passwd", filepath.Join(w.dir, "apps/web/escape")); err != nil {
		t.Fatal(err)
	}
	w.commit("files")
	w.git("push", "--quiet", "origin", "main")

	f := newFetcher(t)
	snap, err := f.Fetch(context.Background(), source.FetchSpec{URL: url, Auth: basicAuth()})
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()

	for name, target := range map[string]string{"apps/web/link": "../base", "apps/web/escape": "../../../../etc/passwd"} {
		p := filepath.Join(snap.Dir, name)
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("%s is %s, want a symlink", name, fi.Mode())
		}
		if got, _ := os.Readlink(p); got != target {
			t.Fatalf("%s points at %q, want %q", name, got, target)
		}
	}
	fi, err := os.Stat(filepath.Join(snap.Dir, "scripts/ci.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Fatalf("executable mode = %v, want 0755", fi.Mode().Perm())
	}
	fi, err = os.Stat(filepath.Join(snap.Dir, "apps/web/base/deploy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Fatalf("regular file mode = %v, want 0644", fi.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(snap.Dir, ".git")); !os.IsNotExist(err) {
		t.Fatalf("snapshot contains .git (stat error %v)", err)
	}
}

func treeNames(t *testing.T, f *source.Fetcher, url string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(f.RepositoryDir(url), "trees"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func sorted(s ...string) []string {
	sort.Strings(s)
	return s
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTreeGarbageCollection(t *testing.T) {
	srv := newServer(t, testUser, testPass)
	url := srv.createRepo(t, "fleet.git")
	w := newWorkTree(t, srv.pushURL("fleet.git"))
	f := newFetcher(t, source.WithKeepTrees(2))
	ctx := context.Background()

	var revs []string
	var held *source.Snapshot
	for i := range 4 {
		w.write("n", string(rune('0'+i)))
		revs = append(revs, w.commit("c"))
		w.git("push", "--quiet", "origin", "main")
		snap, err := f.Fetch(ctx, source.FetchSpec{URL: url, Auth: basicAuth()})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			held = snap // still in use by a caller
		} else {
			snap.Release()
		}
	}
	// Kept: the two most recent, plus the one still held.
	if got, want := treeNames(t, f, url), sorted(revs[0], revs[2], revs[3]); !equal(got, want) {
		t.Fatalf("trees after 4 fetches = %v, want %v", got, want)
	}
	if _, err := os.Stat(filepath.Join(held.Dir, "n")); err != nil {
		t.Fatalf("held snapshot lost its files: %v", err)
	}
	held.Release()
	held.Release() // idempotent
	repo, err := f.Repository(url)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.GC(); err != nil {
		t.Fatal(err)
	}
	if got, want := treeNames(t, f, url), sorted(revs[2], revs[3]); !equal(got, want) {
		t.Fatalf("trees after release and GC = %v, want %v", got, want)
	}

	// Older commits of the cached repository can still be extracted.
	old, err := repo.ExtractRevision(ctx, revs[0])
	if err != nil {
		t.Fatalf("extract old revision: %v", err)
	}
	defer old.Release()
	if got := readFile(t, old.Dir, "n"); got != "0" {
		t.Fatalf("old revision content %q", got)
	}
	if old.Ref != "sha1:"+revs[0] {
		t.Fatalf("old revision ref %q", old.Ref)
	}
	prev, err := repo.ExtractRevision(ctx, "main~1")
	if err != nil {
		t.Fatalf("extract main~1: %v", err)
	}
	defer prev.Release()
	if prev.Revision != revs[2] {
		t.Fatalf("main~1 = %s, want %s", prev.Revision, revs[2])
	}

	if _, err := f.Repository("http://127.0.0.1:1/never-fetched.git"); !errors.Is(err, source.ErrNotCached) {
		t.Fatalf("want ErrNotCached, got %v", err)
	}
	if err := f.Remove(ctx, url); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.RepositoryDir(url)); !os.IsNotExist(err) {
		t.Fatalf("cache still there after Remove (stat error %v)", err)
	}
}
