package testenv

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// GPUResource is the extended resource name of NVIDIA GPUs.
const GPUResource corev1.ResourceName = "nvidia.com/gpu"

// KwokNodeAnnotation marks the nodes kwok manages (value "fake").
const KwokNodeAnnotation = "kwok.x-k8s.io/node"

// NodeSpec describes a simulated node. Capacity and allocatable are equal.
type NodeSpec struct {
	// Name of the Node object. Required.
	Name string
	// CPU capacity as a quantity, for example "16" or "3500m". Empty means "16".
	CPU string
	// Memory capacity as a quantity, for example "64Gi". Empty means "64Gi".
	Memory string
	// Pods is the maximum number of pods. Zero means 110.
	Pods int
	// GPUs is the number of nvidia.com/gpu. Zero means the node has none.
	GPUs int
	// Labels are added to the node's labels (kubernetes.io/hostname,
	// kubernetes.io/os and kubernetes.io/arch are always set).
	Labels map[string]string
	// Taints are set on the node.
	Taints []corev1.Taint
}

// DefaultNode is the node a workload cluster gets when WorkloadOptions.Nodes
// is empty: "node-1" with 16 CPUs, 64Gi of memory, 110 pods and no GPU.
func DefaultNode() NodeSpec {
	return NodeSpec{Name: "node-1"}
}

// Resources returns the node's capacity (equal to its allocatable), with
// defaults applied. It fails on a quantity that does not parse.
func (n NodeSpec) Resources() (corev1.ResourceList, error) {
	cpu, memory, pods := n.CPU, n.Memory, n.Pods
	if cpu == "" {
		cpu = "16"
	}
	if memory == "" {
		memory = "64Gi"
	}
	if pods == 0 {
		pods = 110
	}
	cpuQ, err := resource.ParseQuantity(cpu)
	if err != nil {
		return nil, fmt.Errorf("node %s: NodeSpec.CPU %q is not a quantity (use e.g. \"8\" or \"3500m\"): %w", n.Name, cpu, err)
	}
	memQ, err := resource.ParseQuantity(memory)
	if err != nil {
		return nil, fmt.Errorf("node %s: NodeSpec.Memory %q is not a quantity (use e.g. \"32Gi\"): %w", n.Name, memory, err)
	}
	if pods < 0 || n.GPUs < 0 {
		return nil, fmt.Errorf("node %s: NodeSpec.Pods (%d) and NodeSpec.GPUs (%d) must not be negative", n.Name, pods, n.GPUs)
	}
	list := corev1.ResourceList{
		corev1.ResourceCPU:    cpuQ,
		corev1.ResourceMemory: memQ,
		corev1.ResourcePods:   *resource.NewQuantity(int64(pods), resource.DecimalSI),
	}
	if n.GPUs > 0 {
		list[GPUResource] = *resource.NewQuantity(int64(n.GPUs), resource.DecimalSI)
	}
	return list, nil
}

// node builds the Node object kwok will manage.
func (n NodeSpec) node() (*corev1.Node, error) {
	if n.Name == "" {
		return nil, fmt.Errorf("node: NodeSpec.Name is empty; give every node a name")
	}
	res, err := n.Resources()
	if err != nil {
		return nil, err
	}
	labels := map[string]string{}
	for k, v := range n.Labels {
		labels[k] = v
	}
	labels[corev1.LabelHostname] = n.Name
	labels[corev1.LabelOSStable] = "linux"
	labels[corev1.LabelArchStable] = "amd64"
	labels["type"] = "kwok"
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   n.Name,
			Labels: labels,
			Annotations: map[string]string{
				KwokNodeAnnotation:             "fake",
				"node.alpha.kubernetes.io/ttl": "0",
			},
		},
		Spec: corev1.NodeSpec{Taints: n.Taints},
		// kwok's node-initialize stage keeps capacity and allocatable that are
		// set at creation, so they must be part of the create.
		Status: corev1.NodeStatus{Capacity: res, Allocatable: res.DeepCopy()},
	}, nil
}

// AddNodes creates simulated nodes on a workload cluster and waits until they
// are Ready. A node that already exists is left as it is. The nodes are
// waited for again after a Restart.
func (c *Cluster) AddNodes(ctx context.Context, nodes ...NodeSpec) error {
	if c.workloads == nil {
		return fmt.Errorf("adding nodes to cluster %s: it does not run workloads; set ClusterOptions.Workloads", c.name)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		return fmt.Errorf("adding nodes to cluster %s: it is stopped; Restart it first", c.name)
	}
	c.workloads.opts.Nodes = append(c.workloads.opts.Nodes, nodes...)
	ctx, cancel := withDefaultTimeout(ctx, workloadsReadyTimeout)
	defer cancel()
	if err := c.createNodes(ctx, nodes); err != nil {
		return err
	}
	for _, n := range nodes {
		if err := c.waitNodeReady(ctx, n.Name); err != nil {
			return err
		}
	}
	return nil
}

// createNodes creates the nodes that do not exist yet.
func (c *Cluster) createNodes(ctx context.Context, nodes []NodeSpec) error {
	for _, n := range nodes {
		obj, err := n.node()
		if err != nil {
			return fmt.Errorf("creating nodes in cluster %s: %w", c.name, err)
		}
		_, err = c.clientset.CoreV1().Nodes().Create(ctx, obj, metav1.CreateOptions{})
		if err := ignoreAlreadyExists(err); err != nil {
			return fmt.Errorf("creating node %s in cluster %s: %w", n.Name, c.name, err)
		}
	}
	return nil
}

// waitNodeReady waits until the node's Ready condition is True.
func (c *Cluster) waitNodeReady(ctx context.Context, name string) error {
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if c.workloads != nil {
			if err := c.workloads.exitErr(); err != nil {
				return false, err
			}
		}
		node, err := c.clientset.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		return err == nil && nodeReady(node), nil
	})
	if err != nil {
		return fmt.Errorf("waiting for node %s of cluster %s to be Ready: %w (logs in %s)", name, c.name, err, c.LogDir())
	}
	return nil
}
