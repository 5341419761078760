package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// TestDeletingAFleetRepositoryFollowsPruneOnRemoval deletes a synced
// FleetRepository whose fleet has one cluster with pruneOnRemoval true and
// one with false, against a real hub, two member clusters and a Git
// server. The Kubernetes garbage collector deletes a repository's Clusters,
// Apps and ClusterSyncs in no particular order; the hub of these tests runs
// no kube-controller-manager, so the test deletes them the way the
// collector does, once with the Clusters first and once with the
// ClusterSyncs first. Either way the outcome must be the same: the
// pruneOnRemoval cluster loses the app's objects, the other keeps them, and
// nothing of the repository is left on the hub, nor of its Git cache.
func TestDeletingAFleetRepositoryFollowsPruneOnRemoval(t *testing.T) {
	for _, order := range []string{"clusters first", "syncs first"} {
		t.Run(order, func(t *testing.T) {
			e := newFleetEnv(t, "testdata/removal-fleet", memberSpec{name: "prune-site"}, memberSpec{name: "keep-site"})
			ctx := context.Background()
			eventually(t, 90*time.Second, "first sync", func() error { return e.expectReady(ctx, "settings.prune-site", "settings.keep-site") })
			for _, site := range []string{"prune-site", "keep-site"} {
				if cm := mustGetConfigMap(t, e.member(site), "plant", "plant-settings"); cm.Data["line"] != site+"-line" {
					t.Fatalf("%s runs %v", site, cm.Data)
				}
			}

			gitCache := filepath.Join(e.opts.Controllers.CacheDir, "git")
			if entries, err := os.ReadDir(gitCache); err != nil || len(entries) == 0 {
				t.Fatalf("the synced repository must have a Git cache in %s: %v %v", gitCache, entries, err)
			}

			repo := &flotillav1.FleetRepository{}
			if err := e.hubCl.Get(ctx, types.NamespacedName{Namespace: fleetNamespace, Name: "factories"}, repo); err != nil {
				t.Fatal(err)
			}
			if err := e.hubCl.Delete(ctx, repo); err != nil {
				t.Fatalf("delete FleetRepository: %v", err)
			}
			clusters, syncs := &flotillav1.ClusterList{}, &flotillav1.ClusterSyncList{}
			sel := client.MatchingLabels{flotillav1.LabelRepository: "factories"}
			deleteAll := func(list client.ObjectList) {
				t.Helper()
				if err := e.hubCl.List(ctx, list, client.InNamespace(fleetNamespace), sel); err != nil {
					t.Fatal(err)
				}
				objs, err := apimeta.ExtractList(list)
				if err != nil {
					t.Fatal(err)
				}
				if len(objs) == 0 {
					t.Fatalf("%T: nothing to delete", list)
				}
				for _, o := range objs {
					obj := o.(client.Object)
					if err := client.IgnoreNotFound(e.hubCl.Delete(ctx, obj)); err != nil {
						t.Fatalf("delete %T %s: %v", obj, obj.GetName(), err)
					}
				}
			}
			if order == "clusters first" {
				deleteAll(clusters)
				deleteAll(&flotillav1.AppList{})
				deleteAll(syncs)
			} else {
				deleteAll(syncs)
				deleteAll(&flotillav1.AppList{})
				deleteAll(clusters)
			}

			// The positive signal: every ClusterSync and Cluster of the
			// repository has been finalized and is gone from the hub.
			eventually(t, 60*time.Second, "the repository's hub objects finalized", func() error {
				if err := e.hubCl.List(ctx, syncs, client.InNamespace(fleetNamespace), sel); err != nil {
					return err
				}
				if err := e.hubCl.List(ctx, clusters, client.InNamespace(fleetNamespace), sel); err != nil {
					return err
				}
				if len(syncs.Items)+len(clusters.Items) > 0 {
					return fmt.Errorf("%d ClusterSyncs and %d Clusters left (Clusters: %v)", len(syncs.Items), len(clusters.Items), clusterNames(clusters))
				}
				return nil
			})
			err := e.member("prune-site").Get(ctx, types.NamespacedName{Namespace: "plant", Name: "plant-settings"}, &corev1.ConfigMap{})
			if !apierrors.IsNotFound(err) {
				t.Fatalf("prune-site has pruneOnRemoval: true: its objects must be deleted, got %v", err)
			}
			if cm := mustGetConfigMap(t, e.member("keep-site"), "plant", "plant-settings"); cm.Data["line"] != "keep-site-line" {
				t.Fatalf("keep-site has pruneOnRemoval: false: its objects must stay as they were, got %v", cm.Data)
			}
			eventually(t, 30*time.Second, "the deleted repository's Git cache removed", func() error {
				entries, err := os.ReadDir(gitCache)
				if err != nil {
					return err
				}
				if len(entries) > 0 {
					return fmt.Errorf("%d entries left in %s", len(entries), gitCache)
				}
				return nil
			})
		})
	}
}

// clusterNames lists the names of the Clusters, with their finalizers.
func clusterNames(l *flotillav1.ClusterList) []string {
	var out []string
	for _, c := range l.Items {
		out = append(out, fmt.Sprintf("%s%v", c.Name, c.Finalizers))
	}
	slices.Sort(out)
	return out
}
