package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/source"
)

// switchCache records that the repository key fetches url. When its URL
// changed, the cache of the previous URL is removed unless another
// repository still uses it.
func (r *FleetRepositoryReconciler) switchCache(ctx context.Context, key types.NamespacedName, url string) error {
	if r.fetched == nil {
		r.fetched = map[types.NamespacedName]string{}
	}
	if prev, ok := r.fetched[key]; ok && prev != url {
		if err := r.releaseCache(ctx, key); err != nil {
			return err
		}
	}
	r.fetched[key] = url
	return nil
}

// releaseCache forgets the URL the repository key fetched and removes its
// Git cache (the bare repository and extracted trees on disk, and the
// Fetcher's entry), unless another repository fetches the same URL. On
// failure the URL is kept, so the next reconcile tries again.
func (r *FleetRepositoryReconciler) releaseCache(ctx context.Context, key types.NamespacedName) error {
	url, ok := r.fetched[key]
	if !ok {
		return nil
	}
	list := &flotillav1.FleetRepositoryList{}
	if err := r.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("list FleetRepositories before removing the Git cache of %s: %w", key, err)
	}
	dir := r.Fetcher.RepositoryDir(url)
	for i := range list.Items {
		other := &list.Items[i]
		if client.ObjectKeyFromObject(other) != key && other.DeletionTimestamp.IsZero() && r.Fetcher.RepositoryDir(other.Spec.URL) == dir {
			delete(r.fetched, key)
			return nil // still used
		}
	}
	if err := r.Fetcher.Remove(ctx, url); err != nil {
		return fmt.Errorf("remove the Git cache of FleetRepository %s: %w", key, err)
	}
	delete(r.fetched, key)
	ctrl.LoggerFrom(ctx).V(1).Info("removed Git cache", "repository", key, "url", source.RedactURL(url))
	return nil
}
