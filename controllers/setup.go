package controllers

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/flotilla-gitops/flotilla/apply/clusterclient"
	"github.com/flotilla-gitops/flotilla/render"
	"github.com/flotilla-gitops/flotilla/source"
)

// EventSource is the source component of the events the reconcilers
// record (the dashboard lists only those).
const EventSource = "flotilla"

// Setup registers every Flotilla reconciler with the manager. They share one
// renderer (and its cache), one Git cache, one client per member cluster and
// one reachability tracker.
func Setup(mgr ctrl.Manager, opts Options) error {
	opts = opts.withDefaults()
	if opts.CacheDir == "" {
		return fmt.Errorf("set up controllers: a cache directory is required")
	}
	if opts.AgentTokenTTL < minAgentTokenTTL {
		return fmt.Errorf("set up controllers: --agent-token-ttl %s is too short: a token lives at least %s", opts.AgentTokenTTL, minAgentTokenTTL)
	}
	fetcher, err := source.NewFetcher(filepath.Join(opts.CacheDir, "git"))
	if err != nil {
		return fmt.Errorf("set up controllers: %w", err)
	}
	if err := setupIndexes(context.Background(), mgr); err != nil {
		return err
	}
	store := newDesiredStore()
	reach := newReachability(opts.ClusterBackoffBase, opts.ClusterBackoffMax)
	clients := newClusterClients(mgr.GetAPIReader(), clusterclient.Options{
		AllowExec:     opts.AllowKubeconfigExec,
		Timeout:       opts.ClusterTimeout,
		WrapTransport: countRequests,
	}, opts.HeartbeatInterval)

	// The events.k8s.io recorder (mgr.GetEventRecorder) is not a drop-in:
	// its Eventf takes a related object and an action, and it needs RBAC on
	// events.k8s.io. Keep the core/v1 recorder until the reconcilers move.
	recorder := mgr.GetEventRecorderFor(EventSource) //nolint:staticcheck // see above: the new events API is not a drop-in
	repo := &FleetRepositoryReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  recorder,
		Fetcher:   fetcher,
		Renderer:  newHubRenderer(opts.Render),
		Store:     store,
		Options:   opts,
	}
	if err := repo.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up FleetRepository controller: %w", err)
	}
	syncs := &ClusterSyncReconciler{
		Client:   mgr.GetClient(),
		Recorder: recorder,
		Store:    store,
		Clients:  clients,
		Reach:    reach,
		Limits:   newLimiter(opts.PerClusterConcurrency),
		Options:  opts,

		APIReader: mgr.GetAPIReader(),
	}
	if err := syncs.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up ClusterSync controller: %w", err)
	}
	clusters := &ClusterReconciler{
		Client:    mgr.GetClient(),
		Recorder:  recorder,
		Clients:   clients,
		Reach:     reach,
		Options:   opts,
		Summaries: newDebounce(opts.SummaryInterval),
	}
	if err := clusters.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up Cluster controller: %w", err)
	}
	registrations := &RegistrationReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
		Recorder: recorder, Options: opts,
	}
	if err := registrations.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up ClusterRegistration controller: %w", err)
	}
	if err := (&AppReconciler{Client: mgr.GetClient(), Recorder: recorder, Clock: opts.Clock, Store: store, Summaries: newDebounce(opts.SummaryInterval), Rollouts: newDebounce(min(opts.SummaryInterval, rolloutInterval))}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up App controller: %w", err)
	}
	writer := &StatusWriter{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
		Recorder: recorder, Tick: opts.StatusTick,
	}
	if err := mgr.Add(writer); err != nil {
		return fmt.Errorf("set up status write-back: %w", err)
	}
	return nil
}

// minAgentTokenTTL is the shortest lifetime of a token the API server
// issues (TokenRequest refuses shorter ones).
const minAgentTokenTTL = 10 * time.Minute

// newHubRenderer is the hub's renderer: builds always run isolated in
// worker processes, under the given limits.
func newHubRenderer(o render.Options) *render.Renderer {
	o.Isolate = true
	return render.New(o)
}
