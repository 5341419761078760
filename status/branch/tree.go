package branch

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// treeFile is one non-directory entry of a tree, by full path.
type treeFile struct {
	mode filemode.FileMode
	hash plumbing.Hash
}

// checkPath refuses paths that are not clean, relative, slash-separated
// file paths inside the repository.
func checkPath(p string) error {
	switch {
	case p == "" || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/"):
		return errors.New("must be a relative file path such as status/factory-a.yaml")
	case path.Clean(p) != p || strings.Contains(p, "\\") || strings.ContainsRune(p, 0):
		return errors.New("must be a clean slash-separated path without '.', '..' or '\\'")
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." || seg == "." || strings.EqualFold(seg, ".git") {
			return errors.New("must not contain '.', '..' or '.git' elements")
		}
	}
	return nil
}

// flatten lists every non-directory entry of tree by full path.
func flatten(s storer.EncodedObjectStorer, tree *object.Tree, prefix string, out map[string]treeFile) error {
	for _, e := range tree.Entries {
		p := path.Join(prefix, e.Name)
		if e.Mode != filemode.Dir {
			out[p] = treeFile{mode: e.Mode, hash: e.Hash}
			continue
		}
		sub, err := object.GetTree(s, e.Hash)
		if err != nil {
			return fmt.Errorf("read tree %s: %w", p, err)
		}
		if err := flatten(s, sub, p, out); err != nil {
			return err
		}
	}
	return nil
}

// dirNode is a directory being assembled by buildTree.
type dirNode struct {
	files map[string]treeFile
	dirs  map[string]*dirNode
}

func newDirNode() *dirNode {
	return &dirNode{files: map[string]treeFile{}, dirs: map[string]*dirNode{}}
}

// buildTree writes the tree objects for files and returns the root hash.
// A file whose path needs a directory where a file is (or the reverse) is
// an error.
func buildTree(s storer.EncodedObjectStorer, files map[string]treeFile) (plumbing.Hash, error) {
	root := newDirNode()
	for p, f := range files {
		parts := strings.Split(p, "/")
		n := root
		for _, dir := range parts[:len(parts)-1] {
			if _, clash := n.files[dir]; clash {
				return plumbing.ZeroHash, fmt.Errorf("path %s: a parent directory is a file", p)
			}
			child, ok := n.dirs[dir]
			if !ok {
				child = newDirNode()
				n.dirs[dir] = child
			}
			n = child
		}
		name := parts[len(parts)-1]
		if _, clash := n.dirs[name]; clash {
			return plumbing.ZeroHash, fmt.Errorf("path %s: a directory of that name exists", p)
		}
		n.files[name] = f
	}
	return writeDir(s, root)
}

func writeDir(s storer.EncodedObjectStorer, n *dirNode) (plumbing.Hash, error) {
	entries := make([]object.TreeEntry, 0, len(n.files)+len(n.dirs))
	for name, f := range n.files {
		entries = append(entries, object.TreeEntry{Name: name, Mode: f.mode, Hash: f.hash})
	}
	for name, d := range n.dirs {
		h, err := writeDir(s, d)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
	}
	sort.Sort(object.TreeEntrySorter(entries))
	tree := &object.Tree{Entries: entries}
	obj := s.NewEncodedObject()
	if err := tree.Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encode tree: %w", err)
	}
	return s.SetEncodedObject(obj)
}

// writeBlob stores content and returns its hash.
func writeBlob(s storer.EncodedObjectStorer, content []byte) (plumbing.Hash, error) {
	obj := s.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(content)))
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(content); err != nil {
		_ = w.Close()
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(obj)
}
