package render

import (
	"fmt"
	"slices"
	"testing"

	"github.com/flotilla-gitops/flotilla/placement"
)

// fleetSpec sizes a generated fleet repository.
type fleetSpec struct {
	clusters int
	apps     int
	// clusterOverlays: the first clusterOverlays clusters get their own
	// per-cluster overlay (apps/<app>/overlays/<cluster>) in every app.
	clusterOverlays int
}

// genFleet is a generated fleet: its repository and its targets.
type genFleet struct {
	root    string
	targets []placement.Target
}

// clusterClasses are the overlay combinations of the generated clusters;
// cluster i is of class i%5. With 10 apps that is 50 distinct builds.
var clusterClasses = []struct {
	region   string
	overlays []string
}{
	{"eu", []string{"region-eu"}},
	{"eu", []string{"region-eu", "gpu"}},
	{"us", []string{"region-us"}},
	{"us", []string{"region-us", "gpu", "canary"}},
	{"ap", []string{"region-ap", "large"}},
}

func appName(j int) string     { return fmt.Sprintf("app-%02d", j) }
func clusterName(i int) string { return fmt.Sprintf("factory-%04d", i) }

// generateFleet writes a fleet repository under root: apps with a base of
// a Deployment, a Service, a ConfigMap and a ServiceAccount (variables in
// the Deployment and the ConfigMap), six overlay Components each, and
// returns one target per (cluster, app).
func generateFleet(tb testing.TB, root string, spec fleetSpec) genFleet {
	tb.Helper()
	files := map[string]string{}
	for j := range spec.apps {
		app := appName(j)
		dir := "apps/" + app
		files[dir+"/base/kustomization.yaml"] = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
labels:
- pairs:
    app.kubernetes.io/name: ` + app + `
  includeSelectors: true
resources:
- deployment.yaml
- service.yaml
- configmap.yaml
- serviceaccount.yaml
`
		files[dir+"/base/deployment.yaml"] = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ` + app + `
spec:
  replicas: ${cluster.vars.lines}
  selector:
    matchLabels:
      component: server
  template:
    metadata:
      labels:
        component: server
    spec:
      serviceAccountName: ` + app + `
      containers:
      - name: server
        image: ${cluster.vars.registry}/` + app + `:1.0.0
        args: ["--cluster=${cluster.name}", "--region=${cluster.labels.region}"]
        ports:
        - containerPort: 8080
        env:
        - name: MODEL_VERSION
          value: "${cluster.vars.model}"
        - name: LOG_LEVEL
          value: info
        resources:
          requests:
            cpu: 100m
            memory: 128Mi
        readinessProbe:
          httpGet:
            path: /healthz
            port: 8080
`
		files[dir+"/base/service.yaml"] = `apiVersion: v1
kind: Service
metadata:
  name: ` + app + `
spec:
  selector:
    component: server
  ports:
  - name: http
    port: 80
    targetPort: 8080
`
		files[dir+"/base/configmap.yaml"] = `apiVersion: v1
kind: ConfigMap
metadata:
  name: ` + app + `-settings
data:
  cluster: "${cluster.name}"
  region: "${cluster.labels.region}"
  tier: standard
  retention: 7d
`
		files[dir+"/base/serviceaccount.yaml"] = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: ` + app + `
`
		for _, region := range []string{"eu", "us", "ap"} {
			files[dir+"/overlays/region-"+region+"/kustomization.yaml"] = component(`- patch: |-
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: ` + app + `-settings
    data:
      timezone: ` + region + `-zone
      retention: 30d
`)
		}
		files[dir+"/overlays/gpu/kustomization.yaml"] = component(`- path: gpu-patch.yaml
`)
		files[dir+"/overlays/gpu/gpu-patch.yaml"] = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ` + app + `
spec:
  template:
    spec:
      nodeSelector:
        nvidia.com/gpu.present: "true"
      containers:
      - name: server
        resources:
          limits:
            nvidia.com/gpu: 1
`
		files[dir+"/overlays/canary/kustomization.yaml"] = component(`- patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: ` + app + `
      annotations:
        flotilla.dev/canary: "true"
`)
		files[dir+"/overlays/large/kustomization.yaml"] = component(`- patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: ` + app + `
    spec:
      template:
        spec:
          containers:
          - name: server
            resources:
              requests:
                cpu: "2"
                memory: 4Gi
`)
		for i := range spec.clusterOverlays {
			files[dir+"/overlays/"+clusterName(i)+"/kustomization.yaml"] = clusterOverlay(app, "site-"+clusterName(i))
		}
	}
	writeFiles(tb, root, files)

	g := genFleet{root: root}
	for i := range spec.clusters {
		cl := clusterName(i)
		class := clusterClasses[i%len(clusterClasses)]
		vars := clusterVars(cl,
			map[string]string{"region": class.region},
			map[string]string{
				"registry": "harbor." + cl + ".example.com",
				"lines":    fmt.Sprint(i%4 + 1),
				"model":    fmt.Sprintf("v%d", i%7),
			})
		for j := range spec.apps {
			app := appName(j)
			var ov []placement.Overlay
			for _, o := range class.overlays {
				ov = append(ov, placement.Overlay{Name: o, Path: "apps/" + app + "/overlays/" + o})
			}
			if i < spec.clusterOverlays {
				ov = append(ov, placement.Overlay{Name: cl, Path: "apps/" + app + "/overlays/" + cl})
			}
			g.targets = append(g.targets, placement.Target{
				App: app, Cluster: cl, Namespace: app, Base: "apps/" + app + "/base",
				Overlays: ov, Vars: vars,
			})
		}
	}
	return g
}

func component(patches string) string {
	return "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n" + patches
}

// clusterOverlay is a per-cluster overlay setting the ConfigMap's site.
func clusterOverlay(app, site string) string {
	return component(`- patch: |-
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: ` + app + `-settings
    data:
      site: ` + site + `
`)
}

// distinctKeys counts the distinct builds among targets for which keep
// returns true.
func distinctKeys(tb testing.TB, targets []placement.Target, keep func(placement.Target) bool) int {
	tb.Helper()
	seen := map[buildKey]bool{}
	for _, t := range targets {
		if keep != nil && !keep(t) {
			continue
		}
		k, err := targetKey(t)
		if err != nil {
			tb.Fatal(err)
		}
		seen[k] = true
	}
	return len(seen)
}

// usesPath reports whether a target's base or one of its overlays is p.
func usesPath(p string) func(placement.Target) bool {
	return func(t placement.Target) bool {
		return t.Base == p || slices.ContainsFunc(t.Overlays, func(o placement.Overlay) bool { return o.Path == p })
	}
}
