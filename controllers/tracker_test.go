package controllers

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

func TestReachabilityBacksOffExponentiallyAndRecovers(t *testing.T) {
	now := time.Unix(1000, 0)
	r := newReachability(time.Second, 8*time.Second)
	r.now = func() time.Time { return now }

	if _, _, blocked := r.blocked("ns/a"); blocked {
		t.Fatal("a cluster never seen must not be blocked")
	}
	var waits []time.Duration
	for range 5 {
		waits = append(waits, r.failed("ns/a", errors.New("connection refused")))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("backoff %d = %v, want %v (all: %v)", i, waits[i], want[i], waits)
		}
	}
	wait, msg, blocked := r.blocked("ns/a")
	if !blocked || wait != 8*time.Second || msg != "connection refused" {
		t.Fatalf("blocked = %v %v %q", blocked, wait, msg)
	}
	if _, _, blocked := r.blocked("ns/b"); blocked {
		t.Fatal("another cluster must not be blocked by a's failures")
	}
	now = now.Add(9 * time.Second)
	if _, _, blocked := r.blocked("ns/a"); blocked {
		t.Fatal("a must be retried once its backoff has passed")
	}
	if !r.succeeded("ns/a") {
		t.Fatal("succeeded must report the recovery")
	}
	if r.succeeded("ns/a") {
		t.Fatal("a second success is no recovery")
	}
}

func TestLimiterBoundsConcurrencyPerCluster(t *testing.T) {
	l := newLimiter(2)
	r1, ok1 := l.acquire("a")
	_, ok2 := l.acquire("a")
	_, ok3 := l.acquire("a")
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("acquire a: %v %v %v, want true true false", ok1, ok2, ok3)
	}
	if _, ok := l.acquire("b"); !ok {
		t.Fatal("cluster b must not share a's slots")
	}
	r1()
	if _, ok := l.acquire("a"); !ok {
		t.Fatal("a released slot must be reusable")
	}
}

func TestDebounceRunsAtMostOncePerWindowAndNeverDropsTheLastRun(t *testing.T) {
	now := time.Unix(100, 0)
	d := newDebounce(time.Second)
	d.now = func() time.Time { return now }
	key := types.NamespacedName{Namespace: "fleet", Name: "web"}
	if w := d.wait(key); w != 0 {
		t.Fatalf("first run must go at once, got wait %v", w)
	}
	now = now.Add(300 * time.Millisecond)
	if w := d.wait(key); w != 700*time.Millisecond {
		t.Fatalf("a run inside the window must wait for its end, got %v", w)
	}
	if w := d.wait(types.NamespacedName{Namespace: "fleet", Name: "db"}); w != 0 {
		t.Fatalf("another object must not wait, got %v", w)
	}
	now = now.Add(700 * time.Millisecond)
	if w := d.wait(key); w != 0 {
		t.Fatalf("the run at the window's end must go, got %v", w)
	}
}

// TestLimiterBoundsCallsAndHoldsNothingWhenIdle runs 200 clusters through
// the limiter, one after the other: each gets at most size slots at once, a
// slot released twice frees one slot only, and once a cluster's calls are
// done the limiter holds no entry for it.
func TestLimiterBoundsCallsAndHoldsNothingWhenIdle(t *testing.T) {
	l := newLimiter(2)
	for i := range 200 {
		key := fmt.Sprintf("fleet/site-%d", i)
		r1, ok1 := l.acquire(key)
		r2, ok2 := l.acquire(key)
		if !ok1 || !ok2 {
			t.Fatalf("cycle %d: two slots must be free, got %v %v", i, ok1, ok2)
		}
		if _, ok := l.acquire(key); ok {
			t.Fatalf("cycle %d: a third call must wait", i)
		}
		if n := l.busy(); n != 1 {
			t.Fatalf("cycle %d: %d busy clusters, want 1", i, n)
		}
		r1()
		r1() // a second release of the same slot frees nothing more
		r3, ok := l.acquire(key)
		if !ok {
			t.Fatalf("cycle %d: a released slot must be free again", i)
		}
		if _, ok := l.acquire(key); ok {
			t.Fatalf("cycle %d: a double release must not free a second slot", i)
		}
		r2()
		r3()
	}
	if n := l.busy(); n != 0 {
		t.Fatalf("the limiter holds %d clusters after every call ended, want 0", n)
	}
}
