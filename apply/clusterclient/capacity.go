package clusterclient

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// podPageSize bounds how many Pod objects one list request returns.
const podPageSize = 500

// MeasureCapacity measures a cluster's capacity per resource: Allocatable
// sums the allocatable amounts of the nodes that are Ready and schedulable
// (not cordoned); Available is Allocatable minus the effective requests of
// the pods that are not Succeeded or Failed and are either not scheduled
// yet or scheduled on one of those nodes, never below zero. Nodes and pods
// are listed in pages (terminated pods are filtered out by the API
// server), so memory stays bounded on large clusters. Where listing pods is
// forbidden, Available is nil (unknown) and no error is returned. The hub's heartbeat
// and the pull agent both call it; r reads the cluster measured.
func MeasureCapacity(ctx context.Context, r client.Reader) (*flotillav1.ClusterCapacity, error) {
	capa := &flotillav1.ClusterCapacity{Allocatable: corev1.ResourceList{}}
	counted := map[string]bool{}
	cont := ""
	for {
		var nodes corev1.NodeList
		if err := r.List(ctx, &nodes, client.Limit(nodePageSize), client.Continue(cont)); err != nil {
			return nil, fmt.Errorf("list nodes: %w", err)
		}
		for i := range nodes.Items {
			n := &nodes.Items[i]
			capa.Nodes++
			if !nodeReady(n) || n.Spec.Unschedulable {
				continue
			}
			counted[n.Name] = true
			addList(capa.Allocatable, n.Status.Allocatable)
		}
		cont = nodes.Continue
		if cont == "" {
			break
		}
	}
	requested := corev1.ResourceList{}
	notDone := fields.AndSelectors(
		fields.OneTermNotEqualSelector("status.phase", string(corev1.PodSucceeded)),
		fields.OneTermNotEqualSelector("status.phase", string(corev1.PodFailed)))
	cont = ""
	for {
		var pods corev1.PodList
		if err := r.List(ctx, &pods, client.Limit(podPageSize), client.Continue(cont), client.MatchingFieldsSelector{Selector: notDone}); err != nil {
			if apierrors.IsForbidden(err) {
				// Flotilla may not read pods there: what is available is
				// unknown (placement treats the cluster so), the
				// heartbeat goes on.
				capa.Available = nil
				return capa, nil
			}
			return nil, fmt.Errorf("list pods: %w", err)
		}
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				continue
			}
			if p.Spec.NodeName != "" && !counted[p.Spec.NodeName] {
				continue
			}
			addList(requested, PodRequests(&p.Spec))
		}
		cont = pods.Continue
		if cont == "" {
			break
		}
	}
	capa.Available = make(corev1.ResourceList, len(capa.Allocatable))
	for name, alloc := range capa.Allocatable {
		q := alloc.DeepCopy()
		if req, ok := requested[name]; ok {
			q.Sub(req)
		}
		if q.Sign() < 0 {
			q = *resource.NewQuantity(0, alloc.Format)
		}
		capa.Available[name] = q
	}
	now := metav1.Now()
	capa.ObservedTime = &now
	return capa, nil
}

// PodRequests returns a pod's effective requests, as the Kubernetes
// scheduler counts them: the larger of the app containers' requests (plus
// the sidecars', init containers that keep running) and each init
// container's requests (plus the sidecars started before it), per
// resource, plus the pod overhead.
func PodRequests(spec *corev1.PodSpec) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := range spec.Containers {
		addList(out, spec.Containers[i].Resources.Requests)
	}
	sidecars := corev1.ResourceList{}
	initMax := corev1.ResourceList{}
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			addList(sidecars, c.Resources.Requests)
			maxList(initMax, sidecars)
			continue
		}
		during := sidecars.DeepCopy()
		addList(during, c.Resources.Requests)
		maxList(initMax, during)
	}
	addList(out, sidecars)
	maxList(out, initMax)
	addList(out, spec.Overhead)
	return out
}

// addList adds b to a, per resource.
func addList(a, b corev1.ResourceList) {
	for name, q := range b {
		if cur, ok := a[name]; ok {
			cur.Add(q)
			a[name] = cur
		} else {
			a[name] = q.DeepCopy()
		}
	}
}

// maxList raises a to b where b is larger, per resource.
func maxList(a, b corev1.ResourceList) {
	for name, q := range b {
		if cur, ok := a[name]; !ok || q.Cmp(cur) > 0 {
			a[name] = q.DeepCopy()
		}
	}
}

// nodeReady says whether a node's Ready condition is True.
func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// GPUColumn formats a cluster's nvidia.com/gpu figures for the GPU print
// column: "available/allocatable", such as "2/8"; "0/0" for a cluster
// without GPUs.
func GPUColumn(capa *flotillav1.ClusterCapacity) string {
	if capa == nil {
		return ""
	}
	avail, alloc := capa.Available[ResourceGPU], capa.Allocatable[ResourceGPU]
	if capa.Available == nil {
		return "?/" + alloc.String()
	}
	return avail.String() + "/" + alloc.String()
}
