package controllers

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	apiruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/apply/clusterclient"
	"github.com/flotilla-gitops/flotilla/placement"
)

// replanFraction is how far, as a fraction of a resource's allocatable
// amount (and at least one unit: one CPU, one GPU, one byte), a cluster's
// available figure must move from the one the last placement used before
// the hub places the repository again. Smaller wobbles do not re-render.
const replanFraction = 0.05

// capacityPlans remembers, per repository, the capacity figures its last
// placement used, and whether a cluster's figures have since moved enough
// to place again. It is safe for concurrent use; the zero value is ready.
type capacityPlans struct {
	mu   sync.Mutex
	used map[types.NamespacedName]map[string]placement.Capacity
	due  map[types.NamespacedName]bool
}

// set records the figures a placement of repo used and clears its due mark.
func (p *capacityPlans) set(repo types.NamespacedName, caps map[string]placement.Capacity) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used == nil {
		p.used, p.due = map[types.NamespacedName]map[string]placement.Capacity{}, map[types.NamespacedName]bool{}
	}
	p.used[repo] = caps
	delete(p.due, repo)
}

// forget drops what is known of repo.
func (p *capacityPlans) forget(repo types.NamespacedName) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.used, repo)
	delete(p.due, repo)
}

// isDue says whether a cluster of repo changed enough since its last
// placement.
func (p *capacityPlans) isDue(repo types.NamespacedName) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.due[repo]
}

// observe compares a cluster's figures with those the repository's last
// placement used and marks the repository due when they moved enough. It
// returns true when it marked it (a repository never placed is not marked:
// its first placement reads the figures anyway).
func (p *capacityPlans) observe(repo types.NamespacedName, cluster string, now placement.Capacity, known bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	used, placed := p.used[repo]
	if !placed || p.due[repo] {
		return false
	}
	before, had := used[cluster]
	if had != known || (known && movedEnough(before, now)) {
		p.due[repo] = true
		return true
	}
	return false
}

// movedEnough says whether capacity b differs from a by enough to place
// again: an allocatable amount changed, or an available amount moved by at
// least replanFraction of the allocatable amount (and at least one unit).
func movedEnough(a, b placement.Capacity) bool {
	for _, lists := range [][2]corev1.ResourceList{{a.Allocatable, b.Allocatable}, {b.Allocatable, a.Allocatable}} {
		for name, q := range lists[0] {
			if other, ok := lists[1][name]; !ok || other.Cmp(q) != 0 {
				return true
			}
		}
	}
	for name, alloc := range b.Allocatable {
		av, bv := a.Available[name], b.Available[name]
		delta := bv.AsApproximateFloat64() - av.AsApproximateFloat64()
		if delta < 0 {
			delta = -delta
		}
		if delta >= max(replanFraction*alloc.AsApproximateFloat64(), 1) {
			return true
		}
	}
	return false
}

// capacityChanged maps a Cluster whose figures moved enough since its
// repository's last placement to that repository.
func (r *FleetRepositoryReconciler) capacityChanged(_ context.Context, obj client.Object) []reconcile.Request {
	c, ok := obj.(*flotillav1.Cluster)
	if !ok || c.Labels[flotillav1.LabelRepository] == "" {
		return nil
	}
	repo := types.NamespacedName{Namespace: c.Labels[flotillav1.LabelRepositoryNamespace], Name: c.Labels[flotillav1.LabelRepository]}
	capa, known := placement.CapacityOf(c)
	if !r.capacity.observe(repo, c.Name, capa, known) {
		return nil
	}
	return []reconcile.Request{{NamespacedName: repo}}
}

// capacities returns the live capacity of the repository's clusters, as
// their heartbeats last reported it on the hub.
func (r *FleetRepositoryReconciler) capacities(ctx context.Context, obj *flotillav1.FleetRepository) (map[string]placement.Capacity, error) {
	list := &flotillav1.ClusterList{}
	if err := r.List(ctx, list, client.InNamespace(obj.Namespace), client.MatchingLabels(repoLabels(obj)), client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list Clusters of %s: %w", client.ObjectKeyFromObject(obj), err)
	}
	caps := make(map[string]placement.Capacity, len(list.Items))
	for i := range list.Items {
		if capa, ok := placement.CapacityOf(&list.Items[i]); ok {
			caps[list.Items[i].Name] = capa
		}
	}
	return caps, nil
}

// heldBy returns, for the apps that read live capacity, what their rendered
// workloads request on each cluster where they are applied and Ready: the
// placement adds it back to that cluster's available figures for the app.
func (r *FleetRepositoryReconciler) heldBy(ctx context.Context, obj *flotillav1.FleetRepository, syncs []flotillav1.ClusterSync) (map[string]map[string]corev1.ResourceList, error) {
	apps := &flotillav1.AppList{}
	if err := r.List(ctx, apps, client.InNamespace(obj.Namespace), client.MatchingLabels(repoLabels(obj)), client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list Apps of %s: %w", client.ObjectKeyFromObject(obj), err)
	}
	reads := map[string]bool{}
	for i := range apps.Items {
		if placement.ReadsCapacity(&apps.Items[i]) {
			reads[apps.Items[i].Name] = true
		}
	}
	held := map[string]map[string]corev1.ResourceList{}
	for i := range syncs {
		cs := &syncs[i]
		if !reads[cs.Spec.App] || leftCluster(cs) {
			continue
		}
		d := r.Store.of(cs)
		if !syncIsReady(cs, d) {
			continue
		}
		req := workloadRequests(d.Objects)
		if len(req) == 0 {
			continue
		}
		if held[cs.Spec.App] == nil {
			held[cs.Spec.App] = map[string]corev1.ResourceList{}
		}
		held[cs.Spec.App][cs.Spec.Cluster] = req
	}
	return held, nil
}

// workloadRequests sums what rendered workloads request: each Pod, and
// the pod template of each Deployment, ReplicaSet and StatefulSet times its
// replicas and of each Job times its parallelism (1 when unset). DaemonSets
// (one pod per node) and objects that do not decode are left out.
func workloadRequests(objs []*unstructured.Unstructured) corev1.ResourceList {
	out := corev1.ResourceList{}
	for _, o := range objs {
		var specPath []string
		count := int64(1)
		switch o.GetKind() {
		case "Pod":
			specPath = []string{"spec"}
		case "Deployment", "ReplicaSet", "StatefulSet":
			specPath = []string{"spec", "template", "spec"}
			count = countField(o, "replicas")
		case "Job":
			specPath = []string{"spec", "template", "spec"}
			count = countField(o, "parallelism")
		default:
			continue
		}
		raw, found, err := unstructured.NestedMap(o.Object, specPath...)
		if err != nil || !found || count <= 0 {
			continue
		}
		var spec corev1.PodSpec
		if err := apiruntime.DefaultUnstructuredConverter.FromUnstructured(raw, &spec); err != nil {
			continue
		}
		for name, q := range clusterclient.PodRequests(&spec) {
			total := resource.NewMilliQuantity(q.MilliValue()*count, q.Format)
			if cur, ok := out[name]; ok {
				total.Add(cur)
			}
			out[name] = *total
		}
	}
	return out
}

// countField reads spec.<field> as a count (1 when unset), whether the
// object was decoded with integers or with floats.
func countField(o *unstructured.Unstructured, field string) int64 {
	v, found, err := unstructured.NestedFieldNoCopy(o.Object, "spec", field)
	if err != nil || !found {
		return 1
	}
	switch n := v.(type) {
	case int64:
		return n
	case int:
		return int64(n)
	case float64:
		return int64(n)
	}
	return 1
}
