package controllers

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
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
	// AdoptExisting lets the app take over objects that exist without
	// Flotilla owner labels (the app's spec.adoptExisting).
	AdoptExisting bool

	// encoded is the pull-mode encoding of Objects, computed at most once
	// however many Bundles carry it (see pull_bundle.go).
	encoded encodedOnce
}

// syncKey identifies one (app, cluster) pair of one repository.
type syncKey struct {
	Repo    types.NamespacedName
	App     string
	Cluster string
}

// desiredStore holds the latest rendered desired state per (app, cluster),
// shared by the repository reconciler (writer) and the ClusterSync and App
// reconcilers (readers). It holds what the latest revision renders, plus,
// for sites a rollout has not moved yet, the render of the revision they
// run (pins): memory grows with the fleet's desired state and the
// rollouts in progress, not with history. It is the only record of the
// desired state: ClusterSync objects carry what was applied, and changes
// reach the ClusterSync reconciler through changes, not through writes to
// the hub.
type desiredStore struct {
	mu    sync.RWMutex
	items map[syncKey]*Desired
	// pins are renders of older revisions that ClusterSyncs are held at
	// by their app's rollout (see pins.go).
	pins map[syncKey]*Desired
	// changes wakes the ClusterSyncs whose desired state was replaced.
	changes *syncNotifier
	// pinRequests wakes the repository reconciler when a sync is released
	// to a revision that is rendered neither as the latest nor as a pin.
	pinRequests *syncNotifier
}

func newDesiredStore() *desiredStore {
	return &desiredStore{
		items: map[syncKey]*Desired{}, pins: map[syncKey]*Desired{},
		changes: newSyncNotifier(), pinRequests: newSyncNotifier(),
	}
}

// keyOf returns the store key of a ClusterSync.
func keyOf(cs *flotillav1.ClusterSync) syncKey {
	return syncKey{
		Repo:    types.NamespacedName{Namespace: cs.Namespace, Name: cs.Labels[flotillav1.LabelRepository]},
		App:     cs.Spec.App,
		Cluster: cs.Spec.Cluster,
	}
}

// of returns the desired state a ClusterSync should run, or nil when this
// process has not rendered it (yet) or its rollout has released nothing
// to it. Without a rollout that is the latest render; with one, the render
// of the revision the rollout released to the sync.
func (s *desiredStore) of(cs *flotillav1.ClusterSync) *Desired {
	key := keyOf(cs)
	s.mu.RLock()
	defer s.mu.RUnlock()
	head := s.items[key]
	if cs.Spec.Rollout == nil {
		return head
	}
	rel := cs.Spec.Rollout.Revision
	switch {
	case rel == "":
		return nil
	case head != nil && head.Revision == rel:
		return head
	}
	if p := s.pins[key]; p != nil && p.Revision == rel {
		return p
	}
	return nil
}

// head returns the latest render of a ClusterSync's pair, whatever its
// rollout released, or nil.
func (s *desiredStore) head(cs *flotillav1.ClusterSync) *Desired {
	return s.get(keyOf(cs))
}

// get returns the desired state of key, or nil.
func (s *desiredStore) get(key syncKey) *Desired {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.items[key]
}

// replaceRepo sets the desired states of one repository and wakes their
// ClusterSyncs. Entries of the repository whose key is absent from next are
// dropped; keys listed in keep are left as they are (their render failed:
// the previous state stays).
//
// It returns the renders it replaced, so that the repository reconciler can
// keep those that rollouts still hold sites at (see setPins).
func (s *desiredStore) replaceRepo(repo types.NamespacedName, next map[syncKey]*Desired, keep map[syncKey]bool) map[syncKey]*Desired {
	s.mu.Lock()
	replaced := map[syncKey]*Desired{}
	for k, v := range s.items {
		if k.Repo == repo && next[k] == nil && !keep[k] {
			replaced[k] = v
			delete(s.items, k)
		}
	}
	names := make([]types.NamespacedName, 0, len(next))
	for k, v := range next {
		if old := s.items[k]; old != nil && old != v {
			replaced[k] = old
		}
		s.items[k] = v
		names = append(names, types.NamespacedName{Namespace: k.Repo.Namespace, Name: syncName(k.App, k.Cluster)})
	}
	s.mu.Unlock()
	s.changes.notify(names...)
	return replaced
}

// dropRepo forgets every desired state of a repository, pins included.
func (s *desiredStore) dropRepo(repo types.NamespacedName) {
	s.replaceRepo(repo, nil, nil)
	s.setPins(repo, nil)
}
