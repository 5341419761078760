package demo

import (
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/api/resource"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// Annotations of a cluster file's metadata that size the simulated nodes the
// demo gives that cluster. Placement ignores annotations.
const (
	// AnnotationNodes is the number of simulated nodes (default 1).
	AnnotationNodes = "flotilla.dev/demo-nodes"
	// AnnotationCPU is the allocatable CPU of each node (default "4").
	AnnotationCPU = "flotilla.dev/demo-cpu"
	// AnnotationMemory is the allocatable memory of each node (default "16Gi").
	AnnotationMemory = "flotilla.dev/demo-memory"
	// AnnotationGPUs is the allocatable nvidia.com/gpu of each node. When
	// absent, the cluster's var gpuCount is spread over its nodes; else 0.
	AnnotationGPUs = "flotilla.dev/demo-gpus"
)

// GPUPresentLabel is set to "true" on simulated nodes that have GPUs, as
// NVIDIA's GPU feature discovery does on real ones.
const GPUPresentLabel = "nvidia.com/gpu.present"

// Defaults of the capacity annotations.
const (
	defaultNodes  = 1
	defaultCPU    = "4"
	defaultMemory = "16Gi"
	// maxNodes keeps a typo from starting thousands of Node objects.
	maxNodes = 20
)

// NodesFor returns the simulated nodes of a cluster, sized from its
// flotilla.dev/demo-* annotations (see AnnotationNodes and the others), or
// from its var gpuCount and the defaults when they are absent. file names the
// cluster file in errors.
func NodesFor(c *flotillav1.Cluster, file string) ([]testenv.NodeSpec, error) {
	ann := c.Annotations
	nodes := defaultNodes
	if v, ok := ann[AnnotationNodes]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxNodes {
			return nil, fmt.Errorf("%s: metadata.annotations[%q] is %q: set a whole number from 1 to %d", file, AnnotationNodes, v, maxNodes)
		}
		nodes = n
	}
	cpu, err := quantityAnnotation(ann, AnnotationCPU, defaultCPU, file, `"8" or "3500m"`)
	if err != nil {
		return nil, err
	}
	memory, err := quantityAnnotation(ann, AnnotationMemory, defaultMemory, file, `"32Gi"`)
	if err != nil {
		return nil, err
	}
	gpus, err := gpusPerNode(c, nodes, file)
	if err != nil {
		return nil, err
	}
	specs := make([]testenv.NodeSpec, 0, nodes)
	for i := 1; i <= nodes; i++ {
		spec := testenv.NodeSpec{Name: fmt.Sprintf("node-%d", i), CPU: cpu, Memory: memory, GPUs: gpus}
		if gpus > 0 {
			spec.Labels = map[string]string{GPUPresentLabel: "true"}
		}
		specs = append(specs, spec)
	}
	return specs, nil
}

// quantityAnnotation returns the annotation's value, checked to be a
// positive quantity, or def when absent.
func quantityAnnotation(ann map[string]string, key, def, file, example string) (string, error) {
	v, ok := ann[key]
	if !ok {
		return def, nil
	}
	q, err := resource.ParseQuantity(v)
	if err != nil || q.Sign() <= 0 {
		return "", fmt.Errorf("%s: metadata.annotations[%q] is %q: set a positive quantity such as %s", file, key, v, example)
	}
	return v, nil
}

// gpusPerNode reads AnnotationGPUs, else spreads the var gpuCount over the
// nodes (rounding up), else returns 0.
func gpusPerNode(c *flotillav1.Cluster, nodes int, file string) (int, error) {
	if v, ok := c.Annotations[AnnotationGPUs]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s: metadata.annotations[%q] is %q: set a whole number of GPUs per node, 0 or more", file, AnnotationGPUs, v)
		}
		return n, nil
	}
	v, ok := c.Spec.Vars["gpuCount"]
	if !ok {
		return 0, nil
	}
	total, err := strconv.Atoi(v)
	if err != nil || total < 0 {
		return 0, fmt.Errorf("%s: spec.vars.gpuCount is %q and metadata.annotations[%q] is absent: set gpuCount to a whole number, or set the annotation", file, v, AnnotationGPUs)
	}
	return (total + nodes - 1) / nodes, nil
}
