package controllers

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// loadedStamps remembers a string per repository: the stamp (revision and
// generation) whose desired state is in the store, or the URL it fetches. It is safe for
// concurrent use, so the FleetRepository controller stays correct with any
// number of concurrent reconciles. The zero value is ready to use.
type loadedStamps struct {
	mu sync.Mutex
	m  map[types.NamespacedName]string
}

// is reports whether stamp is what was loaded for repo.
func (l *loadedStamps) is(repo types.NamespacedName, stamp string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.m[repo]
	return ok && s == stamp
}

// set records that stamp was loaded for repo.
func (l *loadedStamps) set(repo types.NamespacedName, stamp string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[types.NamespacedName]string{}
	}
	l.m[repo] = stamp
}

// forget makes the next reconcile of repo load it again.
func (l *loadedStamps) forget(repo types.NamespacedName) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, repo)
}

// get returns what was recorded for repo.
func (l *loadedStamps) get(repo types.NamespacedName) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.m[repo]
	return s, ok
}

// len returns how many repositories are recorded.
func (l *loadedStamps) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
