package controllers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// Pins: while an app's rollout holds a site at an older revision, that
// site keeps being drift-corrected and health-checked at the revision it
// runs. The repository reconciler keeps the renders of those revisions in
// the store: the render a new commit replaced when it is the one a site is
// held at, or, after a restart or for a rollback to an older revision, a
// render of that revision from the Git cache.

// pin returns the pinned render of key, or nil.
func (s *desiredStore) pin(key syncKey) *Desired {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.pins[key]
}

// setPins replaces the pins of one repository and wakes the ClusterSyncs
// whose pin changed.
func (s *desiredStore) setPins(repo types.NamespacedName, next map[syncKey]*Desired) {
	s.mu.Lock()
	var names []types.NamespacedName
	for k := range s.pins {
		if k.Repo == repo && next[k] == nil {
			delete(s.pins, k)
		}
	}
	for k, v := range next {
		if s.pins[k] != v {
			names = append(names, types.NamespacedName{Namespace: k.Repo.Namespace, Name: syncName(k.App, k.Cluster)})
		}
		s.pins[k] = v
	}
	s.mu.Unlock()
	s.changes.notify(names...)
}

// requestPin asks the repository reconciler of cs to render the revision
// cs's rollout released to it.
func (s *desiredStore) requestPin(cs *flotillav1.ClusterSync) {
	s.pinRequests.notify(types.NamespacedName{Namespace: cs.Namespace, Name: cs.Labels[flotillav1.LabelRepository]})
}

// wantedPins returns, per ClusterSync of the repository, the revision its
// rollout holds it at when that is not the latest render.
func (r *FleetRepositoryReconciler) wantedPins(ctx context.Context, obj *flotillav1.FleetRepository) (map[syncKey]string, error) {
	list := &flotillav1.ClusterSyncList{}
	if err := r.List(ctx, list, client.InNamespace(obj.Namespace), client.MatchingLabels(repoLabels(obj)), client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list ClusterSyncs of %s: %w", client.ObjectKeyFromObject(obj), err)
	}
	wanted := map[syncKey]string{}
	for i := range list.Items {
		cs := &list.Items[i]
		if cs.Spec.Rollout == nil || cs.Spec.Rollout.Revision == "" || !cs.DeletionTimestamp.IsZero() {
			continue
		}
		key := keyOf(cs)
		if head := r.Store.get(key); head != nil && head.Revision == cs.Spec.Rollout.Revision {
			continue
		}
		wanted[key] = cs.Spec.Rollout.Revision
	}
	return wanted, nil
}

// updatePins keeps in the store the render of every revision a rollout
// holds a site at: from the pins it has, from replaced (the renders the
// latest commit replaced), or rendered again from the Git cache. A
// revision that cannot be rendered leaves its sites waiting, with an
// event; it never stops the latest revision.
func (r *FleetRepositoryReconciler) updatePins(ctx context.Context, obj *flotillav1.FleetRepository, replaced map[syncKey]*Desired) error {
	wanted, err := r.wantedPins(ctx, obj)
	if err != nil {
		return err
	}
	repoKey := client.ObjectKeyFromObject(obj)
	next := map[syncKey]*Desired{}
	need := map[string][]syncKey{}
	for key, rev := range wanted {
		if p := r.Store.pin(key); p != nil && p.Revision == rev {
			next[key] = p
			continue
		}
		if old := replaced[key]; old != nil && old.Revision == rev {
			next[key] = old
			continue
		}
		need[rev] = append(need[rev], key)
	}
	for rev, keys := range need {
		rendered, err := r.renderRevision(ctx, obj, rev)
		if err != nil {
			msg := fmt.Sprintf("render revision %s, which a rollout holds %d site(s) at: %v", rev, len(keys), err)
			r.event(obj, corev1.EventTypeWarning, flotillav1.ReasonRenderFailed, msg)
			ctrl.LoggerFrom(ctx).Error(err, "render of a held revision failed", "revision", rev, "sites", len(keys))
			continue
		}
		for _, k := range keys {
			if d := rendered[k]; d != nil {
				next[k] = d
			}
		}
	}
	r.Store.setPins(repoKey, next)
	return nil
}

// renderRevision renders an older revision of the repository from its Git
// cache through the same pipeline as the latest one.
func (r *FleetRepositoryReconciler) renderRevision(ctx context.Context, obj *flotillav1.FleetRepository, rev string) (map[syncKey]*Desired, error) {
	i := strings.LastIndex(rev, "sha1:")
	if i < 0 {
		return nil, fmt.Errorf("revision %q names no commit", rev)
	}
	repo, err := r.Fetcher.Repository(obj.Spec.URL)
	if err != nil {
		return nil, err
	}
	snap, err := repo.ExtractRevision(ctx, rev[i+len("sha1:"):])
	if err != nil {
		return nil, err
	}
	defer snap.Release()
	out, err := r.runPipeline(ctx, obj, snap)
	if err != nil {
		return nil, err
	}
	next, _, renderErrs := desiredFrom(client.ObjectKeyFromObject(obj), out, rev)
	if len(next) == 0 && len(renderErrs) > 0 {
		return nil, fmt.Errorf("%s", summarize("render failed", dedupe(renderErrs)))
	}
	return next, nil
}
