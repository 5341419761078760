package fleet

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/rollout"
)

// validateRollout checks spec.rollout on its own; cluster names are
// checked against the fleet by validateReferences.
func validateRollout(r *reporter, ro *flotillav1.RolloutSpec) {
	if ro == nil {
		return
	}
	p := fieldPath{"spec", "rollout"}
	for i, name := range ro.Canary {
		validateName(r, p.child("canary", i), "cluster", name)
	}
	validateMaxUnavailable(r, p.child("maxUnavailable"), ro.MaxUnavailable)
	switch ro.OnFailure {
	case "", flotillav1.RolloutHalt, flotillav1.RolloutRollback:
	default:
		r.errorf(p.child("onFailure"), "spec.rollout.onFailure: %q is not a policy; use Halt (the default) or Rollback", ro.OnFailure)
	}
	seen := map[string]int{}
	if len(ro.Canary) > 0 {
		seen[rollout.CanaryStage] = -1
	}
	for i, st := range ro.Stages {
		sp := p.child("stages", i)
		switch {
		case st.Name == "":
			r.errorf(sp, "%s.name: is missing; name the stage (for example canary, europe)", sp)
		case len(validation.IsDNS1123Label(st.Name)) > 0:
			r.errorf(sp.child("name"), "%s.name: %q is not a valid stage name (%s); use lower-case letters, digits and '-'", sp, st.Name, strings.Join(validation.IsDNS1123Label(st.Name), "; "))
		case st.Name == rollout.RestStage:
			r.errorf(sp.child("name"), "%s.name: %q is the name of the implicit last stage (clusters in no stage); choose another name", sp, st.Name)
		default:
			if first, dup := seen[st.Name]; dup {
				if first < 0 {
					r.errorf(sp.child("name"), "%s.name: %q is the stage spec.rollout.canary makes; rename this stage or drop canary", sp, st.Name)
				} else {
					r.errorf(sp.child("name"), "%s.name: %q is already the name of spec.rollout.stages[%d]; stage names must be unique", sp, st.Name, first)
				}
			} else {
				seen[st.Name] = i
			}
		}
		if st.ClusterSelector == nil && len(st.ClusterNames) == 0 {
			r.errorf(sp, "%s: selects no cluster; set clusterSelector and/or clusterNames", sp)
		}
		validateSelector(r, sp.child("clusterSelector"), st.ClusterSelector)
		for j, name := range st.ClusterNames {
			validateName(r, sp.child("clusterNames", j), "cluster", name)
		}
		validateMaxUnavailable(r, sp.child("maxUnavailable"), st.MaxUnavailable)
		if st.Pause != nil && st.Pause.Duration <= 0 {
			r.errorf(sp.child("pause"), "%s.pause: is %s; set a positive bake time such as 10m, or remove it", sp, st.Pause.Duration)
		}
	}
}

// validateMaxUnavailable accepts a count of at least 1 or a percentage
// from 1% to 100%.
func validateMaxUnavailable(r *reporter, p fieldPath, v *intstr.IntOrString) {
	if v == nil {
		return
	}
	if v.Type == intstr.Int {
		if v.IntVal < 1 {
			r.errorf(p, "%s: is %d; set a count of at least 1 or a percentage such as 25%%", p, v.IntVal)
		}
		return
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(v, 100, true)
	if err != nil || !strings.HasSuffix(v.StrVal, "%") || n < 1 || n > 100 {
		r.errorf(p, "%s: %q is neither a count nor a percentage from 1%% to 100%%; write for example 1 or 25%%", p, v.StrVal)
	}
}
