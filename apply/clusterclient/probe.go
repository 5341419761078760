package clusterclient

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// ResourceGPU is the extended resource name of NVIDIA GPUs.
const ResourceGPU corev1.ResourceName = "nvidia.com/gpu"

// nodePageSize bounds how many Node objects one list request returns.
const nodePageSize = 200

// Info is what a heartbeat learns about a cluster.
type Info struct {
	// KubernetesVersion is the server's GitVersion, for example "v1.37.2".
	KubernetesVersion string
	// Nodes is the number of Node objects.
	Nodes int32
	// ReadyNodes is the number of nodes whose Ready condition is True.
	ReadyNodes int32
	// CPU is the sum of allocatable CPU over all nodes.
	CPU resource.Quantity
	// Memory is the sum of allocatable memory over all nodes.
	Memory resource.Quantity
	// GPU is the sum of allocatable nvidia.com/gpu over all nodes.
	GPU resource.Quantity
	// Capacity is the per-resource capacity MeasureCapacity took.
	Capacity *flotillav1.ClusterCapacity
	// Held says the site holds new revisions: the ConfigMap
	// flotilla-system/flotilla-hold exists.
	Held bool
	// HoldReason is that ConfigMap's data.reason.
	HoldReason string
}

// Probe asks the cluster for its version and sums the allocatable CPU,
// memory and nvidia.com/gpu of its nodes (listed in pages, so memory stays
// bounded on large clusters). CPU, Memory and GPU are summed over all
// nodes; ReadyNodes says how many of them are Ready; Capacity has the
// per-resource allocatable and available figures of MeasureCapacity. Errors are *ClusterError values naming
// the cluster.
func Probe(ctx context.Context, c *Client) (Info, error) {
	v, err := c.ServerVersion(ctx)
	if err != nil {
		return Info{}, err
	}
	info := Info{
		KubernetesVersion: v.GitVersion,
		CPU:               *resource.NewQuantity(0, resource.DecimalSI),
		Memory:            *resource.NewQuantity(0, resource.BinarySI),
		GPU:               *resource.NewQuantity(0, resource.DecimalSI),
	}
	cont := ""
	for {
		var nodes corev1.NodeList
		if err := c.Client().List(ctx, &nodes, client.Limit(nodePageSize), client.Continue(cont)); err != nil {
			return Info{}, &ClusterError{Cluster: c.Name(), Op: "list nodes", Err: err}
		}
		for i := range nodes.Items {
			addNode(&info, &nodes.Items[i])
		}
		cont = nodes.Continue
		if cont == "" {
			break
		}
	}
	capa, err := MeasureCapacity(ctx, c.Client())
	if err != nil {
		return Info{}, &ClusterError{Cluster: c.Name(), Op: "measure capacity", Err: err}
	}
	info.Capacity = capa
	if err := readHold(ctx, c, &info); err != nil {
		return Info{}, err
	}
	return info, nil
}

// readHold looks for the site's hold ConfigMap. A cluster where Flotilla
// may not read it (no RBAC) has no hold.
func readHold(ctx context.Context, c *Client, info *Info) error {
	cm := &corev1.ConfigMap{}
	err := c.Client().Get(ctx, client.ObjectKey{Namespace: flotillav1.HoldNamespace, Name: flotillav1.HoldConfigMap}, cm)
	switch {
	case err == nil:
		info.Held = true
		info.HoldReason = cm.Data["reason"]
		return nil
	case apierrors.IsNotFound(err), apierrors.IsForbidden(err):
		return nil
	default:
		return &ClusterError{Cluster: c.Name(), Op: "read the hold ConfigMap " + flotillav1.HoldNamespace + "/" + flotillav1.HoldConfigMap, Err: err}
	}
}

func addNode(info *Info, n *corev1.Node) {
	info.Nodes++
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			info.ReadyNodes++
		}
	}
	alloc := n.Status.Allocatable
	if q, ok := alloc[corev1.ResourceCPU]; ok {
		info.CPU.Add(q)
	}
	if q, ok := alloc[corev1.ResourceMemory]; ok {
		info.Memory.Add(q)
	}
	if q, ok := alloc[ResourceGPU]; ok {
		info.GPU.Add(q)
	}
}
