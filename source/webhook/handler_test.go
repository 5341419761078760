package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr/funcr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flotilla-gitops/flotilla/source/webhook"
)

const (
	tokenA = "token-for-factories-0123456789"
	tokenB = "token-for-other-repo-abcdefghij"
	sha    = "0123456789abcdef0123456789abcdef01234567"
)

var githubPush = []byte(`{"ref":"refs/heads/main","before":"` + strings.Repeat("0", 40) + `","after":"` + sha + `","repository":{"full_name":"acme/fleet"}}`)
var gitlabPush = []byte(`{"object_kind":"push","ref":"refs/heads/main","before":"` + strings.Repeat("0", 40) + `","after":"` + sha + `","checkout_sha":"` + sha + `"}`)

// recorder collects Trigger calls.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) trigger(_ context.Context, namespace, repository string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, namespace+"/"+repository)
	return nil
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func lookup(_ context.Context, namespace, repository string) ([]byte, error) {
	switch namespace + "/" + repository {
	case "fleet-system/factories":
		return []byte(tokenA), nil
	case "fleet-system/other":
		return []byte(tokenB), nil
	case "fleet-system/no-secret":
		return nil, nil
	case "fleet-system/broken":
		return nil, errors.New("apiserver unavailable")
	default:
		return nil, fmt.Errorf("repository %s/%s: %w", namespace, repository, webhook.ErrNotFound)
	}
}

type request struct {
	method  string
	path    string
	body    []byte
	headers map[string]string
}

func github(event string, body []byte, token string) request {
	return request{method: http.MethodPost, path: "/hooks/fleet-system/factories", body: body, headers: map[string]string{
		webhook.HeaderGitHubEvent:     event,
		webhook.HeaderGitHubSignature: webhook.SignatureHeader([]byte(token), body),
		"Content-Type":                "application/json",
	}}
}

func gitlab(event string, body []byte, token string) request {
	return request{method: http.MethodPost, path: "/hooks/fleet-system/factories", body: body, headers: map[string]string{
		webhook.HeaderGitLabEvent: event,
		webhook.HeaderGitLabToken: token,
	}}
}

func generic(body []byte, token string) request {
	return request{method: http.MethodPost, path: "/hooks/fleet-system/factories", body: body, headers: map[string]string{
		webhook.HeaderSignature: webhook.SignatureHeader([]byte(token), body),
	}}
}

func (r request) with(key, value string) request {
	h := map[string]string{}
	for k, v := range r.headers {
		h[k] = v
	}
	if value == "" {
		delete(h, key)
	} else {
		h[key] = value
	}
	r.headers = h
	return r
}

func (r request) at(path string) request {
	r.path = path
	return r
}

func serve(t *testing.T, h http.Handler, req request, logs *bytes.Buffer) *httptest.ResponseRecorder {
	t.Helper()
	return serveAt(t, h, req, "", logs)
}

// serveFrom serves req as if sent from remoteAddr ("host:port").
func serveFrom(t *testing.T, h http.Handler, req request, remoteAddr string, logs *bytes.Buffer) *http.Response {
	t.Helper()
	return serveAt(t, h, req, remoteAddr, logs).Result()
}

func serveAt(t *testing.T, h http.Handler, req request, remoteAddr string, logs *bytes.Buffer) *httptest.ResponseRecorder {
	t.Helper()
	hr := httptest.NewRequest(req.method, req.path, bytes.NewReader(req.body))
	if remoteAddr != "" {
		hr.RemoteAddr = remoteAddr
	}
	for k, v := range req.headers {
		hr.Header.Set(k, v)
	}
	logger := funcr.New(func(prefix, args string) { logs.WriteString(prefix + " " + args + "\n") }, funcr.Options{Verbosity: 10})
	hr = hr.WithContext(ctrllog.IntoContext(hr.Context(), logger))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, hr)
	return rec
}

func TestHandler(t *testing.T) {
	formBody := []byte("payload=" + url.QueryEscape(string(githubPush)))
	form := github("push", formBody, tokenA).with("Content-Type", "application/x-www-form-urlencoded")
	big := bytes.Repeat([]byte("x"), int(webhook.DefaultMaxBodyBytes)+1)

	cases := []struct {
		name    string
		req     request
		status  int
		trigger bool
	}{
		{"github push", github("push", githubPush, tokenA), http.StatusAccepted, true},
		{"github push form-encoded", form, http.StatusAccepted, true},
		{"github ping", github("ping", []byte(`{"zen":"hi","hook_id":1}`), tokenA), http.StatusOK, false},
		{"github other event", github("issues", []byte(`{}`), tokenA), http.StatusOK, false},
		{"github missing event header", github("push", githubPush, tokenA).with(webhook.HeaderGitHubEvent, ""), http.StatusBadRequest, false},
		{"github wrong token", github("push", githubPush, "wrong-token"), http.StatusUnauthorized, false},
		{"github token of another repository", github("push", githubPush, tokenB), http.StatusUnauthorized, false},
		{"github ping with wrong token", github("ping", []byte(`{}`), "wrong-token"), http.StatusUnauthorized, false},
		{"github signature of another body", github("push", githubPush, tokenA).with(webhook.HeaderGitHubSignature, webhook.SignatureHeader([]byte(tokenA), []byte("other"))), http.StatusUnauthorized, false},
		{"github sha1 signature", github("push", githubPush, tokenA).with(webhook.HeaderGitHubSignature, "sha1=0123"), http.StatusUnauthorized, false},
		{"github signature not hex", github("push", githubPush, tokenA).with(webhook.HeaderGitHubSignature, "sha256=zz"), http.StatusUnauthorized, false},
		{"github malformed JSON", github("push", []byte(`{"ref":`), tokenA), http.StatusBadRequest, false},
		{"github JSON array", github("push", []byte(`[1,2]`), tokenA), http.StatusBadRequest, false},
		{"github missing ref", github("push", []byte(`{"after":"`+sha+`"}`), tokenA), http.StatusBadRequest, false},
		{"github bad after", github("push", []byte(`{"ref":"refs/heads/main","after":"HEAD"}`), tokenA), http.StatusBadRequest, false},
		{"github empty body", github("push", nil, tokenA), http.StatusBadRequest, false},
		{"gitlab push", gitlab("Push Hook", gitlabPush, tokenA), http.StatusAccepted, true},
		{"gitlab tag push", gitlab("Tag Push Hook", []byte(`{"object_kind":"tag_push","ref":"refs/tags/v1","checkout_sha":"`+sha+`"}`), tokenA), http.StatusAccepted, true},
		{"gitlab wrong token", gitlab("Push Hook", gitlabPush, "wrong-token"), http.StatusUnauthorized, false},
		{"gitlab token prefix", gitlab("Push Hook", gitlabPush, tokenA[:10]), http.StatusUnauthorized, false},
		{"gitlab merge request event", gitlab("Merge Request Hook", []byte(`{}`), tokenA), http.StatusOK, false},
		{"gitlab malformed", gitlab("Push Hook", []byte(`not json`), tokenA), http.StatusBadRequest, false},
		{"generic", generic([]byte(`anything`), tokenA), http.StatusAccepted, true},
		{"generic empty body", generic(nil, tokenA), http.StatusAccepted, true},
		{"generic wrong token", generic([]byte(`anything`), "wrong-token"), http.StatusUnauthorized, false},
		{"no signature", request{method: http.MethodPost, path: "/hooks/fleet-system/factories", body: githubPush, headers: map[string]string{webhook.HeaderGitHubEvent: "push"}}, http.StatusUnauthorized, false},
		{"GET", github("push", githubPush, tokenA).withMethod(http.MethodGet), http.StatusMethodNotAllowed, false},
		{"PUT", github("push", githubPush, tokenA).withMethod(http.MethodPut), http.StatusMethodNotAllowed, false},
		{"unknown repository", github("push", githubPush, tokenA).at("/hooks/fleet-system/nope"), http.StatusUnauthorized, false},
		{"repository without secret", github("push", githubPush, tokenA).at("/hooks/fleet-system/no-secret"), http.StatusUnauthorized, false},
		{"lookup failure", github("push", githubPush, tokenA).at("/hooks/fleet-system/broken"), http.StatusServiceUnavailable, false},
		{"path without repository", github("push", githubPush, tokenA).at("/hooks/fleet-system"), http.StatusNotFound, false},
		{"path with extra segment", github("push", githubPush, tokenA).at("/hooks/fleet-system/factories/x"), http.StatusNotFound, false},
		{"path with trailing slash", github("push", githubPush, tokenA).at("/hooks/fleet-system/factories/"), http.StatusNotFound, false},
		{"invalid namespace", github("push", githubPush, tokenA).at("/hooks/Fleet_System/factories"), http.StatusNotFound, false},
		{"other prefix", github("push", githubPush, tokenA).at("/other/fleet-system/factories"), http.StatusNotFound, false},
		{"body over 1 MiB", generic(big, tokenA), http.StatusRequestEntityTooLarge, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			h := webhook.NewHandler(webhook.SecretLookupFunc(lookup), rec.trigger)
			var logs bytes.Buffer
			res := serve(t, h, tc.req, &logs)
			if res.Code != tc.status {
				t.Fatalf("status %d (%q), want %d", res.Code, res.Body.String(), tc.status)
			}
			calls := rec.got()
			switch {
			case tc.trigger && (len(calls) != 1 || calls[0] != "fleet-system/factories"):
				t.Fatalf("triggers = %v, want exactly fleet-system/factories", calls)
			case !tc.trigger && len(calls) != 0:
				t.Fatalf("triggered %v, want nothing", calls)
			}
			if tc.status == http.StatusMethodNotAllowed && res.Header().Get("Allow") != http.MethodPost {
				t.Fatalf("405 without Allow: POST")
			}
			for _, secret := range []string{tokenA, tokenB, tc.req.headers[webhook.HeaderGitHubSignature], tc.req.headers[webhook.HeaderSignature]} {
				if secret == "" {
					continue
				}
				if strings.Contains(logs.String(), secret) || strings.Contains(res.Body.String(), secret) {
					t.Fatalf("token or signature leaked in logs or reply:\nlogs: %s\nreply: %s", logs.String(), res.Body.String())
				}
			}
		})
	}
}

func (r request) withMethod(m string) request {
	r.method = m
	return r
}

func TestHandlerSkipRef(t *testing.T) {
	rec := &recorder{}
	h := webhook.NewHandler(webhook.SecretLookupFunc(lookup), rec.trigger)
	h.SkipRef = func(_ context.Context, namespace, repository, ref string) bool {
		return namespace == "fleet-system" && repository == "factories" && ref == "refs/heads/flotilla-status"
	}
	status := []byte(`{"ref":"refs/heads/flotilla-status","after":"` + sha + `"}`)
	var logs bytes.Buffer
	if res := serve(t, h, github("push", status, tokenA), &logs); res.Code != http.StatusOK {
		t.Fatalf("status-branch push: %d %s", res.Code, res.Body)
	}
	if res := serve(t, h, gitlab("Push Hook", status, tokenA), &logs); res.Code != http.StatusOK {
		t.Fatalf("status-branch push (GitLab): %d %s", res.Code, res.Body)
	}
	if calls := rec.got(); len(calls) != 0 {
		t.Fatalf("a push to the status branch triggered %v", calls)
	}
	if res := serve(t, h, github("push", githubPush, tokenA), &logs); res.Code != http.StatusAccepted {
		t.Fatalf("main push: %d %s", res.Code, res.Body)
	}
	if calls := rec.got(); len(calls) != 1 {
		t.Fatalf("main push triggers = %v", calls)
	}
}

func TestHandlerSmallerBodyCap(t *testing.T) {
	rec := &recorder{}
	h := &webhook.Handler{Secrets: webhook.SecretLookupFunc(lookup), Trigger: rec.trigger, MaxBodyBytes: 100}
	var logs bytes.Buffer
	if res := serve(t, h, generic(bytes.Repeat([]byte("a"), 101), tokenA), &logs); res.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", res.Code)
	}
	if res := serve(t, h, generic(bytes.Repeat([]byte("a"), 100), tokenA), &logs); res.Code != http.StatusAccepted {
		t.Fatalf("body at the cap: status %d", res.Code)
	}
}

// TestHandlerOverHTTP runs the handler behind a real server and mux.
func TestHandlerOverHTTP(t *testing.T) {
	rec := &recorder{}
	mux := http.NewServeMux()
	mux.Handle(webhook.PathPrefix, webhook.NewHandler(webhook.SecretLookupFunc(lookup), rec.trigger))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/hooks/fleet-system/factories", bytes.NewReader(githubPush))
	req.Header.Set(webhook.HeaderGitHubEvent, "push")
	req.Header.Set(webhook.HeaderGitHubSignature, webhook.SignatureHeader([]byte(tokenA), githubPush))
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted || len(rec.got()) != 1 {
		t.Fatalf("status %d, triggers %v", res.StatusCode, rec.got())
	}

	big := bytes.Repeat([]byte("x"), 4<<20)
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/hooks/fleet-system/factories", bytes.NewReader(big))
	req.Header.Set(webhook.HeaderSignature, webhook.SignatureHeader([]byte(tokenA), big))
	res, err = srv.Client().Do(req)
	if err == nil {
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("4 MiB body: status %d", res.StatusCode)
		}
	}
	if len(rec.got()) != 1 {
		t.Fatalf("oversized body triggered: %v", rec.got())
	}
}

func TestHandlerNotConfigured(t *testing.T) {
	var logs bytes.Buffer
	if res := serve(t, &webhook.Handler{}, generic([]byte("x"), tokenA), &logs); res.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", res.Code)
	}
}
