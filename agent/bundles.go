package agent

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flotilla-gitops/flotilla/agent/bundle"
	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// ReasonBundleRefused is the Ready reason of a bundle whose content the
// agent refuses (its digest does not match, it does not decode, or it
// lacks a field the agent needs); the cluster keeps the last good state.
const ReasonBundleRefused = "BundleRefused"

// merge takes the hub's bundles in: a new or changed desired state is
// fetched, verified and made the app's desired state; a bundle gone from
// the hub is forgotten (its objects are left in place).
func (a *Agent) merge(ctx context.Context, bundles []flotillav1.Bundle) {
	seen := map[string]bool{}
	for i := range bundles {
		hb := &bundles[i]
		seen[hb.Name] = true
		log := ctrl.LoggerFrom(ctx).WithValues("app", hb.Name)
		st, ok := a.apps[hb.Name]
		if !ok {
			st = &appState{b: &flotillav1.Bundle{}}
			st.b.Name, st.b.Namespace = hb.Name, hb.Namespace
			// What the hub last heard (a state lost with a rebuilt cluster):
			// its inventory lets a later prune find the objects.
			st.b.Status.Inventory = hb.Status.Inventory
			st.b.Status.DriftCorrections = hb.Status.DriftCorrections
			st.b.Status.Removed = hb.Status.Removed && hb.Spec.Deletion != ""
			a.apps[hb.Name] = st
		}
		st.hub = hb.DeepCopy()
		if st.b.Generation != hb.Generation {
			st.due = time.Time{}
		}
		st.b.Generation = hb.Generation
		st.b.Namespace = hb.Namespace
		if hb.Spec.Deletion != "" {
			if st.deletion != hb.Spec.Deletion {
				st.deletion, st.due = hb.Spec.Deletion, time.Time{}
			}
			continue
		}
		// A bundle placed again after a removal starts over.
		st.deletion, st.b.Status.Removed = "", false
		if sameDesired(&hb.Spec, &st.b.Spec) {
			st.refused, st.refusedDigest = "", ""
			continue
		}
		if st.refusedDigest != "" && st.refusedDigest == hb.Spec.Digest {
			continue
		}
		content, err := a.content(ctx, hb)
		if err != nil {
			if apierrors.IsNotFound(err) || !isTransientHub(err) {
				st.refused, st.refusedDigest = err.Error(), hb.Spec.Digest
			}
			log.Error(err, "fetch the bundle's content")
			st.due = time.Time{}
			continue
		}
		objs, err := decode(content, hb.Spec.Digest)
		if err == nil && repositoryOf(hb) == "" {
			err = fmt.Errorf("bundle %s/%s: spec.repository is empty: the hub must name the app's FleetRepository", hb.Namespace, hb.Name)
		}
		if err != nil {
			log.Error(err, "refused the bundle: the cluster keeps its last desired state", "digest", hb.Spec.Digest)
			st.refused, st.refusedDigest = err.Error(), hb.Spec.Digest
			st.due = time.Time{}
			continue
		}
		st.refused, st.refusedDigest = "", ""
		st.b.Spec = *hb.Spec.DeepCopy()
		st.b.Spec.Repository = repositoryOf(hb)
		st.b.Spec.Content, st.b.Spec.Chunks = content, nil
		st.objects = objs
		st.due = time.Time{}
		log.Info("new desired state", "revision", hb.Spec.Revision, "digest", hb.Spec.Digest, "objects", len(objs))
	}
	for name, st := range a.apps {
		if seen[name] {
			continue
		}
		// The hub removed the bundle without asking for a deletion (or
		// after the agent reported it removed): forget the app, leave
		// its objects in place.
		if err := a.store.remove(ctx, name); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "forget the app", "app", name)
			continue
		}
		if st.deletion == "" && !st.b.Status.Removed && len(st.b.Status.Inventory) > 0 {
			ctrl.LoggerFrom(ctx).Info("the hub no longer lists the app's bundle: forgetting it, its objects are left in place", "app", name, "objects", len(st.b.Status.Inventory))
		}
		delete(a.apps, name)
	}
}

// sameDesired reports whether two specs ask for the same desired state
// (content by digest, and the options).
func sameDesired(hub, have *flotillav1.BundleSpec) bool {
	x, y := hub.DeepCopy(), have.DeepCopy()
	x.Content, x.Chunks, y.Content, y.Chunks = nil, nil, nil, nil
	x.Deletion, y.Deletion = "", ""
	if x.Repository == "" {
		x.Repository = y.Repository
	}
	return have.Digest != "" && equality.Semantic.DeepEqual(x, y)
}

// repositoryOf is the bundle's FleetRepository: spec.repository, else the
// flotilla.dev/repository label.
func repositoryOf(b *flotillav1.Bundle) string {
	if b.Spec.Repository != "" {
		return b.Spec.Repository
	}
	return b.Labels[flotillav1.LabelRepository]
}

// content returns the bundle's compressed content: inline, or joined from
// its BundleChunks (each checked against its content-addressed name).
func (a *Agent) content(ctx context.Context, b *flotillav1.Bundle) ([]byte, error) {
	if len(b.Spec.Chunks) == 0 {
		if len(b.Spec.Content) == 0 {
			return nil, fmt.Errorf("bundle %s/%s: %w", b.Namespace, b.Name, errNoContent)
		}
		return b.Spec.Content, nil
	}
	data := make(map[string][]byte, len(b.Spec.Chunks))
	for _, name := range b.Spec.Chunks {
		if _, ok := data[name]; ok {
			continue
		}
		c := &flotillav1.BundleChunk{}
		if err := a.hub.Get(ctx, client.ObjectKey{Namespace: b.Namespace, Name: name}, c); err != nil {
			return nil, fmt.Errorf("bundle %s/%s: read BundleChunk %s: %w", b.Namespace, b.Name, name, err)
		}
		data[name] = c.Data
	}
	out, err := bundle.Join(b.Spec.Chunks, data)
	if err != nil {
		return nil, fmt.Errorf("bundle %s/%s: %w", b.Namespace, b.Name, err)
	}
	return out, nil
}

// decode verifies content against digest and returns its objects.
func decode(content []byte, digest string) ([]*unstructured.Unstructured, error) {
	return bundle.Decode(content, digest)
}

// isTransientHub reports whether a hub error may go away by itself (the
// hub unreachable or overloaded), as opposed to a refusal.
func isTransientHub(err error) bool {
	return !(apierrors.IsNotFound(err) || apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) || apierrors.IsBadRequest(err) || apierrors.IsInvalid(err))
}

func isForbidden(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err)
}

func isUnauthorized(err error) bool { return isForbidden(err) }
