package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// reconcileAgentNamespace keeps a cluster's agent namespace in step with
// its access mode: a pull cluster has one (with its Agent object); a
// cluster switched to push loses it, and with it its agent identity. The
// cached Agent object tells whether the namespace is in place, so a
// cluster whose namespace exists costs no request.
func (r *ClusterReconciler) reconcileAgentNamespace(ctx context.Context, c *flotillav1.Cluster) error {
	have, err := r.hasAgentNamespace(ctx, c)
	if err != nil {
		return err
	}
	switch {
	case c.Spec.Access.Mode == flotillav1.AccessPull && !have:
		ns, err := ensureAgentNamespace(ctx, r.Client, c.Namespace, c.Name)
		if err != nil {
			return err
		}
		ctrl.LoggerFrom(ctx).Info("agent namespace ready", "namespace", ns)
	case c.Spec.Access.Mode != flotillav1.AccessPull && have:
		return r.removeAgentNamespace(ctx, c, "cluster "+c.Name+" is no longer declared with access.mode Pull")
	}
	return nil
}

// hasAgentNamespace reports whether the cache holds the cluster's Agent
// object, the last object ensureAgentNamespace creates.
func (r *ClusterReconciler) hasAgentNamespace(ctx context.Context, c *flotillav1.Cluster) (bool, error) {
	key := client.ObjectKey{Namespace: flotillav1.AgentNamespace(c.Namespace, c.Name), Name: flotillav1.AgentObjectName}
	err := r.Get(ctx, key, &flotillav1.Agent{})
	switch {
	case err == nil:
		return true, nil
	case apierrors.IsNotFound(err):
		return false, nil
	default:
		return false, fmt.Errorf("read the Agent of cluster %s: %w", c.Name, err)
	}
}

// removeAgentNamespace revokes the cluster's agent identity, marks its
// registrations Revoked and deletes its agent namespace. A cluster that is
// not pull and has no Agent object has nothing to remove.
func (r *ClusterReconciler) removeAgentNamespace(ctx context.Context, c *flotillav1.Cluster, why string) error {
	if c.Spec.Access.Mode != flotillav1.AccessPull {
		have, err := r.hasAgentNamespace(ctx, c)
		if err != nil || !have {
			return err
		}
	}
	if _, err := RevokeCluster(ctx, r.Client, c.Namespace, c.Name, flotillav1.ReasonClusterRemoved, why, ""); err != nil {
		return err
	}
	name := flotillav1.AgentNamespace(c.Namespace, c.Name)
	// The Agent goes first: once the cache misses it, the cluster counts
	// as having no namespace, even while the namespace still terminates.
	agent := &flotillav1.Agent{ObjectMeta: metav1.ObjectMeta{Name: flotillav1.AgentObjectName, Namespace: name}}
	if err := r.Delete(ctx, agent); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("delete the Agent of cluster %s: %w", c.Name, err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := r.Delete(ctx, ns); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete agent namespace %s of cluster %s: %w", name, c.Name, err)
	}
	ctrl.LoggerFrom(ctx).Info("agent namespace deleted", "namespace", name)
	r.Recorder.Eventf(c, corev1.EventTypeNormal, "AgentNamespaceDeleted", "agent namespace %s deleted: %s", name, why)
	return nil
}
