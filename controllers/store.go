package controllers

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// Desired is the rendered desired state of one app on one cluster.
type Desired struct {
	// Revision is the Git revision it was rendered from.
	Revision string
	// Digest is the content digest of the manifests.
	Digest string
	// Namespace is the app's target namespace.
	Namespace string
	// Objects are the rendered objects. They are shared and must not be
	// modified: copy before changing.
	Objects []*unstructured.Unstructured
	// Prune deletes objects the manifests no longer hold.
	Prune bool
	// HealthTimeout bounds the wait for readiness.
	HealthTimeout time.Duration
}

// syncKey identifies one (app, cluster) pair of one repository.
type syncKey struct {
	Repo    types.NamespacedName
	App     string
	Cluster string
}

// desiredStore holds the latest rendered desired state per (app, cluster),
// shared by the repository reconciler (writer) and the ClusterSync
// reconciler (reader). It holds only what the latest revision renders, so
// memory grows with the fleet's desired state, not with history.
type desiredStore struct {
	mu    sync.RWMutex
	items map[syncKey]*Desired
}

func newDesiredStore() *desiredStore {
	return &desiredStore{items: map[syncKey]*Desired{}}
}

// get returns the desired state of key, or nil.
func (s *desiredStore) get(key syncKey) *Desired {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.items[key]
}

// replaceRepo sets the desired states of one repository. Entries of the
// repository whose key is absent from next are dropped; keys listed in keep
// are left as they are (their render failed: the previous state stays).
func (s *desiredStore) replaceRepo(repo types.NamespacedName, next map[syncKey]*Desired, keep map[syncKey]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.items {
		if k.Repo == repo && next[k] == nil && !keep[k] {
			delete(s.items, k)
		}
	}
	for k, v := range next {
		s.items[k] = v
	}
}

// dropRepo forgets every desired state of a repository.
func (s *desiredStore) dropRepo(repo types.NamespacedName) {
	s.replaceRepo(repo, nil, nil)
}
