package fleet

import (
	"path"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// tolerationEffects are the effects a toleration may name ("" is all).
var tolerationEffects = []corev1.TaintEffect{"", corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}

// appNameFromFile returns the app name a file apps/<name>/app.yaml implies.
func appNameFromFile(file string) string { return path.Base(path.Dir(file)) }

// appFileFor returns the file an app of that name belongs in.
func appFileFor(name string) string { return "apps/" + name + "/app.yaml" }

// decodeAppFile decodes and validates one app file on its own (references
// to clusters, other apps and folders are checked by validateFleet and
// Load). file is the path relative to the repository root. The app is nil
// when the file could not be decoded.
func decodeAppFile(file string, data []byte) (*flotillav1.App, *reporter) {
	r := &reporter{file: file}
	a := &flotillav1.App{}
	if _, ok := decodeDocument(r, data, flotillav1.KindApp, a); !ok {
		return nil, r
	}
	validateApp(r, a, appNameFromFile(file))
	return a, r
}

// validateApp checks one app against the rules that need no other file.
func validateApp(r *reporter, a *flotillav1.App, folderName string) {
	validateHeader(r, a.TypeMeta, a.Name, flotillav1.KindApp, folderName,
		"the app folder is apps/"+folderName, appFileFor)
	s := a.Spec
	switch {
	case s.Namespace == "":
		r.errorf(fieldPath{"spec"}, "spec.namespace: is missing; set the namespace the app's objects go to on every cluster")
	case len(validation.IsDNS1123Label(s.Namespace)) > 0:
		r.errorf(fieldPath{"spec", "namespace"}, "spec.namespace: %q is not a valid namespace (%s); use lower-case letters, digits and '-'",
			s.Namespace, strings.Join(validation.IsDNS1123Label(s.Namespace), "; "))
	}
	switch s.NamespaceMode {
	case "", flotillav1.NamespaceForce, flotillav1.NamespaceDefault:
	default:
		r.errorf(fieldPath{"spec", "namespaceMode"}, "spec.namespaceMode: %q is not a namespace mode; use %s (set spec.namespace on every namespaced object, the default) or %s (only on objects without a namespace)",
			s.NamespaceMode, flotillav1.NamespaceForce, flotillav1.NamespaceDefault)
	}
	validateRelPath(r, fieldPath{"spec", "path"}, s.Path)
	validatePlacement(r, s.Placement)
	validateOverlays(r, s.Overlays)
	seen := map[string]int{}
	for i, dep := range s.DependsOn {
		p := fieldPath{"spec", "dependsOn", i}
		if !validateName(r, p, "app", dep) {
			continue
		}
		if first, dup := seen[dep]; dup {
			r.errorf(p, "%s: %q is already listed at spec.dependsOn[%d]; remove one", p, dep, first)
			continue
		}
		seen[dep] = i
	}
	validateRollout(r, s.Rollout)
	if s.HealthTimeout != nil && s.HealthTimeout.Duration <= 0 {
		r.errorf(fieldPath{"spec", "healthTimeout"}, "spec.healthTimeout: is %s; set a positive duration such as 5m, or remove it for the default %s", s.HealthTimeout.Duration, DefaultHealthTimeout)
	}
}

// validateRelPath checks the form of a folder path relative to the app's
// folder; Load checks that it exists inside the repository.
func validateRelPath(r *reporter, p fieldPath, rel string) {
	if rel == "" {
		return
	}
	if path.IsAbs(rel) || strings.Contains(rel, `\`) || (len(rel) >= 2 && rel[1] == ':') {
		r.errorf(p, "%s: %q is not a relative path; write a path relative to the app's folder with '/' separators", p, rel)
	}
}

func validatePlacement(r *reporter, pl flotillav1.Placement) {
	p := fieldPath{"spec", "placement"}
	validateSelector(r, p.child("clusterSelector"), pl.ClusterSelector)
	for i, name := range pl.ClusterNames {
		validateName(r, p.child("clusterNames", i), "cluster", name)
	}
	for i, name := range pl.Exclude {
		validateName(r, p.child("exclude", i), "cluster", name)
	}
	for i, t := range pl.Tolerations {
		validateToleration(r, p.child("tolerations", i), t)
	}
	validateFailover(r, p, pl)
	if pl.MaxClusters != nil && *pl.MaxClusters < 1 {
		r.errorf(p.child("maxClusters"), "spec.placement.maxClusters: is %d; set at least 1, or remove it to place the app on every candidate", *pl.MaxClusters)
	}
	if sp := pl.Spread; sp != nil {
		sPath := p.child("spread")
		if sp.LabelKey == "" {
			r.errorf(sPath, "spec.placement.spread.labelKey: is missing; set the cluster label to spread across, such as region")
		} else {
			validateLabelKey(r, sPath.child("labelKey"), sp.LabelKey)
		}
		if sp.MaxPerValue < 0 {
			r.errorf(sPath.child("maxPerValue"), "spec.placement.spread.maxPerValue: is %d; set at least 1 (the default)", sp.MaxPerValue)
		}
	}
	if rb := pl.RankBy; rb != nil {
		validateValueSource(r, p.child("rankBy"), rb.ValueSource)
	}
	validateRequires(r, p.child("requires"), pl.Requires)
	type workload struct{ kind, name string }
	seen := map[workload]int{}
	for i, d := range pl.Replicas {
		dPath := p.child("replicas", i)
		kind := d.Workload.Kind
		if kind == "" {
			kind = DefaultWorkloadKind
		}
		if d.Workload.Name == "" {
			r.errorf(dPath.child("workload"), "%s.workload.name: is missing; name the workload whose replicas are divided", dPath)
		} else if first, dup := seen[workload{kind, d.Workload.Name}]; dup {
			r.errorf(dPath.child("workload"), "%s.workload: %s %s is already divided by spec.placement.replicas[%d]; keep one", dPath, kind, d.Workload.Name, first)
		} else {
			seen[workload{kind, d.Workload.Name}] = i
		}
		if d.Total < 0 {
			r.errorf(dPath.child("total"), "%s.total: is %d; set the number of replicas across all chosen clusters (0 or more)", dPath, d.Total)
		}
		if d.WeightBy != nil && len(d.StaticWeights) > 0 {
			r.errorf(dPath.child("weightBy"), "%s: sets both weightBy and staticWeights; keep one (weightBy weighs clusters by a label or var, staticWeights by name)", dPath)
		}
		if d.WeightBy != nil {
			validateValueSource(r, dPath.child("weightBy"), *d.WeightBy)
		}
		for j, sw := range d.StaticWeights {
			swPath := dPath.child("staticWeights", j)
			if len(sw.Clusters) == 0 {
				r.errorf(swPath, "%s.clusters: is empty; list the clusters that get weight %d", swPath, sw.Weight)
			}
			if sw.Weight < 0 {
				r.errorf(swPath.child("weight"), "%s.weight: is %d; set 0 or more", swPath, sw.Weight)
			}
			for k, name := range sw.Clusters {
				validateName(r, swPath.child("clusters", k), "cluster", name)
			}
		}
		listed := map[string]string{}
		for j, sw := range d.StaticWeights {
			for k, name := range sw.Clusters {
				cp := dPath.child("staticWeights", j, "clusters", k)
				if first, dup := listed[name]; dup {
					r.errorf(cp, "%s: cluster %s already has a weight at %s; give each cluster one weight", cp, name, first)
					continue
				}
				listed[name] = cp.String()
			}
		}
	}
}

// validateValueSource checks that exactly one of label, var and available
// is set.
func validateValueSource(r *reporter, p fieldPath, vs flotillav1.ValueSource) {
	set := 0
	for _, s := range []string{vs.Label, vs.Var, string(vs.Available)} {
		if s != "" {
			set++
		}
	}
	switch {
	case set > 1:
		r.errorf(p, "%s: sets more than one of label, var and available; keep one", p)
	case set == 0:
		r.errorf(p, "%s: sets none of label, var and available; set label: <cluster label key>, var: <cluster var name> or available: <resource name such as nvidia.com/gpu>", p)
	case vs.Available != "":
		validateResourceName(r, p.child("available"), vs.Available)
	case vs.Label != "":
		validateLabelKey(r, p.child("label"), vs.Label)
	default:
		if !varKeyRE.MatchString(vs.Var) {
			r.errorf(p.child("var"), "%s.var: %q is not a valid var name; use the name of a key of the clusters' spec.vars", p, vs.Var)
		}
	}
}

// validateSelector checks a label selector, each part at its own line.
func validateSelector(r *reporter, p fieldPath, sel *metav1.LabelSelector) {
	if sel == nil {
		return
	}
	for _, k := range sortedKeys(sel.MatchLabels) {
		kp := p.child("matchLabels", k)
		if validateLabelKey(r, kp, k) {
			validateLabelValue(r, kp, sel.MatchLabels[k])
		}
	}
	for i, expr := range sel.MatchExpressions {
		ep := p.child("matchExpressions", i)
		if expr.Key == "" {
			r.errorf(ep, "%s.key: is missing; set the cluster label key to match", ep)
			continue
		}
		if _, err := metav1.LabelSelectorAsSelector(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{expr}}); err != nil {
			r.errorf(ep, "%s: %v; use operator In or NotIn with values, or Exists or DoesNotExist without values", ep, err)
		}
	}
}

// validateToleration applies the Kubernetes toleration rules.
func validateToleration(r *reporter, p fieldPath, t corev1.Toleration) {
	if t.Key != "" {
		validateLabelKey(r, p.child("key"), t.Key)
	}
	switch t.Operator {
	case "", corev1.TolerationOpEqual:
		if t.Key == "" {
			r.errorf(p, "%s: an empty key requires operator: Exists (which tolerates every taint); set key or operator: Exists", p)
		} else if t.Value != "" {
			validateLabelValue(r, p.child("value"), t.Value)
		}
	case corev1.TolerationOpExists:
		if t.Value != "" {
			r.errorf(p.child("value"), "%s.value: must be empty with operator Exists; remove value or use operator: Equal", p)
		}
	case corev1.TolerationOpLt, corev1.TolerationOpGt:
		if t.Key == "" {
			r.errorf(p, "%s: operator %s needs a key; set the taint key to compare", p, t.Operator)
		}
		if _, err := strconv.ParseInt(t.Value, 10, 64); err != nil {
			r.errorf(p.child("value"), "%s.value: operator %s compares whole numbers, and %q is not one; set a whole number", p, t.Operator, t.Value)
		}
	default:
		r.errorf(p.child("operator"), "%s.operator: %q is not a toleration operator; use Equal, Exists, Lt or Gt", p, t.Operator)
	}
	if !slices.Contains(tolerationEffects, t.Effect) {
		r.errorf(p.child("effect"), "%s.effect: %q is not a taint effect; use NoSchedule, NoExecute, PreferNoSchedule, or leave it empty to match every effect", p, t.Effect)
	}
	if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
		r.errorf(p.child("tolerationSeconds"), "%s.tolerationSeconds: only applies to effect NoExecute; remove it or set effect: NoExecute", p)
	}
}

func validateOverlays(r *reporter, overlays []flotillav1.Overlay) {
	seen := map[string]int{}
	for i, o := range overlays {
		p := fieldPath{"spec", "overlays", i}
		switch {
		case o.Name == "":
			r.errorf(p, "%s.name: is missing; name the overlay (its folder defaults to overlays/<name>)", p)
		case len(validation.IsDNS1123Label(o.Name)) > 0:
			r.errorf(p.child("name"), "%s.name: %q is not a valid overlay name (%s); use lower-case letters, digits and '-'", p, o.Name, strings.Join(validation.IsDNS1123Label(o.Name), "; "))
		default:
			if first, dup := seen[o.Name]; dup {
				r.errorf(p.child("name"), "%s.name: overlay %q is already declared at spec.overlays[%d]; overlay names are unique within an app, rename one", p, o.Name, first)
			} else {
				seen[o.Name] = i
			}
		}
		validateRelPath(r, p.child("path"), o.Path)
		if o.ClusterSelector == nil && len(o.ClusterNames) == 0 {
			r.errorf(p, "%s: overlay %q selects no cluster; set clusterSelector (clusterSelector: {} selects every cluster) or clusterNames", p, o.Name)
		}
		validateSelector(r, p.child("clusterSelector"), o.ClusterSelector)
		for j, name := range o.ClusterNames {
			validateName(r, p.child("clusterNames", j), "cluster", name)
		}
	}
}
