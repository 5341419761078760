package demo

import (
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// PrintNextSteps writes what a person needs to use the running demo: how to
// set up a shell, the kubeconfigs, the Git URL, the kubectl commands that
// show the status, and how to take a cluster offline. flotilla is the
// command that runs this binary (its path, or "flotilla").
func PrintNextSteps(w io.Writer, info Info, flotilla string) error {
	fmt.Fprintf(w, "\nThe demo is running. In another terminal, set up a shell for it (kubectl, flotilla,\n")
	fmt.Fprintf(w, "KUBECONFIG and the Git URL), then follow docs/quickstart.md:\n\n")
	fmt.Fprintf(w, "  eval \"$(%s demo env)\"\n\n", flotilla)

	fmt.Fprintf(w, "Status on the hub:\n\n")
	fmt.Fprintf(w, "  kubectl --kubeconfig %s get flotilla -n %s\n\n", info.Hub.Kubeconfig, info.Namespace)
	fmt.Fprintf(w, "or, after the eval above (context %q of $KUBECONFIG is the hub):\n\n", HubName)
	fmt.Fprintf(w, "  kubectl get flotilla -n %s\n", info.Namespace)
	fmt.Fprintf(w, "  kubectl get clustersyncs -n %s\n", info.Namespace)
	fmt.Fprintf(w, "  kubectl get fclusters -n %s\n", info.Namespace)
	fmt.Fprintf(w, "  %s status -n %s\n\n", flotilla, info.Namespace)

	fmt.Fprintf(w, "Kubeconfigs (one context per cluster in %s):\n\n", info.Kubeconfig)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  %s\t%s\n", info.Hub.Name, info.Hub.Kubeconfig)
	for _, c := range info.Clusters {
		fmt.Fprintf(tw, "  %s\t%s\n", c.Name, c.Kubeconfig)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("print the next steps: %w", err)
	}
	if len(info.Clusters) > 0 {
		c := info.Clusters[0]
		fmt.Fprintf(w, "\n  kubectl --kubeconfig %s get deployments -A\n", c.Kubeconfig)
		fmt.Fprintf(w, "  kubectl --context %s get deployments -A     # after the eval\n", c.Name)
	}

	for _, c := range info.Clusters {
		if c.AgentLog == "" {
			continue
		}
		fmt.Fprintf(w, "\n%s runs in pull mode: the hub holds no kubeconfig for it; its agent, a\n", c.Name)
		fmt.Fprintf(w, "`flotilla agent` process, registered with a bootstrap token and reports its\n")
		fmt.Fprintf(w, "heartbeat and status (log: %s):\n\n", c.AgentLog)
		fmt.Fprintf(w, "  kubectl get fregs -n %s\n", info.Namespace)
		fmt.Fprintf(w, "  kubectl get bundles -n %s\n", flotillav1.AgentNamespace(info.Namespace, c.Name))
	}

	fmt.Fprintf(w, "\nThe fleet repository (the hub syncs branch %s; push to it to deploy):\n\n", info.Branch)
	fmt.Fprintf(w, "  git clone %s %s\n\n", info.GitURL, info.Repository)

	if info.ControlSocket != "" && len(info.Clusters) > 0 {
		name := info.Clusters[len(info.Clusters)-1].Name
		fmt.Fprintf(w, "Take a cluster offline and bring it back:\n\n")
		fmt.Fprintf(w, "  %s demo stop-cluster %s\n", flotilla, name)
		fmt.Fprintf(w, "  %s demo start-cluster %s\n\n", flotilla, name)
	}
	fmt.Fprintf(w, "Logs: the controller in %s; each cluster's processes (a pull cluster's agent\nincluded) in %s\n", info.ControllerLog, filepath.Join(info.Dir, "clusters", "<name>", "logs"))
	if info.Temporary {
		fmt.Fprintf(w, "\nPress Ctrl-C to stop the demo and remove everything it started (%s).\n", info.Dir)
	} else {
		fmt.Fprintf(w, "\nPress Ctrl-C to stop the demo; its folder %s is kept.\n", info.Dir)
	}
	return nil
}
