package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilla-gitops/flotilla/source/webhook"
)

// clock is a settable time source for the Handler.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// countingLookup serves tokens from a map that the test can change (a
// rotated Secret) and counts the reads.
type countingLookup struct {
	mu     sync.Mutex
	tokens map[string]string
	reads  atomic.Int64
}

func (l *countingLookup) LookupSecret(_ context.Context, namespace, repository string) ([]byte, error) {
	l.reads.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	tok, ok := l.tokens[namespace+"/"+repository]
	if !ok {
		return nil, webhook.ErrNotFound
	}
	return []byte(tok), nil
}

func (l *countingLookup) set(key, token string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tokens[key] = token
}

// TestHandlerTriggerFailureIs5xx checks that a push whose trigger fails is
// answered 503 (so the Git host retries) and that the retry of the same
// delivery is accepted once triggering works again.
func TestHandlerTriggerFailureIs5xx(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	var calls atomic.Int64
	h := webhook.NewHandler(webhook.SecretLookupFunc(lookup), func(context.Context, string, string) error {
		calls.Add(1)
		if fail.Load() {
			return errors.New("apiserver unavailable")
		}
		return nil
	})
	req := github("push", githubPush, tokenA).with(webhook.HeaderGitHubDelivery, "delivery-1")
	var logs bytes.Buffer
	if res := serve(t, h, req, &logs); res.Code != http.StatusServiceUnavailable {
		t.Fatalf("failed trigger answered %d (%q), want 503", res.Code, res.Body.String())
	}
	fail.Store(false)
	if res := serve(t, h, req, &logs); res.Code != http.StatusAccepted {
		t.Fatalf("retry after a failed trigger answered %d (%q), want 202", res.Code, res.Body.String())
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("trigger called %d times, want 2", n)
	}
}

// TestHandlerSameAnswerForUnknownRepository checks that an unknown
// repository, one without a webhook secret and a known one with a wrong
// signature get the same status and body, so names cannot be enumerated.
func TestHandlerSameAnswerForUnknownRepository(t *testing.T) {
	h := webhook.NewHandler(webhook.SecretLookupFunc(lookup), (&recorder{}).trigger)
	var logs bytes.Buffer
	type answer struct {
		code int
		body string
	}
	var answers []answer
	for _, req := range []request{
		github("push", githubPush, "wrong-token"),
		github("push", githubPush, tokenA).at("/hooks/fleet-system/nope"),
		github("push", githubPush, tokenA).at("/hooks/fleet-system/no-secret"),
		gitlab("Push Hook", gitlabPush, "wrong-token"),
		gitlab("Push Hook", gitlabPush, tokenA).at("/hooks/fleet-system/nope"),
		generic([]byte("x"), tokenA).at("/hooks/other-ns/nope"),
	} {
		res := serve(t, h, req, &logs)
		answers = append(answers, answer{res.Code, res.Body.String()})
	}
	for i, a := range answers {
		if a != answers[0] || a.code != http.StatusUnauthorized {
			t.Fatalf("answer %d = %+v, want the same 401 as a wrong signature %+v", i, a, answers[0])
		}
	}
}

// TestHandlerCachesSecrets checks that unauthenticated requests do not each
// read the Secret, and that a rotated token is picked up.
func TestHandlerCachesSecrets(t *testing.T) {
	secrets := &countingLookup{tokens: map[string]string{"fleet-system/factories": tokenA}}
	clk := newClock()
	rec := &recorder{}
	h := &webhook.Handler{Secrets: secrets, Trigger: rec.trigger, Now: clk.Now, RatePerSecond: -1}
	var logs bytes.Buffer
	for i := range 200 {
		req := github("push", githubPush, "wrong-token")
		if i%2 == 1 {
			req = req.at("/hooks/fleet-system/unknown")
		}
		if res := serve(t, h, req, &logs); res.Code != http.StatusUnauthorized {
			t.Fatalf("request %d: status %d", i, res.Code)
		}
	}
	if n := secrets.reads.Load(); n != 2 {
		t.Fatalf("200 bad requests to 2 repositories read the secret %d times, want 2", n)
	}

	// Rotate the token: the old one keeps working until the cache notices,
	// the new one works at once after the refresh interval.
	secrets.set("fleet-system/factories", tokenB)
	clk.advance(webhook.DefaultSecretRefreshAfter + time.Second)
	if res := serve(t, h, github("push", githubPush, tokenB), &logs); res.Code != http.StatusAccepted {
		t.Fatalf("rotated token: status %d (%q)", res.Code, res.Body.String())
	}
	if res := serve(t, h, github("push", githubPush, tokenA), &logs); res.Code != http.StatusUnauthorized {
		t.Fatalf("old token after rotation: status %d", res.Code)
	}
	// Bad requests right after a refresh do not read again.
	before := secrets.reads.Load()
	for range 50 {
		serve(t, h, github("push", githubPush, "wrong-token"), &logs)
	}
	if n := secrets.reads.Load() - before; n != 0 {
		t.Fatalf("bad requests within the refresh interval read the secret %d times", n)
	}
	// A repository created later is found once the negative entry expires.
	secrets.set("fleet-system/unknown", tokenA)
	clk.advance(webhook.DefaultSecretTTL + time.Second)
	if res := serve(t, h, github("push", githubPush, tokenA).at("/hooks/fleet-system/unknown"), &logs); res.Code != http.StatusAccepted {
		t.Fatalf("repository added later: status %d", res.Code)
	}
	if got := rec.got(); len(got) != 2 {
		t.Fatalf("triggers = %v", got)
	}
}

// TestHandlerRateLimitsPerSource checks the per-address token bucket.
func TestHandlerRateLimitsPerSource(t *testing.T) {
	clk := newClock()
	h := &webhook.Handler{Secrets: webhook.SecretLookupFunc(lookup), Trigger: (&recorder{}).trigger, Now: clk.Now, RatePerSecond: 1, RateBurst: 3}
	send := func(addr string) *http.Response {
		req := github("push", githubPush, "wrong-token")
		var logs bytes.Buffer
		hr := serveFrom(t, h, req, addr, &logs)
		return hr
	}
	for i := range 3 {
		if res := send("198.51.100.7:1000"); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("request %d within the burst: status %d", i, res.StatusCode)
		}
	}
	res := send("198.51.100.7:2000") // another port of the same host
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("request over the burst: status %d, Retry-After %q; want 429 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if res := send("203.0.113.9:1000"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("another source was limited: status %d", res.StatusCode)
	}
	clk.advance(time.Second)
	if res := send("198.51.100.7:1000"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after a second the bucket has a token again: status %d", res.StatusCode)
	}

	// Addresses of one IPv6 /64 share a bucket.
	for i := range 3 {
		send(fmt.Sprintf("[2001:db8:1:2::%x]:443", i+1))
	}
	if res := send("[2001:db8:1:2:ffff::1]:443"); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a fourth address of the same IPv6 /64: status %d, want 429", res.StatusCode)
	}
	if res := send("[2001:db8:1:3::1]:443"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("another /64 was limited: status %d", res.StatusCode)
	}
}

// TestHandlerRejectsReplays checks that a delivery is triggered once.
func TestHandlerRejectsReplays(t *testing.T) {
	clk := newClock()
	rec := &recorder{}
	h := &webhook.Handler{Secrets: webhook.SecretLookupFunc(lookup), Trigger: rec.trigger, Now: clk.Now, RatePerSecond: -1}
	var logs bytes.Buffer
	expect := func(name string, req request, want int) {
		t.Helper()
		if res := serve(t, h, req, &logs); res.Code != want {
			t.Fatalf("%s: status %d (%q), want %d", name, res.Code, res.Body.String(), want)
		}
	}

	first := github("push", githubPush, tokenA).with(webhook.HeaderGitHubDelivery, "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	expect("GitHub delivery", first, http.StatusAccepted)
	expect("GitHub delivery replayed", first, http.StatusConflict)
	expect("GitHub delivery replayed with a new id", first.with(webhook.HeaderGitHubDelivery, "forged-id"), http.StatusConflict)
	other := []byte(`{"ref":"refs/heads/main","after":"` + sha[:39] + `8"}`)
	expect("another GitHub delivery", github("push", other, tokenA).with(webhook.HeaderGitHubDelivery, "second"), http.StatusAccepted)

	gitea := github("push", gitlabPush, tokenA).with(webhook.HeaderGiteaDelivery, "gitea-1")
	expect("Gitea delivery", gitea, http.StatusAccepted)
	expect("Gitea delivery replayed", gitea, http.StatusConflict)

	gl := gitlab("Push Hook", gitlabPush, tokenA).with(webhook.HeaderGitLabEventUUID, "gitlab-1")
	expect("GitLab delivery", gl, http.StatusAccepted)
	expect("GitLab delivery replayed", gl, http.StatusConflict)

	ts := strconv.FormatInt(clk.Now().Unix(), 10)
	signed := timestamped([]byte(`{"ref":"refs/heads/main"}`), tokenA, ts)
	expect("timestamped generic call", signed, http.StatusAccepted)
	expect("timestamped generic call replayed", signed, http.StatusConflict)
	expect("timestamp changed without re-signing", signed.with(webhook.HeaderTimestamp, strconv.FormatInt(clk.Now().Unix()+1, 10)), http.StatusUnauthorized)
	old := strconv.FormatInt(clk.Now().Add(-webhook.DefaultReplayWindow-time.Minute).Unix(), 10)
	expect("timestamp older than the window", timestamped([]byte("x"), tokenA, old), http.StatusUnauthorized)
	future := strconv.FormatInt(clk.Now().Add(webhook.DefaultReplayWindow+time.Minute).Unix(), 10)
	expect("timestamp in the future beyond the window", timestamped([]byte("x"), tokenA, future), http.StatusUnauthorized)
	expect("timestamp not a number", timestamped([]byte("x"), tokenA, "yesterday"), http.StatusUnauthorized)

	// Untimestamped generic calls carry nothing unique: repeats are allowed.
	expect("generic call", generic([]byte("same"), tokenA), http.StatusAccepted)
	expect("generic call repeated", generic([]byte("same"), tokenA), http.StatusAccepted)

	if got := len(rec.got()); got != 7 {
		t.Fatalf("%d triggers, want 7 (one per distinct delivery)", got)
	}
}

func timestamped(body []byte, token, ts string) request {
	return request{method: http.MethodPost, path: "/hooks/fleet-system/factories", body: body, headers: map[string]string{
		webhook.HeaderTimestamp: ts,
		webhook.HeaderSignature: webhook.TimestampedSignatureHeader([]byte(token), ts, body),
	}}
}
