package source

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// craft stores a tree with the given entries (and blob contents) verbatim,
// bypassing the checks a real git would make.
func craft(t *testing.T, st *memory.Storage, entries []object.TreeEntry) *object.Tree {
	t.Helper()
	tree := &object.Tree{Entries: entries}
	obj := st.NewEncodedObject()
	if err := tree.Encode(obj); err != nil {
		t.Fatal(err)
	}
	h, err := st.SetEncodedObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	out, err := object.GetTree(st, h)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func blob(t *testing.T, st *memory.Storage, content string) plumbing.Hash {
	t.Helper()
	obj := st.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	w, _ := obj.Writer()
	_, _ = w.Write([]byte(content))
	_ = w.Close()
	h, err := st.SetEncodedObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestExtractRefusesCraftedTrees(t *testing.T) {
	st := memory.NewStorage()
	b := blob(t, st, "x")
	link := blob(t, st, "/etc")
	sub := craft(t, st, []object.TreeEntry{{Name: "passwd", Mode: filemode.Regular, Hash: b}})
	cases := []struct {
		name    string
		entries []object.TreeEntry
		want    string
	}{
		{"dot-dot", []object.TreeEntry{{Name: "..", Mode: filemode.Regular, Hash: b}}, "invalid path element"},
		{".git", []object.TreeEntry{{Name: ".GIT", Mode: filemode.Regular, Hash: b}}, ".git"},
		{"slash", []object.TreeEntry{{Name: "a/b", Mode: filemode.Regular, Hash: b}}, "separator"},
		{"symlink then dir of same name", []object.TreeEntry{
			{Name: "etc", Mode: filemode.Symlink, Hash: link},
			{Name: "etc", Mode: filemode.Dir, Hash: sub.Hash},
		}, "file exists"},
		{"duplicate file", []object.TreeEntry{
			{Name: "a", Mode: filemode.Regular, Hash: b},
			{Name: "a", Mode: filemode.Regular, Hash: b},
		}, "file exists"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tree := craft(t, st, tc.entries)
			dst := t.TempDir()
			err := extractTree(context.Background(), st, tree, dst, 1<<20)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v", tc.want, err)
			}
			if _, err := os.Stat("/etc/passwd-flotilla-test"); err == nil {
				t.Fatal("wrote outside the destination")
			}
		})
	}
}

func TestExtractSizeBudget(t *testing.T) {
	st := memory.NewStorage()
	b := blob(t, st, strings.Repeat("x", 600))
	tree := craft(t, st, []object.TreeEntry{
		{Name: "a", Mode: filemode.Regular, Hash: b},
		{Name: "b", Mode: filemode.Executable, Hash: b},
	})
	if err := extractTree(context.Background(), st, tree, t.TempDir(), 1000); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("want ErrTooLarge, got %v", err)
	}
	dst := t.TempDir()
	if err := extractTree(context.Background(), st, tree, dst, 1200); err != nil {
		t.Fatalf("tree of exactly the budget: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dst, "b")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("executable: %v %v", fi, err)
	}
}

func TestExtractHonoursContext(t *testing.T) {
	st := memory.NewStorage()
	b := blob(t, st, "x")
	var entries []object.TreeEntry
	for i := range 600 {
		entries = append(entries, object.TreeEntry{Name: fmt.Sprintf("f%04d", i), Mode: filemode.Regular, Hash: b})
	}
	tree := craft(t, st, entries)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := extractTree(ctx, st, tree, t.TempDir(), 1<<20); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}
