package source

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Snapshot is one commit's tree extracted on disk. Dir stays in place until
// Release is called and the tree store's garbage collection removes it; treat
// it as read-only.
type Snapshot struct {
	// Revision is the full commit SHA.
	Revision string
	// Ref is the human-readable revision, "<branch-or-tag>@sha1:<sha>", or
	// "sha1:<sha>" when only a commit was asked for.
	Ref string
	// Dir is the directory holding the commit's files.
	Dir string

	release sync.Once
	store   *treeStore
}

// Release tells the cache that the caller no longer reads Dir, so the tree
// may be garbage collected once it is no longer among the most recent ones.
// It is safe to call more than once and on a nil Snapshot.
func (s *Snapshot) Release() {
	if s == nil || s.store == nil {
		return
	}
	s.release.Do(func() { s.store.unlease(s.Revision) })
}

// treeStore holds extracted trees in <dir>/<sha>, keeps the most recently
// used ones and those still leased by a Snapshot, and deletes the rest.
type treeStore struct {
	dir  string
	keep int

	mu     sync.Mutex
	leases map[string]int
	// used orders the trees touched by this process (higher is more
	// recent); trees left by an earlier process are older than all of them
	// and ordered by modification time.
	used map[string]uint64
	seq  uint64
}

const tmpTreePrefix = ".tmp-"

func newTreeStore(dir string, keep int) *treeStore {
	return &treeStore{dir: dir, keep: keep, leases: map[string]int{}, used: map[string]uint64{}}
}

// snapshot returns a leased Snapshot for an already extracted tree, or nil
// when the tree is not on disk.
func (t *treeStore) snapshot(sha, ref string) *Snapshot {
	dir := filepath.Join(t.dir, sha)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil
	}
	now := time.Now()
	_ = os.Chtimes(dir, now, now) // records recent use for GC
	t.mu.Lock()
	t.leases[sha]++
	t.seq++
	t.used[sha] = t.seq
	t.mu.Unlock()
	return &Snapshot{Revision: sha, Ref: ref, Dir: dir, store: t}
}

// install moves a fully written temporary tree into place and leases it.
func (t *treeStore) install(tmp, sha, ref string) (*Snapshot, error) {
	dir := filepath.Join(t.dir, sha)
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.RemoveAll(tmp)
		if s := t.snapshot(sha, ref); s != nil {
			return s, nil // extracted meanwhile by someone else
		}
		return nil, fmt.Errorf("install tree %s: %w", sha, err)
	}
	return t.snapshot(sha, ref), nil
}

// tempDir creates an empty directory for a tree being extracted.
func (t *treeStore) tempDir(sha string) (string, error) {
	if err := os.MkdirAll(t.dir, 0o750); err != nil {
		return "", fmt.Errorf("create tree directory %s: %w", t.dir, err)
	}
	tmp, err := os.MkdirTemp(t.dir, tmpTreePrefix+sha+"-")
	if err != nil {
		return "", fmt.Errorf("create temporary tree directory: %w", err)
	}
	if err := os.Chmod(tmp, 0o750); err != nil { //nolint:gosec // tmp is a directory (G302 assumes a file): it needs x to be entered, and 0750 matches the tree's other directories
		return "", fmt.Errorf("create temporary tree directory: %w", err)
	}
	return tmp, nil
}

func (t *treeStore) unlease(sha string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.leases[sha] <= 1 {
		delete(t.leases, sha)
		return
	}
	t.leases[sha]--
}

// gc deletes leftover temporary trees and every tree that is neither among
// the keep most recently used nor leased. It must not run while a tree of
// the same store is being extracted (callers hold the repository lock).
func (t *treeStore) gc() error {
	entries, err := os.ReadDir(t.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list trees in %s: %w", t.dir, err)
	}
	type tree struct {
		name string
		used time.Time
	}
	var trees []tree
	var errs []error
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpTreePrefix) {
			errs = append(errs, os.RemoveAll(filepath.Join(t.dir, e.Name())))
			continue
		}
		info, err := e.Info()
		if err != nil || !e.IsDir() {
			continue
		}
		trees = append(trees, tree{e.Name(), info.ModTime()})
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	slices.SortFunc(trees, func(a, b tree) int {
		sa, sb := t.used[a.name], t.used[b.name]
		if sa != sb {
			return cmp.Compare(sb, sa)
		}
		return b.used.Compare(a.used)
	})
	for i, tr := range trees {
		if i < t.keep || t.leases[tr.name] > 0 {
			continue
		}
		delete(t.used, tr.name)
		errs = append(errs, os.RemoveAll(filepath.Join(t.dir, tr.name)))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove old trees in %s: %w", t.dir, err)
	}
	return nil
}
