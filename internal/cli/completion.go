package cli

import (
	"context"
	"slices"
	"time"

	"github.com/spf13/cobra"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flotilla-gitops/flotilla/fleet"
)

// Shell completion of cluster and app names: from the hub for the
// commands that talk to one, from the fleet repository (--repo) for the
// offline commands. `flotilla completion bash|zsh|fish|powershell` (cobra's
// own command) prints the script.

// completionTimeout bounds the hub calls of one completion: a shell waits
// for it.
const completionTimeout = 3 * time.Second

// hubNames lists the names of kind k in the hub namespace of h, leaving
// out those already typed; nothing when the hub cannot be reached.
func hubNames(ctx context.Context, h *hubFlags, k hubKind, typed []string) []string {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	cl, ns, err := h.client()
	if err != nil {
		return nil
	}
	list := k.list()
	if err := cl.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil
	}
	var names []string
	for _, o := range objectsOf(list) {
		if !slices.Contains(typed, o.GetName()) {
			names = append(names, o.GetName())
		}
	}
	return names
}

// objectsOf returns the items of a hub list.
func objectsOf(list client.ObjectList) []client.Object {
	items, err := apimeta.ExtractList(list)
	if err != nil {
		return nil
	}
	out := make([]client.Object, 0, len(items))
	for _, it := range items {
		if o, ok := it.(client.Object); ok {
			out = append(out, o)
		}
	}
	return out
}

// fleetNames lists the clusters or the apps the fleet repository at repo
// declares (nothing when it cannot be loaded).
func fleetNames(repo string, clusters bool) []string {
	fl, _ := fleet.Load(repo)
	if fl == nil {
		return nil
	}
	var names []string
	if clusters {
		for _, c := range fl.Clusters {
			names = append(names, c.Name)
		}
	} else {
		for _, a := range fl.Apps {
			names = append(names, a.Name)
		}
	}
	return names
}

// addCompletions walks the command tree: every command with a --repo flag
// completes --cluster and --app from that repository's files, and the hub
// commands that take a CLUSTER or APP argument complete it from the hub.
func addCompletions(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		addCompletions(c)
	}
	fs := cmd.Flags()
	if fs.Lookup("repo") != nil {
		for flag, clusters := range map[string]bool{"cluster": true, "app": false} {
			if fs.Lookup(flag) == nil {
				continue
			}
			_ = cmd.RegisterFlagCompletionFunc(flag, func(c *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
				repo, _ := c.Flags().GetString("repo")
				if repo == "" {
					repo = "."
				}
				return fleetNames(repo, clusters), cobra.ShellCompDirectiveNoFileComp
			})
		}
	}
}

// hubArgCompletion completes the first argument of a hub command with the
// names of kind (from the hub that h points at).
func hubArgCompletion(h *hubFlags, kind string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		k, err := lookupKind(kind)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return hubNames(cmd.Context(), h, k, nil), cobra.ShellCompDirectiveNoFileComp
	}
}
