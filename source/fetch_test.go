package source_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flotilla-gitops/flotilla/source"
)

const (
	testUser = "fleet-bot"
	testPass = "Sup3r-S3cret-Passw0rd"
)

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("read %s from snapshot: %v", name, err)
	}
	return string(b)
}

func basicAuth() *source.Auth {
	return &source.Auth{Username: testUser, Password: testPass}
}

func newFetcher(t *testing.T, opts ...source.Option) *source.Fetcher {
	t.Helper()
	f, err := source.NewFetcher(t.TempDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFetchIsIncremental(t *testing.T) {
	srv := newServer(t, testUser, testPass)
	url := srv.createRepo(t, "fleet.git")
	w := newWorkTree(t, srv.pushURL("fleet.git"))
	big := randomText(t, 400<<10)
	w.write("clusters/factory-a.yaml", "name: factory-a\n")
	w.write("blob.txt", big)
	first := w.commit("first")
	w.git("push", "--quiet", "origin", "main")

	f := newFetcher(t)
	ctx := context.Background()
	snap, err := f.Fetch(ctx, source.FetchSpec{URL: url, Auth: basicAuth()})
	if err != nil {
		t.Fatalf("first fetch: %v", err)
	}
	if snap.Revision != first || snap.Ref != "main@sha1:"+first {
		t.Fatalf("first fetch: got revision %s ref %s, want %s", snap.Revision, snap.Ref, first)
	}
	if got := readFile(t, snap.Dir, "clusters/factory-a.yaml"); got != "name: factory-a\n" {
		t.Fatalf("first fetch: cluster file = %q", got)
	}
	if !strings.HasPrefix(snap.Dir, f.RepositoryDir(url)+string(filepath.Separator)) {
		t.Fatalf("snapshot %s is not inside the repository cache %s", snap.Dir, f.RepositoryDir(url))
	}
	firstBytes := srv.sent.Load()
	if firstBytes < 200<<10 {
		t.Fatalf("first fetch downloaded only %d bytes; the test expects the big blob to be transferred", firstBytes)
	}
	snap.Release()

	w.write("clusters/factory-a.yaml", "name: factory-a\nlabels: {gpu: \"true\"}\n")
	second := w.commit("second")
	w.git("push", "--quiet", "origin", "main")

	srv.sent.Store(0)
	snap2, err := f.Fetch(ctx, source.FetchSpec{URL: url, Auth: basicAuth()})
	if err != nil {
		t.Fatalf("second fetch: %v", err)
	}
	defer snap2.Release()
	if snap2.Revision != second {
		t.Fatalf("second fetch: revision %s, want %s", snap2.Revision, second)
	}
	if got := readFile(t, snap2.Dir, "clusters/factory-a.yaml"); !strings.Contains(got, "gpu") {
		t.Fatalf("second fetch: cluster file not updated: %q", got)
	}
	if got := readFile(t, snap2.Dir, "blob.txt"); got != big {
		t.Fatal("second fetch: unchanged big file differs")
	}
	if n := srv.sent.Load(); n > 32<<10 {
		t.Fatalf("incremental fetch downloaded %d bytes (first fetch %d): the cache was not reused", n, firstBytes)
	}
	if !strings.HasPrefix(snap2.Dir, f.RepositoryDir(url)) {
		t.Fatalf("second snapshot %s is outside the same cache %s", snap2.Dir, f.RepositoryDir(url))
	}

	// Nothing new: the fetch is a no-op and the extracted tree is reused.
	srv.sent.Store(0)
	snap3, err := f.Fetch(ctx, source.FetchSpec{URL: url, Auth: basicAuth()})
	if err != nil {
		t.Fatalf("third fetch: %v", err)
	}
	defer snap3.Release()
	if snap3.Dir != snap2.Dir {
		t.Fatalf("same revision extracted twice: %s and %s", snap2.Dir, snap3.Dir)
	}
	if n := srv.sent.Load(); n > 4<<10 {
		t.Fatalf("up-to-date fetch downloaded %d bytes", n)
	}
}

func TestFetchFollowsForcePush(t *testing.T) {
	srv := newServer(t, testUser, testPass)
	url := srv.createRepo(t, "fleet.git")
	w := newWorkTree(t, srv.pushURL("fleet.git"))
	w.write("a.txt", "a\n")
	base := w.commit("a")
	w.write("b.txt", "b\n")
	w.commit("b")
	w.git("push", "--quiet", "origin", "main")

	f := newFetcher(t)
	ctx := context.Background()
	snap, err := f.Fetch(ctx, source.FetchSpec{URL: url, Auth: basicAuth()})
	if err != nil {
		t.Fatal(err)
	}
	snap.Release()

	w.git("reset", "--quiet", "--hard", base)
	w.write("c.txt", "c\n")
	rewritten := w.commit("c instead of b")
	w.git("push", "--quiet", "--force", "origin", "main")

	snap, err = f.Fetch(ctx, source.FetchSpec{URL: url, Auth: basicAuth()})
	if err != nil {
		t.Fatalf("fetch after force-push: %v", err)
	}
	defer snap.Release()
	if snap.Revision != rewritten {
		t.Fatalf("after force-push: revision %s, want %s", snap.Revision, rewritten)
	}
	if _, err := os.Stat(filepath.Join(snap.Dir, "b.txt")); !os.IsNotExist(err) {
		t.Fatalf("b.txt from the discarded commit is still in the snapshot (stat error %v)", err)
	}
	readFile(t, snap.Dir, "c.txt")
}

func TestFetchTagsAndCommits(t *testing.T) {
	srv := newServer(t, testUser, testPass)
	url := srv.createRepo(t, "fleet.git")
	w := newWorkTree(t, srv.pushURL("fleet.git"))
	w.write("version", "1\n")
	v1 := w.commit("v1")
	w.git("tag", "-a", "v1", "-m", "release 1")
	w.git("tag", "light", v1)
	w.write("version", "2\n")
	v2 := w.commit("v2")
	w.git("push", "--quiet", "origin", "main", "--tags")
	w.git("checkout", "--quiet", "-b", "other", v1)
	w.write("other", "x\n")
	otherTip := w.commit("on other")
	w.git("push", "--quiet", "origin", "other")

	f := newFetcher(t)
	ctx := context.Background()
	fetch := func(ref source.Ref) (*source.Snapshot, error) {
		snap, err := f.Fetch(ctx, source.FetchSpec{URL: url, Ref: ref, Auth: basicAuth()})
		if snap != nil {
			t.Cleanup(snap.Release)
		}
		return snap, err
	}
	cases := []struct {
		name    string
		ref     source.Ref
		rev     string
		label   string
		version string
	}{
		{"annotated tag", source.Ref{Tag: "v1"}, v1, "v1@sha1:" + v1, "1\n"},
		{"lightweight tag", source.Ref{Tag: "light"}, v1, "light@sha1:" + v1, "1\n"},
		{"commit", source.Ref{Commit: v1}, v1, "sha1:" + v1, "1\n"},
		{"short commit", source.Ref{Commit: v2[:10]}, v2, "sha1:" + v2, "2\n"},
		{"commit on branch", source.Ref{Branch: "main", Commit: v1}, v1, "main@sha1:" + v1, "1\n"},
		{"other branch", source.Ref{Branch: "other"}, otherTip, "other@sha1:" + otherTip, "1\n"},
		{"default branch", source.Ref{}, v2, "main@sha1:" + v2, "2\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap, err := fetch(tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			if snap.Revision != tc.rev || snap.Ref != tc.label {
				t.Fatalf("got %s / %s, want %s / %s", snap.Revision, snap.Ref, tc.rev, tc.label)
			}
			if got := readFile(t, snap.Dir, "version"); got != tc.version {
				t.Fatalf("version file %q, want %q", got, tc.version)
			}
		})
	}

	missing := []struct {
		name string
		ref  source.Ref
	}{
		{"missing branch", source.Ref{Branch: "nope"}},
		{"missing tag", source.Ref{Tag: "v9"}},
		{"missing commit", source.Ref{Commit: strings.Repeat("ab", 20)}},
		{"commit not on branch", source.Ref{Branch: "main", Commit: otherTip}},
	}
	for _, tc := range missing {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fetch(tc.ref)
			if !errors.Is(err, source.ErrRefNotFound) {
				t.Fatalf("want ErrRefNotFound, got %v", err)
			}
			if !strings.HasPrefix(err.Error(), "fetch "+url) {
				t.Fatalf("error does not start with what failed: %v", err)
			}
		})
	}

	// A moved tag is followed.
	w.git("checkout", "--quiet", "main")
	w.git("tag", "-f", "-a", "v1", "-m", "release 1 again", v2)
	w.git("push", "--quiet", "--force", "origin", "v1")
	snap, err := fetch(source.Ref{Tag: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if snap.Revision != v2 {
		t.Fatalf("moved tag: revision %s, want %s", snap.Revision, v2)
	}

	if _, err := fetch(source.Ref{Branch: "bad:name"}); err == nil || !strings.Contains(err.Error(), "not a valid branch name") {
		t.Fatalf("invalid branch name: got %v", err)
	}
}

func TestFetchWrongCredentials(t *testing.T) {
	srv := newServer(t, testUser, testPass)
	url := srv.createRepo(t, "fleet.git")
	w := newWorkTree(t, srv.pushURL("fleet.git"))
	w.write("a", "a")
	w.commit("a")
	w.git("push", "--quiet", "origin", "main")
	f := newFetcher(t)
	ctx := context.Background()

	const wrong = "Wr0ng-Passw0rd-Value"
	_, err := f.Fetch(ctx, source.FetchSpec{URL: url, Auth: &source.Auth{Username: testUser, Password: wrong}})
	if err == nil {
		t.Fatal("fetch with a wrong password succeeded")
	}
	if strings.Contains(err.Error(), wrong) {
		t.Fatalf("error leaks the password: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "fetch "+url) || !strings.Contains(err.Error(), "authentication required") {
		t.Fatalf("error does not say what failed: %v", err)
	}

	// Credentials embedded in the URL never show up either.
	withCreds := strings.Replace(url, "http://", "http://"+testUser+":"+wrong+"@", 1)
	_, err = f.Fetch(ctx, source.FetchSpec{URL: withCreds})
	if err == nil {
		t.Fatal("fetch with wrong URL credentials succeeded")
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), testUser+":") {
		t.Fatalf("error leaks URL credentials: %v", err)
	}

	// Unreachable server with credentials in the URL.
	_, err = f.Fetch(ctx, source.FetchSpec{URL: "http://" + testUser + ":" + wrong + "@127.0.0.1:1/fleet.git", Timeout: 5 * time.Second})
	if err == nil || strings.Contains(err.Error(), wrong) {
		t.Fatalf("unreachable server: want an error without the password, got %v", err)
	}

	// The right password works on the same cache.
	snap, err := f.Fetch(ctx, source.FetchSpec{URL: url, Auth: basicAuth()})
	if err != nil {
		t.Fatalf("fetch with the right password: %v", err)
	}
	snap.Release()

	// Credentials in the URL work and are never written to the cache.
	rightInURL := strings.Replace(url, "http://", "http://"+testUser+":"+testPass+"@", 1)
	if f.RepositoryDir(rightInURL) != f.RepositoryDir(url) {
		t.Fatal("credentials in the URL change the cache directory")
	}
	snap, err = f.Fetch(ctx, source.FetchSpec{URL: rightInURL})
	if err != nil {
		t.Fatalf("fetch with credentials in the URL: %v", err)
	}
	snap.Release()
	_ = filepath.Walk(f.RepositoryDir(url), func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), testPass) {
				t.Errorf("%s holds the password", p)
			}
		}
		return nil
	})
}

func TestFetchBearerToken(t *testing.T) {
	const token = "t0ken-abcdef-123456"
	srv := newServer(t, "", "", func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reading := strings.HasSuffix(r.URL.Path, "/git-upload-pack") || r.URL.Query().Get("service") == "git-upload-pack"
			if reading && r.Header.Get("Authorization") != "Bearer "+token {
				w.Header().Set("WWW-Authenticate", `Bearer realm="test"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	url := srv.createRepo(t, "fleet.git")
	w := newWorkTree(t, srv.pushURL("fleet.git"))
	w.write("a", "a")
	head := w.commit("a")
	w.git("push", "--quiet", "origin", "main")

	f := newFetcher(t)
	snap, err := f.Fetch(context.Background(), source.FetchSpec{URL: url, Auth: &source.Auth{BearerToken: token}})
	if err != nil {
		t.Fatalf("fetch with bearer token: %v", err)
	}
	snap.Release()
	if snap.Revision != head {
		t.Fatalf("revision %s, want %s", snap.Revision, head)
	}
	_, err = f.Fetch(context.Background(), source.FetchSpec{URL: url, Auth: &source.Auth{BearerToken: "other-token-value"}})
	if err == nil || strings.Contains(err.Error(), "other-token-value") {
		t.Fatalf("wrong token: want an error without the token, got %v", err)
	}
}

func TestFetchSizeCap(t *testing.T) {
	srv := newServer(t, testUser, testPass)
	ctx := context.Background()

	t.Run("repository", func(t *testing.T) {
		url := srv.createRepo(t, "big.git")
		w := newWorkTree(t, srv.pushURL("big.git"))
		w.write("big.txt", randomText(t, 3<<20))
		w.commit("big")
		w.git("push", "--quiet", "origin", "main")
		f := newFetcher(t)
		_, err := f.Fetch(ctx, source.FetchSpec{URL: url, Auth: basicAuth(), MaxSize: 1 << 20})
		if !errors.Is(err, source.ErrTooLarge) {
			t.Fatalf("want ErrTooLarge, got %v", err)
		}
		if size := dirSize(t, f.RepositoryDir(url)); size > 1<<20 {
			t.Fatalf("oversized download left %d bytes in the cache", size)
		}
		// The same repository fits a larger cap.
		snap, err := f.Fetch(ctx, source.FetchSpec{URL: url, Auth: basicAuth(), MaxSize: 16 << 20})
		if err != nil {
			t.Fatalf("fetch under a larger cap: %v", err)
		}
		snap.Release()
	})

	t.Run("checkout", func(t *testing.T) {
		url := srv.createRepo(t, "compressible.git")
		w := newWorkTree(t, srv.pushURL("compressible.git"))
		w.write("zeros.txt", strings.Repeat("0", 4<<20)) // tiny once compressed
		w.commit("zeros")
		w.git("push", "--quiet", "origin", "main")
		f := newFetcher(t)
		_, err := f.Fetch(ctx, source.FetchSpec{URL: url, Auth: basicAuth(), MaxSize: 1 << 20})
		if !errors.Is(err, source.ErrTooLarge) || !strings.Contains(err.Error(), "checkout is larger") {
			t.Fatalf("want ErrTooLarge for the checkout, got %v", err)
		}
		entries, _ := os.ReadDir(filepath.Join(f.RepositoryDir(url), "trees"))
		if len(entries) != 0 {
			t.Fatalf("a partial tree was left behind: %v", entries)
		}
	})
}

func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var total int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			total += info.Size()
		}
		return nil
	})
	return total
}

func TestFetchTimeout(t *testing.T) {
	srv := newServer(t, testUser, testPass, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/info/refs") {
				select { // a server that hangs
				case <-r.Context().Done():
				case <-time.After(20 * time.Second):
				}
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	url := srv.createRepo(t, "slow.git")
	f := newFetcher(t)
	start := time.Now()
	_, err := f.Fetch(context.Background(), source.FetchSpec{URL: url, Auth: basicAuth(), Timeout: 300 * time.Millisecond})
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out after 300ms") {
		t.Fatalf("want a timeout error, got %v", err)
	}
	if elapsed > 5*time.Second {
		t.Fatalf("timeout of 300ms took %s", elapsed)
	}
}

func TestFetchConcurrentSameRepository(t *testing.T) {
	srv := newServer(t, testUser, testPass)
	url := srv.createRepo(t, "fleet.git")
	w := newWorkTree(t, srv.pushURL("fleet.git"))
	for i := range 20 {
		w.write(filepath.Join("apps", "app"+string(rune('a'+i)), "app.yaml"), randomText(t, 2048))
	}
	head := w.commit("apps")
	w.git("push", "--quiet", "origin", "main")

	f := newFetcher(t)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Go(func() {
			snap, err := f.Fetch(context.Background(), source.FetchSpec{URL: url, Auth: basicAuth()})
			if err != nil {
				errs <- err
				return
			}
			defer snap.Release()
			if snap.Revision != head {
				errs <- errors.New("wrong revision " + snap.Revision)
			}
			if _, err := os.Stat(filepath.Join(snap.Dir, "apps", "appa", "app.yaml")); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestFetchRecoversFromCorruptCache(t *testing.T) {
	srv := newServer(t, testUser, testPass)
	url := srv.createRepo(t, "fleet.git")
	w := newWorkTree(t, srv.pushURL("fleet.git"))
	w.write("big.txt", randomText(t, 64<<10))
	w.write("a.yaml", "a: 1\n")
	w.commit("one")
	w.git("push", "--quiet", "origin", "main")
	f := newFetcher(t)
	ctx := context.Background()
	snap, err := f.Fetch(ctx, source.FetchSpec{URL: url, Auth: basicAuth()})
	if err != nil {
		t.Fatal(err)
	}
	snap.Release()

	// Overwrite the middle of every cached pack, as a crash or a bad disk
	// would, then push a commit that needs the damaged objects.
	packs, _ := filepath.Glob(filepath.Join(f.RepositoryDir(url), "git", "objects", "pack", "*.pack"))
	if len(packs) == 0 {
		t.Fatal("no pack in the cache")
	}
	for _, p := range packs {
		fh, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := fh.Stat()
		if _, err := fh.WriteAt(make([]byte, info.Size()/2), 12); err != nil {
			t.Fatal(err)
		}
		fh.Close()
	}
	w.write("a.yaml", "a: 2\n")
	head := w.commit("two")
	w.git("push", "--quiet", "origin", "main")

	var logs strings.Builder
	logCtx := ctrllog.IntoContext(ctx, funcr.New(func(_, args string) { logs.WriteString(args + "\n") }, funcr.Options{}))
	snap, err = f.Fetch(logCtx, source.FetchSpec{URL: url, Auth: basicAuth()})
	if err != nil {
		t.Fatalf("fetch with a corrupt cache: %v", err)
	}
	if !strings.Contains(logs.String(), "git cache is corrupt") {
		t.Fatalf("the corruption was not detected; logs:\n%s", logs.String())
	}
	defer snap.Release()
	if snap.Revision != head || readFile(t, snap.Dir, "a.yaml") != "a: 2\n" {
		t.Fatalf("got %s, want %s with the new content", snap.Revision, head)
	}

	// An unreadable repository (garbage config) is re-initialised too.
	if err := os.WriteFile(filepath.Join(f.RepositoryDir(url), "git", "config"), []byte("[[[garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	snap2, err := f.Fetch(ctx, source.FetchSpec{URL: url, Auth: basicAuth()})
	if err != nil {
		t.Fatalf("fetch with a garbage config: %v", err)
	}
	snap2.Release()
	if b, _ := os.ReadFile(filepath.Join(f.RepositoryDir(url), "git", "config")); strings.Contains(string(b), "garbage") {
		t.Fatal("the unreadable cache was not re-initialised")
	}
}
