package placement

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// Capacity is one cluster's live capacity, per resource (cpu, memory,
// nvidia.com/gpu and any extended resource).
type Capacity struct {
	// Allocatable is the sum of the ready, schedulable nodes' allocatable
	// amounts.
	Allocatable corev1.ResourceList
	// Available is Allocatable minus what the cluster's pods request.
	Available corev1.ResourceList
	// ObservedTime is when the figures were taken (zero when unknown).
	ObservedTime time.Time
}

// CapacityOf returns the capacity a Cluster's status reports, and false
// when the status has no per-resource figures yet.
func CapacityOf(c *flotillav1.Cluster) (Capacity, bool) {
	if c == nil || c.Status.Capacity == nil || c.Status.Capacity.Available == nil {
		return Capacity{}, false
	}
	capa := Capacity{
		Allocatable: c.Status.Capacity.Allocatable.DeepCopy(),
		Available:   c.Status.Capacity.Available.DeepCopy(),
	}
	if t := c.Status.Capacity.ObservedTime; t != nil {
		capa.ObservedTime = t.Time
	}
	return capa, true
}

// CapacitiesOf returns the capacities of the clusters whose status reports
// them, by cluster name.
func CapacitiesOf(clusters []*flotillav1.Cluster) map[string]Capacity {
	out := make(map[string]Capacity, len(clusters))
	for _, c := range clusters {
		if capa, ok := CapacityOf(c); ok {
			out[c.Name] = capa
		}
	}
	return out
}

// WithCapacity gives Place the live capacity of the clusters, by cluster
// name. It enables spec.placement.requires, rankBy.available and
// replicas[].weightBy.available; a cluster missing from the map has unknown
// capacity: it does not meet any requirement, ranks after the clusters
// with figures and weighs 0. Without this option (or with a nil map) the
// result says that live capacity was not used (Result.CapacityUsed false)
// and every cluster's capacity is unknown.
func WithCapacity(capacities map[string]Capacity) Option {
	return func(o *options) { o.capacity = capacities }
}

// WithHeld tells Place what each app's own pods already request on the
// clusters it runs on (app name to cluster name to amounts). Those amounts
// are added back to the cluster's available figures when Place looks at
// that app, so an app does not count itself as a competitor: without it a
// site an app fills would look full to that app and it would move away at
// the next replan, then back. The hub passes, for each (app, cluster) the
// app is applied and Ready on, what its rendered workloads request there.
func WithHeld(held map[string]map[string]corev1.ResourceList) Option {
	return func(o *options) { o.held = held }
}

// Figure is one resource's figures a decision used.
type Figure struct {
	// Resource is the resource name, for example nvidia.com/gpu.
	Resource corev1.ResourceName
	// Available is the cluster's available amount as the app sees it: the
	// live figure plus what the app itself holds there (Held).
	Available resource.Quantity
	// Allocatable is the cluster's allocatable amount.
	Allocatable resource.Quantity
	// Held is what the app's own pods request there now (zero when it does
	// not run there).
	Held resource.Quantity
	// Required is the app's spec.placement.requires amount, when set.
	Required *resource.Quantity
}

// ReadsCapacity says whether an app's placement reads live capacity
// figures (requires, rankBy.available or a replicas weightBy.available).
func ReadsCapacity(app *flotillav1.App) bool {
	pl := app.Spec.Placement
	if len(pl.Requires) > 0 || (pl.RankBy != nil && pl.RankBy.Available != "") {
		return true
	}
	for _, d := range pl.Replicas {
		if d.WeightBy != nil && d.WeightBy.Available != "" {
			return true
		}
	}
	return false
}
