package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	git "github.com/go-git/go-git/v5"
)

// Ref selects what to fetch. Commit takes precedence over Tag, and Tag over
// Branch; an empty Ref follows DefaultBranch. With Commit and Branch both
// set, the branch is fetched and the commit must be in it.
type Ref struct {
	Branch string
	Tag    string
	Commit string
}

// FetchSpec says what to fetch and how.
type FetchSpec struct {
	// URL of the repository: https://, http:// or ssh://.
	URL string
	// Ref is the branch, tag or commit to check out.
	Ref Ref
	// Auth holds the credentials; nil means anonymous HTTP(S).
	Auth *Auth
	// Timeout bounds the network fetch; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxSize caps, in bytes, both the cached repository on disk and the
	// extracted tree; 0 means the Fetcher's default.
	MaxSize int64
}

// Fetcher keeps one bare repository per URL under its cache directory and
// fetches into it incrementally. Layout, with <key> the first 32 hex digits
// of the SHA-256 of the URL without credentials:
//
//	<cache>/<key>/git/          bare repository (remote refs mirrored)
//	<cache>/<key>/trees/<sha>/  extracted commit trees
//
// Fetches of one URL are serialised; different URLs proceed in parallel.
// Every Fetch contacts the server with the caller's credentials, so a cache
// filled with one Secret never serves a caller whose credentials fail.
type Fetcher struct {
	dir  string
	opts options

	mu    sync.Mutex
	repos map[string]*Repository
}

// NewFetcher returns a Fetcher caching under cacheDir, which is created if
// needed.
func NewFetcher(cacheDir string, opts ...Option) (*Fetcher, error) {
	if cacheDir == "" {
		return nil, errors.New("create git cache: cache directory is empty: set it to a writable directory")
	}
	abs, err := filepath.Abs(cacheDir)
	if err != nil {
		return nil, fmt.Errorf("create git cache %s: %w", cacheDir, err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("create git cache %s: %w", cacheDir, err)
	}
	return &Fetcher{dir: abs, opts: newOptions(opts), repos: map[string]*Repository{}}, nil
}

// RepositoryDir is the cache directory used for url (it need not exist yet).
func (f *Fetcher) RepositoryDir(url string) string {
	return filepath.Join(f.dir, cacheKey(url))
}

func cacheKey(url string) string {
	sum := sha256.Sum256([]byte(RedactURL(url)))
	return hex.EncodeToString(sum[:16])
}

// entry returns the Repository value of url, creating it on first use.
func (f *Fetcher) entry(url string) *Repository {
	key := cacheKey(url)
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.repos[key]; ok {
		return r
	}
	gitDir := filepath.Join(f.dir, key, "git")
	r := &Repository{
		name: RedactURL(url),
		lock: newRepoLock(),
		open: func() (*git.Repository, func(), error) {
			return openBare(gitDir, false)
		},
		trees:   newTreeStore(filepath.Join(f.dir, key, "trees"), f.opts.keepTrees),
		maxSize: f.opts.maxSize,
	}
	f.repos[key] = r
	return r
}

// Repository returns the cached repository of url, to extract older
// revisions. It fails with ErrNotCached when url was never fetched.
func (f *Fetcher) Repository(url string) (*Repository, error) {
	if _, err := os.Stat(filepath.Join(f.RepositoryDir(url), "git")); err != nil {
		return nil, fmt.Errorf("open cached repository %s: %w", RedactURL(url), ErrNotCached)
	}
	return f.entry(url), nil
}

// Remove deletes the cache of url (for a repository no longer synced): its
// folder on disk and its entry in memory. It waits for a fetch of url in
// progress. Snapshots already handed out lose their files.
func (f *Fetcher) Remove(ctx context.Context, url string) error {
	r, err := f.lockedEntry(ctx, url)
	if err != nil {
		return fmt.Errorf("remove cache of %s: %w", RedactURL(url), err)
	}
	defer r.lock.unlock()
	// Under r's lock: a fetch waiting for it finds the entry gone and
	// starts over with a new one, after the folder is removed.
	f.mu.Lock()
	delete(f.repos, cacheKey(url))
	f.mu.Unlock()
	if err := os.RemoveAll(f.RepositoryDir(url)); err != nil {
		return fmt.Errorf("remove cache of %s: %w", r.name, err)
	}
	return nil
}

// lockedEntry returns the Repository value of url with its lock held. An
// entry that Remove dropped while the caller waited for its lock is not
// used: the caller gets the current one.
func (f *Fetcher) lockedEntry(ctx context.Context, url string) (*Repository, error) {
	key := cacheKey(url)
	for {
		r := f.entry(url)
		if err := r.lock.lock(ctx); err != nil {
			return nil, err
		}
		f.mu.Lock()
		current := f.repos[key] == r
		f.mu.Unlock()
		if current {
			return r, nil
		}
		r.lock.unlock()
	}
}
