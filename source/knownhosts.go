package source

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // hashed known_hosts entries are HMAC-SHA1 by the OpenSSH format; used to match, not to protect
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"golang.org/x/crypto/ssh"
)

// knownHosts is an in-memory known_hosts database. It is parsed from Secret
// data, so nothing is written to disk (the controller runs with a read-only
// root filesystem).
type knownHosts struct {
	entries []knownHostEntry
}

type knownHostEntry struct {
	marker   string // "", "@cert-authority" or "@revoked"
	patterns []string
	key      ssh.PublicKey
}

// parseKnownHosts parses known_hosts lines in OpenSSH format: plain, bracketed
// "[host]:port", hashed "|1|salt|hash", wildcard and negated patterns, and the
// @cert-authority and @revoked markers.
func parseKnownHosts(data []byte) (*knownHosts, error) {
	db := &knownHosts{}
	rest := data
	for {
		marker, hosts, key, _, next, err := ssh.ParseKnownHosts(rest)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parse known_hosts: %w", err)
		}
		if marker != "" {
			marker = "@" + marker
		}
		db.entries = append(db.entries, knownHostEntry{marker: marker, patterns: hosts, key: key})
		rest = next
	}
	if len(db.entries) == 0 {
		return nil, errors.New("parse known_hosts: no host key found: add a line such as \"host ssh-ed25519 AAAA...\"")
	}
	return db, nil
}

// hostKeyCallback verifies the server's host key (or host certificate)
// against the database. It never accepts an unknown host.
func (db *knownHosts) hostKeyCallback() ssh.HostKeyCallback {
	checker := &ssh.CertChecker{
		IsHostAuthority: func(auth ssh.PublicKey, address string) bool {
			return db.match("@cert-authority", address, auth)
		},
		IsRevoked: func(cert *ssh.Certificate) bool {
			return db.revoked(cert.SignatureKey)
		},
		HostKeyFallback: db.checkPlainKey,
	}
	return checker.CheckHostKey
}

func (db *knownHosts) checkPlainKey(hostname string, _ net.Addr, key ssh.PublicKey) error {
	if db.revoked(key) {
		return fmt.Errorf("verify SSH host key of %s: key %s is marked @revoked in known_hosts", hostname, ssh.FingerprintSHA256(key))
	}
	if db.match("", hostname, key) {
		return nil
	}
	if db.knows(hostname) {
		return fmt.Errorf("verify SSH host key of %s: the server presented %s %s, which does not match known_hosts: check the server or update known_hosts", hostname, key.Type(), ssh.FingerprintSHA256(key))
	}
	return fmt.Errorf("verify SSH host key of %s: host is not in known_hosts: add its host key line", hostname)
}

func (db *knownHosts) revoked(key ssh.PublicKey) bool {
	for _, e := range db.entries {
		if e.marker == "@revoked" && bytes.Equal(e.key.Marshal(), key.Marshal()) {
			return true
		}
	}
	return false
}

// match reports whether an entry with the given marker matches host and key.
func (db *knownHosts) match(marker, hostport string, key ssh.PublicKey) bool {
	for _, e := range db.entries {
		if e.marker == marker && matchHost(e.patterns, hostport) && bytes.Equal(e.key.Marshal(), key.Marshal()) {
			return true
		}
	}
	return false
}

// knows reports whether any plain entry names the host.
func (db *knownHosts) knows(hostport string) bool {
	for _, e := range db.entries {
		if e.marker == "" && matchHost(e.patterns, hostport) {
			return true
		}
	}
	return false
}

// hostKeyAlgorithms lists the host key algorithms to offer for hostport, so
// the server presents a key type known_hosts can verify.
func (db *knownHosts) hostKeyAlgorithms(hostport string) []string {
	var algos []string
	seen := map[string]bool{}
	add := func(names ...string) {
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				algos = append(algos, n)
			}
		}
	}
	for _, e := range db.entries {
		if !matchHost(e.patterns, hostport) {
			continue
		}
		switch e.marker {
		case "":
			add(keyAlgorithms(e.key.Type())...)
		case "@cert-authority":
			add(certAlgorithms(e.key.Type())...)
		}
	}
	return algos
}

func keyAlgorithms(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

func certAlgorithms(caType string) []string {
	// A CA of any type may sign host keys of any type; offer them all.
	return []string{
		ssh.CertAlgoED25519v01, ssh.CertAlgoECDSA256v01, ssh.CertAlgoECDSA384v01, ssh.CertAlgoECDSA521v01,
		ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01, ssh.CertAlgoRSAv01,
	}
}

// matchHost applies OpenSSH pattern rules: the address is "host" for port 22
// and "[host]:port" otherwise; a negated pattern that matches wins.
func matchHost(patterns []string, hostport string) bool {
	addr := knownHostsAddress(hostport)
	matched := false
	for _, p := range patterns {
		negated := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		var ok bool
		if strings.HasPrefix(p, "|1|") {
			ok = matchHashed(p, addr)
		} else {
			ok = wildcardMatch(strings.ToLower(p), addr)
		}
		if ok && negated {
			return false
		}
		matched = matched || ok
	}
	return matched
}

func knownHostsAddress(hostport string) string {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, "22"
	}
	host = strings.ToLower(host)
	if port == "22" {
		return host
	}
	return "[" + host + "]:" + port
}

func matchHashed(pattern, addr string) bool {
	parts := strings.Split(pattern, "|") // "", "1", salt, hash
	if len(parts) != 4 {
		return false
	}
	salt, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	want, err := base64.StdEncoding.DecodeString(parts[3])
	if err != nil {
		return false
	}
	mac := hmac.New(sha1.New, salt)
	mac.Write([]byte(addr))
	return hmac.Equal(mac.Sum(nil), want)
}

// wildcardMatch matches s against an OpenSSH pattern where '*' is any run of
// characters and '?' is one character; everything else (brackets included)
// is literal.
func wildcardMatch(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
