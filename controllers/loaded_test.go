package controllers

import (
	"fmt"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

// The FleetRepository reconciler's memory of what it loaded is used by
// concurrent reconciles (of different repositories, when
// MaxConcurrentReconciles is raised); run with -race.
func TestLoadedStampsAreSafeForConcurrentReconciles(t *testing.T) {
	r := &FleetRepositoryReconciler{}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			repo := types.NamespacedName{Namespace: "fleet", Name: fmt.Sprintf("repo-%d", i%2)}
			for j := range 200 {
				stamp := fmt.Sprintf("main@sha1:%d/1", j)
				r.loaded.set(repo, stamp)
				_ = r.loaded.is(repo, stamp)
				if j%10 == 0 {
					r.loaded.forget(repo)
				}
			}
		})
	}
	wg.Wait()
	repo := types.NamespacedName{Namespace: "fleet", Name: "repo-0"}
	r.loaded.set(repo, "main@sha1:x/2")
	if !r.loaded.is(repo, "main@sha1:x/2") || r.loaded.is(repo, "main@sha1:x/1") {
		t.Error("loaded must match only the stamp set last")
	}
	r.loaded.forget(repo)
	if r.loaded.is(repo, "main@sha1:x/2") {
		t.Error("a forgotten repository must be loaded again")
	}
}
