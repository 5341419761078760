package controllers

import (
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// jitterFactor bounds the random extra added to a planned requeue, as a
// fraction of the wait: a commit that wakes every sync at once, or syncs
// applied together, then spread their drift checks, health re-checks and
// fetches over the next tenth of the interval instead of hitting the
// member clusters and Git servers at the same instant.
const jitterFactor = 0.1

// jittered returns d plus a random extra of up to jitterFactor·d. It never
// returns less than d, so a check is never woken before it is due; zero
// and negative waits are returned unchanged.
func jittered(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return wait.Jitter(d, jitterFactor)
}
