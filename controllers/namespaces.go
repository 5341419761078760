package controllers

import (
	"sync"

	"github.com/flotilla-gitops/flotilla/apply"
)

// namespaceMemories keeps, per member cluster, the apply engine's memory of
// the target namespaces seen there, tied to the cluster client it was
// filled through: a new client (the kubeconfig changed, perhaps to a rebuilt
// cluster) starts with an empty memory.
type namespaceMemories struct {
	mu sync.Mutex
	m  map[string]namespacesOf
}

type namespacesOf struct {
	client apply.ClusterClient
	known  *apply.Namespaces
}

// of returns the memory of the cluster at key as reached through cl.
func (n *namespaceMemories) of(key string, cl apply.ClusterClient) *apply.Namespaces {
	n.mu.Lock()
	defer n.mu.Unlock()
	if w, ok := n.m[key]; ok && w.client == cl {
		return w.known
	}
	if n.m == nil {
		n.m = map[string]namespacesOf{}
	}
	known := apply.NewNamespaces()
	n.m[key] = namespacesOf{client: cl, known: known}
	return known
}
