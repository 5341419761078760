package source_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-gitops/flotilla/source"
)

func TestFetchOverSSH(t *testing.T) {
	srv := newServer(t, testUser, testPass)
	srv.createRepo(t, "fleet.git")
	w := newWorkTree(t, srv.pushURL("fleet.git"))
	w.write("a.yaml", "a: 1\n")
	head := w.commit("a")
	w.git("push", "--quiet", "origin", "main")

	identity, pub := newSSHKey(t)
	knownHost := srv.startSSH(t, pub)
	url := srv.SSHAddress() + "/fleet.git"
	ctx := context.Background()
	f := newFetcher(t)

	t.Run("known host", func(t *testing.T) {
		auth, err := source.AuthFromSecretData(map[string][]byte{
			"identity":    identity,
			"known_hosts": []byte(knownHost + "\n"),
		})
		if err != nil {
			t.Fatal(err)
		}
		snap, err := f.Fetch(ctx, source.FetchSpec{URL: url, Auth: auth, Timeout: 20 * time.Second})
		if err != nil {
			t.Fatalf("fetch over SSH: %v", err)
		}
		defer snap.Release()
		if snap.Revision != head {
			t.Fatalf("revision %s, want %s", snap.Revision, head)
		}
	})

	t.Run("wrong host key", func(t *testing.T) {
		otherKey := newRSAPublicKey(t) // same type as the server's key
		addr := strings.TrimPrefix(srv.SSHAddress(), "ssh://git@")
		host, port, _ := strings.Cut(addr, ":")
		wrong := "[" + host + "]:" + port + " " + strings.TrimSpace(string(marshalKey(otherKey)))
		auth, err := source.AuthFromSecretData(map[string][]byte{"identity": identity, "known_hosts": []byte(wrong)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Fetch(ctx, source.FetchSpec{URL: url, Auth: auth, Timeout: 20 * time.Second})
		if err == nil || !strings.Contains(err.Error(), "does not match known_hosts") {
			t.Fatalf("want a host key mismatch, got %v", err)
		}
	})

	t.Run("host key type not in known_hosts", func(t *testing.T) {
		_, otherKey := newSSHKey(t) // ed25519; the server only has RSA
		addr := strings.TrimPrefix(srv.SSHAddress(), "ssh://git@")
		host, port, _ := strings.Cut(addr, ":")
		line := "[" + host + "]:" + port + " " + strings.TrimSpace(string(marshalKey(otherKey)))
		auth := &source.Auth{Identity: identity, KnownHosts: []byte(line)}
		_, err := f.Fetch(ctx, source.FetchSpec{URL: url, Auth: auth, Timeout: 20 * time.Second})
		if err == nil || !strings.Contains(err.Error(), "no host key of a type listed in known_hosts") {
			t.Fatalf("want a host key type error, got %v", err)
		}
	})

	t.Run("host not in known_hosts", func(t *testing.T) {
		otherKey := newRSAPublicKey(t)
		other := "git.example.com " + strings.TrimSpace(string(marshalKey(otherKey)))
		auth, err := source.AuthFromSecretData(map[string][]byte{"identity": identity, "known_hosts": []byte(other)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Fetch(ctx, source.FetchSpec{URL: url, Auth: auth, Timeout: 20 * time.Second})
		if err == nil || !strings.Contains(err.Error(), "not in known_hosts") {
			t.Fatalf("want an unknown host error, got %v", err)
		}
	})

	t.Run("client key not authorised", func(t *testing.T) {
		otherIdentity, _ := newSSHKey(t)
		auth := &source.Auth{Identity: otherIdentity, KnownHosts: []byte(knownHost)}
		if _, err := f.Fetch(ctx, source.FetchSpec{URL: url, Auth: auth, Timeout: 20 * time.Second}); err == nil {
			t.Fatal("fetch with an unauthorised key succeeded")
		}
	})

	t.Run("missing known_hosts", func(t *testing.T) {
		if _, err := source.AuthFromSecretData(map[string][]byte{"identity": identity}); err == nil || !strings.Contains(err.Error(), "known_hosts") {
			t.Fatalf("want an error naming known_hosts, got %v", err)
		}
		_, err := f.Fetch(ctx, source.FetchSpec{URL: url, Auth: &source.Auth{Identity: identity}})
		if err == nil || !strings.Contains(err.Error(), "known_hosts") {
			t.Fatalf("fetch without known_hosts: want an error, got %v", err)
		}
		if _, err := f.Fetch(ctx, source.FetchSpec{URL: url}); err == nil {
			t.Fatal("SSH fetch without credentials succeeded")
		}
	})
}
