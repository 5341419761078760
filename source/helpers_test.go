package source_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"flag"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fluxcd/gitkit"
	"github.com/fluxcd/pkg/gittestserver"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// gitEnv is an isolated environment for the real git command.
func gitEnv(t *testing.T) []string {
	t.Helper()
	home := t.TempDir()
	return append(os.Environ(),
		"HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Test Author",
		"GIT_AUTHOR_EMAIL=author@example.com",
		"GIT_COMMITTER_NAME=Test Committer",
		"GIT_COMMITTER_EMAIL=committer@example.com",
	)
}

// server is a gittestserver serving HTTP, counting upload-pack bytes.
type server struct {
	*gittestserver.GitServer
	user, pass string
	sent       atomic.Int64 // bytes of git-upload-pack responses
}

func newServer(t *testing.T, user, pass string, middlewares ...gittestserver.HTTPMiddleware) *server {
	t.Helper()
	gs := gittestserver.NewGitServer(t.TempDir())
	s := &server{GitServer: gs, user: user, pass: pass}
	if user != "" {
		gs.Auth(user, pass)
	}
	gs.AddHTTPMiddlewares(s.countBytes)
	gs.AddHTTPMiddlewares(middlewares...)
	if err := gs.StartHTTP(); err != nil {
		t.Fatalf("start git server: %v", err)
	}
	t.Cleanup(gs.StopHTTP)
	return s
}

func (s *server) countBytes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
			w = &countingWriter{ResponseWriter: w, n: &s.sent}
		}
		next.ServeHTTP(w, r)
	})
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return c.ResponseWriter.Write(p)
}

func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// createRepo makes an empty bare repository on the server and returns its
// URL without credentials.
func (s *server) createRepo(t *testing.T, name string) string {
	t.Helper()
	run(t, gitEnv(t), "", "git", "init", "--quiet", "--bare", "--initial-branch=main", filepath.Join(s.Root(), name))
	return s.HTTPAddress() + "/" + name
}

// pushURL is the repository URL with the credentials the pushing git uses.
func (s *server) pushURL(name string) string {
	return s.HTTPAddressWithCredentials() + "/" + name
}

// workTree is a local clone-like work tree driven by the real git command.
type workTree struct {
	t      *testing.T
	dir    string
	env    []string
	remote string
}

func newWorkTree(t *testing.T, remote string) *workTree {
	t.Helper()
	w := &workTree{t: t, dir: t.TempDir(), env: gitEnv(t), remote: remote}
	w.git("init", "--quiet", "--initial-branch=main")
	w.git("remote", "add", "origin", remote)
	return w
}

func (w *workTree) git(args ...string) string {
	w.t.Helper()
	return run(w.t, w.env, w.dir, "git", args...)
}

func (w *workTree) write(path, content string) {
	w.t.Helper()
	p := filepath.Join(w.dir, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// commit stages everything, commits and returns the commit SHA.
func (w *workTree) commit(msg string) string {
	w.t.Helper()
	w.git("add", "-A")
	w.git("commit", "--quiet", "-m", msg)
	return w.head()
}

func (w *workTree) head() string {
	w.t.Helper()
	return strings.TrimSpace(w.git("rev-parse", "HEAD"))
}

func run(t *testing.T, env []string, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// randomText returns n bytes that do not compress.
func randomText(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	const hexdigits = "0123456789abcdef"
	out := make([]byte, n)
	for i := range b {
		out[i] = hexdigits[b[i]%16]
	}
	return string(out)
}

// sshServer starts SSH on s. Only clientKey is accepted. It returns the
// known_hosts line of the server's host key.
func (s *server) startSSH(t *testing.T, clientKey ssh.PublicKey) string {
	t.Helper()
	keyDir := t.TempDir()
	s.KeyDir(keyDir)
	want := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(clientKey)))
	s.PublicKeyLookupFunc(func(content string) (*gitkit.PublicKey, error) {
		if strings.TrimSpace(content) != want {
			return nil, os.ErrPermission
		}
		return &gitkit.PublicKey{Id: "flotilla-test"}, nil
	})
	if err := s.ListenSSH(); err != nil {
		t.Fatalf("listen ssh: %v", err)
	}
	go func() { _ = s.StartSSH() }()
	t.Cleanup(func() { _ = s.StopSSH() })
	pub, err := os.ReadFile(filepath.Join(keyDir, "gitkit.rsa.pub"))
	if err != nil {
		t.Fatalf("read host key: %v", err)
	}
	hostKey, _, _, _, err := ssh.ParseAuthorizedKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(s.SSHAddress(), "ssh://git@")
	return knownhosts.Line([]string{knownhosts.Normalize(addr)}, hostKey)
}

// newSSHKey returns a PEM private key and its public key.
func newSSHKey(t *testing.T) ([]byte, ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block), sshPub
}

func marshalKey(k ssh.PublicKey) []byte { return ssh.MarshalAuthorizedKey(k) }

func newRSAPublicKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Verbose() {
		log.SetOutput(io.Discard) // gitkit logs every request
	}
	os.Exit(m.Run())
}
