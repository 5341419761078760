package testenv_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/go-git/go-git/v5/storage/memory"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// TestGitServer proves that a repository seeded from a folder is served over
// HTTP (basic auth enforced) and SSH (host key verified, client key enforced),
// and that a push with the real git is visible to a go-git fetch over both.
func TestGitServer(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("the real git is required: %v", err)
	}
	seed := t.TempDir()
	writeSeed(t, seed, map[string]string{
		"clusters/factory-a.yaml":          "kind: Cluster\nname: factory-a\n",
		"apps/adc/base/kustomization.yaml": "resources: []\n",
		"README.md":                        "fleet\n",
	})
	if err := os.WriteFile(filepath.Join(seed, "hack.sh"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("clusters/factory-a.yaml", filepath.Join(seed, "current.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(seed, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(seed, ".git", "HEAD"), []byte("not copied\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	srv := testenv.NewGitServer(t, testenv.GitServerOptions{})
	repo := testenv.NewRepository(t, srv, "fleet", seed)

	if !strings.HasPrefix(repo.HTTPURL, "http://127.0.0.1:") || !strings.HasSuffix(repo.HTTPURL, "/fleet.git") {
		t.Errorf("HTTPURL = %q", repo.HTTPURL)
	}
	if !strings.HasPrefix(repo.SSHURL, "ssh://git@127.0.0.1:") || !strings.HasSuffix(repo.SSHURL, "/fleet.git") {
		t.Errorf("SSHURL = %q", repo.SSHURL)
	}
	if strings.Contains(repo.HTTPURL, srv.Password()) {
		t.Error("HTTPURL carries the password")
	}

	// A go-git clone over HTTP, kept to fetch into later.
	goClone, err := gogit.PlainCloneContext(t.Context(), t.TempDir(), false, &gogit.CloneOptions{URL: repo.HTTPURL, Auth: srv.HTTPAuth()})
	if err != nil {
		t.Fatalf("go-git clone over HTTP: %v", err)
	}
	head, err := goClone.Head()
	if err != nil {
		t.Fatal(err)
	}
	if head.Name() != plumbing.NewBranchReferenceName("main") || head.Hash().String() != repo.InitialCommit {
		t.Fatalf("go-git clone HEAD = %s %s, want refs/heads/main %s", head.Name(), head.Hash(), repo.InitialCommit)
	}
	assertTree(t, goClone, head.Hash(), map[string]string{"clusters/factory-a.yaml": "kind: Cluster\nname: factory-a\n", "README.md": "fleet\n"}, []string{".git/HEAD"})
	assertModes(t, goClone, head.Hash(), map[string]filemode.FileMode{
		"hack.sh":                 filemode.Executable,
		"current.yaml":            filemode.Symlink,
		"clusters/factory-a.yaml": filemode.Regular,
	})

	t.Run("HTTP refuses a wrong password", func(t *testing.T) {
		_, err := gogit.CloneContext(t.Context(), memory.NewStorage(), nil, &gogit.CloneOptions{
			URL: repo.HTTPURL, Auth: &githttp.BasicAuth{Username: srv.Username(), Password: "wrong"},
		})
		if !errors.Is(err, transport.ErrAuthenticationRequired) && !errors.Is(err, transport.ErrAuthorizationFailed) {
			t.Errorf("clone with a wrong password: got %v, want an authentication error", err)
		}
	})

	var pushedHTTP string
	t.Run("a push with the real git over HTTP is visible to a go-git fetch", func(t *testing.T) {
		w := testenv.CloneWorkdir(t, repo.HTTPURLWithCredentials)
		if got := w.Head(); got != repo.InitialCommit {
			t.Fatalf("real git clone HEAD = %s, want %s", got, repo.InitialCommit)
		}
		w.WriteFile("clusters/factory-b.yaml", []byte("kind: Cluster\nname: factory-b\n"))
		w.Remove("README.md")
		pushedHTTP = w.CommitAndPush("Add factory-b")

		if err := goClone.FetchContext(t.Context(), &gogit.FetchOptions{Auth: srv.HTTPAuth()}); err != nil {
			t.Fatalf("go-git fetch over HTTP: %v", err)
		}
		ref, err := goClone.Reference(plumbing.NewRemoteReferenceName("origin", "main"), true)
		if err != nil {
			t.Fatal(err)
		}
		if ref.Hash().String() != pushedHTTP {
			t.Fatalf("origin/main after fetch = %s, want the pushed %s", ref.Hash(), pushedHTTP)
		}
		assertTree(t, goClone, ref.Hash(), map[string]string{"clusters/factory-b.yaml": "kind: Cluster\nname: factory-b\n"}, []string{"README.md"})
		commit, err := goClone.CommitObject(ref.Hash())
		if err != nil {
			t.Fatal(err)
		}
		if commit.Author.Email != testenv.DefaultAuthorEmail || commit.Message != "Add factory-b\n" {
			t.Errorf("commit author %q message %q, want %q and %q", commit.Author.Email, commit.Message, testenv.DefaultAuthorEmail, "Add factory-b\n")
		}
	})

	t.Run("CommitAll with no change reports nothing to commit", func(t *testing.T) {
		w := testenv.CloneWorkdir(t, repo.HTTPURLWithCredentials)
		if _, err := w.GitWorkdir.CommitAll(t.Context(), "empty"); !errors.Is(err, testenv.ErrNothingToCommit) {
			t.Errorf("CommitAll without changes: got %v, want ErrNothingToCommit", err)
		}
	})

	t.Run("go-git over SSH verifies the host key and sees the push", func(t *testing.T) {
		auth, err := srv.SSHAuth()
		if err != nil {
			t.Fatal(err)
		}
		r, err := gogit.CloneContext(t.Context(), memory.NewStorage(), nil, &gogit.CloneOptions{URL: repo.SSHURL, Auth: auth})
		if err != nil {
			t.Fatalf("go-git clone over SSH: %v", err)
		}
		h, err := r.Head()
		if err != nil {
			t.Fatal(err)
		}
		if pushedHTTP != "" && h.Hash().String() != pushedHTTP {
			t.Errorf("SSH clone HEAD = %s, want %s", h.Hash(), pushedHTTP)
		}
	})

	t.Run("go-git over SSH refuses a host key not in known_hosts", func(t *testing.T) {
		auth, err := srv.SSHAuth()
		if err != nil {
			t.Fatal(err)
		}
		// known_hosts naming the right address with another key.
		other := newSSHKey(t)
		addr := strings.TrimPrefix(strings.TrimSuffix(repo.SSHURL, "/fleet.git"), "ssh://git@")
		khPath := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(khPath, []byte(knownhosts.Line([]string{knownhosts.Normalize(addr)}, other)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cb, err := gitssh.NewKnownHostsCallback(khPath)
		if err != nil {
			t.Fatal(err)
		}
		auth.HostKeyCallback = cb
		_, err = gogit.CloneContext(t.Context(), memory.NewStorage(), nil, &gogit.CloneOptions{URL: repo.SSHURL, Auth: auth})
		var keyErr *knownhosts.KeyError
		if !errors.As(err, &keyErr) || len(keyErr.Want) == 0 {
			t.Errorf("clone with a mismatching known_hosts: got %v, want a knownhosts key mismatch", err)
		}
	})

	t.Run("SSH refuses a client key it does not know", func(t *testing.T) {
		_, pemBytes := newSSHKeyPEM(t)
		auth, err := gitssh.NewPublicKeys("git", pemBytes, "")
		if err != nil {
			t.Fatal(err)
		}
		cb, err := gitssh.NewKnownHostsCallback(srv.KnownHostsFile())
		if err != nil {
			t.Fatal(err)
		}
		auth.HostKeyCallback = cb
		_, err = gogit.CloneContext(t.Context(), memory.NewStorage(), nil, &gogit.CloneOptions{URL: repo.SSHURL, Auth: auth})
		if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
			t.Errorf("clone with an unknown client key: got %v, want an authentication error", err)
		}
	})

	t.Run("a push with the real git over SSH is visible to a go-git fetch", func(t *testing.T) {
		if _, err := exec.LookPath("ssh"); err != nil {
			t.Skipf("no ssh client for the real git: %v", err)
		}
		w := testenv.CloneWorkdir(t, repo.SSHURL, srv.GitSSHEnv()...)
		w.SetAuthor("Site Engineer", "engineer@factory.example")
		w.WriteFile("clusters/factory-c.yaml", []byte("kind: Cluster\nname: factory-c\n"))
		pushed := w.CommitAndPush("Add factory-c over SSH")

		auth, err := srv.SSHAuth()
		if err != nil {
			t.Fatal(err)
		}
		if err := goClone.FetchContext(t.Context(), &gogit.FetchOptions{Auth: auth, RemoteURL: repo.SSHURL}); err != nil {
			t.Fatalf("go-git fetch over SSH: %v", err)
		}
		ref, err := goClone.Reference(plumbing.NewRemoteReferenceName("origin", "main"), true)
		if err != nil {
			t.Fatal(err)
		}
		if ref.Hash().String() != pushed {
			t.Fatalf("origin/main after SSH fetch = %s, want the pushed %s", ref.Hash(), pushed)
		}
		commit, err := goClone.CommitObject(ref.Hash())
		if err != nil {
			t.Fatal(err)
		}
		if commit.Author.Email != "engineer@factory.example" {
			t.Errorf("author = %q, want engineer@factory.example", commit.Author.Email)
		}
	})

	t.Run("the real git over SSH refuses an unknown host key", func(t *testing.T) {
		if _, err := exec.LookPath("ssh"); err != nil {
			t.Skipf("no ssh client for the real git: %v", err)
		}
		empty := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(empty, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := strings.Replace(srv.GitSSHCommand(), srv.KnownHostsFile(), empty, 1)
		_, err := testenv.Clone(context.Background(), repo.SSHURL, filepath.Join(t.TempDir(), "c"), "GIT_SSH_COMMAND="+cmd)
		if err == nil || !strings.Contains(err.Error(), "Host key verification failed") {
			t.Errorf("real git clone with an empty known_hosts: got %v, want host key verification failure", err)
		}
	})
}

// writeSeed writes files (slash paths) under dir.
func writeSeed(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// assertTree checks that the commit's tree holds files with the given content
// and lacks the absent paths.
func assertTree(t *testing.T, r *gogit.Repository, hash plumbing.Hash, files map[string]string, absent []string) {
	t.Helper()
	commit, err := r.CommitObject(hash)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := commit.Tree()
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range files {
		f, err := tree.File(path)
		if err != nil {
			t.Errorf("commit %s: %s: %v", hash, path, err)
			continue
		}
		got, err := f.Contents()
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("commit %s: %s = %q, want %q", hash, path, got, want)
		}
	}
	for _, path := range absent {
		if _, err := tree.File(path); !errors.Is(err, object.ErrFileNotFound) {
			t.Errorf("commit %s: %s should be absent, got %v", hash, path, err)
		}
	}
}

// newSSHKey returns a fresh ed25519 public key.
func newSSHKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _ := newSSHKeyPEM(t)
	return pub
}

// newSSHKeyPEM returns a fresh ed25519 key: public key and OpenSSH PEM private key.
func newSSHKeyPEM(t *testing.T) (ssh.PublicKey, []byte) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "test")
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sshPub, pem.EncodeToMemory(block)
}

// assertModes checks the git file modes of paths in the commit's tree.
func assertModes(t *testing.T, r *gogit.Repository, hash plumbing.Hash, modes map[string]filemode.FileMode) {
	t.Helper()
	commit, err := r.CommitObject(hash)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := commit.Tree()
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range modes {
		entry, err := tree.FindEntry(path)
		if err != nil {
			t.Errorf("commit %s: %s: %v", hash, path, err)
			continue
		}
		if entry.Mode != want {
			t.Errorf("commit %s: %s has mode %s, want %s", hash, path, entry.Mode, want)
		}
	}
}
