package controllers

import (
	"testing"
	"time"
)

// Jitter never wakes a check early, adds at most jitterFactor of the wait,
// and actually spreads requeues planned for the same instant.
func TestJitteredIsBoundedAndSpreads(t *testing.T) {
	const d = 10 * time.Minute
	limit := d + time.Duration(jitterFactor*float64(d))
	seen := map[time.Duration]bool{}
	lo, hi := limit, d
	for range 1000 {
		got := jittered(d)
		if got < d || got > limit {
			t.Fatalf("jittered(%v) = %v, want within [%v, %v]", d, got, d, limit)
		}
		seen[got] = true
		lo, hi = min(lo, got), max(hi, got)
	}
	if len(seen) < 100 {
		t.Errorf("1000 jittered waits took only %d distinct values; want them spread", len(seen))
	}
	if spread := hi - lo; spread < d/20 {
		t.Errorf("1000 jittered waits of %v spread over only %v; want most of %v", d, spread, limit-d)
	}
	for _, d := range []time.Duration{0, -time.Second} {
		if got := jittered(d); got != d {
			t.Errorf("jittered(%v) = %v, want it unchanged", d, got)
		}
	}
}
