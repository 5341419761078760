package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"

	"github.com/flotilla-gitops/flotilla/dashboard"
	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// TestDashboardShowsTheFleetLive opens the dashboard of a real hub
// controller in headless Chromium and checks, without reloading the page,
// that it lists every cluster and app, shows a refused object's payload
// name as text, shows a new commit's revision, and turns a stopped member
// stale. With DASHBOARD_SCREENSHOT=path it saves a screenshot there (the
// one in docs/dashboard.png).
func TestDashboardShowsTheFleetLive(t *testing.T) {
	browser := testenv.NewBrowser(t)
	var url string
	e := newFleetEnvWith(t, "testdata/dashboard-fleet", func(e *fleetEnv, _ *flotillav1.FleetRepository) {
		e.opts.Dashboard = dashboard.Options{Addr: "127.0.0.1:0", StaleAfter: 6 * time.Second, Batch: 100 * time.Millisecond}
		e.opts.DashboardListening = func(u string) { url = u }
	}, memberSpec{name: "site-a"}, memberSpec{name: "site-b"})
	if url == "" {
		t.Fatal("the hub did not report the dashboard's URL")
	}
	if err := chromedp.Do(browser, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	wait := func(what, expr string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, 2*time.Minute)
		defer cancel()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(200*time.Millisecond))); err != nil {
			t.Fatalf("waiting for %s (%s): %v", what, expr, err)
		}
	}
	eval := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(browser, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		return v
	}
	// Marks this page: a reload would lose it.
	wait("the first render", `document.body.dataset.version !== undefined`)
	if _, err := chromedp.Run(browser, chromedp.Evaluate[bool](`window.__samePage = true`)); err != nil {
		t.Fatal(err)
	}

	wait("every cluster and app", `["site-a", "site-b"].every(c => document.querySelector('table.matrix tr[data-cluster="' + c + '"]')) &&
		["settings", "broken"].every(a => document.querySelector('table.apps tr[data-app="' + a + '"]'))`)
	wait("settings synced on both sites", `document.querySelectorAll('a.cell.ok[data-app="settings"]').length === 2`)
	wait("the refused object's failure", `document.querySelector('a.cell.fail[data-app="broken"][data-cluster="site-a"]') !== null`)
	if title := eval(`document.querySelector('a.cell.fail[data-app="broken"]').title`); !strings.Contains(title, `<script>window.__xss=1</script>`) || !strings.Contains(title, `"><img src=x onerror=`) {
		t.Errorf("the failure's title does not show the refused name as text: %q", title)
	}
	if got := eval(`String(window.__xss) + " " + document.querySelectorAll("img").length`); got != "undefined 0" {
		t.Fatalf("a payload from Git ran or added an element: __xss, images = %s", got)
	}
	if path := os.Getenv("DASHBOARD_SCREENSHOT"); path != "" {
		png, err := chromedp.Run(browser, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// A new commit's revision appears.
	e.work.WriteFile("apps/settings/base/settings.yaml", []byte(strings.ReplaceAll(
		readFile(t, "testdata/dashboard-fleet/apps/settings/base/settings.yaml"), `threshold: "0.80"`, `threshold: "0.85"`)))
	head := e.work.CommitAndPush("raise the threshold")
	wait("the new revision "+head, `document.querySelector("table.repos td.revision").title.endsWith("`+head+`")`)

	// Stopping a member turns it stale.
	if err := e.members["site-b"].Stop(); err != nil {
		t.Fatal(err)
	}
	wait("site-b stale", `document.querySelector('table.matrix tr[data-cluster="site-b"] td.state').textContent === "stale"`)
	if got := eval(`document.querySelector('table.matrix tr[data-cluster="site-a"] td.state').textContent`); got != "reachable" {
		t.Errorf("site-a shows %q, want reachable", got)
	}
	if got := eval(`String(window.__samePage)`); got != "true" {
		t.Fatal("the page was reloaded")
	}
}
