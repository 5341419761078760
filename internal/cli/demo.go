//go:build !nodemo

// The demo command links the test environment (real control planes, a Git
// server); the image binary is built with -tags nodemo and leaves it out.

package cli

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/flotilla-gitops/flotilla/internal/demo"
)

func init() { extraCommands = append(extraCommands, newDemoCommand) }

// Exit codes of `flotilla demo`.
const (
	// exitDemoNotSynced: the fleet did not sync within --timeout.
	exitDemoNotSynced = 1
	// exitDemoSetup: the demo could not start (missing binaries, bad
	// fleet, another demo running).
	exitDemoSetup = 2
	// exitDemoInterrupted: Ctrl-C before the demo had started.
	exitDemoInterrupted = 130
)

func newDemoCommand() *cobra.Command {
	var (
		opts   demo.Options
		run    demo.RunOptions
		socket string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a whole fleet on this machine: a hub, one cluster per cluster file, a Git server",
		Long: `Run a fleet repository end to end on this machine, with nothing to install
but Go and git:

  - a local Git server holding a repository seeded from --fleet;
  - a hub (a real kube-apiserver) with Flotilla's CRDs, and the controller
    running in this process (its log goes to a file, not the terminal);
  - one member cluster per cluster file: a real kube-apiserver running
    workloads (kube-controller-manager, kube-scheduler and kwok) on simulated
    nodes sized by the file's flotilla.dev/demo-* annotations;
  - the kubeconfig Secrets of the push clusters, the Git credentials Secret
    and a FleetRepository;
  - for each cluster declared with spec.access.mode: Pull, no kubeconfig on
    the hub but a ` + "`flotilla agent`" + ` process of its own, given a bootstrap token.

It waits until the fleet is synced (every ClusterSync applied and Ready, the
FleetRepository Ready at the branch's head, every cluster reachable), prints
the fleet table and what to do next, and keeps running until Ctrl-C; then it
stops and removes everything it started (the folder is kept with --dir).

The control-plane binaries must be built first: ` + "`make test-binaries`" + ` (about 7
minutes the first time; ` + "`make demo`" + ` does it for you).

Exit code 0 when stopped with Ctrl-C, or synced with --exit-when-synced;
1 when not synced within --timeout with --exit-when-synced; 2 when the demo
could not start.`,
		Example: `  make demo
  flotilla demo --assets bin/k8s/1.37.2 --fleet examples/factory-fleet
  flotilla demo --exit-when-synced --timeout 15m
  eval "$(flotilla demo env)"     # in another terminal
  flotilla demo stop-cluster factory-lyon`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Out = cmd.OutOrStdout()
			opts.ControlSocket = socket
			if exe, err := os.Executable(); err == nil {
				opts.FlotillaBinary = exe
				run.FlotillaCommand = exe
			}
			// The first Ctrl-C (or SIGTERM) stops the demo cleanly; once it
			// has arrived the default behaviour returns, so that a second one
			// ends the process at once (its child processes die with it).
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			go func() {
				<-ctx.Done()
				stop()
			}()
			err := demo.Run(ctx, opts, run)
			var notSynced *demo.NotSyncedError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &notSynced):
				return &ExitError{Code: exitDemoNotSynced, Err: err}
			case errors.Is(err, demo.ErrInterrupted):
				return &ExitError{Code: exitDemoInterrupted, Err: err}
			}
			return &ExitError{Code: exitDemoSetup, Err: err}
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.FleetDir, "fleet", "examples/factory-fleet", "fleet repository folder that seeds the demo's Git repository")
	f.StringVar(&opts.AssetsDir, "assets", "", "folder of the control-plane binaries (default: $KUBEBUILDER_ASSETS, else bin/k8s/<version> here or in a parent folder)")
	f.StringVar(&opts.Dir, "dir", "", "folder for everything the demo makes, kept when it stops (default: a temporary folder, removed)")
	f.StringVar(&opts.Namespace, "namespace", demo.DefaultNamespace, "namespace of the FleetRepository and Secrets on the hub")
	f.StringVar(&opts.DashboardAddr, "dashboard-addr", "127.0.0.1:0", "address of the web dashboard (loopback, no sign-in; \"-\" turns it off)")
	f.BoolVar(&run.ExitWhenSynced, "exit-when-synced", false, "stop and exit 0 once the fleet is synced (exit 1 if not within --timeout)")
	f.DurationVar(&run.Timeout, "timeout", 10*time.Minute, "how long the start and the first sync may take")
	cmd.PersistentFlags().StringVar(&socket, "control-socket", "", "unix socket of the running demo (default: $"+demo.ControlSocketEnv+", else flotilla-demo-<uid>.sock in the temporary folder)")

	cmd.AddCommand(
		newDemoEnvCommand(&socket),
		newDemoStatusCommand(&socket),
		newDemoClusterCommand(&socket, "stop-cluster", "Stop a member cluster of the running demo, as if the site went offline",
			func(c *demo.ControlClient, cmd *cobra.Command, name string) (string, error) {
				return c.StopCluster(cmd.Context(), name)
			}),
		newDemoClusterCommand(&socket, "start-cluster", "Start a stopped member cluster of the running demo again",
			func(c *demo.ControlClient, cmd *cobra.Command, name string) (string, error) {
				fmt.Fprintf(cmd.ErrOrStderr(), "starting %s (its API server, etcd and workload components; up to a minute)...\n", name)
				return c.StartCluster(cmd.Context(), name)
			}),
	)
	return cmd
}

// newDemoEnvCommand prints the shell exports of the running demo.
func newDemoEnvCommand(socket *string) *cobra.Command {
	return &cobra.Command{
		Use:   "env",
		Short: "Print shell exports for the running demo: eval \"$(flotilla demo env)\"",
		Long: `Print shell commands that set up a shell for the running demo:
PATH gets the demo's kubectl and flotilla first, KUBECONFIG its kubeconfig
(one context per cluster, "hub" current), FLOTILLA_GIT_URL the repository's
clone URL, FLOTILLA_NAMESPACE the hub namespace, FLOTILLA_DEMO_DIR its folder.`,
		Example: `  eval "$(flotilla demo env)"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env, err := demo.NewControlClient(*socket).Env(cmd.Context())
			if err != nil {
				return &ExitError{Code: exitDemoSetup, Err: err}
			}
			fmt.Fprint(cmd.OutOrStdout(), env)
			return nil
		},
	}
}

// newDemoStatusCommand prints the fleet table of the running demo.
func newDemoStatusCommand(socket *string) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Print the fleet table of the running demo: clusters, and apps × clusters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			status, err := demo.NewControlClient(*socket).Status(cmd.Context())
			if err != nil {
				return &ExitError{Code: exitDemoSetup, Err: err}
			}
			fmt.Fprint(cmd.OutOrStdout(), status)
			return nil
		},
	}
}

// newDemoClusterCommand builds stop-cluster and start-cluster.
func newDemoClusterCommand(socket *string, use, short string, do func(*demo.ControlClient, *cobra.Command, string) (string, error)) *cobra.Command {
	return &cobra.Command{
		Use:     use + " NAME",
		Short:   short,
		Example: "  flotilla demo " + use + " factory-lyon",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			msg, err := do(demo.NewControlClient(*socket), cmd, args[0])
			if err != nil {
				return &ExitError{Code: exitDemoSetup, Err: err}
			}
			fmt.Fprint(cmd.OutOrStdout(), msg)
			return nil
		},
	}
}
