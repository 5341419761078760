package controllers

import (
	"context"
	"fmt"
	"strings"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// Suspension and reconcile requests of ClusterSyncs: a sync is suspended
// when its FleetRepository (spec.suspend), its App, its Cluster or the
// sync itself (flotilla.dev/suspended: "true") is; it then neither applies
// nor corrects drift, and a pull cluster's Bundle is frozen with
// spec.suspend. A new flotilla.dev/reconcile-requested-at on any of them
// asks for a drift check now.

// suspendedBy returns what suspends the sync ("" when nothing does), e.g.
// "App web".
func (r *ClusterSyncReconciler) suspendedBy(ctx context.Context, cs *flotillav1.ClusterSync, cluster *flotillav1.Cluster, repo types.NamespacedName) (string, error) {
	fr, app, err := r.owners(ctx, cs, repo)
	if err != nil {
		return "", err
	}
	switch {
	case fr != nil && fr.Spec.Suspend:
		return "FleetRepository " + fr.Name, nil
	case app != nil && flotillav1.HasSuspendedAnnotation(app):
		return "App " + app.Name, nil
	case flotillav1.HasSuspendedAnnotation(cluster):
		return "Cluster " + cluster.Name, nil
	case flotillav1.HasSuspendedAnnotation(cs):
		return "ClusterSync " + cs.Name, nil
	}
	return "", nil
}

// owners reads the sync's FleetRepository and App; either is nil when it
// does not exist (any more).
func (r *ClusterSyncReconciler) owners(ctx context.Context, cs *flotillav1.ClusterSync, repo types.NamespacedName) (*flotillav1.FleetRepository, *flotillav1.App, error) {
	var fr *flotillav1.FleetRepository
	if repo.Name != "" {
		fr = &flotillav1.FleetRepository{}
		if err := r.Get(ctx, repo, fr); err != nil {
			if !apierrors.IsNotFound(err) {
				return nil, nil, fmt.Errorf("read FleetRepository %s of ClusterSync %s: %w", repo, cs.Name, err)
			}
			fr = nil
		}
	}
	app := &flotillav1.App{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: cs.Namespace, Name: cs.Spec.App}, app); err != nil {
		if !apierrors.IsNotFound(err) {
			return nil, nil, fmt.Errorf("read App %s of ClusterSync %s: %w", cs.Spec.App, cs.Name, err)
		}
		app = nil
	}
	return fr, app, nil
}

// reconcileRequest returns the reconcile requests that cover the sync, as
// one value: the flotilla.dev/reconcile-requested-at annotations of its
// FleetRepository, App, Cluster and itself. A value that differs from
// status.lastHandledReconcileAt asks for a drift check now.
func (r *ClusterSyncReconciler) reconcileRequest(ctx context.Context, cs *flotillav1.ClusterSync, cluster *flotillav1.Cluster, repo types.NamespacedName) (string, error) {
	fr, app, err := r.owners(ctx, cs, repo)
	if err != nil {
		return "", err
	}
	var parts []string
	add := func(kind string, obj client.Object) {
		if v := obj.GetAnnotations()[flotillav1.AnnotationReconcileRequestedAt]; v != "" {
			parts = append(parts, kind+"="+v)
		}
	}
	if fr != nil {
		add("repository", fr)
	}
	if app != nil {
		add("app", app)
	}
	add("cluster", cluster)
	add("sync", cs)
	return strings.Join(parts, ","), nil
}

// holdSuspended records that the sync is suspended by who and, for a pull
// cluster, freezes its Bundle: spec.suspend is set and nothing else of the
// spec changes, so the agent neither applies a new revision nor corrects
// drift. Ready keeps its status.
func (r *ClusterSyncReconciler) holdSuspended(ctx context.Context, cs *flotillav1.ClusterSync, cluster *flotillav1.Cluster, who string) (ctrl.Result, error) {
	if !conditions.IsTrue(cs, flotillav1.SuspendedCondition) {
		ctrl.LoggerFrom(ctx).Info("sync suspended", "by", who)
	}
	conditions.MarkTrue(cs, flotillav1.SuspendedCondition, flotillav1.ReasonSuspended,
		"suspended by %s: nothing is applied and drift is not corrected until it is resumed", who)
	conditions.Delete(cs, meta.ReconcilingCondition)
	if cluster.Spec.Access.Mode != flotillav1.AccessPull {
		return ctrl.Result{}, nil
	}
	ns := flotillav1.AgentNamespace(cs.Namespace, cs.Spec.Cluster)
	b := &flotillav1.Bundle{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: ns, Name: cs.Spec.App}, b); err != nil {
		// No Bundle yet: nothing is sent while suspended.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if b.Spec.Suspend {
		return ctrl.Result{}, nil
	}
	next := b.DeepCopy()
	next.Spec.Suspend = true
	if err := r.Update(ctx, next); err != nil {
		return ctrl.Result{}, fmt.Errorf("suspend Bundle %s/%s: %w", ns, cs.Spec.App, err)
	}
	return ctrl.Result{}, nil
}

// hubAnnotations returns the annotations a mirrored object gets: the
// fleet repository's, plus the hub-side operation annotations (suspension,
// reconcile requests) that have, which the repository does not declare.
func hubAnnotations(fromGit, have map[string]string) map[string]string {
	out := make(map[string]string, len(fromGit)+2)
	for k, v := range fromGit {
		out[k] = v
	}
	for _, k := range []string{flotillav1.AnnotationSuspended, flotillav1.AnnotationReconcileRequestedAt} {
		if v, ok := have[k]; ok {
			if _, declared := fromGit[k]; !declared {
				out[k] = v
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// operationsChanged passes the updates that suspend, resume or ask to
// reconcile an object (its flotilla.dev/suspended or
// flotilla.dev/reconcile-requested-at annotation changed).
type operationsChanged struct{ predicate.Funcs }

// Create ignores new objects.
func (operationsChanged) Create(event.CreateEvent) bool { return false }

// Delete ignores deletions.
func (operationsChanged) Delete(event.DeleteEvent) bool { return false }

// Generic ignores generic events.
func (operationsChanged) Generic(event.GenericEvent) bool { return false }

// Update passes changes of the operation annotations.
func (operationsChanged) Update(e event.UpdateEvent) bool {
	if e.ObjectOld == nil || e.ObjectNew == nil {
		return false
	}
	o, n := e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations()
	return o[flotillav1.AnnotationSuspended] != n[flotillav1.AnnotationSuspended] ||
		o[flotillav1.AnnotationReconcileRequestedAt] != n[flotillav1.AnnotationReconcileRequestedAt]
}

// syncsOfApp maps an App to its ClusterSyncs.
func (r *ClusterSyncReconciler) syncsOfApp(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.syncsBy(ctx, obj.GetNamespace(), indexSyncApp, obj.GetName())
}

// allSyncsOfCluster maps a Cluster to every ClusterSync on it.
func (r *ClusterSyncReconciler) allSyncsOfCluster(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.syncsBy(ctx, obj.GetNamespace(), indexSyncCluster, obj.GetName())
}

func (r *ClusterSyncReconciler) syncsBy(ctx context.Context, ns, index, value string) []reconcile.Request {
	list := &flotillav1.ClusterSyncList{}
	if err := r.List(ctx, list, client.InNamespace(ns), client.MatchingFields{index: value}, client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "list ClusterSyncs", index, value)
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}

// repositoryReconcileRequest returns a FleetRepository's manual reconcile
// request: flotilla.dev/reconcile-requested-at, else Flux's
// reconcile.fluxcd.io/requestedAt (kept for those coming from Flux).
func repositoryReconcileRequest(obj client.Object) (string, bool) {
	if v := obj.GetAnnotations()[flotillav1.AnnotationReconcileRequestedAt]; v != "" {
		return v, true
	}
	return meta.ReconcileAnnotationValue(obj.GetAnnotations())
}
