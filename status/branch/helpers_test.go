package branch_test

import (
	"flag"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/gittestserver"
)

const (
	testUser = "status-bot"
	testPass = "St4tus-Bot-Passw0rd"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Verbose() {
		log.SetOutput(io.Discard) // gitkit logs every request
	}
	os.Exit(m.Run())
}

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

func run(t *testing.T, env []string, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newServer starts an HTTP git server with basic auth and a repository
// "fleet.git" whose main branch holds one commit, pushed with real git. It
// returns the server, the repository URL without credentials, and the main
// commit.
func newServer(t *testing.T, middlewares ...gittestserver.HTTPMiddleware) (*gittestserver.GitServer, string, string) {
	t.Helper()
	srv := gittestserver.NewGitServer(t.TempDir())
	srv.Auth(testUser, testPass)
	srv.AddHTTPMiddlewares(middlewares...)
	if err := srv.StartHTTP(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.StopHTTP)
	env := gitEnv(t)
	run(t, env, "", "init", "--quiet", "--bare", "--initial-branch=main", filepath.Join(srv.Root(), "fleet.git"))
	work := t.TempDir()
	run(t, env, work, "init", "--quiet", "--initial-branch=main")
	if err := os.MkdirAll(filepath.Join(work, "clusters"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "clusters", "factory-a.yaml"), []byte("name: factory-a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, env, work, "add", "-A")
	run(t, env, work, "commit", "--quiet", "-m", "fleet")
	run(t, env, work, "push", "--quiet", srv.HTTPAddressWithCredentials()+"/fleet.git", "main")
	head := strings.TrimSpace(run(t, env, work, "rev-parse", "HEAD"))
	return srv, srv.HTTPAddress() + "/fleet.git", head
}

// clone checks out branch with real git into a new directory.
func clone(t *testing.T, srv *gittestserver.GitServer, branch string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	run(t, gitEnv(t), "", "clone", "--quiet", "--branch", branch, srv.HTTPAddressWithCredentials()+"/fleet.git", dir)
	return dir
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return string(b)
}

// remoteHead returns the commit a branch points at on the server.
func remoteHead(t *testing.T, srv *gittestserver.GitServer, branch string) string {
	t.Helper()
	out := run(t, gitEnv(t), "", "ls-remote", srv.HTTPAddressWithCredentials()+"/fleet.git", "refs/heads/"+branch)
	sha, _, _ := strings.Cut(out, "\t")
	return strings.TrimSpace(sha)
}
