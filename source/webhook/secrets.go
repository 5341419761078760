package webhook

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/cache"
)

// Defaults of the secret cache.
const (
	// DefaultSecretTTL is how long a looked-up token (or the absence of one)
	// is reused before it is read again.
	DefaultSecretTTL = time.Minute
	// DefaultSecretRefreshAfter is how old a cached token must be before a
	// request that fails verification makes the Handler read it again, so a
	// rotated token takes effect at once while a flood of bad signatures
	// costs at most one read per repository per interval.
	DefaultSecretRefreshAfter = 10 * time.Second
	// maxCachedRepositories bounds the secret cache (least recently used
	// entries are dropped first).
	maxCachedRepositories = 4096
)

// cachedSecret is one repository's token as last read; token is nil when the
// repository is unknown or has no webhook secret.
type cachedSecret struct {
	token   []byte
	fetched time.Time
}

// secretCache reads each repository's token through a SecretLookup at most
// once per TTL, and again on a verification failure once the entry is older
// than refreshAfter. Unknown repositories are cached too, so probing names
// costs the API server nothing beyond one read per name and TTL.
type secretCache struct {
	lookup       SecretLookup
	ttl          time.Duration
	refreshAfter time.Duration
	now          func() time.Time
	entries      *cache.LRUExpireCache

	// decoy is verified against when a repository has no token, so unknown
	// and known repositories take the same path and the same answer.
	decoy []byte
	// mu serialises reads of one key so concurrent requests share one
	// lookup instead of each reading the Secret.
	mu sync.Mutex
}

func newSecretCache(lookup SecretLookup, ttl, refreshAfter time.Duration, now func() time.Time) *secretCache {
	decoy := make([]byte, 32)
	_, _ = rand.Read(decoy)
	return &secretCache{
		lookup: lookup, ttl: ttl, refreshAfter: refreshAfter, now: now,
		entries: cache.NewLRUExpireCache(maxCachedRepositories), decoy: decoy,
	}
}

// get returns the repository's token (nil when it has none) and whether it
// came from the cache. With refresh, a cached entry older than refreshAfter
// is read again.
func (c *secretCache) get(ctx context.Context, namespace, repository string, refresh bool) (token []byte, cached bool, err error) {
	key := namespace + "/" + repository
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.entries.Get(key); ok {
		e := v.(cachedSecret)
		if !refresh || c.now().Sub(e.fetched) < c.refreshAfter {
			return e.token, true, nil
		}
	}
	token, err = c.lookup.LookupSecret(ctx, namespace, repository)
	switch {
	case errors.Is(err, ErrNotFound):
		token = nil
	case err != nil:
		return nil, false, err
	}
	if len(token) == 0 {
		token = nil
	}
	c.entries.Add(key, cachedSecret{token: token, fetched: c.now()}, c.ttl)
	return token, false, nil
}

// verifyKey returns the key to verify a request with: the token, or the decoy
// when the repository has none (which no request can match).
func (c *secretCache) verifyKey(token []byte) []byte {
	if token == nil {
		return c.decoy
	}
	return token
}
