package fleet

import (
	"path"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/rollout"
)

// varKeyRE is the syntax of a cluster var key, usable in ${cluster.vars.<key>}.
var varKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// taintEffects are the taint effects a cluster may declare.
var taintEffects = []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}

// clusterNameFromFile returns the cluster name a file clusters/<name>.yaml
// implies.
func clusterNameFromFile(file string) string {
	base := path.Base(file)
	return strings.TrimSuffix(strings.TrimSuffix(base, ".yaml"), ".yml")
}

// clusterFileFor returns the file a cluster of that name belongs in.
func clusterFileFor(name string) string { return "clusters/" + name + ".yaml" }

// decodeClusterFile decodes and validates one cluster file on its own
// (references to other files are checked by validateFleet). file is the
// path relative to the repository root. The cluster is nil when the file
// could not be decoded.
func decodeClusterFile(file string, data []byte) (*flotillav1.Cluster, *reporter) {
	r := &reporter{file: file}
	c := &flotillav1.Cluster{}
	if _, ok := decodeDocument(r, data, flotillav1.KindCluster, c); !ok {
		return nil, r
	}
	validateCluster(r, c, clusterNameFromFile(file))
	return c, r
}

// validateCluster checks one cluster against the rules that need no other
// file.
func validateCluster(r *reporter, c *flotillav1.Cluster, fileName string) {
	validateHeader(r, c.TypeMeta, c.Name, flotillav1.KindCluster, fileName,
		"the file is "+r.file, clusterFileFor)
	for _, k := range sortedKeys(c.Labels) {
		p := fieldPath{"metadata", "labels", k}
		if validateLabelKey(r, p, k) {
			validateLabelValue(r, p, c.Labels[k])
		}
	}
	for _, k := range sortedKeys(c.Spec.Vars) {
		if !varKeyRE.MatchString(k) {
			r.errorf(fieldPath{"spec", "vars", k}, "%s: %q is not a valid var name; start with a letter or '_' and use only letters, digits, '_', '-' and '.', so that ${cluster.vars.<name>} can refer to it",
				fieldPath{"spec", "vars", k}, k)
		}
	}
	validateTaints(r, c.Spec.Taints)
	validateAccess(r, c)
	for i, w := range c.Spec.UpdateWindows {
		if _, err := rollout.ParseWindow(w); err != nil {
			p := fieldPath{"spec", "updateWindows", i}
			r.errorf(p, "%s.%s", p, err)
		}
	}
}

func validateTaints(r *reporter, taints []corev1.Taint) {
	type keyEffect struct {
		key    string
		effect corev1.TaintEffect
	}
	seen := map[keyEffect]int{}
	for i, t := range taints {
		p := fieldPath{"spec", "taints", i}
		switch t.Key {
		case "":
			r.errorf(p, "%s: key is missing; set the taint key, such as maintenance", p)
		default:
			validateLabelKey(r, p.child("key"), t.Key)
		}
		if t.Value != "" {
			validateLabelValue(r, p.child("value"), t.Value)
		}
		switch {
		case t.Effect == "":
			r.errorf(p, "%s: effect is missing; set effect to NoSchedule (keeps new apps off), NoExecute (also removes apps placed there) or PreferNoSchedule (ignored by placement)", p)
		case !slices.Contains(taintEffects, t.Effect):
			r.errorf(p.child("effect"), "%s.effect: %q is not a taint effect; use NoSchedule, NoExecute or PreferNoSchedule", p, t.Effect)
		}
		ke := keyEffect{t.Key, t.Effect}
		if first, dup := seen[ke]; dup {
			r.errorf(p, "%s: repeats the taint %s of spec.taints[%d]; a key may appear once per effect, remove one", p, t.ToString(), first)
		} else {
			seen[ke] = i
		}
	}
}

func validateAccess(r *reporter, c *flotillav1.Cluster) {
	a := c.Spec.Access
	p := fieldPath{"spec", "access"}
	switch a.Mode {
	case "", flotillav1.AccessPush, flotillav1.AccessPull:
	default:
		r.errorf(p.child("mode"), "spec.access.mode: %q is not an access mode; use Push (the hub connects with a kubeconfig) or Pull (an agent in the cluster syncs it)", a.Mode)
	}
	ref := a.KubeconfigSecretRef
	if ref == nil {
		return
	}
	rp := p.child("kubeconfigSecretRef")
	if a.Mode == flotillav1.AccessPull {
		r.errorf(rp, "spec.access.kubeconfigSecretRef: a Pull cluster is never reached by the hub and takes no kubeconfig; remove kubeconfigSecretRef or set mode: Push")
		return
	}
	if ref.Name == "" {
		r.errorf(rp, "spec.access.kubeconfigSecretRef.name: is missing; set the Secret name, or remove kubeconfigSecretRef to use %s%s", c.Name, KubeconfigSecretSuffix)
	} else if errs := validation.IsDNS1123Subdomain(ref.Name); len(errs) > 0 {
		r.errorf(rp.child("name"), "spec.access.kubeconfigSecretRef.name: %q is not a valid Secret name (%s); use lower-case letters, digits, '-' and '.'", ref.Name, strings.Join(errs, "; "))
	}
	if ref.Key != "" {
		if errs := validation.IsConfigMapKey(ref.Key); len(errs) > 0 {
			r.errorf(rp.child("key"), "spec.access.kubeconfigSecretRef.key: %q is not a valid Secret key (%s); use letters, digits, '-', '_' and '.'", ref.Key, strings.Join(errs, "; "))
		}
	}
}

// sortedKeys returns the keys of a map in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
