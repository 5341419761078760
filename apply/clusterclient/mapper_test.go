package clusterclient

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/restmapper"
)

// Clusters whose discovery is identical share one REST mapping: twenty
// clients of the same API server hold one copy of its discovery, and each
// still maps the built-in kinds.
func TestClientsWithIdenticalDiscoveryShareOneMapping(t *testing.T) {
	testCtx(t)
	cache := NewCache(Options{})
	var clients []*Client
	for i := range 20 {
		c, err := cache.Get(fmt.Sprintf("edge-%d", i), testSource, memberKubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	// A CRD installed by another test may still be reaching discovery: the
	// clients then saw two contents. Only then is the round repeated.
	for round := 0; ; round++ {
		sums := map[[32]byte]bool{}
		for _, c := range clients {
			m := c.RESTMapper().(*sharedMapper)
			cur, seen, err := m.get()
			if err != nil {
				t.Fatal(err)
			}
			if round > 0 {
				if cur, err = m.reload(seen); err != nil {
					t.Fatal(err)
				}
			}
			mapping, err := c.RESTMapper().RESTMapping(schema.GroupKind{Kind: "ConfigMap"}, "v1")
			if err != nil {
				t.Fatalf("%s: map ConfigMap: %v", c.Name(), err)
			}
			if mapping.Resource.Resource != "configmaps" {
				t.Fatalf("%s: ConfigMap maps to %v", c.Name(), mapping.Resource)
			}
			sums[cur.sum] = true
		}
		if len(sums) > 1 && round < 3 {
			continue
		}
		if len(sums) != 1 {
			t.Fatalf("the API server's discovery changed in every one of %d rounds", round+1)
		}
		break
	}
	first := clients[0].RESTMapper().(*sharedMapper).current
	for _, c := range clients[1:] {
		if got := c.RESTMapper().(*sharedMapper).current; got != first {
			t.Fatalf("%s holds its own mapping of an identical discovery", c.Name())
		}
	}
}

// The digest of a discovery does not depend on the order of its groups,
// and differs when a group's content differs.
func TestDiscoverySumIgnoresGroupOrder(t *testing.T) {
	group := func(name, version string, kinds ...string) *restmapper.APIGroupResources {
		g := &restmapper.APIGroupResources{VersionedResources: map[string][]metav1.APIResource{}}
		g.Group.Name = name
		g.Group.Versions = append(g.Group.Versions, groupVersionForDiscovery(name, version))
		g.Group.PreferredVersion = g.Group.Versions[0]
		for _, k := range kinds {
			g.VersionedResources[version] = append(g.VersionedResources[version], metav1.APIResource{Name: k + "s", Kind: k, Namespaced: true})
		}
		return g
	}
	a := []*restmapper.APIGroupResources{group("", "v1", "ConfigMap"), group("apps", "v1", "Deployment")}
	b := []*restmapper.APIGroupResources{a[1], a[0]}
	c := []*restmapper.APIGroupResources{group("", "v1", "ConfigMap"), group("apps", "v1", "Deployment", "StatefulSet")}
	sa, err := discoverySum(a)
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := discoverySum(b)
	sc, _ := discoverySum(c)
	if sa != sb {
		t.Errorf("the digest depends on the order of the groups")
	}
	if sa == sc {
		t.Errorf("two discoveries with different resources have the same digest")
	}
}

func groupVersionForDiscovery(group, version string) metav1.GroupVersionForDiscovery {
	return metav1.GroupVersionForDiscovery{GroupVersion: schema.GroupVersion{Group: group, Version: version}.String(), Version: version}
}
