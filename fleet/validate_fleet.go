package fleet

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// clusterFile is one file under clusters/.
type clusterFile struct {
	file string
	obj  *flotillav1.Cluster // nil when the file could not be decoded
	r    *reporter
}

// appFile is one apps/<folder>/app.yaml.
type appFile struct {
	file   string
	folder string
	obj    *flotillav1.App // nil when the file could not be decoded
	r      *reporter
}

// validName reports whether a name may be registered in the fleet.
func validName(name string) bool {
	return name != "" && len(validation.IsDNS1123Label(name)) == 0
}

// dedupeClusters reports duplicate cluster names and returns the clusters
// that enter the fleet (decoded, validly and uniquely named), plus every
// name the repository declares (file names included, so that a broken
// file does not also break every reference to it).
func dedupeClusters(files []*clusterFile) (accepted []*clusterFile, declared map[string]bool) {
	declared = map[string]bool{}
	first := map[string]string{}
	for _, cf := range files {
		declared[clusterNameFromFile(cf.file)] = true
		if cf.obj == nil || !validName(cf.obj.Name) {
			continue
		}
		name := cf.obj.Name
		declared[name] = true
		if prev, dup := first[name]; dup {
			cf.r.errorf(fieldPath{"metadata", "name"}, "metadata.name: cluster %q is already declared in %s; declare each cluster once and remove one of the files", name, prev)
			continue
		}
		first[name] = cf.file
		accepted = append(accepted, cf)
	}
	return accepted, declared
}

// dedupeApps is dedupeClusters for apps.
func dedupeApps(files []*appFile) (accepted []*appFile, declared map[string]bool) {
	declared = map[string]bool{}
	first := map[string]string{}
	for _, af := range files {
		declared[af.folder] = true
		if af.obj == nil || !validName(af.obj.Name) {
			continue
		}
		name := af.obj.Name
		declared[name] = true
		if prev, dup := first[name]; dup {
			af.r.errorf(fieldPath{"metadata", "name"}, "metadata.name: app %q is already declared in %s; declare each app once and remove one of the files", name, prev)
			continue
		}
		first[name] = af.file
		accepted = append(accepted, af)
	}
	return accepted, declared
}

// validateReferences checks what apps say about clusters and other apps.
func validateReferences(apps []*appFile, clusters, appNames map[string]bool) {
	for _, af := range apps {
		a, r := af.obj, af.r
		pl := a.Spec.Placement
		unknownCluster := func(p fieldPath, name string, warn bool) {
			if name == "" || clusters[name] || !validName(name) {
				return
			}
			if warn {
				r.warnf(p, "%s: cluster %q does not exist (no %s), so it selects nothing; fix the name or remove it", p, name, clusterFileFor(name))
				return
			}
			r.errorf(p, "%s: cluster %q does not exist (no %s); fix the name or remove it", p, name, clusterFileFor(name))
		}
		for i, name := range pl.ClusterNames {
			unknownCluster(fieldPath{"spec", "placement", "clusterNames", i}, name, true)
		}
		for i, name := range pl.Exclude {
			unknownCluster(fieldPath{"spec", "placement", "exclude", i}, name, true)
		}
		for i, d := range pl.Replicas {
			for j, sw := range d.StaticWeights {
				for k, name := range sw.Clusters {
					unknownCluster(fieldPath{"spec", "placement", "replicas", i, "staticWeights", j, "clusters", k}, name, false)
				}
			}
		}
		for i, o := range a.Spec.Overlays {
			for j, name := range o.ClusterNames {
				unknownCluster(fieldPath{"spec", "overlays", i, "clusterNames", j}, name, true)
			}
			if o.Name != "" && clusters[o.Name] {
				r.errorf(fieldPath{"spec", "overlays", i, "name"}, "spec.overlays[%d].name: overlay %q has the name of cluster %s, whose per-cluster overlay folder is %s/%s; rename the overlay",
					i, o.Name, o.Name, OverlaysDir, o.Name)
			}
		}
		if ro := a.Spec.Rollout; ro != nil {
			for i, name := range ro.Canary {
				unknownCluster(fieldPath{"spec", "rollout", "canary", i}, name, false)
			}
			for i, st := range ro.Stages {
				for j, name := range st.ClusterNames {
					unknownCluster(fieldPath{"spec", "rollout", "stages", i, "clusterNames", j}, name, true)
				}
			}
		}
		for i, dep := range a.Spec.DependsOn {
			if dep == "" || appNames[dep] || !validName(dep) {
				continue
			}
			p := fieldPath{"spec", "dependsOn", i}
			r.errorf(p, "%s: app %q does not exist (no %s); fix the name or remove it", p, dep, appFileFor(dep))
		}
	}
}

// validateDependencyCycles reports every dependsOn cycle once, at the
// dependsOn entry of the cycle's first app (by name) that closes it.
func validateDependencyCycles(apps []*appFile) {
	byName := map[string]*appFile{}
	for _, af := range apps {
		byName[af.obj.Name] = af
	}
	const (
		unvisited = iota
		onStack
		done
	)
	state := map[string]int{}
	var stack []string
	reported := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		state[name] = onStack
		stack = append(stack, name)
		for _, dep := range byName[name].obj.Spec.DependsOn {
			if byName[dep] == nil {
				continue
			}
			switch state[dep] {
			case unvisited:
				visit(dep)
			case onStack:
				start := slices.Index(stack, dep)
				reportCycle(byName, stack[start:], reported)
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
	}
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if state[name] == unvisited {
			visit(name)
		}
	}
}

// reportCycle reports a cycle (a list of apps, each depending on the next,
// the last on the first) rotated to start at its smallest name.
func reportCycle(byName map[string]*appFile, cycle []string, reported map[string]bool) {
	minAt := 0
	for i, n := range cycle {
		if n < cycle[minAt] {
			minAt = i
		}
	}
	rotated := make([]string, 0, len(cycle)+1)
	rotated = append(rotated, cycle[minAt:]...)
	cycle = append(rotated, cycle[:minAt]...)
	key := strings.Join(cycle, "\x00")
	if reported[key] {
		return
	}
	reported[key] = true
	head := byName[cycle[0]]
	next := cycle[0]
	if len(cycle) > 1 {
		next = cycle[1]
	}
	idx := slices.Index(head.obj.Spec.DependsOn, next)
	p := fieldPath{"spec", "dependsOn", idx}
	path := strings.Join(append(cycle, cycle[0]), " -> ")
	head.r.errorf(p, "spec.dependsOn: dependency cycle %s; no app in it could ever be applied, remove one of these dependencies", path)
}
