package controllers

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/fleet"
	"github.com/flotilla-gitops/flotilla/placement"
)

// TestPlacementStatusKeepsPlacedFirstWithFigures places an app that
// requires 4 GPUs on 60 clusters and checks its App status.placement: the
// placed clusters first, then the others, each by name, at most
// MaxPlacementDecisions with the rest counted, each with its capacity
// reason and figures (what the app holds added back).
func TestPlacementStatusKeepsPlacedFirstWithFigures(t *testing.T) {
	const gpu corev1.ResourceName = "nvidia.com/gpu"
	f := &fleet.Fleet{Root: "/fleet", AppFiles: map[string]string{}, ClusterFiles: map[string]string{}}
	caps := map[string]placement.Capacity{}
	for i := 0; i < 60; i++ {
		c := &flotillav1.Cluster{}
		c.Name = fmt.Sprintf("c%02d", i)
		fleet.DefaultCluster(c)
		f.Clusters = append(f.Clusters, c)
		caps[c.Name] = placement.Capacity{
			Allocatable: corev1.ResourceList{gpu: resource.MustParse("8")},
			Available:   corev1.ResourceList{gpu: *resource.NewQuantity(int64(i%9), resource.DecimalSI)},
		}
	}
	app := &flotillav1.App{}
	app.Name, app.Spec.Namespace = "train", "train"
	app.Spec.Placement.Requires = corev1.ResourceList{gpu: resource.MustParse("4")}
	fleet.DefaultApp(app)
	f.Apps = []*flotillav1.App{app}
	held := map[string]map[string]corev1.ResourceList{"train": {"c01": {gpu: resource.MustParse("3")}}}
	placed := placement.Place(f, placement.WithCapacity(caps), placement.WithHeld(held))

	st := placementStatus(placed, "train", "rev1")
	if len(st.Decisions) != flotillav1.MaxPlacementDecisions || int(st.Omitted) != 60-flotillav1.MaxPlacementDecisions {
		t.Fatalf("%d decisions, %d omitted; want %d and %d", len(st.Decisions), st.Omitted, flotillav1.MaxPlacementDecisions, 60-flotillav1.MaxPlacementDecisions)
	}
	// c01 fits with the 3 GPUs it holds added back (1+3); the others
	// fit where i%9 >= 4.
	var wantPlaced, wantOthers []string
	for i := 0; i < 60; i++ {
		if name := fmt.Sprintf("c%02d", i); i%9 >= 4 || i == 1 {
			wantPlaced = append(wantPlaced, name)
		} else {
			wantOthers = append(wantOthers, name)
		}
	}
	want := append(wantPlaced, wantOthers...)[:flotillav1.MaxPlacementDecisions]
	for k, d := range st.Decisions {
		if d.Cluster != want[k] || d.Placed != (k < len(wantPlaced)) {
			t.Fatalf("decision %d is %s placed %v, want %s placed %v", k, d.Cluster, d.Placed, want[k], k < len(wantPlaced))
		}
		verb := "meets requires"
		if !d.Placed {
			verb = "does not meet requires"
		}
		if !strings.HasPrefix(d.Reason, verb+" nvidia.com/gpu=4: nvidia.com/gpu ") {
			t.Errorf("%s: reason %q, want it to start with %q", d.Cluster, d.Reason, verb)
		}
		if a := d.Allocatable[gpu]; a.Value() != 8 {
			t.Errorf("%s: allocatable %v, want 8", d.Cluster, d.Allocatable)
		}
	}
	c01 := st.Decisions[0]
	if avail, h := c01.Available[gpu], c01.Held[gpu]; c01.Cluster != "c01" || avail.Value() != 4 || h.Value() != 3 ||
		c01.Reason != "meets requires nvidia.com/gpu=4: nvidia.com/gpu 4 available of 8 (3 held by the app)" {
		t.Errorf("first decision = %+v, want c01 with 4 available of which 3 held", c01)
	}
	if st.Revision != "rev1" {
		t.Errorf("revision %q", st.Revision)
	}
}
