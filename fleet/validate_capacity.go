package fleet

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// standardResources are the resource names without a domain that
// Kubernetes nodes report (hugepages-<size> too).
var standardResources = map[corev1.ResourceName]bool{
	corev1.ResourceCPU: true, corev1.ResourceMemory: true, corev1.ResourceEphemeralStorage: true, corev1.ResourcePods: true,
}

// validateResourceName checks a resource name: a standard one (cpu,
// memory, ephemeral-storage, pods, hugepages-<size>) or an extended one
// with a domain (nvidia.com/gpu).
func validateResourceName(r *reporter, p fieldPath, name corev1.ResourceName) bool {
	s := string(name)
	switch {
	case standardResources[name] || strings.HasPrefix(s, corev1.ResourceHugePagesPrefix):
		return true
	case !strings.Contains(s, "/"):
		r.errorf(p, "%s: %q is not a resource name; use cpu, memory, ephemeral-storage, pods, hugepages-<size> or an extended resource with its domain, such as nvidia.com/gpu", p, s)
		return false
	case len(validation.IsQualifiedName(s)) > 0:
		r.errorf(p, "%s: %q is not a valid extended resource name (%s); write it as <domain>/<name>, such as nvidia.com/gpu", p, s, strings.Join(validation.IsQualifiedName(s), "; "))
		return false
	}
	return true
}

// validateRequires checks spec.placement.requires: resource names and
// amounts that are not negative.
func validateRequires(r *reporter, p fieldPath, req corev1.ResourceList) {
	names := make([]corev1.ResourceName, 0, len(req))
	for name := range req {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		np := p.child(string(name))
		if !validateResourceName(r, np, name) {
			continue
		}
		if q := req[name]; q.Sign() < 0 {
			r.errorf(np, "%s: is %s; set the amount the app needs, 0 or more", np, q.String())
		}
	}
}
