package controllers

import (
	"sync"
	"time"
)

// reachability tracks, per cluster, whether the hub can reach it and when to
// try again. A cluster that fails is retried with exponential backoff, and
// syncs for it are parked until then, so a dead cluster never holds a worker
// while live clusters wait.
type reachability struct {
	mu      sync.Mutex
	base    time.Duration
	max     time.Duration
	now     func() time.Time
	members map[string]*memberState
}

type memberState struct {
	failures  int
	lastErr   string
	nextRetry time.Time
}

func newReachability(base, max time.Duration) *reachability {
	return &reachability{base: base, max: max, now: time.Now, members: map[string]*memberState{}}
}

// memberKey identifies a member cluster on the hub: the namespace of its
// Cluster object (its FleetRepository's namespace) and the cluster's name.
func memberKey(repoNamespace, cluster string) string { return repoNamespace + "/" + cluster }

// blocked reports whether calls to the cluster should wait, and how long.
func (r *reachability) blocked(key string) (time.Duration, string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.members[key]
	if m == nil || m.failures == 0 {
		return 0, "", false
	}
	wait := m.nextRetry.Sub(r.now())
	if wait <= 0 {
		return 0, m.lastErr, false
	}
	return wait, m.lastErr, true
}

// failed records a failed call and returns the backoff before the next try.
func (r *reachability) failed(key string, err error) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.members[key]
	if m == nil {
		m = &memberState{}
		r.members[key] = m
	}
	m.failures++
	m.lastErr = err.Error()
	backoff := r.base
	for i := 1; i < m.failures && backoff < r.max; i++ {
		backoff *= 2
	}
	if backoff > r.max {
		backoff = r.max
	}
	m.nextRetry = r.now().Add(backoff)
	return backoff
}

// succeeded records a successful call and reports whether the cluster was
// unreachable before (so the caller can wake its parked syncs).
func (r *reachability) succeeded(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.members[key]
	if m == nil {
		return false
	}
	delete(r.members, key)
	return m.failures > 0
}

// forget drops the record of a cluster that left the hub.
func (r *reachability) forget(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.members, key)
}

// limiter bounds concurrent calls to each cluster. It holds an entry only
// for a cluster with a call in flight, so clusters that leave the fleet
// leave nothing behind.
type limiter struct {
	mu    sync.Mutex
	size  int
	inUse map[string]int
}

func newLimiter(size int) *limiter {
	if size < 1 {
		size = 1
	}
	return &limiter{size: size, inUse: map[string]int{}}
}

// acquire takes a slot for key, or returns false without waiting when every
// slot is busy (the caller requeues instead of holding a worker). release
// must be called exactly once.
func (l *limiter) acquire(key string) (release func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inUse[key] >= l.size {
		return nil, false
	}
	l.inUse[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.inUse[key]--; l.inUse[key] <= 0 {
				delete(l.inUse, key)
			}
		})
	}, true
}

// busy is the number of clusters with a call in flight.
func (l *limiter) busy() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.inUse)
}
