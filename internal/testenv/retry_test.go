package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestIsTransient(t *testing.T) {
	transient := []error{
		errors.New(`running kubectl get pods on cluster hub: exit status 1: Unable to connect to the server: net/http: TLS handshake timeout`),
		fmt.Errorf("dial: %w", &net.OpError{Op: "dial", Err: &net.AddrError{Err: "connection refused"}}),
		errors.New(`Error from server (ServiceUnavailable): the server is currently unable to handle the request`),
		errors.New(`Get "https://127.0.0.1:1/api": EOF`),
		errors.New(`read tcp 127.0.0.1:1->127.0.0.1:2: i/o timeout`),
		errors.New(`running git push: exit status 128: fatal: unable to access 'http://127.0.0.1:1/x.git/': The requested URL returned error: 503`),
	}
	for _, err := range transient {
		if !IsTransient(err) {
			t.Errorf("IsTransient(%q) = false, want true", err)
		}
	}
	permanent := []error{
		nil,
		context.Canceled,
		errors.New(`Error from server (NotFound): configmaps "x" not found`),
		errors.New(`Error from server (Forbidden): pods is forbidden`),
		errors.New(`running git push: exit status 1: ! [rejected] main -> main (fetch first)`),
		errors.New(`fatal: Authentication failed for 'http://127.0.0.1:1/x.git/'`),
	}
	for _, err := range permanent {
		if IsTransient(err) {
			t.Errorf("IsTransient(%v) = true, want false", err)
		}
	}
}

// TestRetryWaitsForALateServer drives a real HTTP request at an address that
// refuses connections until a server starts listening there a second later.
func TestRetryWaitsForALateServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // refused until the server below starts

	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("up")) }), ReadHeaderTimeout: time.Second}
	defer srv.Close()
	go func() {
		time.Sleep(time.Second)
		late, err := net.Listen("tcp", addr)
		if err != nil {
			return // the port was taken meanwhile; the test then fails below
		}
		_ = srv.Serve(late)
	}()

	var attempts atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = Retry(ctx, func(ctx context.Context) error {
		attempts.Add(1)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		return res.Body.Close()
	})
	if err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if attempts.Load() < 2 {
		t.Fatalf("succeeded after %d attempts; the first must have been refused", attempts.Load())
	}
}

// TestRetryStopsOnPermanentErrorsAndDeadline checks that a real command's
// permanent failure is returned at once and a transient one gives up when
// the context ends.
func TestRetryStopsOnPermanentErrorsAndDeadline(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	calls := 0
	err := Retry(context.Background(), func(ctx context.Context) error {
		calls++
		_, err := runGitOnce(ctx, t.TempDir(), gitEnv(), "rev-parse", "HEAD")
		return err
	})
	if err == nil || calls != 1 {
		t.Fatalf("git outside a repository: %d calls, err %v; want one call and its error", calls, err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	calls = 0
	err = Retry(ctx, func(ctx context.Context) error {
		calls++
		_, err := runGitOnce(ctx, t.TempDir(), gitEnv(), "ls-remote", "http://"+addr+"/fleet.git")
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "attempts") || calls < 2 {
		t.Fatalf("git against a closed port: %d calls, err %v; want retries then the last error", calls, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Retry ran %s past a 2s deadline", d)
	}
}

// TestRetryUnsentResendsRefusedRequests sends a POST with a body to a port
// that refuses connections until a server starts there: the request arrives
// once, whole.
func TestRetryUnsentResendsRefusedRequests(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()

	var got atomic.Value
	var requests atomic.Int64
	srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		body, _ := io.ReadAll(r.Body)
		got.Store(string(body))
	})}
	defer srv.Close()
	go func() {
		time.Sleep(time.Second)
		if late, err := net.Listen("tcp", addr); err == nil {
			_ = srv.Serve(late)
		}
	}()

	cl := &http.Client{Transport: retryUnsent{next: &http.Transport{}}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/", strings.NewReader("payload"))
	res, err := cl.Do(req)
	if err != nil {
		t.Fatalf("POST to a server that starts late: %v", err)
	}
	_ = res.Body.Close()
	if requests.Load() != 1 || got.Load() != "payload" {
		t.Fatalf("server saw %d requests, body %v; want 1 with the payload", requests.Load(), got.Load())
	}
}

// TestRetryUnsentDoesNotResendSentRequests checks that a request the server
// received is never sent again, even when its answer is lost.
func TestRetryUnsentDoesNotResendSentRequests(t *testing.T) {
	var requests atomic.Int64
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close() // the answer is lost: the client sees EOF
		}
	})}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	cl := &http.Client{Transport: retryUnsent{next: &http.Transport{}}}
	req, _ := http.NewRequest(http.MethodPost, "http://"+l.Addr().String()+"/", strings.NewReader("x"))
	if res, err := cl.Do(req); err == nil {
		_ = res.Body.Close()
		t.Fatal("a lost answer came back as a success")
	}
	if n := requests.Load(); n != 1 {
		t.Fatalf("the server received the request %d times, want 1", n)
	}
}
