package controllers

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// debounce lets a summary (an App's or a Cluster's status aggregated from
// ClusterSyncs) be recomputed at most once per window per object. A commit
// touches every ClusterSync of a fleet in a burst; without it each of them
// would recompute and rewrite the summaries they feed, which at 1,000
// clusters means O(N²) work for the App. Callers requeue after the
// returned wait, so the last state is always written.
type debounce struct {
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	last map[types.NamespacedName]time.Time
}

func newDebounce(window time.Duration) *debounce {
	return &debounce{window: window, now: time.Now, last: map[types.NamespacedName]time.Time{}}
}

// wait returns 0 and records a run when key may run now, or how long to
// wait otherwise.
func (d *debounce) wait(key types.NamespacedName) time.Duration {
	if d == nil || d.window <= 0 {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	if last, ok := d.last[key]; ok {
		if w := last.Add(d.window).Sub(now); w > 0 {
			return w
		}
	}
	d.last[key] = now
	return 0
}

// forget drops a deleted object.
func (d *debounce) forget(key types.NamespacedName) {
	if d == nil {
		return
	}
	d.mu.Lock()
	delete(d.last, key)
	d.mu.Unlock()
}
