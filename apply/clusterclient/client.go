package clusterclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Client is the access to one member cluster: a controller-runtime client,
// a lazy REST mapper, a kstatus poller for health checks and a discovery
// client, all sharing one HTTP client. It is safe for concurrent use.
//
// The REST mapper discovers the API on first use and again whenever a kind
// is unknown, so a Client can be built while the cluster is down and keeps
// working for CRDs installed after it was built. Clusters whose discovery
// is identical share one mapping (see sharedMapper).
type Client struct {
	name       string
	httpClient *http.Client
	client     client.Client
	mapper     meta.RESTMapper
	poller     *polling.StatusPoller
	discovery  *discovery.DiscoveryClient
}

// New builds a Client for the cluster called name from a REST config. The
// config is copied, and the timeout, rate limits and user agent of opts are
// applied to the copy. No request is made to the cluster.
func New(name string, cfg *rest.Config, opts Options) (*Client, error) {
	opts = opts.withDefaults()
	cfg = rest.CopyConfig(cfg)
	applyOptions(cfg, name, opts)

	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: build HTTP client: %w", name, err)
	}
	disc, err := discovery.NewDiscoveryClientForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: build discovery client: %w", name, err)
	}
	mapper := &sharedMapper{cluster: name, discovery: disc}
	c, err := client.New(cfg, client.Options{HTTPClient: httpClient, Scheme: opts.Scheme, Mapper: mapper})
	if err != nil {
		return nil, fmt.Errorf("cluster %s: build client: %w", name, err)
	}
	return &Client{
		name:       name,
		httpClient: httpClient,
		client:     c,
		mapper:     mapper,
		poller:     polling.NewStatusPoller(c, mapper, polling.Options{}),
		discovery:  disc,
	}, nil
}

// Name is the cluster's name.
func (c *Client) Name() string { return c.name }

// Client is the controller-runtime client for the cluster. It reads from
// the API server directly (no informer cache).
func (c *Client) Client() client.Client { return c.client }

// RESTMapper is the cluster's lazy, self-refreshing REST mapper; its
// mapping is shared with the other clusters whose discovery is identical.
func (c *Client) RESTMapper() meta.RESTMapper { return c.mapper }

// Poller is a kstatus poller for the cluster, as github.com/fluxcd/pkg/ssa
// needs for its wait functions.
func (c *Client) Poller() *polling.StatusPoller { return c.poller }

// Discovery is the cluster's discovery client.
func (c *Client) Discovery() discovery.DiscoveryInterface { return c.discovery }

// ServerVersion asks the cluster for its version, honouring ctx.
func (c *Client) ServerVersion(ctx context.Context) (*version.Info, error) {
	body, err := c.discovery.RESTClient().Get().AbsPath("/version").Do(ctx).Raw()
	if err != nil {
		return nil, &ClusterError{Cluster: c.name, Op: "get server version", Err: err}
	}
	var info version.Info
	if err := json.Unmarshal(body, &info); err != nil {
		return nil, &ClusterError{Cluster: c.name, Op: "decode server version", Err: err}
	}
	return &info, nil
}

// close releases idle connections; the Client must not be used afterwards
// for new work (in-flight calls finish normally).
func (c *Client) close() {
	c.httpClient.CloseIdleConnections()
}
