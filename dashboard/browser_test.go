package dashboard

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"sigs.k8s.io/controller-runtime/pkg/cache/informertest"

	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// startMemDashboard serves a generated fleet, woken by fake informers.
func startMemDashboard(t testing.TB, m *memReader, opts Options) (*Server, string, *informertest.FakeInformers) {
	t.Helper()
	inf := &informertest.FakeInformers{Scheme: testScheme(t)}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	s, err := New(m, inf, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	url, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("dashboard stopped with an error: %v", err)
		}
	})
	base := strings.TrimSuffix(url, "/")
	deadline := time.Now().Add(10 * time.Second)
	for s.snap() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s.snap() == nil {
		t.Fatal("the dashboard built no snapshot within 10s")
	}
	return s, base, inf
}

// XSS payloads: a script element and an attribute break-out.
const (
	xssScript    = `<script>window.__xss=1</script>`
	xssAttribute = `"><img src=x onerror="window.__xss=2">`
)

// evaluate runs a JavaScript expression in the page.
func evaluate[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitPage waits until the page shows a fleet version at least min.
func waitPage(t testing.TB, ctx context.Context, what, expr string) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(tctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		t.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

// TestPageShowsPayloadsFromGitAndClustersAsText puts script and attribute
// payloads in a cluster label, a cluster variable, a failure message and a
// repository message, and checks in Chromium that each shows as text and
// none runs or adds an element.
func TestPageShowsPayloadsFromGitAndClustersAsText(t *testing.T) {
	ctx := testenv.NewBrowser(t)
	m := genFleet(3, 2)
	payload := xssScript + xssAttribute
	m.clusters[0].Labels["note"] = payload
	m.clusters[0].Spec.Vars = map[string]string{"line": payload}
	m.syncs[0].Status.Conditions[0].Status = "False"
	m.syncs[0].Status.Conditions[0].Reason = "ApplyFailed"
	m.syncs[0].Status.Conditions[0].Message = "apply failed: " + payload
	m.repos[0].Status.Conditions[0].Status = "False"
	m.repos[0].Status.Conditions[0].Message = payload
	_, base, _ := startMemDashboard(t, m, Options{})

	res, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Fatalf("Content-Security-Policy %q", csp)
	}

	noInjection := `window.__xss === undefined && document.querySelectorAll("img").length === 0 && document.querySelectorAll("script").length === 1`
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	waitPage(t, ctx, "the fleet page", `document.body.dataset.version !== undefined`)
	if !evaluate[bool](t, ctx, noInjection) {
		t.Fatal("a payload ran or added an element on the fleet page")
	}
	if got := evaluate[string](t, ctx, `document.querySelector("a.cell.fail").title`); !strings.Contains(got, payload) {
		t.Errorf("the failing cell's title %q does not show the message as text", got)
	}
	if got := evaluate[string](t, ctx, `document.querySelector("ul.failures").textContent`); !strings.Contains(got, payload) {
		t.Errorf("the failures list %q does not show the message as text", got)
	}
	if got := evaluate[string](t, ctx, `document.querySelector("table.repos").textContent`); !strings.Contains(got, payload) {
		t.Errorf("the repositories table %q does not show the message as text", got)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/#/cluster/fleet/site-0000")); err != nil {
		t.Fatal(err)
	}
	waitPage(t, ctx, "the cluster page", `document.querySelector("tr.var td") !== null`)
	if got := evaluate[string](t, ctx, `document.querySelector("tr.var td").textContent`); got != payload {
		t.Errorf("the cluster variable shows %q, want the payload as text", got)
	}
	if got := evaluate[string](t, ctx, `[...document.querySelectorAll("tr.label td")].map(e => e.textContent).join("|")`); !strings.Contains(got, payload) {
		t.Errorf("the cluster labels show %q, want the payload as text", got)
	}
	if !evaluate[bool](t, ctx, noInjection) {
		t.Fatal("a payload ran or added an element on the cluster page")
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/#/sync/fleet/app-00/site-0000")); err != nil {
		t.Fatal(err)
	}
	waitPage(t, ctx, "the app page", `document.querySelector(".failure-message") !== null`)
	if got := evaluate[string](t, ctx, `document.querySelector(".failure-message").textContent`); got != "apply failed: "+payload {
		t.Errorf("the failure message shows %q, want the payload as text", got)
	}
	if !evaluate[bool](t, ctx, noInjection) {
		t.Fatal("a payload ran or added an element on the app page")
	}
}
