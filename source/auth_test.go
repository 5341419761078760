package source

import (
	"errors"
	"strings"
	"testing"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

func TestAuthFromSecretData(t *testing.T) {
	kh := []byte("git.example.com " + authorized(testKey(t)))
	cases := []struct {
		name    string
		data    map[string][]byte
		wantErr string
	}{
		{"empty", nil, ""},
		{"basic", map[string][]byte{"username": []byte("u"), "password": []byte("p")}, ""},
		{"token", map[string][]byte{"bearerToken": []byte("t")}, ""},
		{"ssh", map[string][]byte{"identity": []byte("k"), "known_hosts": kh}, ""},
		{"password without username", map[string][]byte{"password": []byte("p")}, `key "password" is set without "username"`},
		{"token and username", map[string][]byte{"bearerToken": []byte("t"), "username": []byte("u")}, "exclusive"},
		{"identity and token", map[string][]byte{"identity": []byte("k"), "known_hosts": kh, "bearerToken": []byte("t")}, "cannot be combined"},
		{"identity without known_hosts", map[string][]byte{"identity": []byte("k")}, `without "known_hosts"`},
		{"bad known_hosts", map[string][]byte{"identity": []byte("k"), "known_hosts": []byte("nonsense")}, `key "known_hosts"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := AuthFromSecretData(tc.data)
			if tc.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("want error containing %q, got %v", tc.wantErr, err)
			}
			if err != nil && strings.Contains(err.Error(), "p\"") {
				t.Fatalf("error shows a secret value: %v", err)
			}
		})
	}
}

func TestTransportAuth(t *testing.T) {
	m, err := (&Auth{Username: "u", Password: "p"}).TransportAuth("https://git.example.com/fleet.git")
	if b, ok := m.(*githttp.BasicAuth); err != nil || !ok || b.Username != "u" || b.Password != "p" {
		t.Fatalf("basic auth: %#v, %v", m, err)
	}
	m, err = (&Auth{BearerToken: "tok"}).TransportAuth("https://git.example.com/fleet.git")
	if b, ok := m.(*githttp.TokenAuth); err != nil || !ok || b.Token != "tok" {
		t.Fatalf("token auth: %#v, %v", m, err)
	}
	m, err = (*Auth)(nil).TransportAuth("https://git.example.com/fleet.git")
	if err != nil || m != nil {
		t.Fatalf("anonymous: %#v, %v", m, err)
	}
	if _, err := (*Auth)(nil).TransportAuth("ssh://git@git.example.com/fleet.git"); err == nil {
		t.Fatal("ssh without credentials accepted")
	}
	if _, err := (&Auth{Username: "u"}).TransportAuth("file:///etc"); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Fatalf("file URL: %v", err)
	}
	if _, err := (&Auth{Identity: []byte("not a key"), KnownHosts: []byte("h " + authorized(testKey(t)))}).TransportAuth("ssh://git@h/r.git"); err == nil || !strings.Contains(err.Error(), "identity") {
		t.Fatalf("bad identity: %v", err)
	}
}

func TestRedact(t *testing.T) {
	if got := RedactURL("https://user:pa55@git.example.com/fleet.git"); got != "https://git.example.com/fleet.git" {
		t.Fatalf("RedactURL = %q", got)
	}
	if got := RedactURL("ssh://git@git.example.com:22/fleet.git"); got != "ssh://git.example.com:22/fleet.git" {
		t.Fatalf("RedactURL = %q", got)
	}
	if got := RedactURL("http://a b:%zz@x"); strings.Contains(got, "zz") {
		t.Fatalf("RedactURL of a bad URL = %q", got)
	}
	base := errors.New(`Get "https://user:pa55@git.example.com/fleet.git/info/refs": token s3cret refused`)
	err := redactErr(base, "https://user:pa55@git.example.com/fleet.git", "s3cret")
	if strings.Contains(err.Error(), "pa55") || strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "user:") {
		t.Fatalf("redacted error still holds a secret: %v", err)
	}
	if !errors.Is(err, base) {
		t.Fatal("redacted error lost its cause")
	}
	plain := errors.New("nothing secret")
	if redactErr(plain, "https://git.example.com/x", "") != plain { //nolint:errorlint // identity on purpose: the very same error value must come back, not a wrapper of it
		t.Fatal("an error without secrets was rewrapped")
	}
}
