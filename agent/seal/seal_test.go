package seal

import (
	"bytes"
	"testing"
)

func TestSealOpensOnlyWithTheRecipientsKey(t *testing.T) {
	agent, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	token := []byte("eyJhbGciOi.token")
	sealed, err := Seal(agent.PublicKey().Bytes(), token)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed.Ciphertext, token) {
		t.Fatal("ciphertext contains the token")
	}
	got, err := Open(agent, sealed)
	if err != nil || !bytes.Equal(got, token) {
		t.Fatalf("Open = %q, %v; want the token", got, err)
	}
	if _, err := Open(other, sealed); err == nil {
		t.Fatal("another key opened the credential")
	}
	sealed.Ciphertext[0] ^= 1
	if _, err := Open(agent, sealed); err == nil {
		t.Fatal("a tampered credential opened")
	}
	if _, err := Seal([]byte("short"), token); err == nil {
		t.Fatal("Seal accepted a key that is not X25519")
	}
}
