package webhook

import (
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/util/cache"
)

// Defaults of the per-source rate limit.
const (
	// DefaultRatePerSecond is the sustained number of requests a source
	// address may send per second.
	DefaultRatePerSecond = 10
	// DefaultRateBurst is how many requests a source may send at once.
	DefaultRateBurst = 50
	// maxTrackedSources bounds the number of source addresses with a
	// bucket; the least recently seen are forgotten first.
	maxTrackedSources = 10000
	// sourceIdle is how long an idle source's bucket is kept.
	sourceIdle = 10 * time.Minute
)

// sourceLimiter keeps one token bucket per source address in a bounded map.
type sourceLimiter struct {
	limit   rate.Limit
	burst   int
	mu      sync.Mutex
	buckets *cache.LRUExpireCache
}

func newSourceLimiter(perSecond float64, burst int) *sourceLimiter {
	return &sourceLimiter{limit: rate.Limit(perSecond), burst: burst, buckets: cache.NewLRUExpireCache(maxTrackedSources)}
}

// allow takes one token from the bucket of the request's source address.
func (l *sourceLimiter) allow(r *http.Request, now time.Time) bool {
	src := sourceOf(r)
	l.mu.Lock()
	defer l.mu.Unlock()
	var b *rate.Limiter
	if v, ok := l.buckets.Get(src); ok {
		b = v.(*rate.Limiter)
	} else {
		b = rate.NewLimiter(l.limit, l.burst)
	}
	// Re-adding refreshes the idle expiry.
	l.buckets.Add(src, b, sourceIdle)
	return b.AllowN(now, 1)
}

// sourceOf is the IP address of the peer (the port is ignored, so one host
// gets one bucket); an IPv6 peer is keyed by its /64, which one host usually
// holds whole. Forwarding headers are not trusted: anyone can set them.
func sourceOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.To4() != nil {
		return host
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
