package dashboard

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// Reviewer creates TokenReviews and SubjectAccessReviews on the hub (the
// manager's client does).
type Reviewer interface {
	Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error
}

// tokenCookie holds a viewer's token after the login form.
const tokenCookie = "flotilla_dashboard_token"

// maxCacheEntries bounds each answer cache; expired answers are dropped
// when it is full.
const maxCacheEntries = 10000

// viewerResources are the Flotilla resources a viewer must be allowed to
// list in a namespace to see it.
var viewerResources = []string{"fleetrepositories", "clusters", "apps", "clustersyncs"}

// user is an authenticated viewer.
type user struct {
	Name   string
	UID    string
	Groups []string
	Extra  map[string]authzv1.ExtraValue
}

type userKey struct{}

func userFrom(ctx context.Context) *user {
	u, _ := ctx.Value(userKey{}).(*user)
	return u
}

// authenticator checks bearer tokens with TokenReview and namespaces with
// SubjectAccessReview, reusing each answer for ttl.
type authenticator struct {
	reviews Reviewer
	ttl     time.Duration

	mu     sync.Mutex
	tokens map[[32]byte]tokenAnswer
	access map[string]accessAnswer
}

type tokenAnswer struct {
	user    *user // nil: refused
	expires time.Time
}

type accessAnswer struct {
	allowed bool
	expires time.Time
}

func newAuthenticator(r Reviewer, ttl time.Duration) *authenticator {
	return &authenticator{reviews: r, ttl: ttl, tokens: map[[32]byte]tokenAnswer{}, access: map[string]accessAnswer{}}
}

// token returns the bearer token of a request: the Authorization header,
// else the login cookie.
func token(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
		return ""
	}
	if c, err := r.Cookie(tokenCookie); err == nil {
		return c.Value
	}
	return ""
}

// authenticate returns the viewer a token belongs to, or nil.
func (a *authenticator) authenticate(ctx context.Context, tok string) (*user, error) {
	if tok == "" {
		return nil, nil
	}
	key := sha256.Sum256([]byte(tok))
	now := time.Now()
	a.mu.Lock()
	if ans, ok := a.tokens[key]; ok && now.Before(ans.expires) {
		a.mu.Unlock()
		return ans.user, nil
	}
	a.mu.Unlock()
	tr := &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: tok}}
	if err := a.reviews.Create(ctx, tr); err != nil {
		return nil, fmt.Errorf("create TokenReview: %w", err)
	}
	var u *user
	if tr.Status.Authenticated {
		u = &user{Name: tr.Status.User.Username, UID: tr.Status.User.UID, Groups: tr.Status.User.Groups, Extra: map[string]authzv1.ExtraValue{}}
		for k, v := range tr.Status.User.Extra {
			u.Extra[k] = authzv1.ExtraValue(v)
		}
	}
	a.mu.Lock()
	a.prune(now)
	a.tokens[key] = tokenAnswer{user: u, expires: now.Add(a.ttl)}
	a.mu.Unlock()
	return u, nil
}

// allowed reports whether u may list every Flotilla resource in ns.
func (a *authenticator) allowed(ctx context.Context, u *user, ns string) (bool, error) {
	if u == nil {
		return false, nil
	}
	key := u.Name + "\x00" + u.UID + "\x00" + strings.Join(u.Groups, "\x01") + "\x00" + ns
	now := time.Now()
	a.mu.Lock()
	if ans, ok := a.access[key]; ok && now.Before(ans.expires) {
		a.mu.Unlock()
		return ans.allowed, nil
	}
	a.mu.Unlock()
	ok := true
	for _, res := range viewerResources {
		sar := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
			User: u.Name, UID: u.UID, Groups: u.Groups, Extra: u.Extra,
			ResourceAttributes: &authzv1.ResourceAttributes{Namespace: ns, Verb: "list", Group: flotillav1.GroupVersion.Group, Resource: res},
		}}
		if err := a.reviews.Create(ctx, sar); err != nil {
			return false, fmt.Errorf("create SubjectAccessReview for %s in %s: %w", res, ns, err)
		}
		if !sar.Status.Allowed {
			ok = false
			break
		}
	}
	a.mu.Lock()
	a.prune(now)
	a.access[key] = accessAnswer{allowed: ok, expires: now.Add(a.ttl)}
	a.mu.Unlock()
	return ok, nil
}

// prune drops expired answers when a cache is full; a.mu is held.
func (a *authenticator) prune(now time.Time) {
	if len(a.tokens) >= maxCacheEntries {
		for k, v := range a.tokens {
			if !now.Before(v.expires) {
				delete(a.tokens, k)
			}
		}
		if len(a.tokens) >= maxCacheEntries {
			clear(a.tokens)
		}
	}
	if len(a.access) >= maxCacheEntries {
		for k, v := range a.access {
			if !now.Before(v.expires) {
				delete(a.access, k)
			}
		}
		if len(a.access) >= maxCacheEntries {
			clear(a.access)
		}
	}
}

// publicPaths are served without a token: the login form and its style.
var publicPaths = []string{"/login", "/assets/app.css", "/healthz"}

// middleware refuses requests without a valid token (401, with the login
// form for a page), and handles the login form: POST /login checks the
// token and keeps it in an HttpOnly, SameSite=Strict cookie.
func (a *authenticator) middleware(next http.Handler, static fs.FS, secure bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log := ctrl.LoggerFrom(r.Context()).WithName("dashboard")
		if r.URL.Path == "/login" {
			a.login(w, r, static, secure)
			return
		}
		if slices.Contains(publicPaths, r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		u, err := a.authenticate(r.Context(), token(r))
		if err != nil {
			log.Error(err, "authenticate a dashboard viewer")
			http.Error(w, "authentication failed: the hub did not answer the TokenReview", http.StatusBadGateway)
			return
		}
		if u == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="flotilla"`)
			if r.URL.Path == "/" {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.WriteHeader(http.StatusUnauthorized)
				b, _ := fs.ReadFile(static, "login.html")
				_, _ = w.Write(b)
				return
			}
			http.Error(w, "unauthorized: send a Kubernetes bearer token", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
	})
}

// login serves the login form and accepts its token.
func (a *authenticator) login(w http.ResponseWriter, r *http.Request, static fs.FS, secure bool) {
	switch r.Method {
	case http.MethodGet:
		serveFile(w, r, static, "login.html")
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		tok := strings.TrimSpace(r.PostFormValue("token"))
		u, err := a.authenticate(r.Context(), tok)
		if err != nil {
			http.Error(w, "authentication failed: the hub did not answer the TokenReview", http.StatusBadGateway)
			return
		}
		if u == nil {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusUnauthorized)
			b, _ := fs.ReadFile(static, "login.html")
			_, _ = w.Write(b)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: tok, Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}
