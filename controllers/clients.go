package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/apply/clusterclient"
	"github.com/flotilla-gitops/flotilla/fleet"
)

// clusterClients hands out one client per member cluster, built from the
// kubeconfig Secret named by the cluster file. The Secret is re-read at most
// once per refresh interval, so a steady-state sync reads nothing on the hub.
type clusterClients struct {
	reader  client.Reader
	cache   *clusterclient.Cache
	refresh time.Duration
	now     func() time.Time

	mu      sync.Mutex
	checked map[string]time.Time
	clients map[string]*clusterclient.Client
}

func newClusterClients(reader client.Reader, opts clusterclient.Options, refresh time.Duration) *clusterClients {
	return &clusterClients{
		reader: reader, cache: clusterclient.NewCache(opts), refresh: refresh, now: time.Now,
		checked: map[string]time.Time{}, clients: map[string]*clusterclient.Client{},
	}
}

// kubeconfigSource returns where a cluster's kubeconfig lives on the hub.
func kubeconfigSource(c *flotillav1.Cluster) clusterclient.KubeconfigSource {
	ref := fleet.KubeconfigRef(c)
	return clusterclient.KubeconfigSource{Namespace: c.Namespace, Name: ref.Name, Key: ref.Key}
}

// get returns the client for a cluster; force re-reads the Secret.
func (cc *clusterClients) get(ctx context.Context, c *flotillav1.Cluster, force bool) (*clusterclient.Client, error) {
	key := c.Namespace + "/" + c.Name
	cc.mu.Lock()
	cl, last := cc.clients[key], cc.checked[key]
	cc.mu.Unlock()
	if cl != nil && !force && cc.now().Sub(last) < cc.refresh {
		return cl, nil
	}
	src := kubeconfigSource(c)
	secret := &corev1.Secret{}
	if err := cc.reader.Get(ctx, types.NamespacedName{Namespace: src.Namespace, Name: src.Name}, secret); err != nil {
		cc.forget(key)
		return nil, fmt.Errorf("read kubeconfig %s for cluster %s: %w", src, c.Name, err)
	}
	data, ok := secret.Data[src.Key]
	if !ok || len(data) == 0 {
		cc.forget(key)
		return nil, fmt.Errorf("read kubeconfig %s for cluster %s: the key is missing or empty; store the kubeconfig under that key", src, c.Name)
	}
	cl, err := cc.cache.Get(key, src, data)
	if err != nil {
		cc.forget(key)
		return nil, err
	}
	cc.mu.Lock()
	cc.clients[key], cc.checked[key] = cl, cc.now()
	cc.mu.Unlock()
	return cl, nil
}

func (cc *clusterClients) forget(key string) {
	cc.mu.Lock()
	delete(cc.clients, key)
	delete(cc.checked, key)
	cc.mu.Unlock()
	cc.cache.Forget(key)
}
