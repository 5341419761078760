package testenv

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// chromiumNames are the executables tried, in order, for browser tests.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome"}

// ChromiumPath returns the headless browser for tests: $CHROMIUM when set,
// else the first of chromium, chromium-browser and google-chrome on PATH.
func ChromiumPath() (string, bool) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p, true
	}
	for _, n := range chromiumNames {
		if p, err := exec.LookPath(n); err == nil {
			return p, true
		}
	}
	return "", false
}

// NewBrowser starts headless Chromium for the test and returns a context
// for chromedp actions; it is closed in t.Cleanup. Without Chromium the
// test is skipped, except in CI (CI=true), where it fails: `make test`
// installs Chromium (hack/ensure-chromium.sh).
func NewBrowser(t testing.TB) context.Context {
	t.Helper()
	path, ok := ChromiumPath()
	if !ok {
		if os.Getenv("CI") == "true" {
			t.Fatal("browser test: Chromium is not installed and CI=true: run hack/ensure-chromium.sh (make test does)")
		}
		t.Skip("skipping browser test: Chromium is not installed (hack/ensure-chromium.sh installs it; make test runs it)")
	}
	// The flags keep Chromium off the network: this machine's closed
	// network refuses its background connections.
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start Chromium %s: %v", path, err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return ctx
}
