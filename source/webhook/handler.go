package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

const (
	// PathPrefix is where the Handler expects to be mounted.
	PathPrefix = "/hooks/"
	// DefaultMaxBodyBytes caps the request body (1 MiB).
	DefaultMaxBodyBytes int64 = 1 << 20
)

// ErrNotFound is returned (wrapped) by a SecretLookup when the repository
// does not exist or has no webhook secret. The Handler answers such requests
// exactly like a wrong signature (401), so repository names cannot be probed.
var ErrNotFound = errors.New("no webhook configured for this repository")

// SecretLookup finds the webhook token of a repository. It returns an error
// wrapping ErrNotFound when the repository is unknown or has no webhook
// secret; any other error is answered with 503. The Handler caches what it
// returns (see Handler.SecretTTL).
type SecretLookup interface {
	LookupSecret(ctx context.Context, namespace, repository string) ([]byte, error)
}

// SecretLookupFunc adapts a function to SecretLookup.
type SecretLookupFunc func(ctx context.Context, namespace, repository string) ([]byte, error)

// LookupSecret calls f.
func (f SecretLookupFunc) LookupSecret(ctx context.Context, namespace, repository string) ([]byte, error) {
	return f(ctx, namespace, repository)
}

// Handler serves POST /hooks/<namespace>/<repository>; see the package
// documentation for the protocol. Its settings must not change once it has
// served a request.
type Handler struct {
	// Secrets finds each repository's token. Required.
	Secrets SecretLookup
	// Trigger is called once per verified push, synchronously, with the
	// request's context: it should only enqueue work (for example set a
	// reconcile request). An error is answered with 503, so the sender
	// retries. Required.
	Trigger func(ctx context.Context, namespace, repository string) error
	// SkipRef, when set, is asked about the ref of a verified GitHub or
	// GitLab push; true answers 200 without triggering. The controller
	// uses it to ignore pushes to the status branch.
	SkipRef func(ctx context.Context, namespace, repository, ref string) bool
	// MaxBodyBytes caps the body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// SecretTTL is how long a token read through Secrets is reused; 0 means
	// DefaultSecretTTL.
	SecretTTL time.Duration
	// SecretRefreshAfter is the age after which a cached token is read
	// again when a request fails verification; 0 means
	// DefaultSecretRefreshAfter.
	SecretRefreshAfter time.Duration
	// RatePerSecond and RateBurst set the token bucket of each source
	// address; 0 means DefaultRatePerSecond and DefaultRateBurst, a negative
	// RatePerSecond disables the limit.
	RatePerSecond float64
	RateBurst     int
	// ReplayWindow is how long delivery ids and signatures are remembered
	// and how far X-Flotilla-Timestamp may be off; 0 means
	// DefaultReplayWindow.
	ReplayWindow time.Duration
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time

	init    sync.Once
	now     func() time.Time
	window  time.Duration
	secrets *secretCache
	limiter *sourceLimiter
	replays *replayGuard
}

// NewHandler returns a Handler with the default limits.
func NewHandler(secrets SecretLookup, trigger func(ctx context.Context, namespace, repository string) error) *Handler {
	return &Handler{Secrets: secrets, Trigger: trigger}
}

func (h *Handler) setup() {
	h.init.Do(func() {
		now := h.Now
		if now == nil {
			now = time.Now
		}
		h.now = now
		ttl := orDefault(h.SecretTTL, DefaultSecretTTL)
		h.secrets = newSecretCache(h.Secrets, ttl, orDefault(h.SecretRefreshAfter, DefaultSecretRefreshAfter), now)
		if h.RatePerSecond >= 0 {
			perSecond, burst := h.RatePerSecond, h.RateBurst
			if perSecond == 0 {
				perSecond = DefaultRatePerSecond
			}
			if burst <= 0 {
				burst = DefaultRateBurst
			}
			h.limiter = newSourceLimiter(perSecond, burst)
		}
		h.window = orDefault(h.ReplayWindow, DefaultReplayWindow)
		h.replays = newReplayGuard(h.window)
	})
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if h.Secrets == nil || h.Trigger == nil {
		reply(w, http.StatusInternalServerError, "webhook receiver is not configured")
		return
	}
	h.setup()
	if h.limiter != nil && !h.limiter.allow(r, h.now()) {
		w.Header().Set("Retry-After", "1")
		reply(w, http.StatusTooManyRequests, "too many requests from this address")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reply(w, http.StatusMethodNotAllowed, "method not allowed: use POST")
		return
	}
	namespace, repository, ok := parsePath(r.URL.Path)
	if !ok {
		reply(w, http.StatusNotFound, "not found")
		return
	}
	log := ctrllog.FromContext(ctx).WithName("webhook").WithValues("namespace", namespace, "repository", repository)

	// The body is read before the repository is looked up, so a known and
	// an unknown repository take the same steps.
	limit := h.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			reply(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", limit))
			return
		}
		reply(w, http.StatusBadRequest, "cannot read body")
		return
	}

	p := detect(r.Header)
	verified, err := h.verified(ctx, namespace, repository, p, r.Header, body)
	if err != nil {
		log.Error(err, "look up webhook secret")
		reply(w, http.StatusServiceUnavailable, "temporarily unavailable")
		return
	}
	if !verified {
		// The same answer whether the repository is unknown, has no webhook
		// secret, or the proof is wrong.
		log.Info("webhook rejected: missing or invalid signature, or no webhook configured", "provider", string(p))
		reply(w, http.StatusUnauthorized, "missing or invalid signature")
		return
	}
	log = log.WithValues("provider", string(p))
	if p == providerGeneric && !checkTimestamp(r.Header, h.now(), h.window) {
		log.Info("webhook rejected: timestamp outside the replay window", "window", h.window.String())
		reply(w, http.StatusUnauthorized, "timestamp outside the accepted window")
		return
	}

	ev, handled, status, msg := h.event(p, r, body)
	if !handled {
		log.V(1).Info("webhook ignored", "reason", msg)
		reply(w, status, msg)
		return
	}
	if ev.Ref != "" && h.SkipRef != nil && h.SkipRef(ctx, namespace, repository, ev.Ref) {
		log.V(1).Info("webhook ignored", "ref", ev.Ref)
		reply(w, http.StatusOK, "ignored: ref "+ev.Ref+" is not synced")
		return
	}
	keys := deliveryKeys(p, r.Header, namespace+"/"+repository)
	if !h.replays.reserve(keys) {
		log.Info("webhook rejected: delivery already received")
		reply(w, http.StatusConflict, "delivery already received")
		return
	}
	if err := h.Trigger(ctx, namespace, repository); err != nil {
		// Forget the delivery so the sender's retry is accepted.
		h.replays.release(keys)
		log.Error(err, "webhook could not trigger a fetch")
		reply(w, http.StatusServiceUnavailable, "could not trigger a fetch; retry later")
		return
	}
	log.Info("webhook triggered a fetch", "ref", ev.Ref, "revision", ev.Revision)
	reply(w, http.StatusAccepted, "fetch triggered")
}

// verified checks the request's proof against the repository's cached token,
// reading the token again once when the proof fails and the cached entry is
// old enough (the token may have been rotated). A repository without a token
// is verified against a random decoy, which nothing matches.
func (h *Handler) verified(ctx context.Context, namespace, repository string, p provider, header http.Header, body []byte) (bool, error) {
	token, cached, err := h.secrets.get(ctx, namespace, repository, false)
	if err != nil {
		return false, err
	}
	if verify(p, header, body, h.secrets.verifyKey(token)) && token != nil {
		return true, nil
	}
	if !cached || p == providerNone {
		return false, nil
	}
	token, stillCached, err := h.secrets.get(ctx, namespace, repository, true)
	if err != nil || stillCached {
		return false, err
	}
	return token != nil && verify(p, header, body, token), nil
}

// event interprets a verified request. handled=false means answer status and
// msg without triggering.
func (h *Handler) event(p provider, r *http.Request, body []byte) (ev PushEvent, handled bool, status int, msg string) {
	switch p {
	case providerGitHub:
		switch kind := r.Header.Get(HeaderGitHubEvent); kind {
		case "ping":
			return ev, false, http.StatusOK, "pong"
		case "push":
			ev, err := ParseGitHubPush(body, r.Header.Get("Content-Type"))
			if err != nil {
				return ev, false, http.StatusBadRequest, err.Error()
			}
			return ev, true, 0, ""
		case "":
			return ev, false, http.StatusBadRequest, "missing header " + HeaderGitHubEvent
		default:
			return ev, false, http.StatusOK, "ignored: event " + safe(kind)
		}
	case providerGitLab:
		switch kind := r.Header.Get(HeaderGitLabEvent); kind {
		case "Push Hook", "Tag Push Hook":
			ev, err := ParseGitLabPush(body)
			if err != nil {
				return ev, false, http.StatusBadRequest, err.Error()
			}
			return ev, true, 0, ""
		case "":
			return ev, false, http.StatusBadRequest, "missing header " + HeaderGitLabEvent
		default:
			return ev, false, http.StatusOK, "ignored: event " + safe(kind)
		}
	default: // generic: any verified call triggers
		return ev, true, 0, ""
	}
}

// parsePath extracts and validates <namespace>/<repository>.
func parsePath(path string) (namespace, repository string, ok bool) {
	rest, found := strings.CutPrefix(path, PathPrefix)
	if !found {
		return "", "", false
	}
	namespace, repository, found = strings.Cut(rest, "/")
	if !found || strings.Contains(repository, "/") {
		return "", "", false
	}
	if len(validation.IsDNS1123Label(namespace)) > 0 || len(validation.IsDNS1123Subdomain(repository)) > 0 {
		return "", "", false
	}
	return namespace, repository, true
}

// safe shortens and strips a header value echoed back in a reply.
func safe(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

func reply(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n") //nolint:gosec // served as text/plain with nosniff, so a browser never renders it as HTML
}
