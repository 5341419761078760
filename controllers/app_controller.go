package controllers

import (
	"context"
	"errors"
	"fmt"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// AppReconciler aggregates an app's ClusterSyncs into its status: clusters
// selected, synced and healthy, and the failing clusters with their reasons.
// For apps with spec.rollout it also drives the rollout (rollout_driver.go).
type AppReconciler struct {
	client.Client
	// Recorder records rollout transitions as events on the App.
	Recorder record.EventRecorder
	// Clock tells rollouts the time.
	Clock Clock
	// Store holds the desired state the syncs are compared with.
	Store *desiredStore
	// Summaries limits how often one App is re-aggregated.
	Summaries *debounce
	// Rollouts is the shorter debounce of Apps with a rollout: a stage
	// that became Ready releases the next one within its window, not
	// within the summary's.
	Rollouts *debounce
}

// SetupWithManager registers the reconciler.
func (r *AppReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&flotillav1.App{}).
		Watches(&flotillav1.ClusterSync{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []reconcile.Request {
			cs, ok := obj.(*flotillav1.ClusterSync)
			if !ok {
				return nil
			}
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: cs.Namespace, Name: cs.Spec.App}}}
		})).
		// A site's hold or update windows change what its apps' rollouts
		// may release there.
		Watches(&flotillav1.Cluster{}, handler.EnqueueRequestsFromMapFunc(r.rolloutsOfCluster)).
		Named("app").
		Complete(r)
}

// Reconcile recomputes one app's aggregated status from the hub alone.
func (r *AppReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	app := &flotillav1.App{}
	if err := r.Get(ctx, req.NamespacedName, app); err != nil {
		if apierrors.IsNotFound(err) {
			r.Summaries.forget(req.NamespacedName)
			r.Rollouts.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	deb := r.Summaries
	if app.Spec.Rollout != nil && r.Rollouts != nil {
		deb = r.Rollouts
	}
	if wait := deb.wait(req.NamespacedName); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	before := app.DeepCopy()
	defer func() {
		app.Status.ObservedGeneration = app.Generation
		retErr = errors.Join(retErr, writeStatus(ctx, r.Client, app, before.Status, app.Status))
	}()
	list := &flotillav1.ClusterSyncList{}
	// Read-only: the aggregation never changes the cached objects.
	if err := r.List(ctx, list, client.InNamespace(app.Namespace), client.MatchingFields{indexSyncApp: app.Name}, client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, fmt.Errorf("list ClusterSyncs of app %s: %w", app.Name, err)
	}
	agg := aggregateApp(list.Items, r.Store.of)
	app.Status.Selected, app.Status.Synced, app.Status.Healthy = agg.Selected, agg.Synced, agg.Healthy
	app.Status.Clusters = agg.Clusters
	app.Status.Failures = agg.Failures
	if agg.Revision != "" {
		app.Status.Revision = agg.Revision
	}
	wait, err := r.driveRollout(ctx, app, list.Items)
	if err != nil {
		return ctrl.Result{}, err
	}
	if wait > 0 {
		result.RequeueAfter = wait
	}
	switch {
	case len(agg.Failures) > 0:
		conditions.MarkFalse(app, meta.ReadyCondition, agg.Failures[0].Reason, "%s", agg.readyMessage())
		conditions.Delete(app, meta.ReconcilingCondition)
	case agg.Progressing || agg.Healthy < agg.Selected:
		conditions.MarkUnknown(app, meta.ReadyCondition, flotillav1.ReasonProgressing, "%s", agg.readyMessage())
		conditions.MarkReconciling(app, flotillav1.ReasonProgressing, "%s", agg.readyMessage())
	default:
		conditions.MarkTrue(app, meta.ReadyCondition, flotillav1.ReasonSynced, "%s", agg.readyMessage())
		conditions.Delete(app, meta.ReconcilingCondition)
	}
	return result, nil
}

// rolloutsOfCluster returns the Apps with a rollout in the Cluster's
// namespace.
func (r *AppReconciler) rolloutsOfCluster(ctx context.Context, obj client.Object) []reconcile.Request {
	list := &flotillav1.AppList{}
	if err := r.List(ctx, list, client.InNamespace(obj.GetNamespace()), client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if list.Items[i].Spec.Rollout != nil {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return reqs
}
