package agent

import (
	"errors"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
)

// Defaults used when Options leaves a field zero.
const (
	// DefaultStateNamespace is the member namespace holding the agent's
	// identity and persisted state.
	DefaultStateNamespace = "flotilla-system"
	// DefaultHeartbeatInterval is how often the agent reports to the hub.
	DefaultHeartbeatInterval = 30 * time.Second
	// DefaultResyncInterval is how often the agent steps its bundles (read
	// from its cache of the hub's, no request) even
	// without a change notification from the hub.
	DefaultResyncInterval = time.Minute
	// DefaultHealthPollInterval is how often an app not ready yet is
	// checked again.
	DefaultHealthPollInterval = 5 * time.Second
	// DefaultDriftInterval is the drift interval of a bundle that sets none.
	DefaultDriftInterval = 5 * time.Minute
	// DefaultTimeout bounds every request to the hub or the member.
	DefaultTimeout = 10 * time.Second
	// IdentitySecret is the member Secret holding the agent's identity.
	IdentitySecret = "flotilla-agent-identity"
	// StateSecretPrefix starts the name of each app's state Secret.
	StateSecretPrefix = "flotilla-agent-state-"
)

// Options configure an agent.
type Options struct {
	// Cluster is the cluster's name as declared in Git.
	Cluster string
	// FleetNamespace is the hub namespace of the cluster's FleetRepository.
	FleetNamespace string
	// Bootstrap is the hub's address, CA and bootstrap credential, used
	// only to register when no identity is stored on the member. Nil when
	// the agent must already have an identity.
	Bootstrap *rest.Config
	// Member is the access to the agent's own cluster.
	Member *rest.Config
	// StateNamespace is the member namespace of the identity and state
	// Secrets; DefaultStateNamespace if empty.
	StateNamespace string
	// HeartbeatInterval is how often the Agent status is written.
	HeartbeatInterval time.Duration
	// ResyncInterval is how often bundles are stepped without a change
	// (reading the agent's cache of them: it sends no request to the hub).
	ResyncInterval time.Duration
	// HealthPollInterval is how often an app not ready yet is checked.
	HealthPollInterval time.Duration
	// DefaultDriftInterval applies to bundles without spec.driftInterval.
	DefaultDriftInterval time.Duration
	// Timeout bounds every request to the hub or the member.
	Timeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.StateNamespace == "" {
		o.StateNamespace = DefaultStateNamespace
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if o.ResyncInterval <= 0 {
		o.ResyncInterval = DefaultResyncInterval
	}
	if o.HealthPollInterval <= 0 {
		o.HealthPollInterval = DefaultHealthPollInterval
	}
	if o.DefaultDriftInterval <= 0 {
		o.DefaultDriftInterval = DefaultDriftInterval
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return o
}

func (o Options) validate() error {
	var errs []error
	if o.Cluster == "" {
		errs = append(errs, errors.New("agent options: the cluster name is empty: set --cluster to the name of the cluster's file in Git"))
	} else if msgs := validation.IsDNS1123Label(o.Cluster); len(msgs) > 0 {
		errs = append(errs, errors.New("agent options: --cluster "+o.Cluster+" is not a valid cluster name: "+msgs[0]))
	}
	if o.FleetNamespace == "" {
		errs = append(errs, errors.New("agent options: the fleet namespace is empty: set --fleet-namespace to the hub namespace of the FleetRepository"))
	}
	if o.Member == nil {
		errs = append(errs, errors.New("agent options: no access to the member cluster"))
	}
	return errors.Join(errs...)
}
