package clusterclient

import (
	"crypto/sha256"
	"sort"
	"sync"
)

// Cache holds one Client per cluster, keyed by a name the caller chooses
// (the hub controller uses <namespace>/<cluster>). A Client is rebuilt
// when the kubeconfig bytes for its cluster change (compared by SHA-256),
// so rotating a Secret takes effect on the next Get. Cache is safe for
// concurrent use.
type Cache struct {
	opts Options

	mu      sync.Mutex
	entries map[string]*cacheEntry
}

type cacheEntry struct {
	sum    [sha256.Size]byte
	client *Client
}

// NewCache returns an empty Cache that builds clients with opts.
func NewCache(opts Options) *Cache {
	return &Cache{opts: opts, entries: map[string]*cacheEntry{}}
}

// Get returns the Client for cluster, building it from kubeconfig when the
// cache has none or the kubeconfig changed since it was built. src names
// the Secret the bytes came from, for error messages. A refused or invalid
// kubeconfig evicts the cluster's previous client, so a revoked kubeconfig
// stops being used at once.
func (c *Cache) Get(cluster string, src KubeconfigSource, kubeconfig []byte) (*Client, error) {
	sum := sha256.Sum256(kubeconfig)

	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[cluster]; ok && e.sum == sum {
		return e.client, nil
	}
	cfg, err := RESTConfigFromKubeconfig(kubeconfig, src, c.opts)
	if err != nil {
		c.forgetLocked(cluster)
		return nil, err
	}
	cl, err := New(cluster, cfg, c.opts)
	if err != nil {
		c.forgetLocked(cluster)
		return nil, err
	}
	c.forgetLocked(cluster)
	c.entries[cluster] = &cacheEntry{sum: sum, client: cl}
	return cl, nil
}

// Forget drops the cluster's Client and closes its idle connections. The
// hub controller calls it when a Cluster is deleted from the hub and when
// the cluster's kubeconfig can no longer be read, so the Cache holds
// clients only for clusters that exist.
func (c *Cache) Forget(cluster string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgetLocked(cluster)
}

func (c *Cache) forgetLocked(cluster string) {
	if e, ok := c.entries[cluster]; ok {
		e.client.close()
		delete(c.entries, cluster)
	}
}

// Clusters lists the names of the clusters that have a cached Client, sorted.
func (c *Cache) Clusters() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := make([]string, 0, len(c.entries))
	for name := range c.entries {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
