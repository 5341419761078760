package testenv

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
)

// DefaultBranch is the branch of a repository made by CreateRepository.
const DefaultBranch = "main"

// GitRepository is a bare repository served by a GitServer.
type GitRepository struct {
	// Name of the repository, without ".git".
	Name string
	// Branch holding the initial commit, and the repository's HEAD: "main".
	Branch string
	// InitialCommit is the hash of the seed commit.
	InitialCommit string
	// Path of the bare repository on disk.
	Path string
	// HTTPURL is the clone URL over HTTP, without credentials
	// (http://127.0.0.1:PORT/NAME.git).
	HTTPURL string
	// HTTPURLWithCredentials is HTTPURL with the server's user and password,
	// for the real git (CloneWorkdir).
	HTTPURLWithCredentials string
	// SSHURL is the clone URL over SSH (ssh://git@127.0.0.1:PORT/NAME.git).
	SSHURL string
}

var repoNameRE = regexp.MustCompile(`^[A-Za-z0-9][-A-Za-z0-9_.]*$`)

// CreateRepository creates the bare repository NAME.git whose branch main
// holds one commit with the content of seedDir (its .git folder, if any, is
// skipped; file modes and symbolic links are kept). An empty seedDir gives an
// empty initial commit.
func (s *GitServer) CreateRepository(ctx context.Context, name, seedDir string) (*GitRepository, error) {
	if !repoNameRE.MatchString(name) || filepath.Ext(name) == ".git" {
		return nil, fmt.Errorf("creating git repository: name %q is invalid: use letters, digits, '-', '_' and '.', without the .git suffix", name)
	}
	bare := filepath.Join(s.dir, "repos", name+".git")
	if _, err := os.Stat(bare); err == nil {
		return nil, fmt.Errorf("creating git repository %s: it already exists at %s", name, bare)
	}
	env := gitEnv(
		"GIT_AUTHOR_NAME="+DefaultAuthorName, "GIT_AUTHOR_EMAIL="+DefaultAuthorEmail,
		"GIT_COMMITTER_NAME="+DefaultAuthorName, "GIT_COMMITTER_EMAIL="+DefaultAuthorEmail,
	)
	if _, err := runGit(ctx, s.dir, env, "init", "--quiet", "--bare", "--initial-branch="+DefaultBranch, bare); err != nil {
		return nil, fmt.Errorf("creating git repository %s: %w", name, err)
	}

	work, err := os.MkdirTemp("", "flotilla-testenv-seed-")
	if err != nil {
		return nil, fmt.Errorf("creating git repository %s: %w", name, err)
	}
	defer os.RemoveAll(work)
	if seedDir != "" {
		if err := copyTree(seedDir, work); err != nil {
			return nil, fmt.Errorf("creating git repository %s: copying seed folder %s: %w", name, seedDir, err)
		}
	}
	steps := [][]string{
		{"init", "--quiet", "--initial-branch=" + DefaultBranch},
		{"add", "--all"},
		{"commit", "--quiet", "--allow-empty", "-m", "Initial commit"},
		{"push", "--quiet", bare, "HEAD:refs/heads/" + DefaultBranch},
	}
	for _, args := range steps {
		if _, err := runGit(ctx, work, env, args...); err != nil {
			return nil, fmt.Errorf("creating git repository %s: %w", name, err)
		}
	}
	head, err := runGit(ctx, work, env, "rev-parse", "HEAD")
	if err != nil {
		return nil, fmt.Errorf("creating git repository %s: %w", name, err)
	}

	httpURL := s.srv.HTTPAddress() + "/" + name + ".git"
	withCreds, err := url.Parse(httpURL)
	if err != nil {
		return nil, fmt.Errorf("creating git repository %s: parsing %s: %w", name, httpURL, err)
	}
	withCreds.User = url.UserPassword(s.username, s.password)
	return &GitRepository{
		Name:                   name,
		Branch:                 DefaultBranch,
		InitialCommit:          head,
		Path:                   bare,
		HTTPURL:                httpURL,
		HTTPURLWithCredentials: withCreds.String(),
		SSHURL:                 s.srv.SSHAddress() + "/" + name + ".git",
	}, nil
}

// copyTree copies the files, folders and symbolic links of src into the
// existing folder dst, keeping file modes and skipping src's .git folder.
// Writes go through an os.Root, so nothing lands outside dst.
func copyTree(src, dst string) error {
	root, err := os.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer root.Close()
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return root.MkdirAll(rel, 0o750)
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return root.Symlink(link, rel)
		case info.Mode().IsRegular():
			return copyFile(path, root, rel, info.Mode().Perm())
		default:
			return fmt.Errorf("%s is neither a file, a folder nor a symbolic link", path)
		}
	})
}

// copyFile copies one regular file to rel inside root.
func copyFile(src string, root *os.Root, rel string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := root.OpenFile(rel, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}
