package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fluxcd/pkg/ssa/utils"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ScopeFunc tells whether objects of a kind are namespaced; known is false
// when it cannot tell. Prepare uses it to drop a namespace set on a
// cluster-scoped object.
type ScopeFunc func(gvk schema.GroupVersionKind) (namespaced, known bool, err error)

// PrepareOptions say how Prepare readies rendered objects for a cluster.
type PrepareOptions struct {
	// App and Repository give the owner labels.
	App        string
	Repository types.NamespacedName
	// Namespace goes on namespaced objects without one.
	Namespace string
	// Scope tells namespaced kinds from cluster-scoped ones: the cluster's
	// REST mapper in Sync, a list of builtin kinds offline. Kinds it does
	// not know are looked up in the CRDs of the object set.
	Scope ScopeFunc
}

// Prepare returns what a cluster receives for objects, the rendered
// manifests of one app: copies with the owner labels set, Flotilla's
// Git-only annotations (flotilla.dev/adopt) removed, and the namespace
// fixed: cluster-scoped objects lose a namespace set by mistake (or by
// kustomize, which takes unknown kinds for namespaced ones), namespaced
// objects without one get opts.Namespace. Kinds that neither opts.Scope nor
// a CRD of the set defines are left as rendered. Sync applies exactly what
// Prepare returns with its cluster's REST mapper as Scope; `flotilla render`
// prints it, offline. objects are not modified.
func Prepare(objects []*unstructured.Unstructured, opts PrepareOptions) ([]*unstructured.Unstructured, error) {
	labels := OwnerLabels(opts.App, opts.Repository)
	crdScopes := crdScopesOf(objects)
	out := make([]*unstructured.Unstructured, 0, len(objects))
	for _, src := range objects {
		obj := src.DeepCopy()
		setLabels(obj, labels)
		removeAdoptAnnotation(obj)
		namespaced, known, err := scopeOf(opts.Scope, obj.GroupVersionKind(), crdScopes)
		if err != nil {
			return nil, &ObjectError{Object: utils.FmtUnstructured(obj), Op: "discover API resource", Err: err}
		}
		switch {
		case !known:
			// Leave it as rendered; the dry-run will say what is wrong.
		case !namespaced:
			obj.SetNamespace("")
		case obj.GetNamespace() == "":
			if opts.Namespace == "" {
				return nil, &ValidationError{
					Field:   "Objects",
					Message: fmt.Sprintf("%s is namespaced but has no metadata.namespace and the app has no target namespace; set one", utils.FmtUnstructured(obj)),
				}
			}
			obj.SetNamespace(opts.Namespace)
		}
		out = append(out, obj)
	}
	return out, nil
}

// MapperScope is the ScopeFunc of a REST mapper: a kind the mapper does not
// know is not known.
func MapperScope(mapper meta.RESTMapper) ScopeFunc {
	return func(gvk schema.GroupVersionKind) (bool, bool, error) {
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		switch {
		case err == nil:
			return m.Scope.Name() == meta.RESTScopeNameNamespace, true, nil
		case meta.IsNoMatchError(err):
			return false, false, nil
		default:
			return false, false, err
		}
	}
}

// prepare is Prepare for a request, with the cluster's REST mapper.
func prepare(cl ClusterClient, req *Request) ([]*unstructured.Unstructured, error) {
	out, err := Prepare(req.Objects, PrepareOptions{
		App: req.App, Repository: req.Repository, Namespace: req.Namespace, Scope: MapperScope(cl.RESTMapper()),
	})
	var oe *ObjectError
	if errors.As(err, &oe) {
		oe.Cluster = cl.Name()
	}
	return out, err
}

// scopeOf asks scope, then the CRDs of the object set.
func scopeOf(scope ScopeFunc, gvk schema.GroupVersionKind, crdScopes map[schema.GroupKind]bool) (namespaced, known bool, err error) {
	if scope != nil {
		namespaced, known, err = scope(gvk)
		if err != nil || known {
			return namespaced, known, err
		}
	}
	if ns, ok := crdScopes[gvk.GroupKind()]; ok {
		return ns, true, nil
	}
	return false, false, nil
}

// crdScopesOf maps the kinds defined by CRDs in objects to whether they are
// namespaced.
func crdScopesOf(objects []*unstructured.Unstructured) map[schema.GroupKind]bool {
	scopes := map[schema.GroupKind]bool{}
	for _, o := range objects {
		if !utils.IsCRD(o) {
			continue
		}
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		scope, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
		if kind != "" {
			scopes[schema.GroupKind{Group: group, Kind: kind}] = !strings.EqualFold(scope, "Cluster")
		}
	}
	return scopes
}

// ensureNamespace creates the namespace when it does not exist and reports
// whether it did. The namespace gets no owner labels: it is not part of any
// app's inventory and is never pruned. A namespace that known remembers is
// not read again; nil known reads it every time.
func ensureNamespace(ctx context.Context, cl ClusterClient, known *Namespaces, name string) (bool, error) {
	if name == "" {
		return false, nil
	}
	if known.Known(name) {
		return false, nil
	}
	exists, err := namespaceExists(ctx, cl, name)
	if err != nil {
		return false, err
	}
	if exists {
		known.remember(name)
		return false, nil
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := cl.Client().Create(ctx, ns); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return false, nil
		}
		return false, &ObjectError{Object: "Namespace/" + name, Cluster: cl.Name(), Op: "create", Err: err}
	}
	known.remember(name)
	return true, nil
}

func namespaceExists(ctx context.Context, cl ClusterClient, name string) (bool, error) {
	var ns corev1.Namespace
	err := cl.Client().Get(ctx, client.ObjectKey{Name: name}, &ns)
	switch {
	case err == nil:
		return true, nil
	case apierrors.IsNotFound(err):
		return false, nil
	default:
		return false, &ObjectError{Object: "Namespace/" + name, Cluster: cl.Name(), Op: "get", Err: err}
	}
}
