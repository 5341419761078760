package cli

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/internal/pipeline"
	"github.com/flotilla-gitops/flotilla/placement"
	"github.com/flotilla-gitops/flotilla/rollout"
)

func init() { extraCommands = append(extraCommands, newExplainCommand) }

type explainFlags struct {
	repo, cluster, app string
}

func newExplainCommand() *cobra.Command {
	f := explainFlags{repo: "."}
	cmd := &cobra.Command{
		Use:   "explain",
		Short: "Explain, for each app, why it is or is not placed on a cluster",
		Long: `Explain what one cluster receives from a fleet repository, and why: for each
app (or only --app), whether it is placed on the cluster and which rule
decided (selector, names, exclude, taints and tolerations, rankBy, spread,
maxClusters), which overlays apply in which order and why, the ${cluster.*}
variables its manifests use with their values, and the replicas computed.

A fleet with errors is still explained as far as it loads; the errors are
printed first.`,
		Example: `  flotilla explain --repo examples/factory-fleet --cluster factory-monterrey
  flotilla explain --repo . --cluster factory-lyon --app adc-inference`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runExplain(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.repo, "repo", f.repo, "folder of the fleet repository (holding clusters/ and apps/)")
	fl.StringVar(&f.cluster, "cluster", "", "cluster to explain (required)")
	fl.StringVar(&f.app, "app", "", "explain only this app")
	addCapacityFlags(fl)
	return cmd
}

func runExplain(cmd *cobra.Command, f explainFlags) error {
	if f.cluster == "" {
		return usageErrorf("explain: set --cluster to the cluster to explain")
	}
	out, err := loadFleet(cmd, f.repo, newRenderer())
	if err != nil {
		return err
	}
	if err := checkName("cluster", "--cluster", f.cluster, out.ClusterNames()); err != nil {
		return err
	}
	apps := out.AppNames()
	if f.app != "" {
		if err := checkName("app", "--app", f.app, apps); err != nil {
			return err
		}
		apps = []string{f.app}
	}
	if errs := out.Errors(); len(errs) > 0 {
		e := cmd.ErrOrStderr()
		printDiagnostics(e, errs)
		fmt.Fprintf(e, "warning: the fleet repository has %s, so the explanation below may be incomplete; run flotilla validate\n",
			count(len(errs), "error", "errors"))
	}
	w := cmd.OutOrStdout()
	explainCluster(w, out.Fleet.Cluster(f.cluster))
	for _, app := range apps {
		fmt.Fprintln(w)
		explainApp(w, out, app, f.cluster)
	}
	return nil
}

// explainCluster prints what placement looks at on a cluster.
func explainCluster(w io.Writer, c *flotillav1.Cluster) {
	fmt.Fprintf(w, "cluster %s\n", c.Name)
	fmt.Fprintf(w, "  labels: %s\n", orNone(joinMap(c.Labels)))
	taints := make([]string, 0, len(c.Spec.Taints))
	for i := range c.Spec.Taints {
		taints = append(taints, c.Spec.Taints[i].ToString())
	}
	fmt.Fprintf(w, "  taints: %s\n", orNone(strings.Join(taints, ", ")))
	if ws, err := rollout.ParseWindows(c.Spec.UpdateWindows); err == nil && len(ws) > 0 {
		var names []string
		for _, win := range ws {
			names = append(names, win.String())
		}
		fmt.Fprintf(w, "  update windows (rollouts start here only then): %s\n", strings.Join(names, "; "))
	}
}

// printFigures prints the live capacity figures a decision used.
func printFigures(w io.Writer, d *placement.Decision) {
	if len(d.Figures) == 0 {
		return
	}
	fmt.Fprintln(w, "  capacity figures used:")
	for _, f := range d.Figures {
		line := fmt.Sprintf("    %s: %s available of %s allocatable", f.Resource, f.Available.String(), f.Allocatable.String())
		if !f.Held.IsZero() {
			line += fmt.Sprintf(" (%s of it held by the app itself)", f.Held.String())
		}
		if f.Required != nil {
			line += fmt.Sprintf(", requires %s", f.Required.String())
		}
		fmt.Fprintln(w, line)
	}
}

// explainApp prints the decision about one app on one cluster.
func explainApp(w io.Writer, out *pipeline.Output, app, cluster string) {
	d := out.Placement.Decision(app, cluster)
	t := out.Placement.Target(app, cluster)
	if d == nil || t == nil || !d.Placed {
		fmt.Fprintf(w, "app %s: not placed\n", app)
		if d != nil {
			printList(w, "  why:", d.Reasons)
			printFigures(w, d)
		} else {
			fmt.Fprintln(w, "  why: the app could not be placed (see the errors above)")
		}
		return
	}
	fmt.Fprintf(w, "app %s: placed (namespace %s, wave %d)\n", app, t.Namespace, t.Wave)
	if a := out.Fleet.App(app); a != nil && len(a.Spec.DependsOn) > 0 {
		fmt.Fprintf(w, "  depends on: %s\n", strings.Join(a.Spec.DependsOn, ", "))
	}
	explainRollout(w, out, app, cluster)
	applied := map[string]bool{}
	for _, o := range t.Overlays {
		applied[o.Reason] = true
	}
	var why []string
	for _, r := range d.Reasons {
		if !applied[r] {
			why = append(why, r)
		}
	}
	printList(w, "  why:", why)
	printFigures(w, d)
	fmt.Fprintf(w, "  base: %s\n", t.Base)
	if len(t.Overlays) == 0 {
		fmt.Fprintln(w, "  overlays: none")
	} else {
		fmt.Fprintln(w, "  overlays, in the order applied:")
		for i, o := range t.Overlays {
			fmt.Fprintf(w, "    %d. %s (%s): %s\n", i+1, o.Name, o.Path, overlayWhy(o))
		}
	}
	explainRender(w, out, t)
	if len(t.Replicas) == 0 {
		fmt.Fprintln(w, "  replicas: not divided (as the manifests say)")
		return
	}
	fmt.Fprintln(w, "  replicas:")
	for _, r := range t.Replicas {
		fmt.Fprintf(w, "    %s %s: %d\n", r.Kind, r.Name, r.Count)
	}
}

// explainRollout prints which rollout stage the cluster is in, and why.
func explainRollout(w io.Writer, out *pipeline.Output, app, cluster string) {
	stages, err := out.RolloutStages(app)
	if err != nil {
		fmt.Fprintf(w, "  rollout: %v\n", err)
		return
	}
	if stages == nil {
		fmt.Fprintln(w, "  rollout: none (a new revision reaches every cluster at once)")
		return
	}
	spec := out.Fleet.App(app).Spec.Rollout
	for i, st := range stages {
		if !slices.Contains(st.Sites, cluster) {
			continue
		}
		var why string
		switch {
		case st.Name == rollout.CanaryStage && slices.Contains(spec.Canary, cluster):
			why = "named in spec.rollout.canary"
		case st.Name == rollout.RestStage:
			why = "no declared stage selects it"
		default:
			why = "the first stage that selects it"
		}
		gates := fmt.Sprintf("%d site(s), at most %d updating at once", len(st.Sites), st.MaxUnavailable)
		if st.Pause > 0 {
			gates += fmt.Sprintf(", then a %s pause", st.Pause)
		}
		if st.Approval {
			gates += ", then approval"
		}
		fmt.Fprintf(w, "  rollout: stage %d of %d, %q (%s; %s)\n", i+1, len(stages), st.Name, why, gates)
	}
}

// explainRender prints the variables the target's manifests use, with
// their values, and the render outcome.
func explainRender(w io.Writer, out *pipeline.Output, t *placement.Target) {
	res := out.Render(t.App, t.Cluster)
	switch {
	case res == nil:
		fmt.Fprintln(w, "  variables: unknown, not rendered because the app or cluster file has errors")
		return
	case res.Err != nil:
		fmt.Fprintf(w, "  variables: unknown, the render failed: %v\n", res.Err)
		return
	}
	m := res.Manifest
	vars := slices.Sorted(slices.Values(m.Variables))
	if len(vars) == 0 {
		fmt.Fprintln(w, "  variables used: none")
	} else {
		fmt.Fprintln(w, "  variables used:")
		for _, v := range vars {
			fmt.Fprintf(w, "    ${%s} = %q\n", v, t.Vars[v])
		}
	}
	fmt.Fprintf(w, "  rendered: %s, %s\n", count(len(m.Objects), "object", "objects"), m.Digest)
}

// overlayWhy is an overlay's reason without the "overlay <name> applies"
// lead, which the listing already says.
func overlayWhy(o placement.Overlay) string {
	for _, lead := range []string{"overlay " + o.Name + " applies: ", "overlay " + o.Name + " applies last: "} {
		if r, ok := strings.CutPrefix(o.Reason, lead); ok {
			return r
		}
	}
	return o.Reason
}

func printList(w io.Writer, title string, items []string) {
	fmt.Fprintln(w, title)
	for _, it := range items {
		fmt.Fprintf(w, "    - %s\n", it)
	}
}

// joinMap formats a map as "k=v, k2=v2", sorted by key.
func joinMap(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
