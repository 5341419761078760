package webhook_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flotilla-gitops/flotilla/source/webhook"
)

func TestParsePush(t *testing.T) {
	ev, err := webhook.ParseGitHubPush(githubPush, "application/json")
	if err != nil || ev.Ref != "refs/heads/main" || ev.Revision != sha {
		t.Fatalf("GitHub: %+v, %v", ev, err)
	}
	ev, err = webhook.ParseGitLabPush(gitlabPush)
	if err != nil || ev.Ref != "refs/heads/main" || ev.Revision != sha {
		t.Fatalf("GitLab: %+v, %v", ev, err)
	}
	ev, err = webhook.ParseGitLabPush([]byte(`{"ref":"refs/tags/v1","checkout_sha":"` + sha + `"}`))
	if err != nil || ev.Revision != sha {
		t.Fatalf("GitLab checkout_sha: %+v, %v", ev, err)
	}
	for _, bad := range []string{``, `null`, `{}`, `"x"`, `{"ref":1}`, `{"ref":"main","after":"` + sha + `"}`, `{"ref":"refs/heads/main","after":"` + strings.ToUpper(sha) + `"}`} {
		if _, err := webhook.ParseGitHubPush([]byte(bad), ""); err == nil {
			t.Errorf("GitHub accepted %q", bad)
		}
		if _, err := webhook.ParseGitLabPush([]byte(bad)); err == nil {
			t.Errorf("GitLab accepted %q", bad)
		}
	}
}

// FuzzParsePush checks that the payload parsers never panic and only accept
// payloads with a full ref name and a commit SHA.
func FuzzParsePush(f *testing.F) {
	f.Add(githubPush)
	f.Add(gitlabPush)
	f.Add([]byte(`{"ref":"refs/heads/x","after":null}`))
	f.Add([]byte(`{"ref":["a"],"after":{}}`))
	f.Add([]byte(`payload=%7B%22ref%22%3A1%7D`))
	f.Add([]byte(`{"ref":"refs/heads/main","after":"` + sha + `","ref":"x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, ct := range []string{"application/json", "application/x-www-form-urlencoded"} {
			if ev, err := webhook.ParseGitHubPush(body, ct); err == nil {
				checkEvent(t, ev)
			}
		}
		if ev, err := webhook.ParseGitLabPush(body); err == nil {
			checkEvent(t, ev)
		}
	})
}

func checkEvent(t *testing.T, ev webhook.PushEvent) {
	t.Helper()
	if !strings.HasPrefix(ev.Ref, "refs/") {
		t.Fatalf("accepted ref %q", ev.Ref)
	}
	if len(ev.Revision) != 40 && len(ev.Revision) != 64 {
		t.Fatalf("accepted revision %q", ev.Revision)
	}
}

// FuzzHandler sends arbitrary bodies and headers: the handler never panics,
// answers one of the documented codes, and triggers only for a valid proof.
func FuzzHandler(f *testing.F) {
	f.Add(githubPush, "push", webhook.SignatureHeader([]byte(tokenA), githubPush), "", "")
	f.Add(gitlabPush, "", "", tokenA, "")
	f.Add([]byte("x"), "", "", "", webhook.SignatureHeader([]byte(tokenA), []byte("x")))
	f.Add([]byte(`{"ref":`), "push", "sha256=00", "", "")
	f.Fuzz(func(t *testing.T, body []byte, event, hubSig, gitlabToken, genericSig string) {
		triggered := 0
		h := webhook.NewHandler(webhook.SecretLookupFunc(lookup), func(context.Context, string, string) error { triggered++; return nil })
		req := httptest.NewRequest(http.MethodPost, "/hooks/fleet-system/factories", bytes.NewReader(body))
		set := func(k, v string) {
			if v != "" && !strings.ContainsAny(v, "\r\n\x00") {
				req.Header.Set(k, v)
			}
		}
		set(webhook.HeaderGitHubEvent, event)
		set(webhook.HeaderGitLabEvent, event)
		set(webhook.HeaderGitHubSignature, hubSig)
		set(webhook.HeaderGitLabToken, gitlabToken)
		set(webhook.HeaderSignature, genericSig)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req.WithContext(context.Background()))
		switch rec.Code {
		case http.StatusAccepted:
			if triggered != 1 {
				t.Fatalf("202 with %d triggers", triggered)
			}
		case http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized:
			if triggered != 0 {
				t.Fatalf("%d with %d triggers", rec.Code, triggered)
			}
		default:
			t.Fatalf("unexpected status %d", rec.Code)
		}
		if triggered > 0 {
			want := webhook.SignatureHeader([]byte(tokenA), body)
			valid := strings.EqualFold(req.Header.Get(webhook.HeaderGitHubSignature), want) ||
				req.Header.Get(webhook.HeaderGitLabToken) == tokenA ||
				strings.EqualFold(req.Header.Get(webhook.HeaderSignature), want)
			if !valid {
				t.Fatal("triggered without a valid signature or token")
			}
		}
	})
}
