package cli

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"

	"github.com/flotilla-gitops/flotilla/apply"
	"github.com/flotilla-gitops/flotilla/internal/pipeline"
	"github.com/flotilla-gitops/flotilla/placement"
)

// defaultRepositoryNamespace is the namespace of the FleetRepository that
// `flotilla render` assumes for the owner labels.
const defaultRepositoryNamespace = "flotilla-system"

// offlineScope tells namespaced kinds from cluster-scoped ones without a
// cluster: the builtin Kubernetes kinds of kustomize's schema, then the
// custom kinds of every CustomResourceDefinition the fleet renders (a
// ClusterIssuer's CRD usually comes with another app). A kind neither
// knows is left as rendered.
func offlineScope(out *pipeline.Output) apply.ScopeFunc {
	crds := map[schema.GroupKind]bool{}
	for _, res := range out.Renders {
		if res.Manifest == nil {
			continue
		}
		for _, o := range res.Manifest.Objects {
			if o.GetKind() != "CustomResourceDefinition" || o.GroupVersionKind().Group != "apiextensions.k8s.io" {
				continue
			}
			group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
			kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
			scope, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
			crds[schema.GroupKind{Group: group, Kind: kind}] = scope != "Cluster"
		}
	}
	return func(gvk schema.GroupVersionKind) (bool, bool, error) {
		if namespaced, known := openapi.IsNamespaceScoped(kyaml.TypeMeta{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind}); known {
			return namespaced, true, nil
		}
		namespaced, known := crds[gvk.GroupKind()]
		return namespaced, known, nil
	}
}

// parseRepository parses --repository NAMESPACE/NAME; empty means
// flotilla-system/<name of the repository folder>.
func parseRepository(flag, repo string) (types.NamespacedName, error) {
	if flag == "" {
		abs, err := filepath.Abs(repo)
		if err != nil {
			return types.NamespacedName{}, usageErrorf("render: resolve --repo %s: %v", repo, err)
		}
		return types.NamespacedName{Namespace: defaultRepositoryNamespace, Name: filepath.Base(abs)}, nil
	}
	ns, name, ok := strings.Cut(flag, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return types.NamespacedName{}, usageErrorf("render: --repository %q: use NAMESPACE/NAME of the FleetRepository on the hub, for example flotilla-system/factory-fleet", flag)
	}
	return types.NamespacedName{Namespace: ns, Name: name}, nil
}

// preparedYAML is what the target's cluster receives from the controller:
// the rendered objects after apply.Prepare (owner labels, namespace fixed),
// each printed as kustomize prints it, separated by "---".
func preparedYAML(out *pipeline.Output, scope apply.ScopeFunc, t placement.Target, repository types.NamespacedName) ([]byte, error) {
	res := out.Render(t.App, t.Cluster)
	if res == nil || res.Manifest == nil {
		return nil, fmt.Errorf("render: app %s on cluster %s was not rendered", t.App, t.Cluster)
	}
	objs, err := apply.Prepare(res.Manifest.Objects, apply.PrepareOptions{
		App: t.App, Repository: repository, Namespace: t.Namespace, Scope: scope,
	})
	if err != nil {
		return nil, fmt.Errorf("render: app %s on cluster %s: %w", t.App, t.Cluster, err)
	}
	var buf bytes.Buffer
	for i, o := range objs {
		y, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, fmt.Errorf("render: app %s on cluster %s: encoding %s/%s: %w", t.App, t.Cluster, o.GetKind(), o.GetName(), err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(y)
	}
	return buf.Bytes(), nil
}
