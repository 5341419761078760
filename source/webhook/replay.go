package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/cache"
)

// Request headers used against replays.
const (
	// HeaderGitHubDelivery is GitHub's unique id of a delivery.
	HeaderGitHubDelivery = "X-GitHub-Delivery"
	// HeaderGiteaDelivery is Gitea's (and Forgejo's) unique id of a delivery.
	HeaderGiteaDelivery = "X-Gitea-Delivery"
	// HeaderGogsDelivery is Gogs' unique id of a delivery.
	HeaderGogsDelivery = "X-Gogs-Delivery"
	// HeaderGitLabEventUUID is GitLab's unique id of a delivery.
	HeaderGitLabEventUUID = "X-Gitlab-Event-UUID"
	// HeaderTimestamp holds the Unix time (seconds) a generic caller signed
	// the request at; when present the signature covers
	// "<timestamp>.<body>" and the request must arrive within ReplayWindow.
	HeaderTimestamp = "X-Flotilla-Timestamp"
)

const (
	// DefaultReplayWindow is how long delivery ids and signatures are
	// remembered, and how far a generic caller's timestamp may be from the
	// receiver's clock.
	DefaultReplayWindow = 10 * time.Minute
	// maxRememberedDeliveries bounds the memory of seen deliveries (least
	// recently used first out).
	maxRememberedDeliveries = 10000
)

// deliveryIDHeaders are the headers carrying a provider's delivery id, in the
// order they are looked at.
var deliveryIDHeaders = []string{HeaderGitHubDelivery, HeaderGiteaDelivery, HeaderGogsDelivery, HeaderGitLabEventUUID}

// replayGuard remembers the deliveries that triggered a fetch.
type replayGuard struct {
	window time.Duration
	mu     sync.Mutex
	seen   *cache.LRUExpireCache
}

func newReplayGuard(window time.Duration) *replayGuard {
	return &replayGuard{window: window, seen: cache.NewLRUExpireCache(maxRememberedDeliveries)}
}

// deliveryKeys names what identifies a verified request for replay purposes:
// the provider's delivery id when sent, and the signature itself for signed
// bodies that are unique per delivery (GitHub-style pushes carry a delivery
// id that is not covered by the signature, so the signature is remembered
// too; generic calls only when timestamped). A request with no key cannot be
// told apart from a legitimate repeat and is not guarded.
func deliveryKeys(p provider, h http.Header, repoKey string) []string {
	var keys []string
	for _, name := range deliveryIDHeaders {
		if id := h.Get(name); id != "" {
			keys = append(keys, digest(repoKey, "id", name, id))
			break
		}
	}
	switch {
	case p == providerGitHub && len(keys) > 0:
		keys = append(keys, digest(repoKey, "sig", h.Get(HeaderGitHubSignature)))
	case p == providerGeneric && h.Get(HeaderTimestamp) != "":
		keys = append(keys, digest(repoKey, "sig", h.Get(HeaderSignature)))
	}
	return keys
}

func digest(parts ...string) string {
	s := sha256.New()
	for _, p := range parts {
		s.Write([]byte(strconv.Itoa(len(p))))
		s.Write([]byte{':'})
		s.Write([]byte(p))
	}
	return hex.EncodeToString(s.Sum(nil))
}

// reserve records keys and reports true, or reports false without recording
// anything when any of them was seen within the window.
func (g *replayGuard) reserve(keys []string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, k := range keys {
		if _, ok := g.seen.Get(k); ok {
			return false
		}
	}
	for _, k := range keys {
		g.seen.Add(k, struct{}{}, g.window)
	}
	return true
}

// release forgets keys, so a delivery whose trigger failed can be retried.
func (g *replayGuard) release(keys []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, k := range keys {
		g.seen.Remove(k)
	}
}

// checkTimestamp reports whether a generic caller's timestamp (when sent) is
// a Unix time within window of now.
func checkTimestamp(h http.Header, now time.Time, window time.Duration) bool {
	v := h.Get(HeaderTimestamp)
	if v == "" {
		return true
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return false
	}
	d := now.Sub(time.Unix(sec, 0))
	return d <= window && d >= -window
}
