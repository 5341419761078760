package agent

import (
	"bytes"
	"context"
	"encoding/json"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

func recordOf(b *flotillav1.Bundle) record {
	rec := record{Generation: b.Generation, Spec: *b.Spec.DeepCopy(), Status: *b.Status.DeepCopy()}
	rec.Spec.Content, rec.Spec.Chunks = nil, nil
	return rec
}

// persist writes the app's record to its state Secret when it changed
// (the content only when the desired state changed). A failure is retried
// at the next pass.
func (a *Agent) persist(ctx context.Context, st *appState) {
	if st.deletion != "" || st.b.Status.Removed || st.b.Spec.Digest == "" {
		return
	}
	rec := recordOf(st.b)
	withContent := st.savedDigest != st.b.Spec.Digest
	if !withContent && st.saved != nil && sameJSON(*st.saved, rec) {
		return
	}
	if err := a.store.save(ctx, st.b, withContent); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "persist the app's state")
		st.saved = nil
		return
	}
	st.saved, st.savedDigest = &rec, st.b.Spec.Digest
}

// statusOf is the status the hub should see for st.
func statusOf(st *appState) flotillav1.BundleStatus {
	s := *st.b.Status.DeepCopy()
	s.ObservedGeneration = st.b.Generation
	switch {
	case st.refusedDigest != "":
		s.ObservedDigest = st.refusedDigest
	case st.hub != nil && st.deletion != "":
		s.ObservedDigest = st.hub.Spec.Digest
	default:
		s.ObservedDigest = st.b.Spec.Digest
	}
	return s
}

// report writes each app's status to its Bundle on the hub when it
// differs from what the hub holds. A failure marks the hub unreachable; the
// next pass reports again.
func (a *Agent) report(ctx context.Context) {
	for name, st := range a.apps {
		if st.hub == nil {
			continue
		}
		want := statusOf(st)
		if sameJSON(st.hub.Status, want) {
			continue
		}
		patch := client.MergeFrom(st.hub.DeepCopy())
		updated := st.hub.DeepCopy()
		updated.Status = want
		if err := a.hub.Status().Patch(ctx, updated, patch); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			ctrl.LoggerFrom(ctx).V(1).Info("report the app's status", "app", name, "error", err.Error())
			a.link.down(ctx, err)
			return
		}
		st.hub = updated
	}
}

// sameJSON reports whether x and y serialize alike: times compare at the
// precision the API stores them with.
func sameJSON(x, y any) bool {
	bx, errx := json.Marshal(x)
	by, erry := json.Marshal(y)
	return errx == nil && erry == nil && bytes.Equal(bx, by)
}
