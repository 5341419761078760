package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// The day-to-day verbs: reconcile, suspend and resume a FleetRepository,
// an App or a Cluster on the hub. Each sets what kubectl could set by hand
// (see docs/cli.md): spec.suspend of a FleetRepository, the
// flotilla.dev/suspended annotation of an App or Cluster (the mirror from
// Git leaves it alone), and flotilla.dev/reconcile-requested-at.

func init() {
	extraCommands = append(extraCommands, newReconcileCommand, newSuspendCommand, newResumeCommand)
}

// hubKind is a kind of hub object the verbs act on.
type hubKind struct {
	name string // as typed: repository, app, cluster
	kind string // as printed: FleetRepository, App, Cluster
	obj  func() client.Object
	list func() client.ObjectList
}

var hubKinds = []hubKind{
	{"repository", "FleetRepository", func() client.Object { return &flotillav1.FleetRepository{} }, func() client.ObjectList { return &flotillav1.FleetRepositoryList{} }},
	{"app", "App", func() client.Object { return &flotillav1.App{} }, func() client.ObjectList { return &flotillav1.AppList{} }},
	{"cluster", "Cluster", func() client.Object { return &flotillav1.Cluster{} }, func() client.ObjectList { return &flotillav1.ClusterList{} }},
}

// kindAliases maps what may be typed to a hub kind.
var kindAliases = map[string]string{
	"repository": "repository", "repositories": "repository", "repo": "repository", "repos": "repository",
	"fleetrepository": "repository", "frepo": "repository",
	"app": "app", "apps": "app",
	"cluster": "cluster", "clusters": "cluster",
}

func lookupKind(s string) (hubKind, error) {
	name, ok := kindAliases[strings.ToLower(s)]
	if ok {
		for _, k := range hubKinds {
			if k.name == name {
				return k, nil
			}
		}
	}
	return hubKind{}, fmt.Errorf("unknown kind %q: use repository, app or cluster", s)
}

// operation is what one verb does to an object; it reports whether it
// changed anything.
type operation func(k hubKind, obj client.Object) bool

func newReconcileCommand() *cobra.Command {
	return newOperationCommand("reconcile",
		"Sync a repository, app or cluster now: fetch, apply and check drift without waiting for the interval",
		`Ask the hub to sync now instead of at the next interval. On a repository it
fetches Git again and every ClusterSync of the repository checks for drift; on
an app or a cluster every ClusterSync it covers checks for drift (pull
clusters: their agents do). It sets flotilla.dev/reconcile-requested-at to the
current time, as kubectl annotate could.`,
		"reconcile requested for",
		func(_ hubKind, obj client.Object) bool {
			setAnnotation(obj, flotillav1.AnnotationReconcileRequestedAt, time.Now().UTC().Format(time.RFC3339Nano))
			return true
		})
}

func newSuspendCommand() *cobra.Command {
	return newOperationCommand("suspend",
		"Stop applies and drift correction for a repository, app or cluster",
		`Stop syncing until resumed: no new revision is applied and no drift is
corrected on any cluster the object covers (pull clusters: the Bundle is frozen
and the agent stops too). Nothing is pruned and Ready keeps its status; the
SUSPENDED column of kubectl get shows it. A repository gets spec.suspend: true
(it then stops fetching too); an app or a cluster gets the annotation
flotilla.dev/suspended: "true", which the mirror from Git keeps.`,
		"suspended",
		func(k hubKind, obj client.Object) bool {
			if fr, ok := obj.(*flotillav1.FleetRepository); ok {
				changed := !fr.Spec.Suspend
				fr.Spec.Suspend = true
				return changed
			}
			changed := !flotillav1.HasSuspendedAnnotation(obj)
			setAnnotation(obj, flotillav1.AnnotationSuspended, "true")
			return changed
		})
}

func newResumeCommand() *cobra.Command {
	return newOperationCommand("resume",
		"Resume a suspended repository, app or cluster",
		`Resume syncing: what changed in Git while suspended is applied, and drift is
corrected again. A repository gets spec.suspend: false; an app or a cluster
loses its flotilla.dev/suspended annotation. A sync stays suspended while
anything else that covers it (its repository, app or cluster) is.`,
		"resumed",
		func(k hubKind, obj client.Object) bool {
			if fr, ok := obj.(*flotillav1.FleetRepository); ok {
				changed := fr.Spec.Suspend
				fr.Spec.Suspend = false
				return changed
			}
			_, changed := obj.GetAnnotations()[flotillav1.AnnotationSuspended]
			if changed {
				a := obj.GetAnnotations()
				delete(a, flotillav1.AnnotationSuspended)
				obj.SetAnnotations(a)
			}
			return changed
		})
}

func newOperationCommand(verb, short, long, done string, op operation) *cobra.Command {
	var h hubFlags
	cmd := &cobra.Command{
		Use:     verb + " repository|app|cluster NAME...",
		Short:   short,
		Long:    long,
		Example: fmt.Sprintf("  flotilla %[1]s app settings -n fleet\n  flotilla %[1]s cluster site-a site-b --context hub\n  flotilla %[1]s repository factories", verb),
		Args:    cobra.MinimumNArgs(2),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 0 {
				return []string{"repository", "app", "cluster"}, cobra.ShellCompDirectiveNoFileComp
			}
			k, err := lookupKind(args[0])
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return hubNames(cmd.Context(), &h, k, args[1:]), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := lookupKind(args[0])
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			cl, ns, err := h.client()
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			for _, name := range args[1:] {
				changed, err := operate(cmd.Context(), cl, k, client.ObjectKey{Namespace: ns, Name: name}, op)
				if err != nil {
					return &ExitError{Code: 2, Err: err}
				}
				note := ""
				if !changed {
					note = " (already)"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s/%s %s%s\n", k.kind, ns, name, done, note)
			}
			return nil
		},
	}
	h.register(cmd)
	return cmd
}

// operate applies op to one object with a merge patch (no conflict with
// the controllers' writes).
func operate(ctx context.Context, cl client.Client, k hubKind, key client.ObjectKey, op operation) (bool, error) {
	obj := k.obj()
	if err := cl.Get(ctx, key, obj); err != nil {
		return false, fmt.Errorf("read %s %s: %w", k.kind, key, err)
	}
	base := obj.DeepCopyObject().(client.Object)
	if !op(k, obj) {
		return false, nil
	}
	if err := cl.Patch(ctx, obj, client.MergeFrom(base)); err != nil {
		return false, fmt.Errorf("update %s %s: %w", k.kind, key, err)
	}
	return true, nil
}

func setAnnotation(obj client.Object, key, value string) {
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[key] = value
	obj.SetAnnotations(a)
}
