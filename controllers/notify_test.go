package controllers

import (
	"context"
	"sort"
	"testing"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// TestReplaceRepoWakesItsSyncs checks that a new render reaches the
// ClusterSync controller's queue, whether it happens before the controller
// starts (kept, then handed over) or after (queued at once), and that a
// sync named twice is queued once.
func TestReplaceRepoWakesItsSyncs(t *testing.T) {
	store := newDesiredStore()
	repo := types.NamespacedName{Namespace: "fleet", Name: "repo"}
	store.replaceRepo(repo, map[syncKey]*Desired{
		{Repo: repo, App: "web", Cluster: "a"}: {Revision: "r1", Digest: "d1"},
	}, nil)

	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer q.ShutDown()
	if err := store.changes.source().Start(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	if got := drain(q); len(got) != 1 || got[0] != "fleet/web.a" {
		t.Fatalf("before start: queued %v, want [fleet/web.a]", got)
	}

	next := map[syncKey]*Desired{
		{Repo: repo, App: "web", Cluster: "a"}: {Revision: "r2", Digest: "d1"},
		{Repo: repo, App: "web", Cluster: "b"}: {Revision: "r2", Digest: "d2"},
	}
	store.replaceRepo(repo, next, nil)
	store.replaceRepo(repo, next, nil)
	if got := drain(q); len(got) != 2 || got[0] != "fleet/web.a" || got[1] != "fleet/web.b" {
		t.Fatalf("after start: queued %v, want [fleet/web.a fleet/web.b]", got)
	}
	if d := store.get(syncKey{Repo: repo, App: "web", Cluster: "a"}); d == nil || d.Revision != "r2" {
		t.Fatalf("store holds %+v, want revision r2", d)
	}
}

// drain returns the sorted names of everything queued.
func drain(q workqueue.TypedRateLimitingInterface[reconcile.Request]) []string {
	var out []string
	for q.Len() > 0 {
		req, _ := q.Get()
		out = append(out, req.String())
		q.Done(req)
	}
	sort.Strings(out)
	return out
}
