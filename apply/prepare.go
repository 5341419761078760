package apply

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/pkg/ssa/utils"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// prepare copies the request's objects, sets the owner labels on the copies,
// drops the flotilla.dev/adopt annotation from them and fixes their namespace: cluster-scoped objects lose a namespace set by
// mistake, namespaced objects without one get req.Namespace. The scope comes
// from the cluster's REST mapper, or from a CRD in the same object set for
// kinds the cluster does not know yet.
func prepare(cl ClusterClient, req *Request) ([]*unstructured.Unstructured, error) {
	labels := OwnerLabels(req.App, req.Repository)
	crdScopes := crdScopesOf(req.Objects)
	out := make([]*unstructured.Unstructured, 0, len(req.Objects))
	for _, src := range req.Objects {
		obj := src.DeepCopy()
		setLabels(obj, labels)
		removeAdoptAnnotation(obj)
		namespaced, known, err := isNamespaced(cl.RESTMapper(), obj.GroupVersionKind(), crdScopes)
		if err != nil {
			return nil, &ObjectError{Object: utils.FmtUnstructured(obj), Cluster: cl.Name(), Op: "discover API resource", Err: err}
		}
		switch {
		case !known:
			// Leave it as rendered; the dry-run will say what is wrong.
		case !namespaced:
			obj.SetNamespace("")
		case obj.GetNamespace() == "":
			if req.Namespace == "" {
				return nil, &ValidationError{
					Field:   "Objects",
					Message: fmt.Sprintf("%s is namespaced but has no metadata.namespace and the app has no target namespace; set one", utils.FmtUnstructured(obj)),
				}
			}
			obj.SetNamespace(req.Namespace)
		}
		out = append(out, obj)
	}
	return out, nil
}

// isNamespaced tells whether gvk is namespaced; known is false when neither
// the cluster nor a CRD of the set defines the kind.
func isNamespaced(mapper meta.RESTMapper, gvk schema.GroupVersionKind, crdScopes map[schema.GroupKind]bool) (namespaced, known bool, err error) {
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err == nil {
		return m.Scope.Name() == meta.RESTScopeNameNamespace, true, nil
	}
	if !meta.IsNoMatchError(err) {
		return false, false, err
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
// app's inventory and is never pruned.
func ensureNamespace(ctx context.Context, cl ClusterClient, name string) (bool, error) {
	if name == "" {
		return false, nil
	}
	if namespaceKnown(cl.Name(), name) {
		return false, nil
	}
	exists, err := namespaceExists(ctx, cl, name)
	if err != nil {
		return false, err
	}
	if exists {
		rememberNamespace(cl.Name(), name)
		return false, nil
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := cl.Client().Create(ctx, ns); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return false, nil
		}
		return false, &ObjectError{Object: "Namespace/" + name, Cluster: cl.Name(), Op: "create", Err: err}
	}
	rememberNamespace(cl.Name(), name)
	return true, nil
}

// namespaceMemory is how long a namespace seen on a cluster is trusted to
// still exist without asking again. A failed apply forgets it at once.
const namespaceMemory = 10 * time.Minute

// knownNamespaces maps "<cluster>\x00<namespace>" to when it was last seen.
var knownNamespaces sync.Map

func namespaceKnown(cluster, ns string) bool {
	v, ok := knownNamespaces.Load(cluster + "\x00" + ns)
	return ok && time.Since(v.(time.Time)) < namespaceMemory
}

func rememberNamespace(cluster, ns string) {
	knownNamespaces.Store(cluster+"\x00"+ns, time.Now())
}

// forgetNamespace makes the next sync check the namespace again (after a
// failed apply: someone may have deleted it).
func forgetNamespace(cluster, ns string) {
	knownNamespaces.Delete(cluster + "\x00" + ns)
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
