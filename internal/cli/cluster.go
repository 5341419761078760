package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/fluxcd/pkg/runtime/conditions"
	"github.com/spf13/cobra"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/controllers"
)

func init() { extraCommands = append(extraCommands, newClusterCommand) }

// cliFieldOwner is the server-side apply field manager of what the CLI
// creates on the hub.
const cliFieldOwner = "flotilla-cli"

func newClusterCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Register, approve and revoke pull-mode cluster agents on the hub",
		Long: `Manage the identities of pull-mode agents (clusters declared with
spec.access.mode: Pull, see docs/hub.md "Pull-mode clusters: registering an agent").
bootstrap-token gives an agent a short-lived credential to register with;
approve lets a registration the hub did not approve by itself obtain its
identity; revoke takes a cluster's agent identity away at once.`,
	}
	cmd.AddCommand(newBootstrapTokenCommand(), newClusterApproveCommand(), newClusterRevokeCommand(), newListRegistrationsCommand())
	return cmd
}

// hubConfig connects to the hub and also returns its rest.Config.
func (h *hubFlags) hubConfig() (client.Client, *rest.Config, string, error) {
	cl, cc, err := connectHub(h.kubeconfig, h.context)
	if err != nil {
		return nil, nil, "", err
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, nil, "", fmt.Errorf("load the hub kubeconfig: %w", err)
	}
	ns := h.namespace
	if ns == "" {
		if ns, _, err = cc.Namespace(); err != nil {
			return nil, nil, "", fmt.Errorf("read the kubeconfig's namespace: %w", err)
		}
	}
	return cl, cfg, ns, nil
}

func newBootstrapTokenCommand() *cobra.Command {
	var (
		h             hubFlags
		ttl           time.Duration
		kubeconfigOut string
		hubURL        string
	)
	cmd := &cobra.Command{
		Use:   "bootstrap-token",
		Short: "Print a short-lived token with which agents register (or write a kubeconfig for them)",
		Long: `Make sure the fleet namespace holds the ServiceAccount flotilla-bootstrap, whose
only right is to create and read ClusterRegistrations, and print a token for it
that expires after --ttl. With --kubeconfig-out, write instead a kubeconfig for
the agent with the hub's URL, its CA and the token.

Anyone holding this token can register an agent for any pull cluster of the
fleet that has no agent yet: keep it short-lived and hand it over privately.`,
		Example: "  flotilla cluster bootstrap-token -n fleet --ttl 1h\n  flotilla cluster bootstrap-token -n fleet --kubeconfig-out bootstrap.kubeconfig --hub-url https://hub.example.com:6443",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ttl < 10*time.Minute {
				return &ExitError{Code: 2, Err: fmt.Errorf("--ttl %s is too short: the hub issues tokens of at least 10m", ttl)}
			}
			cl, cfg, ns, err := h.hubConfig()
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			ctx := cmd.Context()
			if err := ensureBootstrapIdentity(ctx, cl, ns); err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			token, expires, err := bootstrapToken(ctx, cl, ns, ttl)
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			if kubeconfigOut == "" {
				fmt.Fprintln(cmd.OutOrStdout(), token)
				fmt.Fprintf(cmd.ErrOrStderr(), "bootstrap token of %s/%s, valid until %s\n", ns, flotillav1.BootstrapServiceAccount, expires.UTC().Format(time.RFC3339))
				return nil
			}
			if hubURL == "" {
				hubURL = cfg.Host
			}
			if err := writeBootstrapKubeconfig(kubeconfigOut, cfg, hubURL, ns, token); err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: hub %s, namespace %s, token valid until %s\n", kubeconfigOut, hubURL, ns, expires.UTC().Format(time.RFC3339))
			return nil
		},
	}
	h.register(cmd)
	f := cmd.Flags()
	f.DurationVar(&ttl, "ttl", time.Hour, "how long the token is valid (at least 10m)")
	f.StringVar(&kubeconfigOut, "kubeconfig-out", "", "write a kubeconfig for the agent (hub URL, CA, token) to this file instead of printing the token")
	f.StringVar(&hubURL, "hub-url", "", "the hub's URL as the agent reaches it, for --kubeconfig-out (default: the server of the hub kubeconfig)")
	return cmd
}

// ensureBootstrapIdentity makes sure ns holds the ServiceAccount, Role and
// RoleBinding flotilla-bootstrap: create, get, list and watch
// ClusterRegistrations, nothing else.
func ensureBootstrapIdentity(ctx context.Context, cl client.Client, ns string) error {
	name := flotillav1.BootstrapServiceAccount
	labels := map[string]string{flotillav1.LabelManagedBy: flotillav1.ManagedByValue}
	owner := []client.ApplyOption{client.FieldOwner(cliFieldOwner), client.ForceOwnership}
	if err := cl.Apply(ctx, corev1ac.ServiceAccount(name, ns).WithLabels(labels), owner...); err != nil {
		return fmt.Errorf("ensure ServiceAccount %s/%s: %w", ns, name, err)
	}
	role := rbacv1ac.Role(name, ns).WithLabels(labels).WithRules(
		rbacv1ac.PolicyRule().WithAPIGroups(flotillav1.GroupVersion.Group).
			WithResources("clusterregistrations").WithVerbs("create", "get", "list", "watch"))
	if err := cl.Apply(ctx, role, owner...); err != nil {
		return fmt.Errorf("ensure Role %s/%s: %w", ns, name, err)
	}
	binding := rbacv1ac.RoleBinding(name, ns).WithLabels(labels).
		WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("Role").WithName(name)).
		WithSubjects(rbacv1ac.Subject().WithKind(rbacv1.ServiceAccountKind).WithName(name).WithNamespace(ns))
	if err := cl.Apply(ctx, binding, owner...); err != nil {
		return fmt.Errorf("ensure RoleBinding %s/%s: %w", ns, name, err)
	}
	return nil
}

// bootstrapToken requests a token of the bootstrap ServiceAccount.
func bootstrapToken(ctx context.Context, cl client.Client, ns string, ttl time.Duration) (string, metav1.Time, error) {
	seconds := int64(ttl / time.Second)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: flotillav1.BootstrapServiceAccount, Namespace: ns}}
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &seconds}}
	if err := cl.SubResource("token").Create(ctx, sa, tr); err != nil {
		return "", metav1.Time{}, fmt.Errorf("request a token for ServiceAccount %s/%s: %w", ns, sa.Name, err)
	}
	return tr.Status.Token, tr.Status.ExpirationTimestamp, nil
}

// writeBootstrapKubeconfig writes, readable by its owner only, a kubeconfig
// with the hub's URL, the hub's CA (from the hub kubeconfig) and the token.
func writeBootstrapKubeconfig(path string, hub *rest.Config, hubURL, ns, token string) error {
	ca := hub.CAData
	if len(ca) == 0 && hub.CAFile != "" {
		data, err := os.ReadFile(hub.CAFile)
		if err != nil {
			return fmt.Errorf("read the hub's CA file %s named by the hub kubeconfig: %w", hub.CAFile, err)
		}
		ca = data
	}
	const name = "flotilla-hub"
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{Server: hubURL, CertificateAuthorityData: ca, TLSServerName: hub.ServerName}
	kc.AuthInfos[flotillav1.BootstrapServiceAccount] = &clientcmdapi.AuthInfo{Token: token}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: flotillav1.BootstrapServiceAccount, Namespace: ns}
	kc.CurrentContext = name
	data, err := clientcmd.Write(*kc)
	if err != nil {
		return fmt.Errorf("encode the bootstrap kubeconfig: %w", err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("write the bootstrap kubeconfig --kubeconfig-out %s: %w", path, err)
	}
	return nil
}

func newClusterApproveCommand() *cobra.Command {
	var h hubFlags
	cmd := &cobra.Command{
		Use:   "approve CLUSTER",
		Short: "Approve the newest pending registration of a pull cluster's agent",
		Long: `Set flotilla.dev/approved=true on the newest registration of CLUSTER that
waits for a person (the hub approves only the first registration of a cluster
by itself). The hub then issues the agent's identity; an identity the cluster
held before is replaced, so its old agent loses access.`,
		Example: "  flotilla cluster approve dresden -n fleet",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, ns, err := h.client()
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			reg, err := pendingRegistration(cmd.Context(), cl, ns, args[0])
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			patch := client.MergeFrom(reg.DeepCopy())
			if reg.Annotations == nil {
				reg.Annotations = map[string]string{}
			}
			reg.Annotations[flotillav1.AnnotationApproved] = "true"
			if err := cl.Patch(cmd.Context(), reg, patch); err != nil {
				return &ExitError{Code: 2, Err: fmt.Errorf("approve ClusterRegistration %s/%s: %w", ns, reg.Name, err)}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "approved registration %s of cluster %s; the hub issues its identity\n", reg.Name, args[0])
			return nil
		},
	}
	h.register(cmd)
	return cmd
}

// pendingRegistration returns the newest registration of cluster that
// waits for a person, or an error that says why there is none.
func pendingRegistration(ctx context.Context, cl client.Client, ns, cluster string) (*flotillav1.ClusterRegistration, error) {
	regs, err := registrationsOf(ctx, cl, ns, cluster)
	if err != nil {
		return nil, err
	}
	if len(regs) == 0 {
		return nil, fmt.Errorf("cluster %s has no ClusterRegistration in namespace %s: start its agent with a bootstrap token first", cluster, ns)
	}
	for i := range regs {
		reg := &regs[i]
		approved := conditions.Get(reg, flotillav1.ApprovedCondition)
		switch {
		case conditions.IsTrue(reg, flotillav1.RevokedCondition), conditions.IsTrue(reg, flotillav1.IssuedCondition):
			continue
		case approved == nil:
			return nil, fmt.Errorf("the hub has not examined registration %s of cluster %s yet: is the controller running? Retry in a moment", reg.Name, cluster)
		case approved.Status == metav1.ConditionUnknown:
			return reg, nil
		case approved.Status == metav1.ConditionFalse:
			return nil, fmt.Errorf("registration %s of cluster %s was refused (%s): %s", reg.Name, cluster, approved.Reason, approved.Message)
		}
	}
	return nil, fmt.Errorf("cluster %s has no registration waiting for approval (the newest, %s, is %s)", cluster, regs[0].Name, registrationState(&regs[0]))
}

// registrationsOf lists the registrations of cluster, newest first.
func registrationsOf(ctx context.Context, cl client.Client, ns, cluster string) ([]flotillav1.ClusterRegistration, error) {
	list := &flotillav1.ClusterRegistrationList{}
	if err := cl.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("list ClusterRegistrations in %s: %w", ns, err)
	}
	var out []flotillav1.ClusterRegistration
	for _, reg := range list.Items {
		if cluster == "" || reg.Spec.ClusterName == cluster {
			out = append(out, reg)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		ti, tj := out[i].CreationTimestamp, out[j].CreationTimestamp
		if !ti.Equal(&tj) {
			return tj.Before(&ti)
		}
		return out[i].Name > out[j].Name
	})
	return out, nil
}

// registrationState is one word for where a registration stands.
func registrationState(reg *flotillav1.ClusterRegistration) string {
	switch {
	case conditions.IsTrue(reg, flotillav1.RevokedCondition):
		return "Revoked"
	case conditions.IsTrue(reg, flotillav1.IssuedCondition):
		return "Issued"
	case conditions.IsFalse(reg, flotillav1.ApprovedCondition):
		return "Refused"
	case conditions.IsTrue(reg, flotillav1.ApprovedCondition):
		return "Approved"
	case conditions.Has(reg, flotillav1.ApprovedCondition):
		return "Pending"
	default:
		return "New"
	}
}

func newClusterRevokeCommand() *cobra.Command {
	var h hubFlags
	cmd := &cobra.Command{
		Use:   "revoke CLUSTER",
		Short: "Take a pull cluster's agent identity away at once",
		Long: `Delete the ServiceAccount "agent" of CLUSTER's agent namespace and its
RoleBinding: every token issued to the agent stops working at once. The
registrations that held the identity are marked Revoked. The agent keeps its
cluster as it is and reports nothing; registering again needs a new bootstrap
token and a person's approval (flotilla cluster approve).`,
		Example: "  flotilla cluster revoke dresden -n fleet",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, ns, err := h.client()
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			var marked []string
			msg := "revoked with flotilla cluster revoke at " + time.Now().UTC().Format(time.RFC3339)
			err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
				more, err := controllers.RevokeCluster(cmd.Context(), cl, ns, args[0], flotillav1.ReasonRevokedByUser, msg, "")
				marked = append(marked, more...)
				return err
			})
			if err != nil {
				return &ExitError{Code: 2, Err: fmt.Errorf("revoke the agent identity of cluster %s: %w", args[0], err)}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked the agent identity of cluster %s (ServiceAccount %s/%s deleted)\n",
				args[0], flotillav1.AgentNamespace(ns, args[0]), flotillav1.AgentObjectName)
			for _, name := range marked {
				fmt.Fprintf(cmd.OutOrStdout(), "registration %s: Revoked\n", name)
			}
			return nil
		},
	}
	h.register(cmd)
	return cmd
}

func newListRegistrationsCommand() *cobra.Command {
	var h hubFlags
	cmd := &cobra.Command{
		Use:     "list-registrations [CLUSTER]",
		Short:   "List agent registrations (all, or one cluster's), newest first",
		Example: "  flotilla cluster list-registrations -n fleet",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, ns, err := h.client()
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			cluster := ""
			if len(args) == 1 {
				cluster = args[0]
			}
			regs, err := registrationsOf(cmd.Context(), cl, ns, cluster)
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			return printRegistrations(cmd.OutOrStdout(), regs)
		},
	}
	h.register(cmd)
	return cmd
}

func printRegistrations(out io.Writer, regs []flotillav1.ClusterRegistration) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "REGISTRATION\tCLUSTER\tSTATE\tAGENT\tCREATED\tMESSAGE")
	for i := range regs {
		reg := &regs[i]
		msg := conditions.GetMessage(reg, flotillav1.ApprovedCondition)
		for _, t := range []string{flotillav1.RevokedCondition, flotillav1.IssuedCondition} {
			if conditions.IsTrue(reg, t) {
				msg = conditions.GetMessage(reg, t)
				break
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", reg.Name, reg.Spec.ClusterName, registrationState(reg),
			reg.Spec.AgentVersion, reg.CreationTimestamp.UTC().Format(time.RFC3339), msg)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("print the registrations: %w", err)
	}
	return nil
}
