package controllers

import (
	"context"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// syncNotifier wakes ClusterSyncs whose desired state changed in memory.
// The desired manifests are not written to the ClusterSync objects, so no
// watch event announces a new revision: the repository reconciler calls
// notify, which adds the syncs straight to the ClusterSync controller's
// work queue (deduplicated, never blocking). Requests made before that
// controller starts are kept and handed over when it does.
type syncNotifier struct {
	mu      sync.Mutex
	queue   workqueue.TypedRateLimitingInterface[reconcile.Request]
	pending map[types.NamespacedName]bool
}

func newSyncNotifier() *syncNotifier {
	return &syncNotifier{pending: map[types.NamespacedName]bool{}}
}

// notify asks for a reconcile of each named ClusterSync.
func (n *syncNotifier) notify(names ...types.NamespacedName) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, name := range names {
		if n.queue != nil {
			n.queue.Add(reconcile.Request{NamespacedName: name})
		} else {
			n.pending[name] = true
		}
	}
}

// source is the controller-runtime source the ClusterSync controller
// watches; starting it connects the notifier to the controller's queue.
func (n *syncNotifier) source() source.Source {
	return source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		n.mu.Lock()
		defer n.mu.Unlock()
		n.queue = q
		for name := range n.pending {
			q.Add(reconcile.Request{NamespacedName: name})
		}
		clear(n.pending)
		return nil
	})
}
