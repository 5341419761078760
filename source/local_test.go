package source_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/flotilla-gitops/flotilla/source"
)

func TestOpenLocalExtractsRevisions(t *testing.T) {
	w := newWorkTree(t, "https://example.invalid/fleet.git")
	w.write("clusters/a.yaml", "v: 1\n")
	first := w.commit("one")
	w.git("tag", "-a", "release-1", "-m", "r1")
	w.write("clusters/a.yaml", "v: 2\n")
	second := w.commit("two")
	w.git("checkout", "--quiet", "-b", "feature")
	w.write("clusters/a.yaml", "v: 3\n")
	third := w.commit("three")
	w.write("clusters/a.yaml", "uncommitted\n") // ignored: revisions only

	// Any directory inside the work tree works.
	repo, err := source.OpenLocal(filepath.Join(w.dir, "clusters"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cases := []struct{ rev, sha, content string }{
		{"HEAD", third, "v: 3\n"},
		{"HEAD~1", second, "v: 2\n"},
		{"main", second, "v: 2\n"},
		{"feature", third, "v: 3\n"},
		{"release-1", first, "v: 1\n"},
		{first[:7], first, "v: 1\n"},
		{first, first, "v: 1\n"},
	}
	var dirs []string
	for _, tc := range cases {
		t.Run(tc.rev, func(t *testing.T) {
			sha, err := repo.ResolveRevision(tc.rev)
			if err != nil || sha != tc.sha {
				t.Fatalf("ResolveRevision(%q) = %s, %v; want %s", tc.rev, sha, err, tc.sha)
			}
			snap, err := repo.ExtractRevision(ctx, tc.rev)
			if err != nil {
				t.Fatal(err)
			}
			defer snap.Release()
			if snap.Revision != tc.sha {
				t.Fatalf("revision %s, want %s", snap.Revision, tc.sha)
			}
			if got := readFile(t, snap.Dir, "clusters/a.yaml"); got != tc.content {
				t.Fatalf("content %q, want %q", got, tc.content)
			}
			dirs = append(dirs, snap.Dir)
		})
	}
	if _, err := repo.ExtractRevision(ctx, "no-such-branch"); !errors.Is(err, source.ErrRefNotFound) {
		t.Fatalf("unknown revision: want ErrRefNotFound, got %v", err)
	}
	if err := repo.Close(); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Fatalf("Close left %s behind", d)
		}
	}

	if _, err := source.OpenLocal(t.TempDir()); err == nil {
		t.Fatal("OpenLocal of a directory that is not a repository succeeded")
	}
}
