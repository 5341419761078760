package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/internal/hub"
)

func init() { extraCommands = append(extraCommands, newRolloutCommand) }

// hubFlags are the flags of the commands that talk to a hub.
type hubFlags struct {
	kubeconfig, context, namespace string
}

func (h *hubFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&h.kubeconfig, "kubeconfig", "", "kubeconfig of the hub (default: $KUBECONFIG, then ~/.kube/config)")
	f.StringVar(&h.context, "context", "", "kubeconfig context of the hub (default: the current context)")
	f.StringVarP(&h.namespace, "namespace", "n", "", "namespace of the fleet on the hub (default: the context's namespace)")
}

// client connects to the hub and returns the namespace to use.
func (h *hubFlags) client() (client.Client, string, error) {
	cl, cc, err := connectHub(h.kubeconfig, h.context)
	if err != nil {
		return nil, "", err
	}
	ns := h.namespace
	if ns == "" {
		if ns, _, err = cc.Namespace(); err != nil {
			return nil, "", fmt.Errorf("read the kubeconfig's namespace: %w", err)
		}
	}
	return cl, ns, nil
}

// connectHub returns a client of the hub that kubeconfig (default:
// $KUBECONFIG, then ~/.kube/config) and kubeContext (default: the current
// one) name, and the loaded kubeconfig.
func connectHub(kubeconfig, kubeContext string) (client.Client, clientcmd.ClientConfig, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, nil, fmt.Errorf("load the hub kubeconfig: %w", err)
	}
	scheme, err := hub.NewScheme()
	if err != nil {
		return nil, nil, err
	}
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, nil, fmt.Errorf("connect to the hub: %w", err)
	}
	return cl, cc, nil
}

func newRolloutCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Watch and drive an app's staged rollout on the hub",
		Long: `Watch and drive the staged rollout of an app (spec.rollout, see docs/rollouts.md).
approve, resume and abort set the App's flotilla.dev/rollout-* annotation to a
new value, exactly what kubectl annotate would do; the hub acts on it.`,
	}
	cmd.AddCommand(newRolloutStatusCommand())
	for _, c := range []struct{ verb, annotation, short string }{
		{"approve", flotillav1.AnnotationRolloutApprove, "Pass the approval gate the rollout waits at"},
		{"resume", flotillav1.AnnotationRolloutResume, "Continue a halted, rolled-back or aborted rollout, or end a pause early"},
		{"abort", flotillav1.AnnotationRolloutAbort, "Stop the rollout and return sites not Ready at the new revision to their last Ready one"},
	} {
		cmd.AddCommand(newRolloutVerbCommand(c.verb, c.annotation, c.short))
	}
	return cmd
}

func newRolloutVerbCommand(verb, annotation, short string) *cobra.Command {
	var h hubFlags
	cmd := &cobra.Command{
		Use:     verb + " APP",
		Short:   short,
		Example: fmt.Sprintf("  flotilla rollout %s adc-inference -n fleet", verb),
		Args:    cobra.ExactArgs(1),
		// Completes app names from the hub.
		ValidArgsFunction: hubArgCompletion(&h, "app"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, ns, err := h.client()
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			app := &flotillav1.App{}
			if err := cl.Get(cmd.Context(), client.ObjectKey{Namespace: ns, Name: args[0]}, app); err != nil {
				return &ExitError{Code: 2, Err: fmt.Errorf("read App %s/%s: %w", ns, args[0], err)}
			}
			if app.Spec.Rollout == nil {
				return &ExitError{Code: 2, Err: fmt.Errorf("app %s has no spec.rollout: a new revision reaches every cluster at once, so there is nothing to %s", args[0], verb)}
			}
			patch := client.MergeFrom(app.DeepCopy())
			if app.Annotations == nil {
				app.Annotations = map[string]string{}
			}
			app.Annotations[annotation] = time.Now().UTC().Format(time.RFC3339Nano)
			if err := cl.Patch(cmd.Context(), app, patch); err != nil {
				return &ExitError{Code: 2, Err: fmt.Errorf("set %s on App %s/%s: %w", annotation, ns, args[0], err)}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s requested for app %s (phase was %s)\n", verb, args[0], rolloutPhase(app))
			return nil
		},
	}
	h.register(cmd)
	return cmd
}

func rolloutPhase(app *flotillav1.App) string {
	if app.Status.Rollout == nil {
		return "not started"
	}
	return string(app.Status.Rollout.Phase)
}

func newRolloutStatusCommand() *cobra.Command {
	var (
		h      hubFlags
		output string
	)
	cmd := &cobra.Command{
		Use:     "status APP",
		Short:   "Print where an app's rollout stands: stages, sites, gates",
		Example: "  flotilla rollout status adc-inference -n fleet\n  flotilla rollout status adc-inference -o json",
		Args:    cobra.ExactArgs(1),
		// Completes app names from the hub.
		ValidArgsFunction: hubArgCompletion(&h, "app"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" {
				return &ExitError{Code: 2, Err: fmt.Errorf("--output %q: use table or json", output)}
			}
			cl, ns, err := h.client()
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			st, err := readRollout(cmd.Context(), cl, ns, args[0])
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			return printRollout(cmd.OutOrStdout(), st)
		},
	}
	h.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

// rolloutView is what `flotilla rollout status` prints.
type rolloutView struct {
	App     string                    `json:"app"`
	Rollout *flotillav1.RolloutStatus `json:"rollout"`
	Sites   []rolloutSite             `json:"sites"`
}

type rolloutSite struct {
	Cluster  string `json:"cluster"`
	Stage    string `json:"stage"`
	Released string `json:"released"`
	Applied  string `json:"applied"`
	Ready    string `json:"ready"`
	Message  string `json:"message,omitempty"`
}

func readRollout(ctx context.Context, cl client.Client, ns, name string) (*rolloutView, error) {
	app := &flotillav1.App{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, app); err != nil {
		return nil, fmt.Errorf("read App %s/%s: %w", ns, name, err)
	}
	if app.Spec.Rollout == nil {
		return nil, fmt.Errorf("app %s has no spec.rollout: every cluster gets a new revision at once", name)
	}
	syncs := &flotillav1.ClusterSyncList{}
	if err := cl.List(ctx, syncs, client.InNamespace(ns), client.MatchingLabels{flotillav1.LabelApp: name}); err != nil {
		return nil, fmt.Errorf("list the ClusterSyncs of app %s: %w", name, err)
	}
	v := &rolloutView{App: name, Rollout: app.Status.Rollout}
	for i := range syncs.Items {
		cs := &syncs.Items[i]
		s := rolloutSite{Cluster: cs.Spec.Cluster, Applied: cs.Status.AppliedRevision, Ready: condition(cs.Status.Conditions, "Ready"), Message: conditionMessage(cs.Status.Conditions, "Ready")}
		if cs.Spec.Rollout != nil {
			s.Stage, s.Released = cs.Spec.Rollout.Stage, cs.Spec.Rollout.Revision
		}
		v.Sites = append(v.Sites, s)
	}
	return v, nil
}

func printRollout(w io.Writer, v *rolloutView) error {
	st := v.Rollout
	if st == nil {
		fmt.Fprintf(w, "app %s: no rollout yet (the hub has not rendered it)\n", v.App)
		return nil
	}
	fmt.Fprintf(w, "app %s: revision %s, %s, stage %q, %s sites updated\n%s\n\n", v.App, st.Revision, st.Phase, st.StageName, st.Progress, st.Message)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tSITES\tUPDATED\tDEFERRED\tFAILED")
	for _, s := range st.Stages {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", s.Name, s.Sites, s.Updated, dash(strings.Join(s.Deferred, ",")), dash(strings.Join(s.Failed, ",")))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "CLUSTER\tSTAGE\tRELEASED\tAPPLIED\tREADY\tMESSAGE")
	for _, s := range v.Sites {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Cluster, dash(s.Stage), dash(shortRev(s.Released)), dash(shortRev(s.Applied)), dash(s.Ready), s.Message)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shortRev abbreviates "main@sha1:<40 hex>" to "main@<12 hex>".
func shortRev(rev string) string {
	if i := strings.LastIndex(rev, "sha1:"); i >= 0 {
		h := rev[i+len("sha1:"):]
		if len(h) > 12 {
			h = h[:12]
		}
		return strings.TrimSuffix(rev[:i], "@") + "@" + h
	}
	return rev
}

func condition(conds []metav1.Condition, typ string) string {
	if c := apimeta.FindStatusCondition(conds, typ); c != nil {
		return string(c.Status)
	}
	return ""
}

func conditionMessage(conds []metav1.Condition, typ string) string {
	if c := apimeta.FindStatusCondition(conds, typ); c != nil {
		return c.Message
	}
	return ""
}
