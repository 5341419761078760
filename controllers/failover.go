package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/fleet"
	"github.com/flotilla-gitops/flotilla/placement"
)

// failedOverAnnotation on a ClusterSync means: its app failed over away
// from the sync's cluster. The sync no longer applies anything, but it
// keeps its inventory so that the app's objects there are pruned once the
// cluster is back and the app is Ready where it moved (or kept, if the
// app places itself there again).
const failedOverAnnotation = "flotilla.dev/failed-over"

// failedOver reports whether the sync's app failed over away from its
// cluster.
func failedOver(cs *flotillav1.ClusterSync) bool { return cs.Annotations[failedOverAnnotation] != "" }

// leftCluster reports whether the sync's app no longer runs on its cluster
// as far as the app's status and placement are concerned: the sync is
// being deleted, or its app failed over.
func leftCluster(cs *flotillav1.ClusterSync) bool {
	return !cs.DeletionTimestamp.IsZero() || failedOver(cs)
}

// taintedUnreachable reports whether the hub tainted the cluster
// unreachable.
func taintedUnreachable(c *flotillav1.Cluster) bool {
	return slices.ContainsFunc(c.Status.Taints, func(t corev1.Taint) bool {
		return t.Key == flotillav1.TaintUnreachable && t.Effect == corev1.TaintEffectNoExecute
	})
}

// hubTaints returns the taints the hub set on the repository's Clusters,
// by cluster name, and a stamp that changes whenever they do.
func (r *FleetRepositoryReconciler) hubTaints(ctx context.Context, repo *flotillav1.FleetRepository) (map[string][]corev1.Taint, string, error) {
	list := &flotillav1.ClusterList{}
	if err := r.List(ctx, list, client.InNamespace(repo.Namespace), client.MatchingLabels(repoLabels(repo)), client.UnsafeDisableDeepCopy); err != nil {
		return nil, "", fmt.Errorf("list Clusters of %s: %w", client.ObjectKeyFromObject(repo), err)
	}
	taints := map[string][]corev1.Taint{}
	var stamp []string
	for i := range list.Items {
		c := &list.Items[i]
		if len(c.Status.Taints) == 0 {
			continue
		}
		taints[c.Name] = slices.Clone(c.Status.Taints)
		stamp = append(stamp, c.Name+"="+taintsStamp(c.Status.Taints))
	}
	slices.Sort(stamp)
	return taints, strings.Join(stamp, ","), nil
}

// taintsStamp identifies a list of taints, time added included.
func taintsStamp(taints []corev1.Taint) string {
	parts := make([]string, len(taints))
	for i, t := range taints {
		parts[i] = t.ToString()
		if t.TimeAdded != nil {
			parts[i] += "@" + t.TimeAdded.UTC().Format(time.RFC3339)
		}
	}
	return strings.Join(parts, ";")
}

// failoverPlacementOptions passes the hub's taints and the time to
// placement.
func (r *FleetRepositoryReconciler) failoverPlacementOptions(ctx context.Context, repo *flotillav1.FleetRepository) ([]placement.Option, error) {
	taints, _, err := r.hubTaints(ctx, repo)
	if err != nil {
		return nil, err
	}
	return []placement.Option{placement.WithClusterTaints(taints), placement.WithNow(r.Options.Clock.Now())}, nil
}

// taintsChanged passes Cluster updates that change status.taints.
type taintsChanged struct{ predicate.Funcs }

// Update reports whether the hub's taints of the cluster changed.
func (taintsChanged) Update(e event.UpdateEvent) bool {
	oldC, ok1 := e.ObjectOld.(*flotillav1.Cluster)
	newC, ok2 := e.ObjectNew.(*flotillav1.Cluster)
	return !ok1 || !ok2 || taintsStamp(oldC.Status.Taints) != taintsStamp(newC.Status.Taints)
}

// repositoryOfCluster wakes the FleetRepository a Cluster was mirrored
// from, to place its apps again.
func repositoryOfCluster(_ context.Context, obj client.Object) []reconcile.Request {
	name := obj.GetLabels()[flotillav1.LabelRepository]
	if name == "" {
		return nil
	}
	ns := obj.GetLabels()[flotillav1.LabelRepositoryNamespace]
	if ns == "" {
		ns = obj.GetNamespace()
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}}
}

// recheckTimes remembers, per repository, when its placement stops being
// valid because a failover toleration ends. The zero value is ready to use.
type recheckTimes struct {
	mu sync.Mutex
	m  map[types.NamespacedName]time.Time
}

// set records when the repository must be placed again (zero: never).
func (r *recheckTimes) set(repo types.NamespacedName, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if at.IsZero() {
		delete(r.m, repo)
		return
	}
	if r.m == nil {
		r.m = map[types.NamespacedName]time.Time{}
	}
	r.m[repo] = at
}

// due reports whether the repository must be placed again now.
func (r *recheckTimes) due(repo types.NamespacedName, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.m[repo]
	return ok && !now.Before(at)
}

// within shortens wait so that the repository is reconciled when its
// placement must be made again.
func (r *recheckTimes) within(repo types.NamespacedName, now time.Time, wait time.Duration) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.m[repo]
	if !ok {
		return wait
	}
	// A little after the toleration ends, so that placement sees it ended.
	return min(wait, max(at.Sub(now)+50*time.Millisecond, 50*time.Millisecond))
}

// leaveFailedCluster handles a ClusterSync that placement no longer wants
// when its app has placement.failover and the app left the sync's cluster
// because that cluster is tainted unreachable (or left it so before). It
// reports whether it handled the sync (otherwise the caller deletes it as
// usual) and whether it waits for the app to become Ready elsewhere.
//
// The objects on the failed cluster are pruned only once the cluster is
// back and the app is Ready on every cluster it is placed on now: until
// then the sync stays, annotated failed-over, and applies nothing. With
// failover.keepObjects the objects are left on the cluster instead.
func (r *FleetRepositoryReconciler) leaveFailedCluster(ctx context.Context, fl *fleet.Fleet, cs *flotillav1.ClusterSync,
	cluster *flotillav1.Cluster, placedOn []string, syncs map[string]*flotillav1.ClusterSync) (handled, waiting bool, err error) {
	app := fl.App(cs.Spec.App)
	if app == nil || app.Spec.Placement.Failover == nil || cluster == nil || (!taintedUnreachable(cluster) && !failedOver(cs)) {
		return false, false, nil
	}
	log := ctrl.LoggerFrom(ctx).WithValues("app", cs.Spec.App, "cluster", cs.Spec.Cluster)
	cs = cs.DeepCopy() // a cached object: never modify it
	if app.Spec.Placement.Failover.KeepObjects {
		patch := client.MergeFrom(cs.DeepCopy())
		metav1.SetMetaDataAnnotation(&cs.ObjectMeta, orphanAnnotation, "true")
		if err := r.Patch(ctx, cs, patch); err != nil {
			return true, false, fmt.Errorf("mark ClusterSync %s orphaned (failover.keepObjects): %w", cs.Name, err)
		}
		log.Info("app failed over: its objects stay on the cluster (failover.keepObjects)")
		return true, false, client.IgnoreNotFound(r.Delete(ctx, cs))
	}
	back := !taintedUnreachable(cluster) && conditions.IsTrue(cluster, flotillav1.ReachableCondition)
	if back && readyElsewhere(cs.Spec.App, placedOn, syncs) {
		log.Info("app failed over and is Ready where it moved, and the cluster is back: pruning its objects there")
		return true, false, client.IgnoreNotFound(r.Delete(ctx, cs))
	}
	if !failedOver(cs) {
		patch := client.MergeFrom(cs.DeepCopy())
		metav1.SetMetaDataAnnotation(&cs.ObjectMeta, failedOverAnnotation, r.Options.Clock.Now().UTC().Format(time.RFC3339))
		if err := r.Patch(ctx, cs, patch); err != nil {
			return true, false, client.IgnoreNotFound(fmt.Errorf("mark ClusterSync %s failed over: %w", cs.Name, err))
		}
		log.Info("app failed over: its objects stay on the cluster until it is back and the app is Ready elsewhere")
		r.event(cs, corev1.EventTypeNormal, "FailedOver", fmt.Sprintf("app %s left cluster %s, which is tainted %s", cs.Spec.App, cs.Spec.Cluster, flotillav1.TaintUnreachable))
	}
	// While the cluster is down its return (the taint's removal) wakes the
	// repository; once it is back, look again until the app is Ready.
	return true, back, nil
}

// readyElsewhere reports whether the app is placed on at least one
// cluster (clusters, which excludes the failed one) and its sync there
// exists and is Ready.
func readyElsewhere(app string, clusters []string, syncs map[string]*flotillav1.ClusterSync) bool {
	for _, c := range clusters {
		cs := syncs[syncName(app, c)]
		if cs == nil || leftCluster(cs) || !lastSyncReady(cs) {
			return false
		}
	}
	return len(clusters) > 0
}
