package controllers

import (
	"testing"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// identityClient is an apply.ClusterClient that only has an identity: the
// namespace memory compares clients and never calls them.
type identityClient struct{ name string }

func (c *identityClient) Name() string                  { return c.name }
func (c *identityClient) Client() client.Client         { return nil }
func (c *identityClient) RESTMapper() meta.RESTMapper   { return nil }
func (c *identityClient) Poller() *polling.StatusPoller { return nil }

// The namespace memory belongs to one cluster client: the same client gets
// the same memory, a new client for the same cluster (a changed kubeconfig)
// starts empty.
func TestNamespaceMemoryIsPerClusterClient(t *testing.T) {
	first, second := &identityClient{name: "member"}, &identityClient{name: "member"}
	var n namespaceMemories
	mem := n.of("fleet/member", first)
	if mem == nil || n.of("fleet/member", first) != mem {
		t.Fatal("the same client must keep its namespace memory")
	}
	if other := n.of("fleet/member", second); other == mem || other == nil {
		t.Fatal("a new client for the cluster must start with a new namespace memory")
	}
	if n.of("fleet/other", first) == n.of("fleet/member", second) {
		t.Fatal("two clusters share a namespace memory")
	}
}
