package cli

import (
	"flag"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/flotilla-gitops/flotilla/controllers"
	"github.com/flotilla-gitops/flotilla/dashboard"
	"github.com/flotilla-gitops/flotilla/internal/hub"
	"github.com/flotilla-gitops/flotilla/render"
)

func init() { extraCommands = append(extraCommands, newControllerCommand) }

func newControllerCommand() *cobra.Command {
	var (
		opts       hub.Options
		kubeconfig string
		zapOpts    = zap.Options{}
	)
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run the hub controller: sync every cluster of every FleetRepository",
		Long: `Run the hub controller on the hub cluster. It fetches each FleetRepository,
mirrors its Cluster and App objects, applies every app to every cluster it is
placed on with server-side apply, prunes, corrects drift and reports status.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
			if kubeconfig != "" {
				if err := os.Setenv("KUBECONFIG", kubeconfig); err != nil {
					return fmt.Errorf("set KUBECONFIG: %w", err)
				}
			}
			cfg, err := ctrl.GetConfig()
			if err != nil {
				return fmt.Errorf("load the hub kubeconfig: %w", err)
			}
			if opts.Dashboard.Addr != "" && !cmd.Flags().Changed("dashboard-auth") {
				opts.Dashboard.Auth = !dashboard.IsLoopback(opts.Dashboard.Addr)
			}
			opts.Dashboard.InsecureNoAuth = cmd.Flags().Changed("dashboard-auth") && !opts.Dashboard.Auth
			if opts.LeaderElectionNamespace == "" {
				opts.LeaderElectionNamespace = os.Getenv("POD_NAMESPACE")
			}
			if opts.Dashboard.StaleAfter == 0 {
				opts.Dashboard.StaleAfter = 3 * opts.Controllers.HeartbeatInterval
			}
			return hub.Run(ctrl.SetupSignalHandler(), cfg, opts)
		},
	}
	f := cmd.Flags()
	def := controllers.DefaultOptions()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the hub (default: in-cluster, then $KUBECONFIG)")
	f.StringVar(&opts.MetricsAddr, "metrics-addr", ":8080", "address of the Prometheus metrics endpoint (0 disables)")
	f.StringVar(&opts.HealthAddr, "health-addr", ":8081", "address of the /healthz and /readyz endpoints (0 disables)")
	f.StringVar(&opts.WebhookAddr, "webhook-addr", ":9292", "address of the push webhook endpoint /hooks/<namespace>/<repository> (0 disables)")
	f.StringVar(&opts.Dashboard.Addr, "dashboard-addr", "", "address of the read-only web dashboard, for example 127.0.0.1:9090 (empty: off; see docs/dashboard.md)")
	f.BoolVar(&opts.Dashboard.Auth, "dashboard-auth", false, "check viewers' Kubernetes bearer tokens (TokenReview) and namespace permissions (SubjectAccessReview); default: on unless --dashboard-addr is loopback")
	f.StringVar(&opts.Dashboard.TLSCertFile, "dashboard-tls-cert", "", "certificate file: serve the dashboard over HTTPS (with --dashboard-tls-key)")
	f.StringVar(&opts.Dashboard.TLSKeyFile, "dashboard-tls-key", "", "private key file of --dashboard-tls-cert")
	f.DurationVar(&opts.Dashboard.StaleAfter, "dashboard-stale-after", 0, "heartbeat age past which the dashboard shows a cluster stale (default: 3 heartbeat intervals)")
	f.BoolVar(&opts.LeaderElection, "leader-elect", false, "elect a leader so that only one replica reconciles")
	f.StringVar(&opts.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election lease (default: $POD_NAMESPACE)")
	f.StringVar(&opts.Controllers.CacheDir, "cache-dir", defaultCacheDir(), "folder for the Git caches")
	f.DurationVar(&opts.Controllers.DefaultInterval, "default-interval", def.DefaultInterval, "fetch interval of a FleetRepository that sets none")
	f.DurationVar(&opts.Controllers.DefaultDriftInterval, "default-drift-interval", def.DefaultDriftInterval, "drift check interval of a FleetRepository that sets none")
	f.DurationVar(&opts.Controllers.HeartbeatInterval, "heartbeat-interval", def.HeartbeatInterval, "how often each member cluster is probed")
	f.DurationVar(&opts.Controllers.UnreachableGrace, "unreachable-grace", def.UnreachableGrace, "how long a member cluster may stay unreachable, from its last heartbeat, before it is tainted flotilla.dev/unreachable:NoExecute (apps with placement.failover then leave it)")
	f.DurationVar(&opts.Controllers.ClusterTimeout, "cluster-timeout", def.ClusterTimeout, "timeout of every call to a member cluster")
	f.DurationVar(&opts.Controllers.ClusterBackoffMax, "cluster-backoff-max", def.ClusterBackoffMax, "longest wait before retrying an unreachable cluster")
	f.IntVar(&opts.Controllers.SyncWorkers, "sync-workers", def.SyncWorkers, "ClusterSyncs processed at once across all clusters")
	f.IntVar(&opts.Controllers.PerClusterConcurrency, "per-cluster-concurrency", def.PerClusterConcurrency, "ClusterSyncs processed at once on one cluster")
	f.IntVar(&opts.Controllers.FleetLimits.Clusters, "max-clusters", def.FleetLimits.Clusters, "refuse a fleet repository with more cluster files")
	f.IntVar(&opts.Controllers.FleetLimits.Apps, "max-apps", def.FleetLimits.Apps, "refuse a fleet repository with more app folders")
	f.IntVar(&opts.Controllers.FleetLimits.Targets, "max-targets", def.FleetLimits.Targets, "refuse a fleet repository that places more (app, cluster) pairs")
	f.DurationVar(&opts.Controllers.AgentTokenTTL, "agent-token-ttl", def.AgentTokenTTL, "lifetime of the token issued to a registering pull-mode agent (it renews it itself); at least 10m")
	f.BoolVar(&opts.Controllers.AllowKubeconfigExec, "allow-kubeconfig-exec", false, "allow member kubeconfigs that run exec credential plugins")
	// Render limits (docs/hub.md, "Render limits").
	ro := &opts.Controllers.Render
	f.DurationVar(&ro.MaxBuildTime, "render-max-build-time", render.DefaultMaxBuildTime, "longest wall-clock time of one kustomize build; past it the build's worker process is killed")
	f.Int64Var(&ro.MaxWorkerMemory, "render-max-worker-memory", render.DefaultMaxWorkerMemory, "bytes of memory a render worker process may use (RLIMIT_DATA); past it the worker dies and the build fails")
	f.Int64Var(&ro.MaxTotalRead, "render-max-total-read", render.DefaultMaxTotalRead, "bytes one build may read in all, each file counted every time it is read")
	f.Int64Var(&ro.MaxFileSize, "render-max-file-size", render.DefaultMaxFileSize, "largest file, in bytes, a build may read")
	f.IntVar(&ro.MaxFileReads, "render-max-file-reads", render.DefaultMaxFileReads, "most files one build may read")
	f.Int64Var(&ro.MaxOutputSize, "render-max-output-size", render.DefaultMaxOutputSize, "largest rendered YAML, in bytes, of one app on one cluster")
	f.IntVar(&ro.MaxObjects, "render-max-objects", render.DefaultMaxObjects, "most objects one build may make")
	f.IntVar(&ro.MaxNestingDepth, "render-max-nesting-depth", render.DefaultMaxNestingDepth, "how deeply bases and components may include each other")
	logFlags := flag.NewFlagSet("log", flag.ContinueOnError)
	zapOpts.BindFlags(logFlags)
	f.AddGoFlagSet(logFlags)
	return cmd
}

func defaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return d + "/flotilla"
	}
	return os.TempDir() + "/flotilla"
}
