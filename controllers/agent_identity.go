package controllers

import (
	"context"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// The hub needs, for itself, every right it grants an agent (RBAC refuses
// to create a Role with more rights than its creator holds).
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;create;patch;delete
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get;create;patch;delete
// +kubebuilder:rbac:groups="",resources=serviceaccounts/token,verbs=create
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;create;patch;delete
// +kubebuilder:rbac:groups=flotilla.dev,resources=agents,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=flotilla.dev,resources=agents/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=flotilla.dev,resources=bundles;bundlechunks,verbs=get;list;watch
// +kubebuilder:rbac:groups=flotilla.dev,resources=bundles/status,verbs=get;update;patch

// identityFieldOwner is the server-side apply field manager of the objects
// that make up an agent namespace and an agent identity.
const identityFieldOwner = flotillav1.FieldManager + "-agent-identity"

// agentNamespaceLabels are the labels of a pull cluster's agent namespace.
func agentNamespaceLabels(fleetNamespace, cluster string) map[string]string {
	return map[string]string{
		flotillav1.LabelManagedBy:           flotillav1.ManagedByValue,
		flotillav1.LabelAgentCluster:        cluster,
		flotillav1.LabelAgentFleetNamespace: fleetNamespace,
	}
}

// ensureAgentNamespace makes sure the agent namespace of pull cluster
// cluster of fleetNamespace exists, labelled, with its Agent object "agent"
// (whose status only the agent writes), and returns the namespace's name.
// It is idempotent and sends two requests when everything is in place.
func ensureAgentNamespace(ctx context.Context, cl client.Client, fleetNamespace, cluster string) (string, error) {
	name := flotillav1.AgentNamespace(fleetNamespace, cluster)
	if agentNamespaceInPlace(ctx, cl, name, fleetNamespace, cluster) {
		// Read from the cache: a heartbeat of a provisioned pull cluster
		// sends nothing.
		return name, nil
	}
	ns := corev1ac.Namespace(name).WithLabels(agentNamespaceLabels(fleetNamespace, cluster))
	if err := cl.Apply(ctx, ns, client.FieldOwner(identityFieldOwner), client.ForceOwnership); err != nil {
		return "", fmt.Errorf("ensure agent namespace %s of cluster %s: %w", name, cluster, err)
	}
	agent := &flotillav1.Agent{ObjectMeta: metav1.ObjectMeta{
		Name: flotillav1.AgentObjectName, Namespace: name,
		Labels: agentNamespaceLabels(fleetNamespace, cluster),
	}}
	if err := cl.Create(ctx, agent); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("create the Agent object in namespace %s of cluster %s: %w", name, cluster, err)
	}
	return name, nil
}

// agentNamespaceInPlace reports whether the agent namespace exists with its
// labels and holds the Agent object.
func agentNamespaceInPlace(ctx context.Context, cl client.Client, name, fleetNamespace, cluster string) bool {
	ns := &corev1.Namespace{}
	if err := cl.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil || !ns.DeletionTimestamp.IsZero() {
		return false
	}
	for k, v := range agentNamespaceLabels(fleetNamespace, cluster) {
		if ns.Labels[k] != v {
			return false
		}
	}
	agent := &flotillav1.Agent{}
	return cl.Get(ctx, client.ObjectKey{Namespace: name, Name: flotillav1.AgentObjectName}, agent) == nil
}

// agentRules are the only rights of an agent identity, in its own agent
// namespace: read its bundles, write their status and its own heartbeat,
// renew its own token, and record events.
func agentRules() []*rbacv1ac.PolicyRuleApplyConfiguration {
	return []*rbacv1ac.PolicyRuleApplyConfiguration{
		rbacv1ac.PolicyRule().WithAPIGroups(flotillav1.GroupVersion.Group).
			WithResources("bundles", "bundlechunks").WithVerbs("get", "list", "watch"),
		rbacv1ac.PolicyRule().WithAPIGroups(flotillav1.GroupVersion.Group).
			WithResources("bundles/status").WithVerbs("get", "update", "patch"),
		rbacv1ac.PolicyRule().WithAPIGroups(flotillav1.GroupVersion.Group).
			WithResources("agents").WithVerbs("get", "list", "watch"),
		rbacv1ac.PolicyRule().WithAPIGroups(flotillav1.GroupVersion.Group).
			WithResources("agents/status").WithResourceNames(flotillav1.AgentObjectName).WithVerbs("get", "update", "patch"),
		rbacv1ac.PolicyRule().WithAPIGroups(corev1.GroupName).
			WithResources("serviceaccounts/token").WithResourceNames(flotillav1.AgentObjectName).WithVerbs("create"),
		rbacv1ac.PolicyRule().WithAPIGroups(corev1.GroupName).
			WithResources("events").WithVerbs("create"),
	}
}

// ensureAgentIdentity makes sure the agent namespace holds the
// ServiceAccount "agent", the Role "agent" with exactly agentRules and the
// RoleBinding "agent" between them.
func ensureAgentIdentity(ctx context.Context, cl client.Client, fleetNamespace, cluster string) error {
	ns := flotillav1.AgentNamespace(fleetNamespace, cluster)
	if err := markAgentRevoked(ctx, cl, ns, false); err != nil {
		return fmt.Errorf("clear the revocation mark of agent namespace %s of cluster %s: %w", ns, cluster, err)
	}
	labels := agentNamespaceLabels(fleetNamespace, cluster)
	name := flotillav1.AgentObjectName
	owner := []client.ApplyOption{client.FieldOwner(identityFieldOwner), client.ForceOwnership}
	if err := cl.Apply(ctx, corev1ac.ServiceAccount(name, ns).WithLabels(labels), owner...); err != nil {
		return fmt.Errorf("ensure ServiceAccount %s/%s of cluster %s: %w", ns, name, cluster, err)
	}
	if err := cl.Apply(ctx, rbacv1ac.Role(name, ns).WithLabels(labels).WithRules(agentRules()...), owner...); err != nil {
		return fmt.Errorf("ensure Role %s/%s of cluster %s: %w", ns, name, cluster, err)
	}
	binding := rbacv1ac.RoleBinding(name, ns).WithLabels(labels).
		WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("Role").WithName(name)).
		WithSubjects(rbacv1ac.Subject().WithKind(rbacv1.ServiceAccountKind).WithName(name).WithNamespace(ns))
	if err := cl.Apply(ctx, binding, owner...); err != nil {
		return fmt.Errorf("ensure RoleBinding %s/%s of cluster %s: %w", ns, name, cluster, err)
	}
	return nil
}

// RevokeAgentIdentity deletes the ServiceAccount "agent" of a pull cluster's
// agent namespace, which invalidates every token issued for it at once, and
// its RoleBinding. Missing objects are not an error. The CLI's `flotilla
// cluster revoke` and the registration reconciler share it.
func RevokeAgentIdentity(ctx context.Context, cl client.Client, fleetNamespace, cluster string) error {
	ns := flotillav1.AgentNamespace(fleetNamespace, cluster)
	name := flotillav1.AgentObjectName
	// First stop the hub writing desired state there: the revoked agent may
	// still hold a watch opened before the revocation.
	if err := markAgentRevoked(ctx, cl, ns, true); err != nil {
		return fmt.Errorf("mark agent namespace %s of cluster %s revoked: %w", ns, cluster, err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	if err := cl.Delete(ctx, sa); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("delete ServiceAccount %s/%s of cluster %s: %w", ns, name, cluster, err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	if err := cl.Delete(ctx, rb); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("delete RoleBinding %s/%s of cluster %s: %w", ns, name, cluster, err)
	}
	return nil
}

// issueAgentToken requests a token for the ServiceAccount "agent" of the
// cluster's agent namespace, valid for ttl. The token must never be logged,
// recorded in an event or written anywhere but sealed.
func issueAgentToken(ctx context.Context, cl client.Client, fleetNamespace, cluster string, ttl int64) (token string, expires metav1.Time, err error) {
	ns := flotillav1.AgentNamespace(fleetNamespace, cluster)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: flotillav1.AgentObjectName, Namespace: ns}}
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &ttl}}
	if err := cl.SubResource("token").Create(ctx, sa, tr); err != nil {
		return "", metav1.Time{}, fmt.Errorf("request a token for ServiceAccount %s/%s: %w", ns, sa.Name, err)
	}
	return tr.Status.Token, tr.Status.ExpirationTimestamp, nil
}

// markAgentRevoked sets or removes flotillav1.AnnotationAgentRevoked on an
// agent namespace; a missing namespace has nothing to mark.
func markAgentRevoked(ctx context.Context, cl client.Client, ns string, revoked bool) error {
	value := "null"
	if revoked {
		value = `"` + metav1.Now().UTC().Format(time.RFC3339) + `"`
	}
	patch := []byte(`{"metadata":{"annotations":{"` + flotillav1.AnnotationAgentRevoked + `":` + value + `}}}`)
	obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
	return client.IgnoreNotFound(cl.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch)))
}

// agentRevoked reports whether the agent namespace ns is marked revoked.
func agentRevoked(ctx context.Context, cl client.Reader, ns string) bool {
	obj := &corev1.Namespace{}
	if err := cl.Get(ctx, client.ObjectKey{Name: ns}, obj); err != nil {
		return false
	}
	_, ok := obj.Annotations[flotillav1.AnnotationAgentRevoked]
	return ok
}
