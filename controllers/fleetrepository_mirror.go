package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/fleet"
	"github.com/flotilla-gitops/flotilla/placement"
)

const (
	// syncFinalizer keeps a ClusterSync until its objects are pruned.
	syncFinalizer = "flotilla.dev/prune"
	// clusterFinalizer keeps a mirrored Cluster, and with it the access
	// settings its ClusterSyncs prune with, until those ClusterSyncs are
	// gone: deleting a FleetRepository deletes both at once, in no
	// particular order.
	clusterFinalizer = "flotilla.dev/cluster-syncs"
	// orphanAnnotation on a ClusterSync being deleted means: leave its
	// objects on the cluster (the cluster left the fleet).
	orphanAnnotation = "flotilla.dev/orphan"
)

// repoLabels are the labels tying hub objects to their repository.
func repoLabels(repo *flotillav1.FleetRepository) map[string]string {
	return map[string]string{
		flotillav1.LabelRepository:          repo.Name,
		flotillav1.LabelRepositoryNamespace: repo.Namespace,
	}
}

// syncName is the ClusterSync name of an (app, cluster) pair.
func syncName(app, cluster string) string { return app + "." + cluster }

// mirror brings the hub's Cluster, App and ClusterSync objects of the
// repository in step with the loaded fleet. ClusterSyncs whose render
// failed (keep) are left as they are, so nothing they run is pruned.
func (r *FleetRepositoryReconciler) mirror(ctx context.Context, repo *flotillav1.FleetRepository, fl *fleet.Fleet,
	placed *placement.Result, next map[syncKey]*Desired, keep map[syncKey]bool) error {
	var errs []error
	owner := repoLabels(repo)
	selector := client.MatchingLabels(owner)
	ns := client.InNamespace(repo.Namespace)

	// Clusters.
	clusterNames := map[string]*flotillav1.Cluster{}
	for _, c := range fl.Clusters {
		clusterNames[c.Name] = c
	}
	// Read-only lists from the cache: objects already as the fleet wants
	// them cost no request and no copy.
	existingClusters := &flotillav1.ClusterList{}
	if err := r.List(ctx, existingClusters, ns, selector, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("list Clusters: %w", err)
	}
	currentClusters := map[string]*flotillav1.Cluster{}
	removedClusters := map[string]*flotillav1.Cluster{}
	for i := range existingClusters.Items {
		c := &existingClusters.Items[i]
		currentClusters[c.Name] = c
		if clusterNames[c.Name] == nil {
			removedClusters[c.Name] = c
		}
	}
	errs = append(errs, inParallel(len(fl.Clusters), func(i int) error {
		return r.upsertCluster(ctx, repo, fl.Clusters[i], currentClusters[fl.Clusters[i].Name])
	}))

	// Apps.
	appNames := map[string]bool{}
	for _, a := range fl.Apps {
		appNames[a.Name] = true
	}
	errs = append(errs, inParallel(len(fl.Apps), func(i int) error { return r.upsertApp(ctx, repo, fl.Apps[i]) }))
	existingApps := &flotillav1.AppList{}
	if err := r.List(ctx, existingApps, ns, selector); err != nil {
		return fmt.Errorf("list Apps: %w", err)
	}
	for i := range existingApps.Items {
		if a := &existingApps.Items[i]; !appNames[a.Name] {
			errs = append(errs, client.IgnoreNotFound(r.Delete(ctx, a)))
		}
	}

	// ClusterSyncs: one per target.
	// An app waits on a cluster only for dependencies placed there too.
	placedOn := map[[2]string]bool{}
	for _, t := range placed.Targets {
		placedOn[[2]string{t.App, t.Cluster}] = true
	}
	depsOn := func(app, cluster string) []string {
		var out []string
		if a := fl.App(app); a != nil {
			for _, d := range a.Spec.DependsOn {
				if placedOn[[2]string{d, cluster}] {
					out = append(out, d)
				}
			}
		}
		return out
	}
	wanted := map[string]bool{}
	var upserts []placement.Target
	for _, t := range placed.Targets {
		wanted[syncName(t.App, t.Cluster)] = true
		if next[syncKey{Repo: client.ObjectKeyFromObject(repo), App: t.App, Cluster: t.Cluster}] != nil {
			upserts = append(upserts, t) // a failed render leaves the existing sync alone
		}
	}
	existingSyncs := &flotillav1.ClusterSyncList{}
	if err := r.List(ctx, existingSyncs, ns, selector, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("list ClusterSyncs: %w", err)
	}
	currentSyncs := make(map[string]*flotillav1.ClusterSync, len(existingSyncs.Items))
	for i := range existingSyncs.Items {
		currentSyncs[existingSyncs.Items[i].Name] = &existingSyncs.Items[i]
	}
	errs = append(errs, inParallel(len(upserts), func(i int) error {
		t := upserts[i]
		a := fl.App(t.App)
		return r.upsertSync(ctx, repo, t.App, t.Cluster, depsOn(t.App, t.Cluster), a != nil && a.Spec.Rollout != nil, currentSyncs[syncName(t.App, t.Cluster)])
	}))
	failoverPending := false
	for i := range existingSyncs.Items {
		cs := &existingSyncs.Items[i]
		key := syncKey{Repo: client.ObjectKeyFromObject(repo), App: cs.Spec.App, Cluster: cs.Spec.Cluster}
		if wanted[cs.Name] || keep[key] || !cs.DeletionTimestamp.IsZero() {
			continue
		}
		if removedClusters[cs.Spec.Cluster] == nil {
			handled, waiting, err := r.leaveFailedCluster(ctx, fl, cs, currentClusters[cs.Spec.Cluster], placed.Clusters(cs.Spec.App), currentSyncs)
			failoverPending = failoverPending || waiting
			if handled {
				errs = append(errs, err)
				continue
			}
		}
		if gone := removedClusters[cs.Spec.Cluster]; gone != nil && !gone.Spec.PruneOnRemoval {
			// The cluster left the fleet: stop managing it, leave its objects.
			cs = cs.DeepCopy() // a cached object: never modify it
			patch := client.MergeFrom(cs.DeepCopy())
			metav1.SetMetaDataAnnotation(&cs.ObjectMeta, orphanAnnotation, "true")
			if err := r.Patch(ctx, cs, patch); err != nil {
				errs = append(errs, fmt.Errorf("mark ClusterSync %s orphaned: %w", cs.Name, err))
				continue
			}
		}
		errs = append(errs, client.IgnoreNotFound(r.Delete(ctx, cs)))
	}
	// Remove a Cluster mirror only once its syncs are gone: a sync pruning
	// on removal still needs the cluster's access settings.
	syncsLeft := map[string]bool{}
	for i := range existingSyncs.Items {
		syncsLeft[existingSyncs.Items[i].Spec.Cluster] = true
	}
	pending := false
	for _, c := range removedClusters {
		if syncsLeft[c.Name] {
			pending = true
			continue
		}
		errs = append(errs, client.IgnoreNotFound(r.Delete(ctx, c)))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if pending || failoverPending {
		return errCleanupPending
	}
	return nil
}

// mirrorConcurrency bounds the hub writes in flight while mirroring.
const mirrorConcurrency = 16

// inParallel runs fn for 0..n-1 with at most mirrorConcurrency at once and
// joins every error (one failing object never stops the others).
func inParallel(n int, fn func(i int) error) error {
	var (
		mu   sync.Mutex
		errs []error
		g    errgroup.Group
	)
	g.SetLimit(mirrorConcurrency)
	for i := range n {
		g.Go(func() error {
			if err := fn(i); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	return errors.Join(errs...)
}

// errCleanupPending means hub objects are still being cleaned up: the
// repository is reconciled again soon even though its revision is unchanged.
var errCleanupPending = errors.New("waiting for removed clusters' syncs to finish")

// upsertCluster makes the hub's Cluster mirror the fleet's. have is the
// cached object (nil if none): when it already mirrors the fleet, nothing
// is sent.
func (r *FleetRepositoryReconciler) upsertCluster(ctx context.Context, repo *flotillav1.FleetRepository, from, have *flotillav1.Cluster) error {
	mutate := func(obj *flotillav1.Cluster) error {
		if err := claim(obj, repo); err != nil {
			return err
		}
		obj.Labels = mergeLabels(from.Labels, repoLabels(repo))
		// Hub-side suspension and reconcile requests stay (suspend.go).
		obj.Annotations = hubAnnotations(from.Annotations, obj.Annotations)
		obj.Spec = *from.Spec.DeepCopy()
		controllerutil.AddFinalizer(obj, clusterFinalizer)
		return controllerutil.SetControllerReference(repo, obj, r.Scheme())
	}
	if have != nil && unchangedBy(have, mutate) {
		return nil
	}
	obj := &flotillav1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: from.Name, Namespace: repo.Namespace}}
	if _, err := controllerutil.CreateOrPatch(ctx, r.Client, obj, func() error { return mutate(obj) }); err != nil {
		return fmt.Errorf("mirror Cluster %s: %w", from.Name, err)
	}
	return nil
}

// unchangedBy reports whether mutate leaves the cached object have as it
// is (false when have is being deleted or mutate fails). It works on a copy.
func unchangedBy[T interface {
	client.Object
	DeepCopy() T
}](have T, mutate func(T) error) bool {
	if !have.GetDeletionTimestamp().IsZero() {
		return false
	}
	want := have.DeepCopy()
	return mutate(want) == nil && equality.Semantic.DeepEqual(want, have)
}

func (r *FleetRepositoryReconciler) upsertApp(ctx context.Context, repo *flotillav1.FleetRepository, from *flotillav1.App) error {
	obj := &flotillav1.App{ObjectMeta: metav1.ObjectMeta{Name: from.Name, Namespace: repo.Namespace}}
	_, err := controllerutil.CreateOrPatch(ctx, r.Client, obj, func() error {
		if err := claim(obj, repo); err != nil {
			return err
		}
		obj.Labels = mergeLabels(from.Labels, repoLabels(repo))
		obj.Spec = *from.Spec.DeepCopy()
		return controllerutil.SetControllerReference(repo, obj, r.Scheme())
	})
	if err != nil {
		return fmt.Errorf("mirror App %s: %w", from.Name, err)
	}
	return nil
}

// upsertSync creates or updates the ClusterSync of an (app, cluster) pair;
// have is the cached object (nil if none). Its spec changes only when the
// pair's dependencies do: a new revision reaches the sync through the
// desired-state store, not through a write.
//
// For an app with a rollout, spec.rollout belongs to the rollout driver: a
// new sync starts with nothing released, and a sync the app had before it
// gained a rollout is held at the revision it runs.
func (r *FleetRepositoryReconciler) upsertSync(ctx context.Context, repo *flotillav1.FleetRepository, app, cluster string, dependsOn []string, hasRollout bool, have *flotillav1.ClusterSync) error {
	mutate := func(obj *flotillav1.ClusterSync) error {
		if err := claim(obj, repo); err != nil {
			return err
		}
		labels := mergeLabels(obj.Labels, repoLabels(repo))
		labels[flotillav1.LabelApp] = app
		labels[flotillav1.LabelCluster] = cluster
		obj.Labels = labels
		controllerutil.AddFinalizer(obj, syncFinalizer)
		// Placed here again after a failover: the sync takes over again.
		delete(obj.Annotations, failedOverAnnotation)
		spec := flotillav1.ClusterSyncSpec{App: app, Cluster: cluster, DependsOn: slices.Clone(dependsOn), Rollout: obj.Spec.Rollout}
		switch {
		case !hasRollout:
			spec.Rollout = nil
		case spec.Rollout == nil:
			spec.Rollout = &flotillav1.SyncRollout{Revision: obj.Status.AppliedRevision}
		}
		if !equality.Semantic.DeepEqual(obj.Spec, spec) {
			obj.Spec = spec
		}
		return controllerutil.SetControllerReference(repo, obj, r.Scheme())
	}
	if have != nil && unchangedBy(have, mutate) {
		return nil
	}
	obj := &flotillav1.ClusterSync{ObjectMeta: metav1.ObjectMeta{Name: syncName(app, cluster), Namespace: repo.Namespace}}
	if _, err := controllerutil.CreateOrPatch(ctx, r.Client, obj, func() error { return mutate(obj) }); err != nil {
		return fmt.Errorf("mirror ClusterSync %s: %w", obj.Name, err)
	}
	return nil
}

// claim refuses to take over an object that another repository owns.
func claim(obj client.Object, repo *flotillav1.FleetRepository) error {
	if ts := obj.GetCreationTimestamp(); ts.IsZero() {
		return nil
	}
	l := obj.GetLabels()
	if l[flotillav1.LabelRepository] != "" && l[flotillav1.LabelRepository] != repo.Name {
		return apierrors.NewConflict(flotillav1.GroupVersion.WithResource("objects").GroupResource(), obj.GetName(),
			fmt.Errorf("already declared by FleetRepository %s; names must be unique across the repositories of a namespace", l[flotillav1.LabelRepository]))
	}
	return nil
}

func mergeLabels(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	maps.Copy(out, a)
	maps.Copy(out, b)
	return out
}
