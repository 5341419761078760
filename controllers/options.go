package controllers

import (
	"time"

	"github.com/flotilla-gitops/flotilla/fleet"
	"github.com/flotilla-gitops/flotilla/render"
)

// Options tune the controllers; zero values take the defaults below.
type Options struct {
	// CacheDir holds the Git caches.
	CacheDir string
	// DefaultInterval is the fetch interval when a FleetRepository sets none.
	DefaultInterval time.Duration
	// DefaultDriftInterval is the drift check interval when a FleetRepository
	// sets none.
	DefaultDriftInterval time.Duration
	// HeartbeatInterval is how often each member cluster is probed.
	HeartbeatInterval time.Duration
	// ClusterBackoffBase and ClusterBackoffMax bound the exponential backoff
	// for an unreachable cluster.
	ClusterBackoffBase, ClusterBackoffMax time.Duration
	// UnreachableGrace is how long a cluster may stay unreachable, counted
	// from its last heartbeat, before the hub taints it
	// flotilla.dev/unreachable:NoExecute (apps with placement.failover
	// then leave it after their tolerationSeconds).
	UnreachableGrace time.Duration
	// ClusterTimeout bounds every call to a member cluster.
	ClusterTimeout time.Duration
	// SyncWorkers is the number of ClusterSyncs processed at once overall.
	SyncWorkers int
	// PerClusterConcurrency bounds concurrent syncs to one cluster.
	PerClusterConcurrency int
	// HealthPollInterval is how often a sync waiting for readiness is
	// re-checked.
	HealthPollInterval time.Duration
	// SummaryInterval is the least time between two recomputations of one
	// App's or Cluster's summary of its ClusterSyncs.
	SummaryInterval time.Duration
	// StatusTick is how often repositories are checked for a status
	// commit (each commits at most once per its statusInterval).
	StatusTick time.Duration
	// AgentTokenTTL is how long the token issued to a registering pull-mode
	// agent lives (the agent renews it itself long before); at least ten
	// minutes.
	AgentTokenTTL time.Duration
	// AllowKubeconfigExec lets kubeconfigs use exec credential plugins.
	AllowKubeconfigExec bool
	// Clock tells the time to rollouts (pauses, update windows); nil is
	// the real clock. Tests set it to move time without sleeping.
	Clock Clock
	// Render are the limits of every render (zero fields take render's
	// defaults). The hub always sets Render.Isolate: each kustomize build
	// runs in a worker process, so a repository that runs a build out of
	// time or memory fails its own sync and never takes the controller,
	// which serves every fleet, down.
	Render render.Options
	// FleetLimits cap the clusters, apps and targets of each fleet
	// repository; zero fields take fleet's defaults.
	FleetLimits fleet.Limits
}

// DefaultOptions returns the options every zero field defaults to; the
// `flotilla controller` flags show the same values.
func DefaultOptions() Options { return Options{}.withDefaults() }

// withDefaults fills unset options.
func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.DefaultInterval, time.Minute)
	def(&o.DefaultDriftInterval, 10*time.Minute)
	def(&o.HeartbeatInterval, 30*time.Second)
	def(&o.ClusterBackoffBase, 2*time.Second)
	def(&o.ClusterBackoffMax, 2*time.Minute)
	def(&o.ClusterTimeout, 15*time.Second)
	def(&o.UnreachableGrace, 40*time.Second)
	def(&o.HealthPollInterval, 2*time.Second)
	def(&o.SummaryInterval, time.Second)
	def(&o.AgentTokenTTL, 168*time.Hour)
	o.FleetLimits = o.FleetLimits.WithDefaults()
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.SyncWorkers <= 0 {
		o.SyncWorkers = 16
	}
	if o.PerClusterConcurrency <= 0 {
		o.PerClusterConcurrency = 4
	}
	return o
}

// Clock tells the time.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
}

// realClock is the wall clock.
type realClock struct{}

// Now returns time.Now().
func (realClock) Now() time.Time { return time.Now() }
