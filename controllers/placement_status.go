package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/fleet"
	"github.com/flotilla-gitops/flotilla/placement"
)

// recordPlacement writes, on each App that reads live capacity, the
// decisions of its placement with the figures they used (status.placement),
// and clears it on Apps that no longer read capacity. An App whose
// recorded decisions are unchanged is not written.
func (r *FleetRepositoryReconciler) recordPlacement(ctx context.Context, repo *flotillav1.FleetRepository, fl *fleet.Fleet, placed *placement.Result, rev string) error {
	for _, app := range fl.Apps {
		have := &flotillav1.App{}
		if err := r.Get(ctx, types.NamespacedName{Namespace: repo.Namespace, Name: app.Name}, have); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return fmt.Errorf("read App %s: %w", app.Name, err)
		}
		var want *flotillav1.PlacementStatus
		if placement.ReadsCapacity(app) {
			want = placementStatus(placed, app.Name, rev)
		}
		if samePlacement(have.Status.Placement, want) {
			continue
		}
		patch, err := json.Marshal(map[string]any{"status": map[string]any{"placement": want}})
		if err != nil {
			return fmt.Errorf("encode the placement status of App %s: %w", app.Name, err)
		}
		if err := r.Status().Patch(ctx, have, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(flotillav1.FieldManager)); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("patch the placement status of App %s: %w", app.Name, err)
		}
	}
	return nil
}

// samePlacement compares two placement records, ignoring when they were
// made.
func samePlacement(a, b *flotillav1.PlacementStatus) bool {
	if a == nil || b == nil {
		return a == b
	}
	a, b = a.DeepCopy(), b.DeepCopy()
	a.Time, b.Time = nil, nil
	return equality.Semantic.DeepEqual(a, b)
}

// placementStatus builds an app's placement record: its decisions with
// figures, the chosen clusters first, at most MaxPlacementDecisions.
func placementStatus(placed *placement.Result, app, rev string) *flotillav1.PlacementStatus {
	now := metav1.Now()
	st := &flotillav1.PlacementStatus{Revision: rev, Time: &now}
	// Only the decisions the status keeps are built.
	ds, omitted := placed.DecisionsFor(app, flotillav1.MaxPlacementDecisions)
	st.Omitted = int32(omitted) //nolint:gosec // bounded by the fleet's cluster limit
	for _, d := range ds {
		pd := flotillav1.PlacementDecision{Cluster: d.Cluster, Placed: d.Placed, Reason: capacityReason(d.Reasons)}
		for _, f := range d.Figures {
			if pd.Available == nil {
				pd.Available, pd.Allocatable = corev1.ResourceList{}, corev1.ResourceList{}
			}
			pd.Available[f.Resource] = f.Available
			pd.Allocatable[f.Resource] = f.Allocatable
			if !f.Held.IsZero() {
				if pd.Held == nil {
					pd.Held = corev1.ResourceList{}
				}
				pd.Held[f.Resource] = f.Held
			}
		}
		st.Decisions = append(st.Decisions, pd)
	}
	return st
}

// capacityReason picks the steps of a decision that are about capacity.
func capacityReason(reasons []string) string {
	var out []string
	for _, r := range reasons {
		if strings.Contains(r, "requires") || strings.Contains(r, "available") || strings.Contains(r, "capacity") || strings.Contains(r, "hysteresis") {
			out = append(out, r)
		}
	}
	return strings.Join(out, "; ")
}
