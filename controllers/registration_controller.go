package controllers

import (
	"context"
	"crypto/ecdh"
	"fmt"
	"time"

	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/flotilla-gitops/flotilla/agent/seal"
	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// +kubebuilder:rbac:groups=flotilla.dev,resources=clusterregistrations,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=flotilla.dev,resources=clusterregistrations/status,verbs=get;update;patch

// RegistrationReconciler answers the ClusterRegistrations that pull-mode
// agents create with the bootstrap credential: it approves them (the first
// one of a cluster declared with access.mode Pull automatically, any other
// when a person sets flotilla.dev/approved=true), provisions the cluster's
// agent identity and seals a token for it to the registration's public key.
type RegistrationReconciler struct {
	client.Client
	// APIReader reads past the cache where "first come" must be exact.
	APIReader client.Reader
	Recorder  record.EventRecorder
	Options   Options
}

// SetupWithManager registers the reconciler; a Cluster's change wakes the
// registrations of that cluster that have no identity yet.
func (r *RegistrationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&flotillav1.ClusterRegistration{}).
		Watches(&flotillav1.Cluster{}, handler.EnqueueRequestsFromMapFunc(r.registrationsOf)).
		// One at a time, so that two registrations of one cluster cannot
		// both be approved as the first.
		WithOptions(controller.Options{MaxConcurrentReconciles: 1}).
		Named("clusterregistration").
		Complete(r)
}

// registrationsOf maps a Cluster to its registrations still without an
// identity.
func (r *RegistrationReconciler) registrationsOf(ctx context.Context, obj client.Object) []reconcile.Request {
	list := &flotillav1.ClusterRegistrationList{}
	if err := r.List(ctx, list, client.InNamespace(obj.GetNamespace())); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "list ClusterRegistrations", "namespace", obj.GetNamespace())
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		reg := &list.Items[i]
		if reg.Spec.ClusterName == obj.GetName() && !conditions.IsTrue(reg, flotillav1.IssuedCondition) && !conditions.IsTrue(reg, flotillav1.RevokedCondition) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(reg)})
		}
	}
	return out
}

// Reconcile approves or refuses one registration and issues its identity.
func (r *RegistrationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	reg := &flotillav1.ClusterRegistration{}
	if err := r.Get(ctx, req.NamespacedName, reg); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if conditions.IsTrue(reg, flotillav1.RevokedCondition) || conditions.IsTrue(reg, flotillav1.IssuedCondition) {
		return ctrl.Result{}, nil
	}
	log := ctrl.LoggerFrom(ctx).WithValues("registration", reg.Name, "cluster", reg.Spec.ClusterName)
	ctx = ctrl.LoggerInto(ctx, log)
	if !conditions.Has(reg, flotillav1.ApprovedCondition) && reg.Annotations[flotillav1.AnnotationApproved] != "" {
		return ctrl.Result{}, r.dropCreatorsApproval(ctx, reg)
	}
	before := reg.Status.DeepCopy()
	defer func() {
		if err := writeStatus(ctx, r.Client, reg, *before, reg.Status); err != nil && retErr == nil {
			retErr = err
		}
	}()

	if msg := invalidRegistration(reg); msg != "" {
		conditions.MarkFalse(reg, flotillav1.ApprovedCondition, flotillav1.ReasonInvalidRegistration, "%s", msg)
		return ctrl.Result{}, nil
	}
	c := &flotillav1.Cluster{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: reg.Namespace, Name: reg.Spec.ClusterName}, c); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("read Cluster %s of registration %s: %w", reg.Spec.ClusterName, reg.Name, err)
		}
		conditions.MarkUnknown(reg, flotillav1.ApprovedCondition, flotillav1.ReasonClusterNotDeclared,
			"no Cluster %q in namespace %s: declare clusters/%s.yaml with spec.access.mode: Pull in the fleet repository", reg.Spec.ClusterName, reg.Namespace, reg.Spec.ClusterName)
		return ctrl.Result{}, nil
	}
	if c.Spec.Access.Mode != flotillav1.AccessPull {
		if !conditions.IsFalse(reg, flotillav1.ApprovedCondition) {
			r.Recorder.Eventf(reg, corev1.EventTypeWarning, flotillav1.ReasonPushCluster, "refused: cluster %s is declared with access.mode Push", c.Name)
		}
		conditions.MarkFalse(reg, flotillav1.ApprovedCondition, flotillav1.ReasonPushCluster,
			"refused: cluster %s is declared with access.mode Push, so the hub connects to it and no agent may register for it; set spec.access.mode: Pull in clusters/%s.yaml to run an agent there", c.Name, c.Name)
		return ctrl.Result{}, nil
	}
	if !conditions.IsTrue(reg, flotillav1.ApprovedCondition) {
		approved, err := r.approve(ctx, reg)
		if err != nil || !approved {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, r.issue(ctx, reg)
}

// invalidRegistration returns what is wrong with a registration's spec, or
// "".
func invalidRegistration(reg *flotillav1.ClusterRegistration) string {
	if errs := validation.IsDNS1123Label(reg.Spec.ClusterName); len(errs) > 0 {
		return fmt.Sprintf("spec.clusterName %q is not a cluster name: %s", reg.Spec.ClusterName, errs[0])
	}
	if _, err := ecdh.X25519().NewPublicKey(reg.Spec.PublicKey); err != nil {
		return fmt.Sprintf("spec.publicKey is not an X25519 public key (%d bytes, want 32): register again with a key from the agent", len(reg.Spec.PublicKey))
	}
	return ""
}

// dropCreatorsApproval removes an approval annotation the registration was
// created with: the bootstrap identity may create registrations but must
// not approve them. A person approves once the hub marked it pending.
func (r *RegistrationReconciler) dropCreatorsApproval(ctx context.Context, reg *flotillav1.ClusterRegistration) error {
	patch := client.MergeFrom(reg.DeepCopy())
	delete(reg.Annotations, flotillav1.AnnotationApproved)
	if err := r.Patch(ctx, reg, patch); err != nil {
		return fmt.Errorf("remove the approval annotation registration %s was created with: %w", reg.Name, err)
	}
	ctrl.LoggerFrom(ctx).Info("ignored an approval annotation set when the registration was created")
	r.Recorder.Eventf(reg, corev1.EventTypeWarning, flotillav1.ReasonAwaitingApproval,
		"the registration was created with %s set: ignored; approve it once it is marked pending", flotillav1.AnnotationApproved)
	return nil
}

// approve decides a pending registration of a pull cluster: a person's
// approval, or automatically the first registration of a cluster that has
// no agent identity and never had an approved registration. It reports
// whether the registration is approved.
func (r *RegistrationReconciler) approve(ctx context.Context, reg *flotillav1.ClusterRegistration) (bool, error) {
	if reg.Annotations[flotillav1.AnnotationApproved] == "true" {
		conditions.MarkTrue(reg, flotillav1.ApprovedCondition, flotillav1.ReasonApprovedByUser, "approved with %s=true", flotillav1.AnnotationApproved)
		r.Recorder.Eventf(reg, corev1.EventTypeNormal, flotillav1.ReasonApprovedByUser, "approved for cluster %s", reg.Spec.ClusterName)
		return true, nil
	}
	holder, err := r.identityHolder(ctx, reg)
	if err != nil {
		return false, err
	}
	if holder != "" {
		conditions.MarkUnknown(reg, flotillav1.ApprovedCondition, flotillav1.ReasonAwaitingApproval,
			"cluster %s already has or had an agent identity (%s): a person must approve this registration: flotilla cluster approve %s -n %s",
			reg.Spec.ClusterName, holder, reg.Spec.ClusterName, reg.Namespace)
		return false, nil
	}
	conditions.MarkTrue(reg, flotillav1.ApprovedCondition, flotillav1.ReasonClusterDeclaredPull,
		"cluster %s is declared with access.mode Pull and had no agent identity", reg.Spec.ClusterName)
	r.Recorder.Eventf(reg, corev1.EventTypeNormal, flotillav1.ReasonClusterDeclaredPull, "approved for cluster %s", reg.Spec.ClusterName)
	return true, nil
}

// identityHolder names what keeps a registration from being approved
// automatically: another registration of the same cluster that was ever
// approved, or an existing agent ServiceAccount. "" when nothing does. It
// reads the API server, not the cache, so that the first come is exact.
func (r *RegistrationReconciler) identityHolder(ctx context.Context, reg *flotillav1.ClusterRegistration) (string, error) {
	list := &flotillav1.ClusterRegistrationList{}
	if err := r.APIReader.List(ctx, list, client.InNamespace(reg.Namespace)); err != nil {
		return "", fmt.Errorf("list ClusterRegistrations in %s: %w", reg.Namespace, err)
	}
	for i := range list.Items {
		other := &list.Items[i]
		if other.Name != reg.Name && other.Spec.ClusterName == reg.Spec.ClusterName && conditions.IsTrue(other, flotillav1.ApprovedCondition) {
			return "registration " + other.Name, nil
		}
	}
	ns := flotillav1.AgentNamespace(reg.Namespace, reg.Spec.ClusterName)
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: ns, Name: flotillav1.AgentObjectName}, &corev1.ServiceAccount{})
	switch {
	case err == nil:
		return "ServiceAccount " + ns + "/" + flotillav1.AgentObjectName, nil
	case apierrors.IsNotFound(err):
		return "", nil
	default:
		return "", fmt.Errorf("read the agent ServiceAccount of cluster %s: %w", reg.Spec.ClusterName, err)
	}
}

// issue provisions the agent identity of an approved registration and
// seals a token for it into the status. Registrations of the same cluster
// that hold an identity are superseded: their ServiceAccount is replaced,
// so their tokens stop working.
func (r *RegistrationReconciler) issue(ctx context.Context, reg *flotillav1.ClusterRegistration) error {
	cluster := reg.Spec.ClusterName
	if err := r.supersede(ctx, reg); err != nil {
		return err
	}
	ns, err := ensureAgentNamespace(ctx, r.Client, reg.Namespace, cluster)
	if err != nil {
		return err
	}
	if err := ensureAgentIdentity(ctx, r.Client, reg.Namespace, cluster); err != nil {
		return err
	}
	token, expires, err := issueAgentToken(ctx, r.Client, reg.Namespace, cluster, int64(r.Options.AgentTokenTTL/time.Second))
	if err != nil {
		return err
	}
	sealed, err := seal.Seal(reg.Spec.PublicKey, []byte(token))
	if err != nil {
		return fmt.Errorf("seal the token of registration %s: %w", reg.Name, err)
	}
	reg.Status.Namespace = ns
	reg.Status.ServiceAccount = flotillav1.AgentObjectName
	reg.Status.Credential = sealed
	reg.Status.ExpirationTime = &expires
	conditions.MarkTrue(reg, flotillav1.IssuedCondition, flotillav1.ReasonIssued,
		"token of ServiceAccount %s/%s sealed to the registration's public key, valid until %s", ns, flotillav1.AgentObjectName, expires.UTC().Format(time.RFC3339))
	r.Recorder.Eventf(reg, corev1.EventTypeNormal, flotillav1.ReasonIssued, "identity %s/%s issued", ns, flotillav1.AgentObjectName)
	ctrl.LoggerFrom(ctx).Info("agent identity issued", "namespace", ns, "expires", expires.UTC().Format(time.RFC3339))
	return nil
}

// supersede revokes the identity held by other registrations of the same
// cluster, before reg obtains a new one.
func (r *RegistrationReconciler) supersede(ctx context.Context, reg *flotillav1.ClusterRegistration) error {
	list := &flotillav1.ClusterRegistrationList{}
	if err := r.APIReader.List(ctx, list, client.InNamespace(reg.Namespace)); err != nil {
		return fmt.Errorf("list ClusterRegistrations in %s: %w", reg.Namespace, err)
	}
	var held []string
	for i := range list.Items {
		other := &list.Items[i]
		if other.Name != reg.Name && other.Spec.ClusterName == reg.Spec.ClusterName && holdsIdentity(other) {
			held = append(held, other.Name)
		}
	}
	if len(held) == 0 {
		return nil
	}
	_, err := RevokeCluster(ctx, r.Client, reg.Namespace, reg.Spec.ClusterName, flotillav1.ReasonSuperseded,
		fmt.Sprintf("registration %s was approved for cluster %s and replaced this identity", reg.Name, reg.Spec.ClusterName), reg.Name)
	return err
}
