package apply

import (
	"fmt"
	"time"

	"github.com/fluxcd/pkg/ssa"
	"github.com/fluxcd/pkg/ssa/utils"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// Defaults used when a Request leaves a field zero.
const (
	// DefaultApplyTimeout bounds the apply and prune phases of one Sync.
	DefaultApplyTimeout = 2 * time.Minute
	// DefaultHealthTimeout bounds the readiness wait of one Sync.
	DefaultHealthTimeout = 5 * time.Minute
	// DefaultHealthInterval is how often the readiness wait polls.
	DefaultHealthInterval = time.Second
	// DefaultConcurrency is how many objects are dry-run in parallel.
	DefaultConcurrency = 4
)

// Request is one sync of one app onto one cluster.
type Request struct {
	// App is the app's name; it becomes the flotilla.dev/app label.
	App string
	// Repository is the FleetRepository the app comes from; its name and
	// namespace become owner labels.
	Repository types.NamespacedName
	// Namespace is the app's target namespace. It is created when missing,
	// but never recorded in the inventory and never pruned. Namespaced
	// objects without a namespace are put in it. Optional.
	Namespace string
	// Namespaces remembers the target namespaces already seen on this
	// cluster, so Sync does not read Namespace every time; nil reads it
	// every time. Pass the same memory for every request to one cluster
	// client.
	Namespaces *Namespaces
	// Objects are the rendered manifests. Sync does not modify them (it
	// works on copies), so they may come from a shared render cache.
	Objects []*unstructured.Unstructured
	// PreviousInventory is the inventory recorded by the last sync.
	PreviousInventory []flotillav1.ObjectRef
	// Prune deletes objects of PreviousInventory that are gone from
	// Objects, if they still carry this app's owner labels. Never set it
	// after a failed fetch or render. Without Prune, objects that left the
	// set are left in place and dropped from the inventory.
	Prune bool
	// AllowEmpty allows Prune with an empty Objects, which deletes
	// everything in PreviousInventory. Set it only when the app was removed
	// from Git or the cluster left its placement. With no Objects the
	// target namespace is not created; leave Namespace empty to let a
	// Namespace object listed in the inventory be pruned too.
	AllowEmpty bool
	// Force recreates objects whose immutable fields changed (for example
	// a Job's template or a Service's clusterIP) instead of failing.
	Force bool
	// Wait waits, up to HealthTimeout, for all applied objects to become
	// ready (kstatus Current).
	Wait bool
	// HealthTimeout bounds the readiness wait; DefaultHealthTimeout if zero.
	HealthTimeout time.Duration
	// HealthInterval is how often the wait polls; DefaultHealthInterval if zero.
	HealthInterval time.Duration
	// ApplyTimeout bounds the apply and prune phases, including waiting for
	// CRDs to be established; DefaultApplyTimeout if zero.
	ApplyTimeout time.Duration
	// Concurrency is how many objects are dry-run in parallel;
	// DefaultConcurrency if zero.
	Concurrency int
	// AdoptExisting lets the app take over objects that exist on the
	// cluster without any Flotilla owner labels (the app's
	// spec.adoptExisting). Without it, only objects annotated
	// flotilla.dev/adopt: "true" are adopted and the others are refused.
	// Adopted objects are marked in the inventory and released, not
	// deleted, by prune.
	AdoptExisting bool
	// LastApplied is Result.Applied of the last successful Sync of this
	// app on this cluster made by this process, or nil. With it, objects
	// unchanged since are not sent, and changed ones are applied without
	// ssa's per-object read and dry-run (see directPlan for when).
	LastApplied Applied
}

func (r *Request) applyTimeout() time.Duration {
	if r.ApplyTimeout > 0 {
		return r.ApplyTimeout
	}
	return DefaultApplyTimeout
}

func (r *Request) healthTimeout() time.Duration {
	if r.HealthTimeout > 0 {
		return r.HealthTimeout
	}
	return DefaultHealthTimeout
}

func (r *Request) healthInterval() time.Duration {
	if r.HealthInterval > 0 {
		return r.HealthInterval
	}
	return DefaultHealthInterval
}

func (r *Request) concurrency() int {
	if r.Concurrency > 0 {
		return r.Concurrency
	}
	return DefaultConcurrency
}

// validate checks the parts of the request that do not need the cluster.
func (r *Request) validate() error {
	if r.App == "" {
		return &ValidationError{Field: "App", Message: "is empty; set the app's name"}
	}
	if r.Repository.Name == "" || r.Repository.Namespace == "" {
		return &ValidationError{Field: "Repository", Message: "needs the FleetRepository's namespace and name; they become owner labels"}
	}
	for field, v := range map[string]string{
		"App":                  r.App,
		"Repository.Name":      r.Repository.Name,
		"Repository.Namespace": r.Repository.Namespace,
	} {
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return &ValidationError{Field: field, Message: fmt.Sprintf("%q cannot be a label value: %v", v, errs)}
		}
	}
	if r.Namespace != "" {
		if errs := validation.IsDNS1123Label(r.Namespace); len(errs) > 0 {
			return &ValidationError{Field: "Namespace", Message: fmt.Sprintf("%q is not a valid namespace name: %v", r.Namespace, errs)}
		}
	}
	for i, o := range r.Objects {
		if o == nil || o.GetAPIVersion() == "" || o.GetKind() == "" || o.GetName() == "" {
			return &ValidationError{Field: fmt.Sprintf("Objects[%d]", i), Message: "needs apiVersion, kind and metadata.name"}
		}
		if err := CheckControls(o); err != nil {
			return &ValidationError{Field: fmt.Sprintf("Objects[%d]", i), Message: fmt.Sprintf("%s: %v", utils.FmtUnstructured(o), err)}
		}
	}
	if r.Prune && len(r.Objects) == 0 && len(r.PreviousInventory) > 0 && !r.AllowEmpty {
		return &ValidationError{Field: "Objects", Message: ErrEmptyPrune.Error(), Err: ErrEmptyPrune}
	}
	return nil
}

// Result is what one Sync did.
type Result struct {
	// ChangeSet has one entry per applied object with its action
	// (created, configured, unchanged).
	ChangeSet *ssa.ChangeSet
	// Inventory is what to record in ClusterSync status for the next
	// sync, sorted by ID. When Sync fails part-way it still lists every
	// object that may exist with our labels (the previous inventory plus
	// what was applied), so that nothing escapes a later prune.
	Inventory []flotillav1.ObjectRef
	// NamespaceCreated is true when Sync created Request.Namespace.
	NamespaceCreated bool
	// Pruned lists the objects deleted, as Kind/namespace/name.
	Pruned []string
	// PruneSkipped lists stale objects left in place because they no
	// longer carry this app's owner labels.
	PruneSkipped []string
	// Released lists the stale adopted objects, and those annotated
	// flotilla.dev/prune: disabled, given back: left in place without
	// Flotilla's labels and field ownership.
	Released []string
	// NamespacesKept lists, as "Namespace/<name>: why", the Namespace
	// objects the app stopped rendering that were released instead of
	// deleted because they hold objects Flotilla did not apply for the
	// app (deleting them would delete those). They are also in Released.
	NamespacesKept []string
	// Health is the readiness of the applied objects; nil unless Request.Wait.
	Health *Health
	// Applied is set when every object was applied: pass it as the next
	// Request.LastApplied of the same app and cluster.
	Applied Applied
	// Direct is true when the objects were applied without ssa's read and
	// dry-run, because LastApplied showed what changed.
	Direct bool
}

// AppliedOrNil returns r.Applied, or nil for a nil Result.
func (r *Result) AppliedOrNil() Applied {
	if r == nil {
		return nil
	}
	return r.Applied
}

// Changed reports whether the sync created, configured or deleted anything.
func (r *Result) Changed() bool {
	if r == nil {
		return false
	}
	if r.NamespaceCreated || len(r.Pruned) > 0 || len(r.Released) > 0 {
		return true
	}
	if r.ChangeSet != nil {
		for _, e := range r.ChangeSet.Entries {
			if e.Action == ssa.CreatedAction || e.Action == ssa.ConfiguredAction {
				return true
			}
		}
	}
	return false
}
