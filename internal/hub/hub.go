// Package hub assembles the Flotilla controller manager: the scheme, the
// reconcilers, leader election, metrics and health endpoints. The
// `flotilla controller` command, the demo and the end-to-end tests all run
// the hub through Run, so they exercise one and the same wiring.
package hub

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/controllers"
	"github.com/flotilla-gitops/flotilla/dashboard"
)

// Options configure the hub manager.
type Options struct {
	// Controllers tune the reconcilers.
	Controllers controllers.Options
	// MetricsAddr serves Prometheus metrics; "0" disables.
	MetricsAddr string
	// HealthAddr serves /healthz and /readyz; "0" disables.
	HealthAddr string
	// WebhookAddr serves push webhooks at /hooks/<namespace>/<repository>;
	// empty or "0" disables.
	WebhookAddr string
	// LeaderElection turns on leader election, so that only one of several
	// replicas reconciles at a time.
	LeaderElection bool
	// LeaderElectionNamespace holds the election lease.
	LeaderElectionNamespace string
	// LeaderElectionID names the lease.
	LeaderElectionID string
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Dashboard, when its Addr is set, serves the read-only web dashboard
	// from the manager's cache.
	Dashboard dashboard.Options
	// DashboardListening, when set, is called with the dashboard's URL once
	// its address is bound.
	DashboardListening func(url string)
}

// NewScheme returns a scheme with the built-in kinds and Flotilla's.
func NewScheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	if err := flotillav1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	return scheme, nil
}

// NewManager builds the hub manager with every reconciler registered.
func NewManager(cfg *rest.Config, opts Options) (ctrl.Manager, error) {
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}
	if opts.LeaderElectionID == "" {
		opts.LeaderElectionID = "flotilla-controller.flotilla.dev"
	}
	mgrOpts := ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: opts.MetricsAddr},
		HealthProbeBindAddress:  opts.HealthAddr,
		LeaderElection:          opts.LeaderElection,
		LeaderElectionID:        opts.LeaderElectionID,
		LeaderElectionNamespace: opts.LeaderElectionNamespace,
		// Release the lease on a clean stop so a standby takes over at once.
		LeaderElectionReleaseOnCancel: true,
		// The demo and the tests run several managers in one process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		// Nothing reads managedFields from the cache: dropping them saves
		// memory and the copying of every cached read.
		Cache: cache.Options{DefaultTransform: cache.TransformStripManagedFields()},
	}
	if opts.Dashboard.Addr != "" {
		// The dashboard shows Flotilla's own events: cache only those.
		mgrOpts.Cache.ByObject = map[client.Object]cache.ByObject{
			&corev1.Event{}: {Field: fields.OneTermEqualSelector("source", controllers.EventSource)},
		}
	}
	if opts.LeaseDuration > 0 {
		mgrOpts.LeaseDuration = &opts.LeaseDuration
	}
	if opts.RenewDeadline > 0 {
		mgrOpts.RenewDeadline = &opts.RenewDeadline
	}
	if opts.RetryPeriod > 0 {
		mgrOpts.RetryPeriod = &opts.RetryPeriod
	}
	if mgrOpts.HealthProbeBindAddress == "" {
		mgrOpts.HealthProbeBindAddress = "0"
	}
	if mgrOpts.Metrics.BindAddress == "" {
		mgrOpts.Metrics.BindAddress = "0"
	}
	mgr, err := ctrl.NewManager(cfg, mgrOpts)
	if err != nil {
		return nil, fmt.Errorf("create controller manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("add health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("add ready check: %w", err)
	}
	if err := controllers.Setup(mgr, opts.Controllers); err != nil {
		return nil, err
	}
	if opts.WebhookAddr != "" && opts.WebhookAddr != "0" {
		hooks := &controllers.WebhookServer{Addr: opts.WebhookAddr, Client: mgr.GetClient(), APIReader: mgr.GetAPIReader()}
		if _, err := hooks.Listen(); err != nil {
			return nil, err
		}
		if err := mgr.Add(hooks); err != nil {
			return nil, fmt.Errorf("add webhook server: %w", err)
		}
	}
	if opts.Dashboard.Addr != "" {
		dash, err := dashboard.New(mgr.GetCache(), mgr.GetCache(), mgr.GetClient(), opts.Dashboard)
		if err != nil {
			return nil, err
		}
		url, err := dash.Listen()
		if err != nil {
			return nil, err
		}
		if err := mgr.Add(dash); err != nil {
			return nil, fmt.Errorf("add dashboard server: %w", err)
		}
		if opts.DashboardListening != nil {
			opts.DashboardListening(url)
		}
	}
	return mgr, nil
}

// Run builds the manager and runs it until ctx ends.
func Run(ctx context.Context, cfg *rest.Config, opts Options) error {
	mgr, err := NewManager(cfg, opts)
	if err != nil {
		return err
	}
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("run controller manager: %w", err)
	}
	return nil
}
