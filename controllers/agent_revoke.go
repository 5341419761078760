package controllers

import (
	"context"
	"errors"
	"fmt"

	"github.com/fluxcd/pkg/runtime/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// holdsIdentity reports whether a registration was approved and not
// revoked since: its agent may hold a token.
func holdsIdentity(reg *flotillav1.ClusterRegistration) bool {
	approved := conditions.IsTrue(reg, flotillav1.ApprovedCondition) || conditions.IsTrue(reg, flotillav1.IssuedCondition)
	return approved && !conditions.IsTrue(reg, flotillav1.RevokedCondition)
}

// RevokeCluster revokes the agent identity of a pull cluster: it deletes
// the ServiceAccount "agent" of the cluster's agent namespace (every token
// issued for it stops working at once) and its RoleBinding, then marks
// every registration of the cluster that held the identity Revoked with
// reason and message, except the one named keep (if any). It returns the
// names of the registrations it marked. `flotilla cluster revoke`, the
// registration reconciler (a newer registration supersedes an older one)
// and the Cluster reconciler (the cluster leaves the fleet) share it.
func RevokeCluster(ctx context.Context, cl client.Client, fleetNamespace, cluster, reason, message, keep string) ([]string, error) {
	if err := RevokeAgentIdentity(ctx, cl, fleetNamespace, cluster); err != nil {
		return nil, err
	}
	list := &flotillav1.ClusterRegistrationList{}
	if err := cl.List(ctx, list, client.InNamespace(fleetNamespace)); err != nil {
		return nil, fmt.Errorf("list the registrations of cluster %s: %w", cluster, err)
	}
	var marked []string
	var errs []error
	for i := range list.Items {
		reg := &list.Items[i]
		if reg.Name == keep || reg.Spec.ClusterName != cluster || !holdsIdentity(reg) {
			continue
		}
		before := reg.Status.DeepCopy()
		conditions.MarkTrue(reg, flotillav1.RevokedCondition, reason, "%s", message)
		// The sealed token is dead: drop it, so nothing holds it longer.
		reg.Status.Credential = nil
		if err := writeStatus(ctx, cl, reg, *before, reg.Status); err != nil {
			errs = append(errs, fmt.Errorf("mark registration %s revoked: %w", reg.Name, err))
			continue
		}
		marked = append(marked, reg.Name)
	}
	return marked, errors.Join(errs...)
}
