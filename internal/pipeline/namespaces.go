package pipeline

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/openapi"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/fleet"
	"github.com/flotilla-gitops/flotilla/placement"
	"github.com/flotilla-gitops/flotilla/render"
)

// maxObjectsNamed is how many objects a namespace warning names before it
// says "and N more".
const maxObjectsNamed = 5

// namespaceDiagnostics warns, for every app whose spec.namespace is forced
// (namespaceMode Force, the default), about what forcing changes: objects
// whose own namespace is replaced, and Namespace objects that kustomize
// renames. Each such target is rendered again with the namespace as a
// default only (one build per base and overlay combination, cached) and the
// two are compared. One warning per app, on its app.yaml.
func namespaceDiagnostics(ctx context.Context, f *fleet.Fleet, r *render.Renderer, results []render.Result) []fleet.Diagnostic {
	var probes []placement.Target
	for _, res := range results {
		t := res.Target
		if res.Err != nil || t.Namespace == "" || t.NamespaceDefault {
			continue
		}
		t.NamespaceDefault = true
		probes = append(probes, t)
	}
	if len(probes) == 0 {
		return nil
	}
	type finding struct {
		ns             string
		moved, renamed []string
	}
	byApp := map[string]*finding{}
	for _, res := range r.RenderAll(ctx, f.Root, probes) {
		if res.Err != nil || res.Manifest == nil {
			continue // the forced render succeeded; nothing to compare
		}
		ns := res.Target.Namespace
		fd := byApp[res.Target.App]
		if fd == nil {
			fd = &finding{ns: ns}
			byApp[res.Target.App] = fd
		}
		for _, o := range res.Manifest.Objects {
			switch {
			case o.GetAPIVersion() == "v1" && o.GetKind() == "Namespace":
				if o.GetName() != ns {
					fd.renamed = appendOnce(fd.renamed, o.GetName())
				}
			case o.GetNamespace() != "" && o.GetNamespace() != ns:
				if openapi.IsCertainlyClusterScoped(kyaml.TypeMeta{APIVersion: o.GetAPIVersion(), Kind: o.GetKind()}) {
					continue // kustomize leaves it alone in both modes
				}
				fd.moved = appendOnce(fd.moved, fmt.Sprintf("%s/%s (namespace %s)", o.GetKind(), o.GetName(), o.GetNamespace()))
			}
		}
	}
	apps := make([]string, 0, len(byApp))
	for a := range byApp {
		apps = append(apps, a)
	}
	sort.Strings(apps)
	var diags []fleet.Diagnostic
	for _, app := range apps {
		fd := byApp[app]
		ns := fd.ns
		if len(fd.moved) > 0 {
			diags = append(diags, fleet.Diagnostic{File: f.AppFiles[app], Severity: fleet.SeverityWarning, Message: fmt.Sprintf(
				"spec.namespace %s replaces the namespace %s set: %s; set spec.namespaceMode: %s to keep the namespaces objects set (and use %s only for objects without one), or remove metadata.namespace from them",
				ns, objectsNoun(len(fd.moved)), nameList(fd.moved), flotillav1.NamespaceDefault, ns)})
		}
		if len(fd.renamed) > 0 {
			diags = append(diags, fleet.Diagnostic{File: f.AppFiles[app], Severity: fleet.SeverityWarning, Message: fmt.Sprintf(
				"spec.namespace %s renames the Namespace %s %s to %s (kustomize's namespace field); set spec.namespaceMode: %s to keep %s, or rename %s in Git",
				ns, objectsNoun2(len(fd.renamed)), nameList(fd.renamed), ns, flotillav1.NamespaceDefault, pronoun(len(fd.renamed)), pronoun(len(fd.renamed)))})
		}
	}
	return diags
}

func objectsNoun(n int) string {
	if n == 1 {
		return "an object"
	}
	return fmt.Sprintf("%d objects", n)
}

func objectsNoun2(n int) string {
	if n == 1 {
		return "object"
	}
	return "objects"
}

func pronoun(n int) string {
	if n == 1 {
		return "its name"
	}
	return "their names"
}

func nameList(names []string) string {
	sort.Strings(names)
	if len(names) <= maxObjectsNamed {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:maxObjectsNamed], ", ") + fmt.Sprintf(" and %d more", len(names)-maxObjectsNamed)
}

func appendOnce(list []string, s string) []string {
	for _, l := range list {
		if l == s {
			return list
		}
	}
	return append(list, s)
}
