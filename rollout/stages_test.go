package rollout

import (
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

func members() []Member {
	return []Member{
		{Name: "lyon", Labels: map[string]string{"region": "eu"}},
		{Name: "dresden", Labels: map[string]string{"region": "eu"}},
		{Name: "austin", Labels: map[string]string{"region": "us"}},
		{Name: "penang", Labels: map[string]string{"region": "asia"}},
		{Name: "hsinchu", Labels: map[string]string{"region": "asia"}},
	}
}

func pct(s string) *intstr.IntOrString { v := intstr.FromString(s); return &v }
func cnt(n int) *intstr.IntOrString    { v := intstr.FromInt32(int32(n)); return &v }

func TestStages(t *testing.T) {
	eu := &metav1.LabelSelector{MatchLabels: map[string]string{"region": "eu"}}
	cases := []struct {
		name string
		spec *flotillav1.RolloutSpec
		want []Stage
	}{
		{
			name: "no rollout: one stage, every site at once",
			spec: nil,
			want: []Stage{{Name: "rest", Sites: []string{"austin", "dresden", "hsinchu", "lyon", "penang"}, MaxUnavailable: 5}},
		},
		{
			name: "canary shorthand, then the rest one at a time",
			spec: &flotillav1.RolloutSpec{Canary: []string{"dresden"}},
			want: []Stage{
				{Name: "canary", Sites: []string{"dresden"}, MaxUnavailable: 1},
				{Name: "rest", Sites: []string{"austin", "hsinchu", "lyon", "penang"}, MaxUnavailable: 1},
			},
		},
		{
			name: "canary, region, rest; first stage wins a site; percentages round down to at least 1",
			spec: &flotillav1.RolloutSpec{
				Canary:         []string{"dresden"},
				MaxUnavailable: pct("50%"),
				Stages: []flotillav1.RolloutStage{
					{Name: "europe", ClusterSelector: eu, Pause: &metav1.Duration{Duration: time.Minute}},
					{Name: "asia", ClusterNames: []string{"penang", "hsinchu"}, MaxUnavailable: pct("10%"), Approval: true},
				},
			},
			want: []Stage{
				{Name: "canary", Sites: []string{"dresden"}, MaxUnavailable: 1},
				{Name: "europe", Sites: []string{"lyon"}, MaxUnavailable: 1, Pause: time.Minute},
				{Name: "asia", Sites: []string{"hsinchu", "penang"}, MaxUnavailable: 1, Approval: true},
				{Name: "rest", Sites: []string{"austin"}, MaxUnavailable: 1},
			},
		},
		{
			name: "a stage that selects nothing is kept; no rest stage when every site is taken",
			spec: &flotillav1.RolloutSpec{Stages: []flotillav1.RolloutStage{
				{Name: "mars", ClusterNames: []string{"olympus"}},
				{Name: "all", ClusterSelector: &metav1.LabelSelector{}, MaxUnavailable: cnt(2)},
			}},
			want: []Stage{
				{Name: "mars", MaxUnavailable: 1},
				{Name: "all", Sites: []string{"austin", "dresden", "hsinchu", "lyon", "penang"}, MaxUnavailable: 2},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Stages(tc.spec, members())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Stages:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestStagesRejectsBadSelector(t *testing.T) {
	spec := &flotillav1.RolloutSpec{Stages: []flotillav1.RolloutStage{{Name: "x", ClusterSelector: &metav1.LabelSelector{
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "region", Operator: "Near"}},
	}}}}
	if _, err := Stages(spec, members()); err == nil {
		t.Fatal("want an error for an invalid selector operator")
	}
}
