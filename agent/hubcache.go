package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// errBundlesNotSynced says the agent has not read its Bundles from the hub
// since it started (the hub is unreachable, or the first list is on its
// way): the agent goes on from its persisted state.
var errBundlesNotSynced = errors.New("the agent's Bundles have not been read from the hub yet")

// startBundleCache starts the agent's view of the Bundles of its agent
// namespace: an informer that lists them once and then follows one watch,
// resumed where it left off when it ends (client-go's reflector restarts
// it every 5 to 10 minutes, and reconnects with backoff while the hub is
// away). Every change wakes the sync loop; a pass reads the view and sends
// nothing to the hub, so an idle agent costs the hub its heartbeat alone.
func (a *Agent) startBundleCache(ctx context.Context, cfg *rest.Config) error {
	// The mapping of the one kind the cache holds is known: no discovery,
	// so an agent that starts while the hub is away still starts (from
	// its persisted state) and its cache catches up when the hub is back.
	mapper := apimeta.NewDefaultRESTMapper([]schema.GroupVersion{flotillav1.GroupVersion})
	for _, kind := range []string{"Bundle", "BundleList"} {
		mapper.Add(flotillav1.GroupVersion.WithKind(kind), apimeta.RESTScopeNamespace)
	}
	c, err := cache.New(cfg, cache.Options{
		Scheme:            a.scheme,
		Mapper:            mapper,
		DefaultNamespaces: map[string]cache.Config{a.ns: {}},
	})
	if err != nil {
		return fmt.Errorf("build the cache of the Bundles of %s on the hub %s: %w", a.ns, cfg.Host, err)
	}
	inf, err := c.GetInformer(ctx, &flotillav1.Bundle{}, cache.BlockUntilSynced(false))
	if err != nil {
		return fmt.Errorf("watch the Bundles of %s on the hub: %w", a.ns, err)
	}
	poke := func(any) { a.poke() }
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    poke,
		UpdateFunc: func(_, obj any) { a.poke() },
		DeleteFunc: poke,
	}); err != nil {
		return fmt.Errorf("watch the Bundles of %s on the hub: %w", a.ns, err)
	}
	a.bundles, a.bundlesSynced = c, inf.HasSynced
	go func() {
		// Start blocks until ctx ends; it fails only if started twice.
		if err := c.Start(ctx); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "the cache of the Bundles stopped", "namespace", a.ns)
		}
	}()
	return nil
}

// waitBundles waits, at most timeout, until the Bundle cache has read the
// hub once; a hub that does not answer leaves the agent on its persisted
// state, and the cache catches up when the hub is back.
func (a *Agent) waitBundles(ctx context.Context, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	toolscache.WaitForCacheSync(ctx.Done(), a.bundlesSynced)
}

// listBundles reads the Bundles of the agent namespace from the cache.
func (a *Agent) listBundles(ctx context.Context) ([]flotillav1.Bundle, error) {
	if !a.bundlesSynced() {
		return nil, errBundlesNotSynced
	}
	list := &flotillav1.BundleList{}
	if err := a.bundles.List(ctx, list, client.InNamespace(a.ns)); err != nil {
		return nil, fmt.Errorf("list the Bundles of %s from the cache: %w", a.ns, err)
	}
	return list.Items, nil
}
