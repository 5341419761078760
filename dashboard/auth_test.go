package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// countingReviewer counts the TokenReviews it sends to the hub.
type countingReviewer struct {
	client.Client
	tokenReviews atomic.Int64
}

func (c *countingReviewer) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	if _, ok := obj.(*authnv1.TokenReview); ok {
		c.tokenReviews.Add(1)
	}
	return c.Client.Create(ctx, obj, opts...)
}

// TestAuthChecksTokensAndNamespacePermissions runs the dashboard with
// authentication on a hub with RBAC: real TokenReviews and
// SubjectAccessReviews decide who sees what.
func TestAuthChecksTokensAndNamespacePermissions(t *testing.T) {
	hub, cl := startHub(t)
	ctx := context.Background()
	mustCreate(t, cl, namespace("fleet"), namespace("other"),
		cluster("fleet", "site-a"), cluster("other", "secret-site"),
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: "viewer"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: "stranger"}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: "flotilla-view"}, Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{flotillav1.GroupVersion.Group}, Resources: viewerResources, Verbs: []string{"get", "list", "watch"},
		}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: "viewer"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "flotilla-view"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "fleet", Name: "viewer"}}},
	)
	cs, err := kubernetes.NewForConfig(hub.Config())
	if err != nil {
		t.Fatal(err)
	}
	tokenOf := func(sa string) string {
		tr, err := cs.CoreV1().ServiceAccounts("fleet").CreateToken(ctx, sa, &authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create a token for %s: %v", sa, err)
		}
		return tr.Status.Token
	}
	viewer, stranger := tokenOf("viewer"), tokenOf("stranger")

	reviews := &countingReviewer{Client: cl}
	_, base, _ := startDashboard(t, hub.Config(), reviews, Options{Addr: "127.0.0.1:0", Auth: true})
	waitFor(t, 30*time.Second, "the dashboard serving the viewer", func() error {
		if code, body := get(t, base+"/api/fleet", viewer); code != http.StatusOK || !strings.Contains(string(body), "site-a") {
			return &httpErr{code, string(body)}
		}
		return nil
	})

	// Unauthenticated and bad tokens are refused, on every path but the login form.
	for _, p := range []string{"/", "/api/fleet", "/api/events", "/api/cluster?namespace=fleet&name=site-a", "/assets/app.js"} {
		for _, tok := range []string{"", "not-a-token"} {
			if code, _ := get(t, base+p, tok); code != http.StatusUnauthorized {
				t.Errorf("GET %s with token %q: %d, want 401", p, tok, code)
			}
		}
	}
	if code, body := get(t, base+"/", ""); !strings.Contains(string(body), `action="/login"`) {
		t.Errorf("GET / without a token does not show the login form: %d %s", code, body)
	}

	// The viewer sees namespace fleet, not namespace other.
	f := fleetOf(t, base, viewer)
	var names []string
	for _, ns := range f.Namespaces {
		names = append(names, ns.Name)
	}
	if !slices.Equal(names, []string{"fleet"}) {
		t.Errorf("the viewer sees namespaces %v, want [fleet]", names)
	}
	if code, _ := get(t, base+"/api/cluster?namespace=fleet&name=site-a", viewer); code != http.StatusOK {
		t.Errorf("the viewer's cluster page: %d, want 200", code)
	}
	if code, _ := get(t, base+"/api/cluster?namespace=other&name=secret-site", viewer); code != http.StatusForbidden {
		t.Errorf("the viewer's page of a cluster in another namespace: %d, want 403", code)
	}
	// The stranger is authenticated but may list nothing.
	if f := fleetOf(t, base, stranger); len(f.Namespaces) != 0 {
		t.Errorf("the stranger sees %d namespaces, want none", len(f.Namespaces))
	}
	if code, _ := get(t, base+"/api/cluster?namespace=fleet&name=site-a", stranger); code != http.StatusForbidden {
		t.Errorf("the stranger's cluster page: %d, want 403", code)
	}

	// Answers are reused: more requests with the same token send no new TokenReview.
	before := reviews.tokenReviews.Load()
	for range 10 {
		get(t, base+"/api/fleet", viewer)
	}
	if n := reviews.tokenReviews.Load(); n != before {
		t.Errorf("10 requests with a known token sent %d TokenReviews, want 0", n-before)
	}

	// The login form keeps a valid token in an HttpOnly, SameSite=Strict cookie.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noRedirect.PostForm(base+"/login", url.Values{"token": {"wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || len(res.Cookies()) != 0 {
		t.Errorf("a wrong token at the login form: %d with %d cookies, want 401 and none", res.StatusCode, len(res.Cookies()))
	}
	res, err = noRedirect.PostForm(base+"/login", url.Values{"token": {viewer}})
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || len(res.Cookies()) != 1 {
		t.Fatalf("login: %d with %d cookies, want 303 and one", res.StatusCode, len(res.Cookies()))
	}
	c := res.Cookies()[0]
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Errorf("the login cookie is not HttpOnly and SameSite=Strict: %+v", c)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/api/fleet", nil)
	req.AddCookie(c)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET /api/fleet with the login cookie: %d, want 200", res.StatusCode)
	}
}

type httpErr struct {
	code int
	body string
}

func (e *httpErr) Error() string { return http.StatusText(e.code) + ": " + e.body }
