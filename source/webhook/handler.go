package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

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
// does not exist or has no webhook secret; the Handler answers 404.
var ErrNotFound = errors.New("no webhook configured for this repository")

// SecretLookup finds the webhook token of a repository. It returns an error
// wrapping ErrNotFound when the repository is unknown or has no webhook
// secret; any other error is answered with 503.
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
// documentation for the protocol.
type Handler struct {
	// Secrets finds each repository's token. Required.
	Secrets SecretLookup
	// Trigger is called once per verified push, synchronously: it should
	// only enqueue work (for example a reconcile request). Required.
	Trigger func(namespace, repository string)
	// SkipRef, when set, is asked about the ref of a verified GitHub or
	// GitLab push; true answers 200 without triggering. The controller
	// uses it to ignore pushes to the status branch.
	SkipRef func(ctx context.Context, namespace, repository, ref string) bool
	// MaxBodyBytes caps the body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// NewHandler returns a Handler with the default body cap.
func NewHandler(secrets SecretLookup, trigger func(namespace, repository string)) *Handler {
	return &Handler{Secrets: secrets, Trigger: trigger}
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if h.Secrets == nil || h.Trigger == nil {
		reply(w, http.StatusInternalServerError, "webhook receiver is not configured")
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

	token, err := h.Secrets.LookupSecret(ctx, namespace, repository)
	if err != nil && !errors.Is(err, ErrNotFound) {
		log.Error(err, "look up webhook secret")
		reply(w, http.StatusServiceUnavailable, "temporarily unavailable")
		return
	}
	if err != nil || len(token) == 0 {
		reply(w, http.StatusNotFound, "not found")
		return
	}

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
	if !verify(p, r.Header, body, token) {
		log.Info("webhook rejected: missing or invalid signature", "provider", string(p))
		reply(w, http.StatusUnauthorized, "missing or invalid signature")
		return
	}
	log = log.WithValues("provider", string(p))

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
	h.Trigger(namespace, repository)
	log.Info("webhook triggered a fetch", "ref", ev.Ref, "revision", ev.Revision)
	reply(w, http.StatusAccepted, "fetch triggered")
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
