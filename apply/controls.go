package apply

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/fluxcd/pkg/ssa/utils"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// objectControls are the per-object controls an object carries in Git.
type objectControls struct {
	// createOnly: create when missing, never update (flotilla.dev/create-only).
	createOnly bool
	// ignore are the fields another controller owns, as split JSON
	// pointers (flotilla.dev/ignore-fields).
	ignore [][]string
}

func (c objectControls) any() bool { return c.createOnly || len(c.ignore) > 0 }

// controlsOf reads the per-object control annotations of obj.
func controlsOf(obj *unstructured.Unstructured) (objectControls, error) {
	ann := obj.GetAnnotations()
	var c objectControls
	switch v := ann[flotillav1.AnnotationCreateOnly]; v {
	case "", "false":
	case "true":
		c.createOnly = true
	default:
		return c, fmt.Errorf("annotation %s: %q is not \"true\" or \"false\"", flotillav1.AnnotationCreateOnly, v)
	}
	if v := strings.TrimSpace(ann[flotillav1.AnnotationIgnoreFields]); v != "" {
		for _, p := range strings.Split(v, ",") {
			segs, err := parsePointer(strings.TrimSpace(p))
			if err != nil {
				return c, fmt.Errorf("annotation %s: %w", flotillav1.AnnotationIgnoreFields, err)
			}
			c.ignore = append(c.ignore, segs)
		}
	}
	return c, nil
}

// parsePointer splits a JSON pointer (RFC 6901) into unescaped tokens. The
// pointer must name a field below the object's top level other than
// metadata, which Flotilla always sets.
func parsePointer(p string) ([]string, error) {
	if !strings.HasPrefix(p, "/") || len(p) < 2 {
		return nil, fmt.Errorf("%q is not a JSON pointer to a field; write it as /spec/replicas, separated by commas", p)
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		if s == "" {
			return nil, fmt.Errorf("%q has an empty token; write it as /spec/replicas", p)
		}
		segs[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	switch segs[0] {
	case "apiVersion", "kind", "metadata":
		return nil, fmt.Errorf("%q: Flotilla always sets %s; name a field of the object's body, such as /spec/replicas", p, segs[0])
	}
	return segs, nil
}

// applyControls honours the per-object controls of the prepared objects,
// reading from the cluster only the objects that carry one. It returns, by
// index, the objects to leave alone: create-only objects that exist. In an
// existing object, each ignored field is set to its live value (or removed
// when the live object has none), so that Flotilla neither resets it nor
// sees it as drift, while keeping ownership of it so it is never removed
// by a server-side apply that no longer sends it. A missing object is
// created as in Git.
func applyControls(ctx context.Context, cl ClusterClient, objects []*unstructured.Unstructured, concurrency int) (skip []bool, err error) {
	skip = make([]bool, len(objects))
	errs := make([]error, len(objects))
	var g errgroup.Group
	g.SetLimit(concurrency)
	for i, obj := range objects {
		c, err := controlsOf(obj) // Request.validate checked them
		if err != nil {
			return nil, &ValidationError{Field: "Objects", Message: fmt.Sprintf("%s: %v", utils.FmtUnstructured(obj), err)}
		}
		if !c.any() {
			continue
		}
		g.Go(func() error {
			live := &unstructured.Unstructured{}
			live.SetGroupVersionKind(obj.GroupVersionKind())
			err := cl.Client().Get(ctx, client.ObjectKeyFromObject(obj), live)
			switch {
			case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
				return nil // created as in Git
			case err != nil:
				errs[i] = &ObjectError{Object: utils.FmtUnstructured(obj), Cluster: cl.Name(), Op: "get", Err: err}
				return nil
			}
			if c.createOnly {
				skip[i] = true
				return nil
			}
			for _, segs := range c.ignore {
				if v, ok := lookupPath(live.Object, segs); ok {
					setPath(obj.Object, segs, v)
				} else {
					removePath(obj.Object, segs)
				}
			}
			return nil
		})
	}
	_ = g.Wait()
	for _, e := range errs {
		if e != nil {
			return nil, e
		}
	}
	return skip, nil
}

// lookupPath returns the value at segs in v (maps by key, lists by index).
func lookupPath(v any, segs []string) (any, bool) {
	for _, s := range segs {
		switch t := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = t[s]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(s)
			if err != nil || i < 0 || i >= len(t) {
				return nil, false
			}
			v = t[i]
		default:
			return nil, false
		}
	}
	return runtime.DeepCopyJSONValue(v), true
}

// setPath sets the value at segs in obj, creating maps on the way; a path
// through a list index that does not exist is left alone.
func setPath(obj map[string]any, segs []string, value any) {
	var cur any = obj
	for i, s := range segs {
		last := i == len(segs)-1
		switch t := cur.(type) {
		case map[string]any:
			if last {
				t[s] = value
				return
			}
			next, ok := t[s]
			if !ok {
				next = map[string]any{}
				t[s] = next
			}
			cur = next
		case []any:
			idx, err := strconv.Atoi(s)
			if err != nil || idx < 0 || idx >= len(t) {
				return
			}
			if last {
				t[idx] = value
				return
			}
			cur = t[idx]
		default:
			return
		}
	}
}

// removePath removes the map entry at segs, if there is one.
func removePath(obj map[string]any, segs []string) {
	parent, ok := lookupParent(obj, segs)
	if ok {
		delete(parent, segs[len(segs)-1])
	}
}

func lookupParent(obj map[string]any, segs []string) (map[string]any, bool) {
	var cur any = obj
	for _, s := range segs[:len(segs)-1] {
		switch t := cur.(type) {
		case map[string]any:
			cur = t[s]
		case []any:
			idx, err := strconv.Atoi(s)
			if err != nil || idx < 0 || idx >= len(t) {
				return nil, false
			}
			cur = t[idx]
		default:
			return nil, false
		}
	}
	m, ok := cur.(map[string]any)
	return m, ok
}

// CheckControls reports whether the per-object control annotations of obj
// (flotilla.dev/create-only, flotilla.dev/ignore-fields,
// flotilla.dev/prune) are well formed, so that a malformed one can be
// reported before a sync, for example by `flotilla validate`.
func CheckControls(obj *unstructured.Unstructured) error {
	if _, err := controlsOf(obj); err != nil {
		return err
	}
	switch v, ok := obj.GetAnnotations()[flotillav1.AnnotationPrune]; {
	case !ok, v == flotillav1.PruneDisabled, v == "enabled":
	default:
		return fmt.Errorf("annotation %s: %q is not %q; remove the annotation to let Flotilla prune the object", flotillav1.AnnotationPrune, v, flotillav1.PruneDisabled)
	}
	return nil
}
