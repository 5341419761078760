package controllers

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// Cache indexes on ClusterSync, so that "the syncs of this cluster" and
// "the syncs of this app" are lookups rather than scans of every sync of
// the fleet on each event.
const (
	indexSyncCluster = "spec.cluster"
	indexSyncApp     = "spec.app"
)

func setupIndexes(ctx context.Context, mgr ctrl.Manager) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &flotillav1.ClusterSync{}, indexSyncCluster, func(o client.Object) []string {
		return []string{o.(*flotillav1.ClusterSync).Spec.Cluster}
	}); err != nil {
		return fmt.Errorf("index ClusterSyncs by cluster: %w", err)
	}
	if err := idx.IndexField(ctx, &flotillav1.ClusterSync{}, indexSyncApp, func(o client.Object) []string {
		return []string{o.(*flotillav1.ClusterSync).Spec.App}
	}); err != nil {
		return fmt.Errorf("index ClusterSyncs by app: %w", err)
	}
	return nil
}
