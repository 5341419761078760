package source

import (
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/filesystem/dotgit"
)

// sizePollInterval is how often the repository size is checked while a
// fetch downloads.
const sizePollInterval = 100 * time.Millisecond

var hexSHA = regexp.MustCompile(`^[0-9a-f]{4,40}$`)

// Fetch brings the cached repository of spec.URL up to date with the remote
// (only missing objects are downloaded; a force-pushed branch or a moved tag
// replaces the cached ref) and returns the selected commit's tree as a
// Snapshot. Release the Snapshot when done with it. A cache found corrupt is
// deleted and fetched again from scratch, once.
func (f *Fetcher) Fetch(ctx context.Context, spec FetchSpec) (*Snapshot, error) {
	start := time.Now()
	name := RedactURL(spec.URL)
	what := spec.Ref.describe()
	fail := func(err error) (*Snapshot, error) {
		return nil, fmt.Errorf("fetch %s (%s): %w", name, what, redactErr(err, spec.URL, spec.Auth.secrets()...))
	}
	auth, err := spec.Auth.TransportAuth(spec.URL)
	if err != nil {
		return fail(err)
	}
	refSpecs, err := spec.Ref.refSpecs()
	if err != nil {
		return fail(err)
	}
	if spec.Timeout <= 0 {
		spec.Timeout = DefaultTimeout
	}
	if spec.MaxSize <= 0 {
		spec.MaxSize = f.opts.maxSize
	}

	r, err := f.lockedEntry(ctx, spec.URL)
	if err != nil {
		return fail(err)
	}
	defer r.lock.unlock()

	repoDir := f.RepositoryDir(spec.URL)
	snap, err := f.fetchLocked(ctx, r, spec, auth, refSpecs)
	if err != nil && ctx.Err() == nil && isCorrupt(err) {
		ctrlLog(ctx).Info("git cache is corrupt, fetching again from scratch", "url", name, "error", redactErr(err, spec.URL, spec.Auth.secrets()...).Error())
		if rmErr := os.RemoveAll(filepath.Join(repoDir, "git")); rmErr != nil {
			return fail(errors.Join(err, rmErr))
		}
		snap, err = f.fetchLocked(ctx, r, spec, auth, refSpecs)
	}
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			// Drop what was downloaded: the cache must stay under the cap.
			if rmErr := os.RemoveAll(repoDir); rmErr != nil {
				ctrlLog(ctx).Error(rmErr, "remove oversized repository cache", "url", name)
			}
		}
		return fail(err)
	}
	ctrlLog(ctx).V(1).Info("fetched git repository", "url", name, "ref", what, "revision", snap.Revision, "duration", time.Since(start).String())
	return snap, nil
}

// fetchLocked runs one fetch into the cache, resolves the ref and extracts
// its tree. The caller holds r.lock.
func (f *Fetcher) fetchLocked(ctx context.Context, r *Repository, spec FetchSpec, auth transport.AuthMethod, refSpecs []config.RefSpec) (*Snapshot, error) {
	gitDir := filepath.Join(f.RepositoryDir(spec.URL), "git")
	repo, done, err := openOrInit(gitDir, r.name)
	if err != nil {
		return nil, err
	}
	defer done()

	fetchCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	fetchCtx, cancelTimeout := context.WithTimeoutCause(fetchCtx, spec.Timeout, fmt.Errorf("timed out after %s: %w", spec.Timeout, context.DeadlineExceeded))
	defer cancelTimeout()
	stopWatch := watchSize(fetchCtx, gitDir, spec.MaxSize, cancel)
	err = repo.FetchContext(fetchCtx, &git.FetchOptions{
		RemoteName: git.DefaultRemoteName,
		RemoteURL:  spec.URL,
		RefSpecs:   refSpecs,
		Auth:       auth,
		Force:      true,
		Tags:       git.NoTags,
		CABundle:   spec.Auth.caBundle(),
	})
	stopWatch()
	if errors.Is(err, git.NoErrAlreadyUpToDate) {
		err = nil
	}
	if err != nil {
		if cause := context.Cause(fetchCtx); cause != nil && ctx.Err() == nil {
			return nil, cause // timeout or size cap: say so rather than "context canceled"
		}
		var noRef git.NoMatchingRefSpecError
		if errors.As(err, &noRef) {
			return nil, fmt.Errorf("%w: %w", ErrRefNotFound, err)
		}
		if strings.Contains(err.Error(), "no common algorithm for host key") {
			return nil, fmt.Errorf("the server has no host key of a type listed in known_hosts: add its key line: %w", err)
		}
		return nil, err
	}
	if size, err := dirSize(gitDir); err == nil && size > spec.MaxSize {
		return nil, fmt.Errorf("repository is larger than %d bytes: %w", spec.MaxSize, ErrTooLarge)
	}

	commit, err := spec.Ref.commit(repo)
	if err != nil {
		return nil, err
	}
	r.maxSize = spec.MaxSize
	return r.extractLocked(ctx, repo, commit, spec.Ref.label(commit.Hash.String()), spec.MaxSize)
}

// isCorrupt reports whether err comes from unreadable local Git storage
// rather than from the network, the credentials or the request.
func isCorrupt(err error) bool {
	var packErr *packfile.Error
	switch {
	case errors.Is(err, ErrRefNotFound), errors.Is(err, ErrTooLarge):
		return false
	case errors.As(err, &packErr),
		errors.Is(err, plumbing.ErrObjectNotFound),
		errors.Is(err, packfile.ErrMalformedPackFile),
		errors.Is(err, packfile.ErrInvalidDelta),
		errors.Is(err, packfile.ErrReferenceDeltaNotFound),
		errors.Is(err, packfile.ErrInflatedSizeMismatch),
		errors.Is(err, idxfile.ErrMalformedIdxFile),
		errors.Is(err, dotgit.ErrPackfileNotFound),
		errors.Is(err, dotgit.ErrIdxNotFound),
		errors.Is(err, dotgit.ErrPackedRefsBadFormat),
		errors.Is(err, dotgit.ErrEmptyRefFile),
		errors.Is(err, zlib.ErrHeader),
		errors.Is(err, zlib.ErrChecksum),
		errors.Is(err, io.ErrUnexpectedEOF):
		return true
	}
	return false
}

// openOrInit opens the bare cache, initialising it when absent and
// re-initialising it when it cannot be opened (a corrupt cache is
// re-downloaded rather than left wedged). Leftover partial packs from an
// interrupted fetch are removed.
func openOrInit(gitDir, name string) (*git.Repository, func(), error) {
	if err := os.MkdirAll(gitDir, 0o750); err != nil {
		return nil, nil, fmt.Errorf("create cache %s: %w", gitDir, err)
	}
	removePartialPacks(gitDir)
	repo, done, err := openBare(gitDir, true)
	if err != nil {
		if rmErr := os.RemoveAll(gitDir); rmErr != nil {
			return nil, nil, fmt.Errorf("reset unreadable cache of %s: %w", name, rmErr)
		}
		if repo, done, err = openBare(gitDir, true); err != nil {
			return nil, nil, fmt.Errorf("initialise cache of %s: %w", name, err)
		}
	}
	if _, err := repo.Remote(git.DefaultRemoteName); errors.Is(err, git.ErrRemoteNotFound) {
		// The stored URL carries no credentials; the real one is passed to
		// each fetch.
		if _, err := repo.CreateRemote(&config.RemoteConfig{Name: git.DefaultRemoteName, URLs: []string{name}}); err != nil {
			done()
			return nil, nil, fmt.Errorf("initialise cache of %s: %w", name, err)
		}
	}
	return repo, done, nil
}

func removePartialPacks(gitDir string) {
	matches, _ := filepath.Glob(filepath.Join(gitDir, "objects", "pack", "tmp_pack_*"))
	for _, m := range matches {
		_ = os.Remove(m)
	}
}

// watchSize cancels the fetch when the repository grows beyond maxSize. The
// returned function stops the watch.
func watchSize(ctx context.Context, dir string, maxSize int64, cancel context.CancelCauseFunc) func() {
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(sizePollInterval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if size, err := dirSize(dir); err == nil && size > maxSize {
					cancel(fmt.Errorf("repository is larger than %d bytes: %w", maxSize, ErrTooLarge))
					return
				}
			}
		}
	}()
	return func() {
		close(stop)
		<-finished
	}
}

func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // a temporary file went away meanwhile
			}
			return err
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total, err
}

// describe names the ref for messages: `branch "main"`.
func (r Ref) describe() string {
	switch {
	case r.Commit != "" && r.Branch != "":
		return fmt.Sprintf("commit %q on branch %q", r.Commit, r.Branch)
	case r.Commit != "":
		return fmt.Sprintf("commit %q", r.Commit)
	case r.Tag != "":
		return fmt.Sprintf("tag %q", r.Tag)
	default:
		return fmt.Sprintf("branch %q", r.branch())
	}
}

func (r Ref) branch() string {
	if r.Branch == "" {
		return DefaultBranch
	}
	return r.Branch
}

// label is the Snapshot.Ref for the resolved commit.
func (r Ref) label(sha string) string {
	switch {
	case r.Commit != "" && r.Branch == "":
		return "sha1:" + sha
	case r.Commit == "" && r.Tag != "":
		return r.Tag + "@sha1:" + sha
	default:
		return r.branch() + "@sha1:" + sha
	}
}

// refSpecs returns the fetch refspecs; refs are mirrored under their own
// names in the bare cache, forced so that rewritten history is followed.
func (r Ref) refSpecs() ([]config.RefSpec, error) {
	mirror := func(name plumbing.ReferenceName) config.RefSpec {
		return config.RefSpec("+" + name.String() + ":" + name.String())
	}
	switch {
	case r.Commit != "":
		if !hexSHA.MatchString(strings.ToLower(r.Commit)) {
			return nil, fmt.Errorf("commit %q is not a hexadecimal SHA: set ref.commit to a commit SHA", r.Commit)
		}
		if r.Branch == "" {
			return []config.RefSpec{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"}, nil
		}
		name := plumbing.NewBranchReferenceName(r.Branch)
		if err := name.Validate(); err != nil {
			return nil, fmt.Errorf("branch %q is not a valid branch name: %w", r.Branch, err)
		}
		return []config.RefSpec{mirror(name)}, nil
	case r.Tag != "":
		name := plumbing.NewTagReferenceName(r.Tag)
		if err := name.Validate(); err != nil || strings.ContainsAny(r.Tag, "*:") {
			return nil, fmt.Errorf("tag %q is not a valid tag name: set ref.tag to an existing tag", r.Tag)
		}
		return []config.RefSpec{mirror(name)}, nil
	default:
		name := plumbing.NewBranchReferenceName(r.branch())
		if err := name.Validate(); err != nil || strings.ContainsAny(r.branch(), "*:") {
			return nil, fmt.Errorf("branch %q is not a valid branch name: set ref.branch to an existing branch", r.branch())
		}
		return []config.RefSpec{mirror(name)}, nil
	}
}

// commit resolves the fetched ref to a commit.
func (r Ref) commit(repo *git.Repository) (*object.Commit, error) {
	if r.Commit != "" {
		want := strings.ToLower(r.Commit)
		var c *object.Commit
		var err error
		if len(want) == 40 {
			c, err = commitOf(repo, plumbing.NewHash(want))
		} else {
			c, err = resolveCommit(repo, want)
		}
		if err != nil {
			return nil, fmt.Errorf("commit %s is not in the fetched refs: %w", r.Commit, ErrRefNotFound)
		}
		if r.Branch != "" {
			if err := onBranch(repo, c, r.Branch); err != nil {
				return nil, err
			}
		}
		return c, nil
	}
	name := plumbing.NewBranchReferenceName(r.branch())
	if r.Tag != "" {
		name = plumbing.NewTagReferenceName(r.Tag)
	}
	ref, err := repo.Reference(name, false)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return commitOf(repo, ref.Hash())
}

// onBranch checks that c is the tip of branch or one of its ancestors.
func onBranch(repo *git.Repository, c *object.Commit, branch string) error {
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(branch), false)
	if err != nil {
		return fmt.Errorf("read branch %q: %w", branch, err)
	}
	tip, err := commitOf(repo, ref.Hash())
	if err != nil {
		return err
	}
	ok, err := c.IsAncestor(tip)
	if err != nil {
		return fmt.Errorf("check that commit %s is on branch %q: %w", c.Hash, branch, err)
	}
	if !ok {
		return fmt.Errorf("commit %s is not on branch %q: %w", c.Hash, branch, ErrRefNotFound)
	}
	return nil
}
