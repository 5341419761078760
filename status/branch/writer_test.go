package branch_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flotilla-gitops/flotilla/source"
	"github.com/flotilla-gitops/flotilla/status/branch"
)

func auth() *source.Auth { return &source.Auth{Username: testUser, Password: testPass} }

func newWriter(t *testing.T, url string, mutate ...func(*branch.Options)) *branch.Writer {
	t.Helper()
	o := branch.Options{URL: url, Auth: auth(), Author: branch.Author{Name: "Status Bot", Email: "bot@example.com"}, Timeout: 20 * time.Second}
	for _, m := range mutate {
		m(&o)
	}
	w, err := branch.NewWriter(o)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWriteCreatesAndUpdatesTheBranch(t *testing.T) {
	srv, url, mainHead := newServer(t)
	w := newWriter(t, url)
	ctx := context.Background()

	committed, err := w.Write(ctx, map[string][]byte{
		"status/factory-a.yaml": []byte("revision: main@sha1:abc\n"),
		"STATUS.md":             []byte("# Fleet status\n"),
	}, "status: factory-a synced")
	if err != nil || !committed {
		t.Fatalf("first write: committed=%v err=%v", committed, err)
	}
	dir := clone(t, srv, branch.DefaultBranch)
	if got := readFile(t, dir, "status/factory-a.yaml"); got != "revision: main@sha1:abc\n" {
		t.Fatalf("status file %q", got)
	}
	if got := readFile(t, dir, "STATUS.md"); got != "# Fleet status\n" {
		t.Fatalf("STATUS.md %q", got)
	}
	env := gitEnv(t)
	// Orphan: no parent, and nothing of main's tree.
	if parents := strings.TrimSpace(run(t, env, dir, "log", "-1", "--format=%P")); parents != "" {
		t.Fatalf("first status commit has parents %q, want an orphan", parents)
	}
	if _, err := os.Stat(filepath.Join(dir, "clusters")); !os.IsNotExist(err) {
		t.Fatal("status branch contains the synced branch's files")
	}
	if who := strings.TrimSpace(run(t, env, dir, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%s")); who != "Status Bot <bot@example.com>|Status Bot <bot@example.com>|status: factory-a synced" {
		t.Fatalf("author/committer/message = %q", who)
	}
	if got := remoteHead(t, srv, "main"); got != mainHead {
		t.Fatalf("main moved from %s to %s", mainHead, got)
	}

	// Same content: no commit.
	before := remoteHead(t, srv, branch.DefaultBranch)
	committed, err = w.Write(ctx, map[string][]byte{"status/factory-a.yaml": []byte("revision: main@sha1:abc\n")}, "")
	if err != nil || committed {
		t.Fatalf("unchanged write: committed=%v err=%v", committed, err)
	}
	if after := remoteHead(t, srv, branch.DefaultBranch); after != before {
		t.Fatalf("unchanged write moved the branch %s -> %s", before, after)
	}

	// One file changes, the others stay; then a file is removed.
	if committed, err = w.Write(ctx, map[string][]byte{"status/factory-b.yaml": []byte("b\n")}, ""); err != nil || !committed {
		t.Fatalf("second write: committed=%v err=%v", committed, err)
	}
	if committed, err = w.Write(ctx, map[string][]byte{"status/factory-a.yaml": nil}, "factory-a removed"); err != nil || !committed {
		t.Fatalf("removal: committed=%v err=%v", committed, err)
	}
	dir = clone(t, srv, branch.DefaultBranch)
	if _, err := os.Stat(filepath.Join(dir, "status/factory-a.yaml")); !os.IsNotExist(err) {
		t.Fatal("removed file still present")
	}
	if readFile(t, dir, "status/factory-b.yaml") != "b\n" || readFile(t, dir, "STATUS.md") != "# Fleet status\n" {
		t.Fatal("files not named in a write were changed")
	}
	if n := strings.TrimSpace(run(t, env, dir, "rev-list", "--count", "HEAD")); n != "3" {
		t.Fatalf("%s commits on the status branch, want 3", n)
	}
	if msg := strings.TrimSpace(run(t, env, dir, "log", "-2", "--format=%s")); msg != "factory-a removed\n"+branch.DefaultMessage {
		t.Fatalf("messages %q", msg)
	}

	// Status commits do not change what is synced.
	f, err := source.NewFetcher(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	snap, err := f.Fetch(ctx, source.FetchSpec{URL: url, Auth: auth()})
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	if snap.Revision != mainHead {
		t.Fatalf("synced revision %s, want main's %s", snap.Revision, mainHead)
	}
}

func TestWriteRefusesBadInput(t *testing.T) {
	srv, url, _ := newServer(t)
	w := newWriter(t, url)
	for _, p := range []string{"", "/etc/passwd", "../escape", "status/../../x", "status/./a", ".git/config", "status/.GIT/x", "status/", `status\a`} {
		if _, err := w.Write(context.Background(), map[string][]byte{p: []byte("x")}, ""); err == nil || !strings.Contains(err.Error(), "write status file") {
			t.Errorf("path %q: want an error naming the file, got %v", p, err)
		}
	}
	if _, err := w.Write(context.Background(), map[string][]byte{"status": []byte("x"), "status/a": []byte("y")}, ""); err == nil {
		t.Error("a file and a directory of the same name were accepted")
	}
	if got := remoteHead(t, srv, branch.DefaultBranch); got != "" {
		t.Fatalf("refused writes pushed %s", got)
	}

	if _, err := branch.NewWriter(branch.Options{URL: url, Branch: "bad..name"}); err == nil {
		t.Error("invalid branch name accepted")
	}
	if _, err := branch.NewWriter(branch.Options{URL: "file:///tmp/x"}); err == nil {
		t.Error("file URL accepted")
	}
	if err := branch.ValidateBranches("main", "main"); err == nil {
		t.Error("status branch equal to the synced branch accepted")
	}
	if err := branch.ValidateBranches("", "main"); err != nil {
		t.Error(err)
	}
}

func TestWriteWrongPasswordIsNotRetried(t *testing.T) {
	_, url, _ := newServer(t)
	const wrong = "Wr0ng-Password-Here"
	w := newWriter(t, url, func(o *branch.Options) {
		o.Auth = &source.Auth{Username: testUser, Password: wrong}
		o.Backoff = 2 * time.Second
		o.MaxAttempts = 5
	})
	start := time.Now()
	_, err := w.Write(context.Background(), map[string][]byte{"STATUS.md": []byte("x")}, "")
	if err == nil {
		t.Fatal("write with a wrong password succeeded")
	}
	if strings.Contains(err.Error(), wrong) || !strings.HasPrefix(err.Error(), "write status to branch flotilla-status of "+url) {
		t.Fatalf("error %q leaks the password or does not say what failed", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("authentication failure was retried (took %s)", d)
	}
}

// TestWriteRetriesWhenBranchMoved makes another writer move the branch
// between this writer's fetch and push: the push is rejected by the server,
// and the write is re-applied on the new tip.
func TestWriteRetriesWhenBranchMoved(t *testing.T) {
	var other *branch.Writer
	var armed, intercepted atomic.Bool
	srv, url, _ := newServer(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if armed.Load() && strings.HasSuffix(r.URL.Path, "/git-receive-pack") && intercepted.CompareAndSwap(false, true) {
				if _, err := other.Write(r.Context(), map[string][]byte{"status/other.yaml": []byte("from the other writer\n")}, "other"); err != nil {
					t.Errorf("other writer: %v", err)
				}
			}
			next.ServeHTTP(w, r)
		})
	})
	w := newWriter(t, url, func(o *branch.Options) { o.Backoff = 10 * time.Millisecond })
	other = newWriter(t, url)

	// Seed the branch so both writers start from the same tip.
	if _, err := other.Write(context.Background(), map[string][]byte{"STATUS.md": []byte("seed\n")}, "seed"); err != nil {
		t.Fatal(err)
	}
	armed.Store(true)

	var retries atomic.Int32
	logger := funcr.New(func(_, args string) {
		if strings.Contains(args, "retrying on the new tip") {
			retries.Add(1)
		}
	}, funcr.Options{Verbosity: 1})
	ctx := ctrllog.IntoContext(context.Background(), logger)
	committed, err := w.Write(ctx, map[string][]byte{"status/mine.yaml": []byte("mine\n")}, "mine")
	if err != nil || !committed {
		t.Fatalf("write: committed=%v err=%v", committed, err)
	}
	if !intercepted.Load() || retries.Load() == 0 {
		t.Fatalf("the race was not exercised (intercepted=%v retries=%d)", intercepted.Load(), retries.Load())
	}
	dir := clone(t, srv, branch.DefaultBranch)
	if readFile(t, dir, "status/mine.yaml") != "mine\n" || readFile(t, dir, "status/other.yaml") != "from the other writer\n" || readFile(t, dir, "STATUS.md") != "seed\n" {
		t.Fatal("a writer's file was lost")
	}
	log := strings.TrimSpace(run(t, gitEnv(t), dir, "log", "--format=%s|%P"))
	lines := strings.Split(log, "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "mine|") || !strings.HasPrefix(lines[1], "other|") || lines[2] != "seed|" {
		t.Fatalf("history is not seed <- other <- mine:\n%s", log)
	}
}

func TestConcurrentWritersLoseNothing(t *testing.T) {
	srv, url, _ := newServer(t)
	const rounds = 12
	writers := []string{"hub-a", "hub-b"}

	var retries atomic.Int32
	logger := funcr.New(func(_, args string) {
		if strings.Contains(args, "retrying on the new tip") {
			retries.Add(1)
		}
	}, funcr.Options{Verbosity: 1})
	ctx := ctrllog.IntoContext(context.Background(), logger)

	var commits atomic.Int32
	var wg sync.WaitGroup
	for _, name := range writers {
		w := newWriter(t, url, func(o *branch.Options) {
			o.Backoff = 20 * time.Millisecond
			o.MaxAttempts = 40
			o.Author.Name = name
		})
		wg.Go(func() {
			for i := range rounds {
				files := map[string][]byte{
					"status/" + name + ".yaml":       fmt.Appendf(nil, "writer: %s\nround: %d\n", name, i),
					"status/" + name + "-lines.yaml": fmt.Appendf(nil, "lines: %d\n", i*10),
				}
				committed, err := w.Write(ctx, files, fmt.Sprintf("%s round %d", name, i))
				if err != nil {
					t.Errorf("%s round %d: %v", name, i, err)
					return
				}
				if committed {
					commits.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("%d commits, %d rejected pushes retried", commits.Load(), retries.Load())
	if commits.Load() != int32(rounds*len(writers)) {
		t.Fatalf("%d writes committed, want %d (every round changes content)", commits.Load(), rounds*len(writers))
	}

	dir := clone(t, srv, branch.DefaultBranch)
	env := gitEnv(t)
	for _, name := range writers {
		if got, want := readFile(t, dir, "status/"+name+".yaml"), fmt.Sprintf("writer: %s\nround: %d\n", name, rounds-1); got != want {
			t.Errorf("status/%s.yaml = %q, want the last round %q", name, got, want)
		}
		if got, want := readFile(t, dir, "status/"+name+"-lines.yaml"), fmt.Sprintf("lines: %d\n", (rounds-1)*10); got != want {
			t.Errorf("status/%s-lines.yaml = %q, want %q", name, got, want)
		}
	}
	// Linear: every commit has at most one parent, one root, and every
	// committed write is in the history (none was overwritten).
	if merges := strings.TrimSpace(run(t, env, dir, "rev-list", "--min-parents=2", "HEAD")); merges != "" {
		t.Fatalf("merge commits in the status history: %s", merges)
	}
	if roots := strings.Fields(run(t, env, dir, "rev-list", "--max-parents=0", "HEAD")); len(roots) != 1 {
		t.Fatalf("%d root commits, want 1", len(roots))
	}
	if n := strings.TrimSpace(run(t, env, dir, "rev-list", "--count", "HEAD")); n != fmt.Sprint(rounds*len(writers)) {
		t.Fatalf("%s commits in history, want %d", n, rounds*len(writers))
	}
	subjects := run(t, env, dir, "log", "--format=%s")
	for _, name := range writers {
		for i := range rounds {
			if !strings.Contains(subjects, fmt.Sprintf("%s round %d\n", name, i)) {
				t.Fatalf("commit %q missing from history", fmt.Sprintf("%s round %d", name, i))
			}
		}
	}
}

func TestOwnedDirRemovesFilesNotWrittenAgain(t *testing.T) {
	srv, url, _ := newServer(t)
	ctx := context.Background()
	// A first writer (a controller before a restart) writes two sites.
	first := newWriter(t, url)
	if _, err := first.Write(ctx, map[string][]byte{
		"status/site-a.yaml": []byte("a\n"),
		"status/site-b.yaml": []byte("b\n"),
		"STATUS.md":          []byte("two sites\n"),
	}, "two sites"); err != nil {
		t.Fatal(err)
	}
	// A new writer owning status/ writes only site-a: site-b left the fleet.
	owner := newWriter(t, url, func(o *branch.Options) { o.OwnedDir = "status" })
	committed, err := owner.Write(ctx, map[string][]byte{
		"status/site-a.yaml": []byte("a2\n"),
		"STATUS.md":          []byte("one site\n"),
	}, "one site")
	if err != nil || !committed {
		t.Fatalf("write: committed=%v err=%v", committed, err)
	}
	dir := clone(t, srv, branch.DefaultBranch)
	if _, err := os.Stat(filepath.Join(dir, "status/site-b.yaml")); !os.IsNotExist(err) {
		t.Fatalf("status/site-b.yaml must be removed, stat err %v", err)
	}
	if got := readFile(t, dir, "status/site-a.yaml"); got != "a2\n" {
		t.Fatalf("status/site-a.yaml = %q", got)
	}
	if got := readFile(t, dir, "STATUS.md"); got != "one site\n" {
		t.Fatalf("STATUS.md = %q", got)
	}
}
