package source

import (
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func testKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func authorized(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

func TestKnownHostsCallback(t *testing.T) {
	key, other := testKey(t), testKey(t)
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22}
	cases := []struct {
		name     string
		lines    string
		hostport string
		key      ssh.PublicKey
		wantErr  string // "" means accepted
	}{
		{"plain host", "git.example.com " + authorized(key), "git.example.com:22", key, ""},
		{"case-insensitive host", "GIT.example.com " + authorized(key), "git.example.com:22", key, ""},
		{"several hosts", "a.example.com,git.example.com " + authorized(key), "git.example.com:22", key, ""},
		{"bracketed port", "[git.example.com]:2222 " + authorized(key), "git.example.com:2222", key, ""},
		{"port 22 line does not cover another port", "git.example.com " + authorized(key), "git.example.com:2222", key, "not in known_hosts"},
		{"hashed", knownhosts.HashHostname("git.example.com") + " " + authorized(key), "git.example.com:22", key, ""},
		{"hashed with port", knownhosts.HashHostname("[git.example.com]:2222") + " " + authorized(key), "git.example.com:2222", key, ""},
		{"wildcard", "*.example.com " + authorized(key), "git.example.com:22", key, ""},
		{"negated wildcard", "*.example.com,!git.example.com " + authorized(key), "git.example.com:22", key, "not in known_hosts"},
		{"mismatch", "git.example.com " + authorized(other), "git.example.com:22", key, "does not match known_hosts"},
		{"second key of host matches", "git.example.com " + authorized(other) + "\ngit.example.com " + authorized(key), "git.example.com:22", key, ""},
		{"unknown host", "other.example.com " + authorized(key), "git.example.com:22", key, "not in known_hosts"},
		{"revoked", "git.example.com " + authorized(key) + "\n@revoked * " + authorized(key), "git.example.com:22", key, "@revoked"},
		{"comments and blank lines", "# comment\n\ngit.example.com " + authorized(key) + " comment", "git.example.com:22", key, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, err := parseKnownHosts([]byte(tc.lines))
			if err != nil {
				t.Fatal(err)
			}
			err = db.hostKeyCallback()(tc.hostport, addr, tc.key)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("want error containing %q, got %v", tc.wantErr, err)
			}
		})
	}
}

func TestKnownHostsCertificateAuthority(t *testing.T) {
	caPub, caPriv, _ := ed25519.GenerateKey(rand.Reader)
	caSigner, err := ssh.NewSignerFromKey(caPriv)
	if err != nil {
		t.Fatal(err)
	}
	caKey, _ := ssh.NewPublicKey(caPub)
	hostKey := testKey(t)
	cert := &ssh.Certificate{Key: hostKey, CertType: ssh.HostCert, ValidPrincipals: []string{"git.example.com"}, ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, caSigner); err != nil {
		t.Fatal(err)
	}
	db, err := parseKnownHosts([]byte("@cert-authority *.example.com " + authorized(caKey)))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.hostKeyCallback()("git.example.com:22", nil, cert); err != nil {
		t.Fatalf("certificate signed by the known CA rejected: %v", err)
	}
	if err := db.hostKeyCallback()("git.example.com:22", nil, hostKey); err == nil {
		t.Fatal("plain key accepted although only a CA is known")
	}
	if algos := db.hostKeyAlgorithms("git.example.com:22"); len(algos) == 0 || !strings.Contains(algos[0], "cert-v01") {
		t.Fatalf("host key algorithms for a CA = %v", algos)
	}
}

func TestKnownHostsAlgorithms(t *testing.T) {
	db, err := parseKnownHosts([]byte("[h]:2222 " + authorized(testKey(t))))
	if err != nil {
		t.Fatal(err)
	}
	if got := db.hostKeyAlgorithms("h:2222"); len(got) != 1 || got[0] != ssh.KeyAlgoED25519 {
		t.Fatalf("algorithms = %v, want [ssh-ed25519]", got)
	}
	if got := db.hostKeyAlgorithms("h:22"); len(got) != 0 {
		t.Fatalf("algorithms for another port = %v, want none", got)
	}
}

func TestParseKnownHostsRejectsGarbage(t *testing.T) {
	for _, in := range []string{"", "# only a comment\n", "host not-a-key"} {
		if _, err := parseKnownHosts([]byte(in)); err == nil {
			t.Errorf("parseKnownHosts(%q) succeeded", in)
		}
	}
}

func TestWildcardMatch(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "anything", true},
		{"git.example.com", "git.example.com", true},
		{"git.example.com", "git.example.org", false},
		{"*.example.com", "a.b.example.com", true},
		{"?.example.com", "a.example.com", true},
		{"?.example.com", "ab.example.com", false},
		{"[h]:2222", "[h]:2222", true},
		{"[h]:*", "[h]:2222", true},
		{"[h]:2222", "h", false},
	}
	for _, tc := range cases {
		if got := wildcardMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}
