package source_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/flotilla-gitops/flotilla/source"
)

// TestRemoveGivesBackMemoryAndDisk fetches and removes 200 repositories,
// one after the other, from a real Git server: afterwards the Fetcher holds
// no repository in memory and its cache folder is empty, as it was before
// the first fetch.
func TestRemoveGivesBackMemoryAndDisk(t *testing.T) {
	srv := newServer(t, testUser, testPass)
	srv.createRepo(t, "seed.git")
	w := newWorkTree(t, srv.pushURL("seed.git"))
	w.write("clusters/factory-a.yaml", "name: factory-a\n")
	w.commit("first")
	w.git("push", "--quiet", "origin", "main")
	seed := filepath.Join(srv.Root(), "seed.git")

	cacheDir := t.TempDir()
	f, err := source.NewFetcher(cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const cycles = 200
	for i := range cycles {
		name := fmt.Sprintf("fleet-%d.git", i)
		if err := os.CopyFS(filepath.Join(srv.Root(), name), os.DirFS(seed)); err != nil {
			t.Fatal(err)
		}
		url := srv.HTTPAddress() + "/" + name
		snap, err := f.Fetch(ctx, source.FetchSpec{URL: url, Auth: basicAuth()})
		if err != nil {
			t.Fatalf("cycle %d: fetch: %v", i, err)
		}
		if got := readFile(t, snap.Dir, "clusters/factory-a.yaml"); got != "name: factory-a\n" {
			t.Fatalf("cycle %d: fetched %q", i, got)
		}
		snap.Release()
		if n := f.CachedRepositories(); n != 1 {
			t.Fatalf("cycle %d: %d repositories in memory after a fetch, want 1", i, n)
		}
		if _, err := os.Stat(f.RepositoryDir(url)); err != nil {
			t.Fatalf("cycle %d: no cache on disk after a fetch: %v", i, err)
		}
		if err := f.Remove(ctx, url); err != nil {
			t.Fatalf("cycle %d: remove: %v", i, err)
		}
	}
	if n := f.CachedRepositories(); n != 0 {
		t.Fatalf("%d repositories still in memory after %d fetch/remove cycles, want 0", n, cycles)
	}
	left, err := os.ReadDir(cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Fatalf("%d entries left in the cache folder after %d fetch/remove cycles, e.g. %s", len(left), cycles, left[0].Name())
	}
}

// TestRemoveThenFetchAgain removes a repository
// and fetches it again: the second fetch must rebuild the cache from
// scratch and work.
func TestRemoveThenFetchAgain(t *testing.T) {
	srv := newServer(t, testUser, testPass)
	url := srv.createRepo(t, "fleet.git")
	w := newWorkTree(t, srv.pushURL("fleet.git"))
	w.write("n", "1")
	rev := w.commit("first")
	w.git("push", "--quiet", "origin", "main")
	f := newFetcher(t)
	ctx := context.Background()
	for i := range 2 {
		snap, err := f.Fetch(ctx, source.FetchSpec{URL: url, Auth: basicAuth()})
		if err != nil {
			t.Fatalf("fetch %d: %v", i, err)
		}
		if snap.Revision != rev {
			t.Fatalf("fetch %d: revision %s, want %s", i, snap.Revision, rev)
		}
		snap.Release()
		if err := f.Remove(ctx, url); err != nil {
			t.Fatalf("remove %d: %v", i, err)
		}
		if _, err := os.Stat(f.RepositoryDir(url)); !os.IsNotExist(err) {
			t.Fatalf("remove %d: cache still on disk (stat: %v)", i, err)
		}
	}
}
