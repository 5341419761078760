package clusterclient

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
)

func TestCacheReusesClientUntilKubeconfigChanges(t *testing.T) {
	ctx := testCtx(t)
	cache := NewCache(Options{})

	first, err := cache.Get("edge-1", testSource, memberKubeconfig)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	var nodes corev1.NodeList
	if err := first.Client().List(ctx, &nodes); err != nil {
		t.Fatalf("the cached client cannot reach the apiserver: %v", err)
	}
	again, err := cache.Get("edge-1", testSource, bytes.Clone(memberKubeconfig))
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Errorf("Get with the same kubeconfig bytes built a new client")
	}

	// A rotated kubeconfig (here: a comment added) builds a new client.
	rotated := append([]byte("# rotated\n"), memberKubeconfig...)
	third, err := cache.Get("edge-1", testSource, rotated)
	if err != nil {
		t.Fatal(err)
	}
	if third == first {
		t.Errorf("Get with changed kubeconfig bytes returned the old client")
	}
	if third.Name() != "edge-1" {
		t.Errorf("Name = %q", third.Name())
	}

	// A refused kubeconfig evicts the cluster's client.
	_, err = cache.Get("edge-1", testSource, kubeconfigWithUser("    exec: {apiVersion: client.authentication.k8s.io/v1, command: evil}\n"))
	var rerr *KubeconfigRefusedError
	if !errors.As(err, &rerr) {
		t.Fatalf("err = %v, want *KubeconfigRefusedError", err)
	}
	if got := cache.Clusters(); len(got) != 0 {
		t.Errorf("Clusters after a refused kubeconfig = %v, want none", got)
	}
}

func TestCacheIsSafeForConcurrentUse(t *testing.T) {
	requireMember(t)
	cache := NewCache(Options{})
	const workers = 16
	clients := make([]*Client, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := "edge-a"
			if i%2 == 1 {
				name = "edge-b"
			}
			c, err := cache.Get(name, testSource, memberKubeconfig)
			if err != nil {
				t.Errorf("Get: %v", err)
				return
			}
			clients[i] = c
		}()
	}
	wg.Wait()
	for i := 2; i < workers; i++ {
		if clients[i] != clients[i%2] {
			t.Errorf("worker %d got a different client for the same cluster and kubeconfig", i)
		}
	}
	if clients[0] == clients[1] {
		t.Errorf("two clusters share one client")
	}
	cache.Forget("edge-a")
	if got := cache.Clusters(); len(got) != 1 || got[0] != "edge-b" {
		t.Errorf("Clusters after Forget = %v, want [edge-b]", got)
	}
}

// The REST mapper is lazy: a client built before a CRD exists can use the
// CRD's kind once it is installed.
func TestClientSeesCRDsInstalledAfterItWasBuilt(t *testing.T) {
	ctx := testCtx(t)
	c, err := New("edge-crd", memberCfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Use the client once, so the mapper has discovered the cluster.
	var nsList corev1.NamespaceList
	if err := c.Client().List(ctx, &nsList); err != nil {
		t.Fatal(err)
	}

	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": "models.later.example.com"},
		"spec": map[string]any{
			"group": "later.example.com",
			"scope": "Namespaced",
			"names": map[string]any{"kind": "Model", "plural": "models", "singular": "model"},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type": "object", "x-kubernetes-preserve-unknown-fields": true,
				}},
			}},
		},
	}}
	if err := c.Client().Create(ctx, crd); err != nil {
		t.Fatalf("create CRD: %v", err)
	}
	model := &unstructured.Unstructured{}
	model.SetAPIVersion("later.example.com/v1")
	model.SetKind("Model")
	model.SetNamespace("default")
	model.SetName("adc-v7")
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		return c.Client().Create(ctx, model) == nil, nil
	}); err != nil {
		t.Fatalf("the client never learned the CRD's kind: %v", err)
	}
}
