package dashboard

import "time"

// Fleet is the overview of the namespaces a viewer may see; /api/fleet
// returns it.
type Fleet struct {
	// Version increases with each batch of changes.
	Version uint64 `json:"version"`
	// GeneratedAt is when the overview was computed.
	GeneratedAt time.Time `json:"generatedAt"`
	// StaleAfterSeconds is the heartbeat age past which a cluster is stale.
	StaleAfterSeconds float64 `json:"staleAfterSeconds"`
	// Namespaces hold one fleet each.
	Namespaces []*NamespaceView `json:"namespaces"`
}

// NamespaceView is the fleet of one hub namespace.
type NamespaceView struct {
	Name         string        `json:"name"`
	Repositories []RepoView    `json:"repositories"`
	Apps         []AppView     `json:"apps"`
	Clusters     []ClusterView `json:"clusters"`
	// Cells are keyed "<app>/<cluster>".
	Cells    map[string]CellView `json:"cells"`
	Failures []FailureView       `json:"failures"`
}

// RepoView is one FleetRepository.
type RepoView struct {
	Name      string     `json:"name"`
	URL       string     `json:"url"`
	Revision  string     `json:"revision"`
	Ready     string     `json:"ready"`
	Message   string     `json:"message,omitempty"`
	LastFetch *time.Time `json:"lastFetch,omitempty"`
}

// AppView is one App and its rollout.
type AppView struct {
	Name     string `json:"name"`
	Revision string `json:"revision"`
	Selected int32  `json:"selected"`
	Synced   int32  `json:"synced"`
	Healthy  int32  `json:"healthy"`
	Ready    string `json:"ready"`
	Message  string `json:"message,omitempty"`
	// Rollout is empty when the app has no rollout status.
	Rollout *RolloutView `json:"rollout,omitempty"`
}

// RolloutView is an app's rollout progress.
type RolloutView struct {
	Phase     string `json:"phase"`
	Stage     string `json:"stage"`
	Revision  string `json:"revision"`
	Updated   int32  `json:"updated"`
	Total     int32  `json:"total"`
	Message   string `json:"message,omitempty"`
	StageList []struct {
		Name    string `json:"name"`
		Sites   int32  `json:"sites"`
		Updated int32  `json:"updated"`
	} `json:"stages,omitempty"`
}

// ClusterView is one member cluster.
type ClusterView struct {
	Name      string            `json:"name"`
	Labels    map[string]string `json:"labels,omitempty"`
	Mode      string            `json:"mode"`
	Reachable string            `json:"reachable"`
	Reason    string            `json:"reason,omitempty"`
	Message   string            `json:"message,omitempty"`
	// Heartbeat is the last time the cluster answered.
	Heartbeat *time.Time `json:"heartbeat,omitempty"`
	// Revisions are the distinct revisions applied to the cluster.
	Revisions  []string       `json:"revisions,omitempty"`
	AppsReady  int32          `json:"appsReady"`
	AppsTotal  int32          `json:"appsTotal"`
	Nodes      int32          `json:"nodes"`
	Resources  []ResourceView `json:"resources,omitempty"`
	Taints     []string       `json:"taints,omitempty"`
	Hold       string         `json:"hold,omitempty"`
	Kubernetes string         `json:"kubernetes,omitempty"`
}

// ResourceView is one resource of a cluster's capacity: Allocatable and
// Available in the resource's base unit (cores, bytes, devices).
type ResourceView struct {
	Name        string  `json:"name"`
	Allocatable float64 `json:"allocatable"`
	// Available is negative when unknown.
	Available float64 `json:"available"`
	// Text is the human form, for example "3.5 / 8 cores free".
	Text string `json:"text"`
}

// CellView is one app on one cluster.
type CellView struct {
	Ready    string `json:"ready"`
	Healthy  string `json:"healthy"`
	Reason   string `json:"reason,omitempty"`
	Message  string `json:"message,omitempty"`
	Revision string `json:"revision,omitempty"`
	Stage    string `json:"stage,omitempty"`
	Drift    int64  `json:"drift"`
}

// FailureView is one failing app on one cluster.
type FailureView struct {
	App     string     `json:"app"`
	Cluster string     `json:"cluster"`
	Reason  string     `json:"reason"`
	Message string     `json:"message"`
	Since   *time.Time `json:"since,omitempty"`
}

// ClusterDetail is /api/cluster: a cluster, its apps and its events.
type ClusterDetail struct {
	Namespace  string            `json:"namespace"`
	Cluster    ClusterView       `json:"cluster"`
	Vars       map[string]string `json:"vars,omitempty"`
	Conditions []ConditionView   `json:"conditions"`
	Apps       []SyncSummary     `json:"apps"`
	Events     []EventView       `json:"events"`
}

// SyncSummary is one app's line on a cluster page.
type SyncSummary struct {
	App  string   `json:"app"`
	Cell CellView `json:"cell"`
}

// SyncDetail is /api/sync: one app on one cluster.
type SyncDetail struct {
	Namespace  string          `json:"namespace"`
	App        string          `json:"app"`
	Cluster    string          `json:"cluster"`
	Cell       CellView        `json:"cell"`
	Conditions []ConditionView `json:"conditions"`
	// Objects are the applied objects (the inventory).
	Objects        []string    `json:"objects"`
	DriftedObjects []string    `json:"driftedObjects,omitempty"`
	LastDrift      *time.Time  `json:"lastDriftCheck,omitempty"`
	LastApplied    *time.Time  `json:"lastApplied,omitempty"`
	WaitingFor     string      `json:"waitingFor,omitempty"`
	Events         []EventView `json:"events"`
}

// ConditionView is one status condition.
type ConditionView struct {
	Type    string    `json:"type"`
	Status  string    `json:"status"`
	Reason  string    `json:"reason"`
	Message string    `json:"message"`
	Since   time.Time `json:"since"`
}

// EventView is one Kubernetes event about a Flotilla object.
type EventView struct {
	Type    string    `json:"type"`
	Reason  string    `json:"reason"`
	Message string    `json:"message"`
	Count   int32     `json:"count"`
	Last    time.Time `json:"last"`
}
