package placement

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

func selectionClusters() []*flotillav1.Cluster {
	return []*flotillav1.Cluster{
		cl("eu-1", "region=eu", "gpu=true"),
		cl("eu-2", "region=eu"),
		cl("us-1", "region=us", "gpu=true"),
		cl("ap-1", "region=ap"),
	}
}

func TestSelection(t *testing.T) {
	cases := []struct {
		name    string
		pl      flotillav1.Placement
		want    []string
		reasons map[string]string // cluster -> expected reason
	}{
		{
			name: "no selector and no names selects every cluster",
			want: []string{"ap-1", "eu-1", "eu-2", "us-1"},
			reasons: map[string]string{
				"eu-1": "every cluster is a candidate",
			},
		},
		{
			name: "empty selector selects every cluster",
			pl:   flotillav1.Placement{ClusterSelector: &metav1.LabelSelector{}},
			want: []string{"ap-1", "eu-1", "eu-2", "us-1"},
			reasons: map[string]string{
				"ap-1": "selected by clusterSelector {}",
			},
		},
		{
			name: "matchLabels",
			pl:   flotillav1.Placement{ClusterSelector: sel("region=eu")},
			want: []string{"eu-1", "eu-2"},
			reasons: map[string]string{
				"eu-1": "selected by clusterSelector region=eu",
				"us-1": "not selected: clusterSelector region=eu does not match",
			},
		},
		{
			name: "matchExpressions In and Exists",
			pl: flotillav1.Placement{ClusterSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "region", Operator: metav1.LabelSelectorOpIn, Values: []string{"eu", "us"}},
				{Key: "gpu", Operator: metav1.LabelSelectorOpExists},
			}}},
			want: []string{"eu-1", "us-1"},
			reasons: map[string]string{
				"eu-1": "selected by clusterSelector gpu,region in (eu,us)",
				"eu-2": "not selected",
			},
		},
		{
			name: "matchExpressions NotIn",
			pl: flotillav1.Placement{ClusterSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "region", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"eu"}},
			}}},
			want: []string{"ap-1", "us-1"},
		},
		{
			name: "matchExpressions DoesNotExist",
			pl: flotillav1.Placement{ClusterSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "gpu", Operator: metav1.LabelSelectorOpDoesNotExist},
			}}},
			want: []string{"ap-1", "eu-2"},
		},
		{
			name: "matchLabels and matchExpressions together",
			pl: flotillav1.Placement{ClusterSelector: &metav1.LabelSelector{
				MatchLabels:      map[string]string{"region": "eu"},
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "gpu", Operator: metav1.LabelSelectorOpDoesNotExist}},
			}},
			want: []string{"eu-2"},
		},
		{
			name: "clusterNames only",
			pl:   flotillav1.Placement{ClusterNames: []string{"ap-1", "us-1"}},
			want: []string{"ap-1", "us-1"},
			reasons: map[string]string{
				"ap-1": "selected by clusterNames",
				"eu-1": "not selected: not listed in clusterNames",
			},
		},
		{
			name: "selector or names",
			pl:   flotillav1.Placement{ClusterSelector: sel("region=eu"), ClusterNames: []string{"ap-1", "eu-1"}},
			want: []string{"ap-1", "eu-1", "eu-2"},
			reasons: map[string]string{
				"eu-1": "selected by clusterNames and by clusterSelector region=eu",
				"us-1": "not selected: clusterSelector region=eu does not match and not listed in clusterNames",
			},
		},
		{
			name: "exclude removes selected clusters",
			pl:   flotillav1.Placement{ClusterSelector: sel("region=eu"), Exclude: []string{"eu-2"}},
			want: []string{"eu-1"},
			reasons: map[string]string{
				"eu-2": "excluded by placement.exclude",
			},
		},
		{
			name: "exclude wins over clusterNames",
			pl:   flotillav1.Placement{ClusterNames: []string{"ap-1", "us-1"}, Exclude: []string{"us-1"}},
			want: []string{"ap-1"},
		},
		{
			name: "exclude without selector removes from every cluster",
			pl:   flotillav1.Placement{Exclude: []string{"ap-1", "eu-1"}},
			want: []string{"eu-2", "us-1"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := Place(fleetOf(selectionClusters(), ap("web", tc.pl)))
			assertClusters(t, res, "web", tc.want...)
			for c, r := range tc.reasons {
				assertReason(t, res, "web", c, r)
			}
			if len(res.Errors) != 0 {
				t.Errorf("errors: %v", res.Errors)
			}
		})
	}
}

func taintClusters() []*flotillav1.Cluster {
	return []*flotillav1.Cluster{
		cl("clean"),
		withTaints(cl("maint"), "maintenance=true:NoSchedule"),
		withTaints(cl("dedicated"), "dedicated=gpu:NoExecute"),
		withTaints(cl("soft"), "busy=yes:PreferNoSchedule"),
		withTaints(cl("both"), "maintenance=true:NoSchedule", "dedicated=gpu:NoExecute"),
		withTaints(cl("level"), "level=5:NoSchedule"),
	}
}

func TestTaintsAndTolerations(t *testing.T) {
	cases := []struct {
		name        string
		tolerations []corev1.Toleration
		want        []string
	}{
		{
			name: "untolerated NoSchedule and NoExecute keep the app off, PreferNoSchedule does not",
			want: []string{"clean", "soft"},
		},
		{
			name:        "Equal with key, value and effect",
			tolerations: []corev1.Toleration{{Key: "maintenance", Operator: corev1.TolerationOpEqual, Value: "true", Effect: corev1.TaintEffectNoSchedule}},
			want:        []string{"clean", "maint", "soft"},
		},
		{
			name:        "empty operator means Equal",
			tolerations: []corev1.Toleration{{Key: "maintenance", Value: "true"}},
			want:        []string{"clean", "maint", "soft"},
		},
		{
			name:        "Equal with another value does not tolerate",
			tolerations: []corev1.Toleration{{Key: "maintenance", Value: "false"}},
			want:        []string{"clean", "soft"},
		},
		{
			name:        "Exists tolerates every value, empty effect every effect",
			tolerations: []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}},
			want:        []string{"clean", "dedicated", "soft"},
		},
		{
			name:        "effect must match when set",
			tolerations: []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
			want:        []string{"clean", "soft"},
		},
		{
			name:        "empty key with Exists tolerates everything",
			tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			want:        []string{"both", "clean", "dedicated", "level", "maint", "soft"},
		},
		{
			name:        "empty key with Exists and an effect tolerates that effect only",
			tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
			want:        []string{"clean", "level", "maint", "soft"},
		},
		{
			name: "every taint must be tolerated",
			tolerations: []corev1.Toleration{
				{Key: "maintenance", Operator: corev1.TolerationOpExists},
				{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoExecute},
			},
			want: []string{"both", "clean", "dedicated", "maint", "soft"},
		},
		{
			name:        "Gt compares numbers",
			tolerations: []corev1.Toleration{{Key: "level", Operator: corev1.TolerationOpGt, Value: "3"}},
			want:        []string{"clean", "level", "soft"},
		},
		{
			name:        "Lt compares numbers",
			tolerations: []corev1.Toleration{{Key: "level", Operator: corev1.TolerationOpLt, Value: "3"}},
			want:        []string{"clean", "soft"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := Place(fleetOf(taintClusters(), ap("web", flotillav1.Placement{Tolerations: tc.tolerations})))
			assertClusters(t, res, "web", tc.want...)
		})
	}
}

func TestTaintReasons(t *testing.T) {
	res := Place(fleetOf(taintClusters(), ap("web", flotillav1.Placement{
		Tolerations: []corev1.Toleration{{Key: "maintenance", Operator: corev1.TolerationOpExists}},
	})))
	assertReason(t, res, "web", "dedicated", "taint dedicated=gpu:NoExecute not tolerated")
	assertReason(t, res, "web", "soft", "taint busy=yes:PreferNoSchedule ignored")
	assertReason(t, res, "web", "maint", "taint maintenance=true:NoSchedule tolerated")
	assertReason(t, res, "web", "both", "taint maintenance=true:NoSchedule tolerated")
	assertReason(t, res, "web", "both", "taint dedicated=gpu:NoExecute not tolerated")
	if d := res.Decision("web", "both"); d.Placed {
		t.Errorf("both must not be placed")
	}
}

// TestNoScheduleKeepsRunningApps checks that NoSchedule only keeps new apps
// off, while NoExecute also removes an app already running there.
func TestNoScheduleKeepsRunningApps(t *testing.T) {
	f := fleetOf(taintClusters(), ap("web", flotillav1.Placement{}))
	res := Place(f, WithRunning(map[string][]string{"web": {"maint", "dedicated", "both"}}))
	assertClusters(t, res, "web", "clean", "maint", "soft")
	assertReason(t, res, "web", "maint", "the app already runs here and NoSchedule only keeps new apps off")
	assertReason(t, res, "web", "dedicated", "taint dedicated=gpu:NoExecute not tolerated")
	assertReason(t, res, "web", "both", "taint dedicated=gpu:NoExecute not tolerated")
	// Without knowing what runs, NoSchedule keeps the app off.
	assertClusters(t, Place(f), "web", "clean", "soft")
}
