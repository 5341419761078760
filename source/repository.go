package source

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// objectCacheSize bounds go-git's in-memory object cache per open
// repository (its default is 96 MiB).
const objectCacheSize = 16 * cache.MiByte

// Repository is a Git repository whose commits can be extracted as
// Snapshots: either a Fetcher's cache of a remote (see Fetcher.Repository)
// or a local repository (see OpenLocal). Its methods are safe for
// concurrent use; operations on one repository are serialised.
type Repository struct {
	name    string // redacted URL or local path, for messages
	lock    repoLock
	open    func() (*git.Repository, func(), error)
	trees   *treeStore
	maxSize int64
	// ownTrees means the trees directory belongs to this value alone and
	// Close removes it.
	ownTrees bool
}

// OpenLocal opens a local Git repository (a work tree, any directory below
// it, or a bare repository) for ExtractRevision. Extracted trees go to a new
// temporary directory that Close removes. Options: WithKeepTrees.
func OpenLocal(dir string, opts ...Option) (*Repository, error) {
	o := newOptions(opts)
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	if _, err := git.PlainOpenWithOptions(abs, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true}); err != nil {
		return nil, fmt.Errorf("open repository %s: %w: pass the directory of a Git checkout", dir, err)
	}
	treesDir, err := os.MkdirTemp("", "flotilla-trees-")
	if err != nil {
		return nil, fmt.Errorf("open repository %s: create tree directory: %w", dir, err)
	}
	return &Repository{
		name: abs,
		lock: newRepoLock(),
		open: func() (*git.Repository, func(), error) {
			r, err := git.PlainOpenWithOptions(abs, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
			return r, func() {}, err
		},
		trees:    newTreeStore(treesDir, o.keepTrees),
		maxSize:  o.maxSize,
		ownTrees: true,
	}, nil
}

// openBare opens (or, with create, initialises) the bare repository at dir.
func openBare(dir string, create bool) (*git.Repository, func(), error) {
	st := filesystem.NewStorageWithOptions(osfs.New(dir), cache.NewObjectLRU(objectCacheSize), filesystem.Options{ExclusiveAccess: true})
	closeFn := func() { _ = st.Close() }
	r, err := git.Open(st, nil)
	if errors.Is(err, git.ErrRepositoryNotExists) && create {
		r, err = git.Init(st, nil)
	}
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	return r, closeFn, nil
}

// ResolveRevision returns the full commit SHA of rev: a branch or tag name,
// a full or short SHA, or an expression such as "HEAD~1" or "main^".
func (r *Repository) ResolveRevision(rev string) (string, error) {
	_ = r.lock.lock(context.Background())
	defer r.lock.unlock()
	repo, done, err := r.open()
	if err != nil {
		return "", fmt.Errorf("open repository %s: %w", r.name, err)
	}
	defer done()
	c, err := resolveCommit(repo, rev)
	if err != nil {
		return "", fmt.Errorf("resolve revision %q in %s: %w", rev, r.name, err)
	}
	return c.Hash.String(), nil
}

// ExtractRevision materialises the tree of rev (anything ResolveRevision
// accepts) and returns it as a Snapshot; an already extracted tree is
// reused. Release the Snapshot when done.
func (r *Repository) ExtractRevision(ctx context.Context, rev string) (*Snapshot, error) {
	if err := r.lock.lock(ctx); err != nil {
		return nil, fmt.Errorf("extract revision %q of %s: %w", rev, r.name, err)
	}
	defer r.lock.unlock()
	repo, done, err := r.open()
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", r.name, err)
	}
	defer done()
	c, err := resolveCommit(repo, rev)
	if err != nil {
		return nil, fmt.Errorf("resolve revision %q in %s: %w", rev, r.name, err)
	}
	ref := rev + "@sha1:" + c.Hash.String()
	if rev == c.Hash.String() {
		ref = "sha1:" + rev
	}
	return r.extractLocked(ctx, repo, c, ref, r.maxSize)
}

// extractLocked extracts commit c unless already on disk, then collects
// old trees. The caller holds r.lock.
func (r *Repository) extractLocked(ctx context.Context, repo *git.Repository, c *object.Commit, ref string, maxSize int64) (*Snapshot, error) {
	sha := c.Hash.String()
	snap := r.trees.snapshot(sha, ref)
	if snap == nil {
		tree, err := c.Tree()
		if err != nil {
			return nil, fmt.Errorf("read tree of commit %s in %s: %w", sha, r.name, err)
		}
		tmp, err := r.trees.tempDir(sha)
		if err != nil {
			return nil, err
		}
		if err := extractTree(ctx, repo.Storer, tree, tmp, maxSize); err != nil {
			_ = os.RemoveAll(tmp)
			return nil, fmt.Errorf("extract commit %s of %s: %w", sha, r.name, err)
		}
		if snap, err = r.trees.install(tmp, sha, ref); err != nil {
			return nil, err
		}
	}
	if err := r.trees.gc(); err != nil {
		ctrlLog(ctx).Error(err, "tree garbage collection failed", "repository", r.name)
	}
	return snap, nil
}

// GC removes extracted trees that are neither among the most recently used
// ones (see WithKeepTrees) nor held by an unreleased Snapshot.
func (r *Repository) GC() error {
	_ = r.lock.lock(context.Background())
	defer r.lock.unlock()
	return r.trees.gc()
}

// Close releases the repository. For OpenLocal it deletes every extracted
// tree; for a cached repository it does nothing (the Fetcher owns the cache).
func (r *Repository) Close() error {
	if !r.ownTrees {
		return nil
	}
	_ = r.lock.lock(context.Background())
	defer r.lock.unlock()
	if err := os.RemoveAll(r.trees.dir); err != nil {
		return fmt.Errorf("remove extracted trees of %s: %w", r.name, err)
	}
	return nil
}

// resolveCommit resolves rev to a commit, peeling annotated tags.
func resolveCommit(repo *git.Repository, rev string) (*object.Commit, error) {
	if rev == "" {
		return nil, fmt.Errorf("empty revision: %w", ErrRefNotFound)
	}
	h, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		if errors.Is(err, plumbing.ErrReferenceNotFound) {
			return nil, fmt.Errorf("%w: %w", ErrRefNotFound, err)
		}
		return nil, err
	}
	return commitOf(repo, *h)
}

// commitOf returns the commit h points at, peeling annotated tags.
func commitOf(repo *git.Repository, h plumbing.Hash) (*object.Commit, error) {
	for range 10 {
		obj, err := repo.Storer.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return nil, fmt.Errorf("read object %s: %w", h, err)
		}
		switch obj.Type() {
		case plumbing.CommitObject:
			return object.DecodeCommit(repo.Storer, obj)
		case plumbing.TagObject:
			tag, err := object.DecodeTag(repo.Storer, obj)
			if err != nil {
				return nil, err
			}
			h = tag.Target
		default:
			return nil, fmt.Errorf("object %s is a %s, not a commit", h, obj.Type())
		}
	}
	return nil, fmt.Errorf("object %s: too many nested tags", h)
}
