package placement

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/fleet"
)

// cl builds a cluster from "key=value" labels.
func cl(name string, labels ...string) *flotillav1.Cluster {
	c := &flotillav1.Cluster{}
	c.APIVersion, c.Kind, c.Name = "flotilla.dev/v1alpha1", "Cluster", name
	if len(labels) > 0 {
		c.Labels = map[string]string{}
		for _, kv := range labels {
			k, v, _ := strings.Cut(kv, "=")
			c.Labels[k] = v
		}
	}
	return c
}

// withVars sets "key=value" vars on a cluster.
func withVars(c *flotillav1.Cluster, vars ...string) *flotillav1.Cluster {
	c.Spec.Vars = map[string]string{}
	for _, kv := range vars {
		k, v, _ := strings.Cut(kv, "=")
		c.Spec.Vars[k] = v
	}
	return c
}

// withTaints adds taints written as "key=value:Effect" or "key:Effect".
func withTaints(c *flotillav1.Cluster, taints ...string) *flotillav1.Cluster {
	for _, s := range taints {
		kv, effect, _ := strings.Cut(s, ":")
		k, v, _ := strings.Cut(kv, "=")
		c.Spec.Taints = append(c.Spec.Taints, corev1.Taint{Key: k, Value: v, Effect: corev1.TaintEffect(effect)})
	}
	return c
}

// ap builds an app with a placement.
func ap(name string, pl flotillav1.Placement) *flotillav1.App {
	a := &flotillav1.App{}
	a.APIVersion, a.Kind, a.Name = "flotilla.dev/v1alpha1", "App", name
	a.Spec.Namespace = name
	a.Spec.Placement = pl
	return a
}

// fleetOf builds a fleet by hand, with defaults applied as Load does.
func fleetOf(clusters []*flotillav1.Cluster, apps ...*flotillav1.App) *fleet.Fleet {
	f := &fleet.Fleet{Root: "/fleet", ClusterFiles: map[string]string{}, AppFiles: map[string]string{}, ClusterOverlays: map[string]map[string]bool{}}
	for _, c := range clusters {
		fleet.DefaultCluster(c)
		f.Clusters = append(f.Clusters, c)
		f.ClusterFiles[c.Name] = "clusters/" + c.Name + ".yaml"
	}
	for _, a := range apps {
		fleet.DefaultApp(a)
		f.Apps = append(f.Apps, a)
		f.AppFiles[a.Name] = "apps/" + a.Name + "/app.yaml"
	}
	return f
}

// sel builds a selector from "key=value" match labels.
func sel(labels ...string) *metav1.LabelSelector {
	s := &metav1.LabelSelector{MatchLabels: map[string]string{}}
	for _, kv := range labels {
		k, v, _ := strings.Cut(kv, "=")
		s.MatchLabels[k] = v
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// assertClusters checks the clusters an app is placed on.
func assertClusters(t *testing.T, res *Result, app string, want ...string) {
	t.Helper()
	got := res.Clusters(app)
	if len(want) == 0 {
		want = []string{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("app %s placed on %v, want %v", app, got, want)
		for _, d := range res.Decisions() {
			if d.App == app {
				t.Logf("  %s: %v", d.Cluster, d.Reasons)
			}
		}
	}
}

// assertReason checks that the decision about app on cluster holds a
// reason containing want.
func assertReason(t *testing.T, res *Result, app, cluster, want string) {
	t.Helper()
	d := res.Decision(app, cluster)
	if d == nil {
		t.Errorf("no decision for %s on %s", app, cluster)
		return
	}
	for _, r := range d.Reasons {
		if strings.Contains(r, want) {
			return
		}
	}
	t.Errorf("decision for %s on %s has no reason containing %q: %q", app, cluster, want, d.Reasons)
}
