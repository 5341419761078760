package pipeline

import (
	"fmt"
	"sort"

	"github.com/flotilla-gitops/flotilla/fleet"
	"github.com/flotilla-gitops/flotilla/render"
)

// objectKey identifies an object on one cluster, whatever its version.
type objectKey struct{ group, kind, namespace, name string }

func (k objectKey) String() string {
	kind := k.kind
	if k.group != "" {
		kind += "." + k.group
	}
	if k.namespace == "" {
		return kind + " " + k.name
	}
	return kind + " " + k.namespace + "/" + k.name
}

// objectConflicts reports, as errors, objects that two apps render for the
// same cluster: on the cluster the second app would be refused (an object
// belongs to one app). One diagnostic per pair of apps and object, on the
// second app's file (by name), naming both files and the clusters.
func objectConflicts(f *fleet.Fleet, results []render.Result) []fleet.Diagnostic {
	byCluster := map[string][]int{}
	var clusters []string
	for i, res := range results {
		if res.Err != nil || res.Manifest == nil {
			continue
		}
		c := res.Target.Cluster
		if byCluster[c] == nil {
			clusters = append(clusters, c)
		}
		byCluster[c] = append(byCluster[c], i)
	}
	sort.Strings(clusters)

	type conflict struct {
		first, second string
		object        objectKey
	}
	var order []conflict
	onClusters := map[conflict][]string{}
	for _, c := range clusters {
		owner := map[objectKey]string{}
		idx := byCluster[c]
		// Apps in name order, so "first" is stable.
		sort.Slice(idx, func(a, b int) bool { return results[idx[a]].Target.App < results[idx[b]].Target.App })
		for _, i := range idx {
			app := results[i].Target.App
			for _, o := range results[i].Manifest.Objects {
				gvk := o.GroupVersionKind()
				k := objectKey{group: gvk.Group, kind: gvk.Kind, namespace: o.GetNamespace(), name: o.GetName()}
				first, seen := owner[k]
				if !seen {
					owner[k] = app
					continue
				}
				if first == app {
					continue // the same app twice is render's concern
				}
				cf := conflict{first: first, second: app, object: k}
				if onClusters[cf] == nil {
					order = append(order, cf)
				}
				onClusters[cf] = append(onClusters[cf], c)
			}
		}
	}
	diags := make([]fleet.Diagnostic, 0, len(order))
	for _, cf := range order {
		diags = append(diags, fleet.Diagnostic{
			File:     f.AppFiles[cf.second],
			Severity: fleet.SeverityError,
			Message: fmt.Sprintf("apps %s (%s) and %s (%s) both render %s for %s; an object on a cluster belongs to one app (the second would be refused there): remove it from one of them",
				cf.first, f.AppFiles[cf.first], cf.second, f.AppFiles[cf.second], cf.object, clusterList(onClusters[cf])),
		})
	}
	return diags
}
