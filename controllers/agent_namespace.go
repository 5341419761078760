package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// ensureAgentNamespace creates the hub namespace of a pull cluster (see
// flotillav1.AgentNamespace), labelled with its cluster and fleet
// namespace, and returns its name. It is idempotent: a namespace that
// exists is left as it is.
func ensureAgentNamespace(ctx context.Context, c client.Client, fleetNamespace, cluster string) (string, error) {
	name := flotillav1.AgentNamespace(fleetNamespace, cluster)
	ns := &corev1.Namespace{}
	err := c.Get(ctx, client.ObjectKey{Name: name}, ns)
	if err == nil {
		return name, nil
	}
	if !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("read agent namespace %s of cluster %s: %w", name, cluster, err)
	}
	ns = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: name,
		Labels: map[string]string{
			flotillav1.LabelAgentCluster:        cluster,
			flotillav1.LabelAgentFleetNamespace: fleetNamespace,
			flotillav1.LabelManagedBy:           flotillav1.ManagedByValue,
		},
	}}
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("create agent namespace %s of cluster %s: %w", name, cluster, err)
	}
	return name, nil
}
