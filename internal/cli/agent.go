package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/flotilla-gitops/flotilla/agent"
)

func init() { extraCommands = append(extraCommands, newAgentCommand) }

// agentFlags are the flags of `flotilla agent`.
type agentFlags struct {
	opts                agent.Options
	hubURL, hubCAFile   string
	bootstrapTokenFile  string
	bootstrapKubeconfig string
	kubeconfig          string
	metricsAddr         string
	healthAddr          string
}

func newAgentCommand() *cobra.Command {
	var (
		fl      agentFlags
		zapOpts = zap.Options{}
	)
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the pull-mode agent in a member cluster the hub cannot reach",
		Long: `Run the pull-mode agent in a member cluster declared with spec.access.mode: Pull.
The first time, it registers with a short-lived bootstrap credential
(--bootstrap-token-file with --hub-url, or --bootstrap-kubeconfig) and stores
the identity the hub issues in Secret flotilla-agent-identity of
--state-namespace; later starts reuse it. It then applies its own bundles to
this cluster, reports their status and a heartbeat, and keeps the cluster at
the last desired state while the hub is unreachable (docs/hub.md, "Installing
an agent on a site").`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
			opts, err := fl.options()
			if err != nil {
				return err
			}
			a, err := agent.New(opts)
			if err != nil {
				return err
			}
			ctx := ctrl.SetupSignalHandler()
			if err := serveAgentEndpoints(ctx, fl.metricsAddr, fl.healthAddr, a); err != nil {
				return err
			}
			return a.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&fl.hubURL, "hub-url", "", "address of the hub's API server, for example https://hub.example.com:6443 (with --bootstrap-token-file)")
	f.StringVar(&fl.hubCAFile, "hub-ca-file", "", "PEM CA bundle that verifies the hub (default: the system roots)")
	f.StringVar(&fl.bootstrapTokenFile, "bootstrap-token-file", "", "file holding the bootstrap token printed by 'flotilla cluster bootstrap-token'; only read when no identity is stored yet")
	f.StringVar(&fl.bootstrapKubeconfig, "bootstrap-kubeconfig", "", "kubeconfig written by 'flotilla cluster bootstrap-token --kubeconfig-out' (instead of --hub-url, --hub-ca-file and --bootstrap-token-file)")
	f.StringVar(&fl.opts.Cluster, "cluster", "", "this cluster's name, as its file clusters/<name>.yaml in Git (required)")
	f.StringVar(&fl.opts.FleetNamespace, "fleet-namespace", "", "hub namespace of the FleetRepository that declares this cluster (required)")
	f.StringVar(&fl.kubeconfig, "kubeconfig", "", "kubeconfig of this (member) cluster (default: in-cluster, then $KUBECONFIG)")
	f.StringVar(&fl.opts.StateNamespace, "state-namespace", agent.DefaultStateNamespace, "member namespace of the identity and state Secrets")
	f.DurationVar(&fl.opts.HeartbeatInterval, "heartbeat-interval", agent.DefaultHeartbeatInterval, "how often the agent reports its heartbeat to the hub")
	f.DurationVar(&fl.opts.ResyncInterval, "resync-interval", agent.DefaultResyncInterval, "how often the agent steps its apps without a change of its bundles (read from its cache: no request to the hub)")
	f.DurationVar(&fl.opts.HealthPollInterval, "health-poll-interval", agent.DefaultHealthPollInterval, "how often an app not ready yet is checked again")
	f.DurationVar(&fl.opts.DefaultDriftInterval, "default-drift-interval", agent.DefaultDriftInterval, "drift check interval of a bundle that sets none")
	f.DurationVar(&fl.opts.Timeout, "timeout", agent.DefaultTimeout, "timeout of every request to the hub or to this cluster")
	f.StringVar(&fl.metricsAddr, "metrics-addr", ":8080", "address of the Prometheus metrics endpoint (0 disables)")
	f.StringVar(&fl.healthAddr, "health-addr", ":8081", "address of the /healthz and /readyz endpoints (0 disables)")
	logFlags := flag.NewFlagSet("log", flag.ContinueOnError)
	zapOpts.BindFlags(logFlags)
	f.AddGoFlagSet(logFlags)
	return cmd
}

// options turns the flags into agent options, reading the files they name.
func (fl *agentFlags) options() (agent.Options, error) {
	opts := fl.opts
	if fl.kubeconfig != "" {
		if err := os.Setenv("KUBECONFIG", fl.kubeconfig); err != nil {
			return opts, fmt.Errorf("set KUBECONFIG: %w", err)
		}
	}
	member, err := ctrl.GetConfig()
	if err != nil {
		return opts, fmt.Errorf("load the member cluster's kubeconfig: %w", err)
	}
	opts.Member = member
	opts.Bootstrap, err = fl.bootstrap()
	return opts, err
}

// bootstrap returns the bootstrap hub config, or nil when none is given
// (or the token file is empty or absent: an agent with a stored identity
// needs none, and the bootstrap Secret may have been deleted).
func (fl *agentFlags) bootstrap() (*rest.Config, error) {
	if fl.bootstrapKubeconfig != "" {
		if fl.bootstrapTokenFile != "" {
			return nil, errors.New("--bootstrap-kubeconfig and --bootstrap-token-file exclude each other: give one")
		}
		cfg, err := clientcmd.BuildConfigFromFlags("", fl.bootstrapKubeconfig)
		if err != nil {
			return nil, fmt.Errorf("load --bootstrap-kubeconfig %s: %w", fl.bootstrapKubeconfig, err)
		}
		return cfg, nil
	}
	if fl.bootstrapTokenFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(fl.bootstrapTokenFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read --bootstrap-token-file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return nil, nil
	}
	if fl.hubURL == "" {
		return nil, fmt.Errorf("--bootstrap-token-file %s needs --hub-url, the hub API server's address", fl.bootstrapTokenFile)
	}
	cfg := &rest.Config{Host: fl.hubURL, BearerToken: token}
	if fl.hubCAFile != "" {
		ca, err := os.ReadFile(fl.hubCAFile)
		if err != nil {
			return nil, fmt.Errorf("read --hub-ca-file: %w", err)
		}
		cfg.CAData = ca
	}
	return cfg, nil
}

// serveAgentEndpoints serves /metrics and /healthz, /readyz (ready once the
// agent has its identity and state) until ctx ends.
func serveAgentEndpoints(ctx context.Context, metricsAddr, healthAddr string, a *agent.Agent) error {
	serve := func(addr string, h http.Handler) error {
		if addr == "" || addr == "0" {
			return nil
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		go func() {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		return nil
	}
	mm := http.NewServeMux()
	mm.Handle("/metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
	if err := serve(metricsAddr, mm); err != nil {
		return err
	}
	hm := http.NewServeMux()
	hm.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	hm.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-a.Ready():
			_, _ = w.Write([]byte("ok"))
		default:
			http.Error(w, "registering or loading the persisted state", http.StatusServiceUnavailable)
		}
	})
	return serve(healthAddr, hm)
}
