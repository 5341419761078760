package source

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// maxSymlinkTarget bounds the size of a symlink's target path.
const maxSymlinkTarget = 4096

// extractor writes a Git tree to disk, reproducing files, executable bits,
// directories and symlinks (as symlinks, whatever they point at: the
// renderer refuses the ones that escape the repository). Every path is
// created exclusively, so a crafted tree can never write through a symlink.
type extractor struct {
	ctx     context.Context
	objects storer.EncodedObjectStorer
	budget  int64 // bytes still allowed
	limit   int64
	entries int
}

func extractTree(ctx context.Context, objects storer.EncodedObjectStorer, tree *object.Tree, dst string, maxSize int64) error {
	x := &extractor{ctx: ctx, objects: objects, budget: maxSize, limit: maxSize}
	return x.tree(tree, dst, "")
}

func (x *extractor) tree(tree *object.Tree, dir, rel string) error {
	for _, e := range tree.Entries {
		x.entries++
		if x.entries%256 == 0 {
			if err := x.ctx.Err(); err != nil {
				return err
			}
		}
		if err := checkEntryName(e.Name); err != nil {
			return fmt.Errorf("tree entry %q: %w", filepath.ToSlash(filepath.Join(rel, e.Name)), err)
		}
		p := filepath.Join(dir, e.Name)
		r := filepath.ToSlash(filepath.Join(rel, e.Name))
		var err error
		switch e.Mode {
		case filemode.Dir:
			err = x.dir(e.Hash, p, r)
		case filemode.Regular, filemode.Deprecated:
			err = x.file(e.Hash, p, 0o644)
		case filemode.Executable:
			err = x.file(e.Hash, p, 0o755)
		case filemode.Symlink:
			err = x.symlink(e.Hash, p)
		case filemode.Submodule:
			continue // submodules are not fetched; the path stays absent
		default:
			err = fmt.Errorf("unsupported file mode %s", e.Mode)
		}
		if err != nil {
			return fmt.Errorf("extract %s: %w", r, err)
		}
	}
	return nil
}

func (x *extractor) dir(h plumbing.Hash, p, rel string) error {
	sub, err := object.GetTree(x.objects, h)
	if err != nil {
		return err
	}
	if err := os.Mkdir(p, 0o750); err != nil {
		return err
	}
	return x.tree(sub, p, rel)
}

func (x *extractor) charge(n int64) error {
	x.budget -= n
	if x.budget < 0 {
		return fmt.Errorf("checkout is larger than %d bytes: %w", x.limit, ErrTooLarge)
	}
	return nil
}

func (x *extractor) file(h plumbing.Hash, p string, mode os.FileMode) error {
	blob, err := object.GetBlob(x.objects, h)
	if err != nil {
		return err
	}
	if err := x.charge(blob.Size); err != nil {
		return err
	}
	r, err := blob.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, io.LimitReader(r, blob.Size)); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Chmod(p, mode) // undo the umask
}

func (x *extractor) symlink(h plumbing.Hash, p string) error {
	blob, err := object.GetBlob(x.objects, h)
	if err != nil {
		return err
	}
	if blob.Size > maxSymlinkTarget {
		return fmt.Errorf("symlink target is longer than %d bytes", maxSymlinkTarget)
	}
	if err := x.charge(blob.Size); err != nil {
		return err
	}
	r, err := blob.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	target, err := io.ReadAll(io.LimitReader(r, maxSymlinkTarget))
	if err != nil {
		return err
	}
	if len(target) == 0 || strings.ContainsRune(string(target), 0) {
		return fmt.Errorf("invalid symlink target")
	}
	return os.Symlink(string(target), p)
}

// checkEntryName refuses names Git itself refuses in a tree: empty, ".",
// "..", ".git" (any case), and names with a path separator or NUL.
func checkEntryName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("invalid path element")
	case strings.EqualFold(name, ".git"):
		return fmt.Errorf("a .git entry is not allowed in a tree")
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("path element contains a separator or NUL")
	}
	return nil
}
