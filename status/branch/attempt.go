package branch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flotilla-gitops/flotilla/source"
)

func ctrlLog(ctx context.Context) logr.Logger {
	return ctrllog.FromContext(ctx).WithName("statusbranch")
}

// attempt fetches the branch tip (depth 1, into memory: memory stays
// proportional to the status files, not to the history), commits files on
// top of it, and pushes without force. It returns the new commit SHA.
func (w *Writer) attempt(ctx context.Context, files map[string][]byte, message string) (bool, string, error) {
	ctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	defer cancel()
	auth, err := w.opts.Auth.TransportAuth(w.opts.URL)
	if err != nil {
		return false, "", fmt.Errorf("%w: %w", errPermanent, err)
	}
	var caBundle []byte
	if w.opts.Auth != nil {
		caBundle = w.opts.Auth.CABundle
	}
	st := memory.NewStorage()
	repo, err := git.Init(st, nil)
	if err != nil {
		return false, "", err
	}
	// The stored remote URL carries no credentials; the real one is given to
	// each network call.
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: git.DefaultRemoteName, URLs: []string{source.RedactURL(w.opts.URL)}}); err != nil {
		return false, "", err
	}
	branch := plumbing.NewBranchReferenceName(w.opts.Branch)
	refSpec := config.RefSpec("+" + branch.String() + ":" + branch.String())
	err = repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: git.DefaultRemoteName,
		RemoteURL:  w.opts.URL,
		RefSpecs:   []config.RefSpec{refSpec},
		Depth:      1,
		Auth:       auth,
		Tags:       git.NoTags,
		Force:      true,
		CABundle:   caBundle,
	})
	var noRef git.NoMatchingRefSpecError
	var parent *object.Commit
	switch {
	case err == nil:
		ref, err := repo.Reference(branch, false)
		if err != nil {
			return false, "", fmt.Errorf("read fetched branch: %w", err)
		}
		if parent, err = repo.CommitObject(ref.Hash()); err != nil {
			return false, "", fmt.Errorf("read branch tip %s: %w", ref.Hash(), err)
		}
	case errors.As(err, &noRef), errors.Is(err, transport.ErrEmptyRemoteRepository):
		// No status branch yet: the first commit is an orphan.
	default:
		return false, "", fmt.Errorf("fetch: %w", redact(err, w.opts))
	}

	tree := map[string]treeFile{}
	if parent != nil {
		pt, err := parent.Tree()
		if err != nil {
			return false, "", fmt.Errorf("read tree of %s: %w", parent.Hash, err)
		}
		if err := flatten(st, pt, "", tree); err != nil {
			return false, "", err
		}
	}
	if dir := strings.Trim(w.opts.OwnedDir, "/"); dir != "" {
		for p := range tree {
			if _, named := files[p]; !named && strings.HasPrefix(p, dir+"/") {
				delete(tree, p)
			}
		}
	}
	for p, content := range files {
		if content == nil {
			delete(tree, p)
			continue
		}
		h, err := writeBlob(st, content)
		if err != nil {
			return false, "", fmt.Errorf("store %s: %w", p, err)
		}
		tree[p] = treeFile{mode: filemode.Regular, hash: h}
	}
	treeHash, err := buildTree(st, tree)
	if err != nil {
		return false, "", fmt.Errorf("%w: build tree: %w", errPermanent, err)
	}
	if (parent != nil && parent.TreeHash == treeHash) || (parent == nil && len(tree) == 0) {
		return false, "", nil // nothing changed
	}

	sig := object.Signature{Name: w.opts.Author.Name, Email: w.opts.Author.Email, When: time.Now()}
	commit := &object.Commit{Author: sig, Committer: sig, Message: message, TreeHash: treeHash}
	if parent != nil {
		commit.ParentHashes = []plumbing.Hash{parent.Hash}
	}
	obj := st.NewEncodedObject()
	if err := commit.Encode(obj); err != nil {
		return false, "", fmt.Errorf("encode commit: %w", err)
	}
	commitHash, err := st.SetEncodedObject(obj)
	if err != nil {
		return false, "", err
	}
	if err := st.SetReference(plumbing.NewHashReference(branch, commitHash)); err != nil {
		return false, "", err
	}
	// Not forced: the server refuses the update when the branch moved since
	// the fetch, and the caller retries on the new tip.
	err = repo.PushContext(ctx, &git.PushOptions{
		RemoteName: git.DefaultRemoteName,
		RemoteURL:  w.opts.URL,
		RefSpecs:   []config.RefSpec{config.RefSpec(branch.String() + ":" + branch.String())},
		Auth:       auth,
		CABundle:   caBundle,
	})
	if err != nil {
		return false, "", fmt.Errorf("push commit %s: %w", commitHash, redact(err, w.opts))
	}
	return true, commitHash.String(), nil
}

// redact strips credentials from a transport error.
func redact(err error, o Options) error {
	return source.RedactError(err, o.URL, o.Auth)
}
