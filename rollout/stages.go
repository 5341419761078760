package rollout

import (
	"fmt"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// Names of the stages Flotilla adds itself.
const (
	// CanaryStage is the stage rollout.canary declares.
	CanaryStage = "canary"
	// RestStage holds the sites that no declared stage selects.
	RestStage = "rest"
)

// Member is a cluster the app is placed on, as stages see it.
type Member struct {
	// Name of the cluster.
	Name string
	// Labels of the cluster.
	Labels map[string]string
}

// Stage is one resolved stage: the sites it holds and its gates.
type Stage struct {
	// Name of the stage.
	Name string
	// Sites are the cluster names of the stage, sorted.
	Sites []string
	// MaxUnavailable is the resolved cap (at least 1).
	MaxUnavailable int
	// Pause is the bake time after the stage is Ready.
	Pause time.Duration
	// Approval makes the rollout wait for a person after the stage.
	Approval bool
}

// Stages divides members into the rollout's stages, in order. A member
// goes to the first stage that selects it; members no stage selects form a
// last stage named "rest". Stages that select no member are kept (they
// pass at once), so stage numbers match the declaration. A nil spec gives
// one stage holding every member with no cap.
func Stages(spec *flotillav1.RolloutSpec, members []Member) ([]Stage, error) {
	sorted := slices.Clone(members)
	slices.SortFunc(sorted, func(a, b Member) int { return compareStrings(a.Name, b.Name) })
	if spec == nil {
		all := make([]string, 0, len(sorted))
		for _, m := range sorted {
			all = append(all, m.Name)
		}
		return []Stage{{Name: RestStage, Sites: all, MaxUnavailable: max(len(all), 1)}}, nil
	}
	declared := slices.Clone(spec.Stages)
	if len(spec.Canary) > 0 {
		declared = append([]flotillav1.RolloutStage{{Name: CanaryStage, ClusterNames: spec.Canary}}, declared...)
	}
	taken := map[string]bool{}
	stages := make([]Stage, 0, len(declared)+1)
	for i := range declared {
		d := &declared[i]
		sel, err := selector(d.ClusterSelector)
		if err != nil {
			return nil, fmt.Errorf("rollout stage %q: clusterSelector: %w", d.Name, err)
		}
		st := Stage{Name: d.Name, Approval: d.Approval}
		if d.Pause != nil {
			st.Pause = d.Pause.Duration
		}
		for _, m := range sorted {
			if taken[m.Name] {
				continue
			}
			if slices.Contains(d.ClusterNames, m.Name) || (sel != nil && sel.Matches(labels.Set(m.Labels))) {
				st.Sites = append(st.Sites, m.Name)
				taken[m.Name] = true
			}
		}
		mu, err := resolveMaxUnavailable(firstNonNil(d.MaxUnavailable, spec.MaxUnavailable), len(st.Sites))
		if err != nil {
			return nil, fmt.Errorf("rollout stage %q: maxUnavailable: %w", d.Name, err)
		}
		st.MaxUnavailable = mu
		stages = append(stages, st)
	}
	rest := Stage{Name: RestStage}
	for _, m := range sorted {
		if !taken[m.Name] {
			rest.Sites = append(rest.Sites, m.Name)
		}
	}
	if len(rest.Sites) > 0 {
		mu, err := resolveMaxUnavailable(spec.MaxUnavailable, len(rest.Sites))
		if err != nil {
			return nil, fmt.Errorf("rollout: maxUnavailable: %w", err)
		}
		rest.MaxUnavailable = mu
		stages = append(stages, rest)
	}
	return stages, nil
}

// selector converts a label selector; nil selects nothing (stages select
// by name unless they give a selector).
func selector(ls *metav1.LabelSelector) (labels.Selector, error) {
	if ls == nil {
		return nil, nil
	}
	return metav1.LabelSelectorAsSelector(ls)
}

func firstNonNil(vs ...*intstr.IntOrString) *intstr.IntOrString {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}

// resolveMaxUnavailable turns a count or percentage into a count for a
// stage of size sites: percentages round down, and the result is at least
// 1 so that a stage can always progress. Unset means 1.
func resolveMaxUnavailable(v *intstr.IntOrString, size int) (int, error) {
	if v == nil {
		return 1, nil
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(v, size, false)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, fmt.Errorf("is %s; use a count of at least 1 or a percentage", v.String())
	}
	return max(n, 1), nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
