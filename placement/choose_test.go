package placement

import (
	"testing"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

func spreadClusters() []*flotillav1.Cluster {
	return []*flotillav1.Cluster{
		withVars(cl("a1", "region=eu", "gpus=8"), "score=3"),
		withVars(cl("a2", "region=eu", "gpus=16"), "score=1"),
		cl("b1", "region=us", "gpus=4"),
		withVars(cl("b2", "region=us", "gpus=32"), "score=2"),
		cl("c1", "gpus=2"),
		cl("c2", "gpus=10"),
	}
}

func TestChoose(t *testing.T) {
	cases := []struct {
		name     string
		clusters []*flotillav1.Cluster
		pl       flotillav1.Placement
		want     []string
		reasons  map[string]string
	}{
		{
			name: "maxClusters takes clusters in name order",
			pl:   flotillav1.Placement{MaxClusters: ptr[int32](2)},
			want: []string{"a1", "a2"},
			reasons: map[string]string{
				"a2": "chosen: 2 of maxClusters 2",
				"b1": "not chosen: maxClusters 2 reached",
			},
		},
		{
			name: "spread allows one cluster per value, clusters without the label form one group",
			pl:   flotillav1.Placement{Spread: &flotillav1.SpreadConstraint{LabelKey: "region", MaxPerValue: 1}},
			want: []string{"a1", "b1", "c1"},
			reasons: map[string]string{
				"a1": "spread region=eu: 1 of max 1",
				"a2": "not chosen: spread region=eu already has 1 of max 1",
				"c2": "not chosen: spread region unset already has 1 of max 1",
			},
		},
		{
			name: "spread defaults to one per value",
			pl:   flotillav1.Placement{Spread: &flotillav1.SpreadConstraint{LabelKey: "region"}},
			want: []string{"a1", "b1", "c1"},
		},
		{
			name: "spread maxPerValue 2",
			pl:   flotillav1.Placement{Spread: &flotillav1.SpreadConstraint{LabelKey: "region", MaxPerValue: 2}},
			want: []string{"a1", "a2", "b1", "b2", "c1", "c2"},
		},
		{
			name: "maxClusters with spread",
			pl:   flotillav1.Placement{MaxClusters: ptr[int32](2), Spread: &flotillav1.SpreadConstraint{LabelKey: "region"}},
			want: []string{"a1", "b1"},
			reasons: map[string]string{
				"a2": "not chosen: spread region=eu already has 1 of max 1",
				"b2": "not chosen: maxClusters 2 reached",
			},
		},
		{
			name: "rankBy numeric label descending",
			pl:   flotillav1.Placement{MaxClusters: ptr[int32](1), RankBy: &flotillav1.RankBy{ValueSource: flotillav1.ValueSource{Label: "gpus"}, Descending: true}},
			want: []string{"b2"},
			reasons: map[string]string{
				"b2": "ranked 1 of 6 by label gpus=32 (numeric, descending)",
				"a2": "ranked 2 of 6 by label gpus=16",
			},
		},
		{
			name: "rankBy numeric label ascending",
			pl:   flotillav1.Placement{MaxClusters: ptr[int32](2), RankBy: &flotillav1.RankBy{ValueSource: flotillav1.ValueSource{Label: "gpus"}}},
			want: []string{"b1", "c1"},
		},
		{
			name:     "rankBy lexical when one value is not a number",
			clusters: append(spreadClusters(), cl("d1", "gpus=many")),
			pl:       flotillav1.Placement{MaxClusters: ptr[int32](2), RankBy: &flotillav1.RankBy{ValueSource: flotillav1.ValueSource{Label: "gpus"}}},
			// "10" < "16" < "2" < ... lexically.
			want:    []string{"a2", "c2"},
			reasons: map[string]string{"c2": "ranked 1 of 7 by label gpus=10 (lexical, ascending)"},
		},
		{
			name:     "rankBy lexical descending",
			clusters: append(spreadClusters(), cl("d1", "gpus=many")),
			pl:       flotillav1.Placement{MaxClusters: ptr[int32](1), RankBy: &flotillav1.RankBy{ValueSource: flotillav1.ValueSource{Label: "gpus"}, Descending: true}},
			want:     []string{"d1"},
		},
		{
			name: "rankBy var, clusters without it rank last in name order",
			pl:   flotillav1.Placement{MaxClusters: ptr[int32](4), RankBy: &flotillav1.RankBy{ValueSource: flotillav1.ValueSource{Var: "score"}}},
			want: []string{"a1", "a2", "b1", "b2"},
			reasons: map[string]string{
				"a2": "ranked 1 of 6 by var score=1",
				"b1": "ranked 4 of 6: var score is not set",
				"c1": "not chosen: maxClusters 4 reached",
			},
		},
		{
			name: "rankBy ties break by name",
			pl:   flotillav1.Placement{MaxClusters: ptr[int32](1), RankBy: &flotillav1.RankBy{ValueSource: flotillav1.ValueSource{Label: "region"}, Descending: true}},
			want: []string{"b1"},
		},
		{
			name: "rankBy with spread and maxClusters",
			pl: flotillav1.Placement{
				MaxClusters: ptr[int32](2),
				Spread:      &flotillav1.SpreadConstraint{LabelKey: "region"},
				RankBy:      &flotillav1.RankBy{ValueSource: flotillav1.ValueSource{Label: "gpus"}, Descending: true},
			},
			want: []string{"a2", "b2"},
			reasons: map[string]string{
				"c2": "not chosen: maxClusters 2 reached",
			},
		},
		{
			name: "selector, exclude, taints, then spread",
			clusters: []*flotillav1.Cluster{
				cl("a1", "region=eu", "gpu=true"),
				withTaints(cl("a2", "region=eu", "gpu=true"), "maintenance=true:NoSchedule"),
				cl("a3", "region=eu", "gpu=true"),
				cl("b1", "region=us", "gpu=true"),
				cl("b2", "region=us"),
			},
			pl: flotillav1.Placement{
				ClusterSelector: sel("gpu=true"),
				Exclude:         []string{"a1"},
				Spread:          &flotillav1.SpreadConstraint{LabelKey: "region"},
			},
			// a1 excluded and a2 tainted, so a3 is the eu choice.
			want: []string{"a3", "b1"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clusters := tc.clusters
			if clusters == nil {
				clusters = spreadClusters()
			}
			res := Place(fleetOf(clusters, ap("train", tc.pl)))
			assertClusters(t, res, "train", tc.want...)
			for c, r := range tc.reasons {
				assertReason(t, res, "train", c, r)
			}
		})
	}
}
