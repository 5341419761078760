// Package seal encrypts a credential to an agent's X25519 public key, so the
// hub can hand an agent its token through an object the bootstrap identity
// can read without anyone else being able to use it.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
)

// info binds derived keys to this use.
const info = "flotilla.dev/agent-credential/v1"

// NewKey returns a new X25519 private key for an agent's registration.
func NewKey() (*ecdh.PrivateKey, error) {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate the registration key: %w", err)
	}
	return k, nil
}

// Seal encrypts plaintext to the X25519 public key pub (32 bytes) with a
// one-time key of its own: X25519, then SHA-256 over the shared secret and
// both public keys, then AES-256-GCM.
func Seal(pub []byte, plaintext []byte) (*flotillav1.SealedCredential, error) {
	recipient, err := ecdh.X25519().NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("seal the credential: the registration's publicKey is not an X25519 key: %w", err)
	}
	eph, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("seal the credential: %w", err)
	}
	shared, err := eph.ECDH(recipient)
	if err != nil {
		return nil, fmt.Errorf("seal the credential: %w", err)
	}
	aead, err := newAEAD(shared, eph.PublicKey().Bytes(), pub)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal the credential: %w", err)
	}
	return &flotillav1.SealedCredential{
		EphemeralPublicKey: eph.PublicKey().Bytes(),
		Nonce:              nonce,
		Ciphertext:         aead.Seal(nil, nonce, plaintext, []byte(info)),
	}, nil
}

// Open decrypts a credential sealed to key.
func Open(key *ecdh.PrivateKey, sealed *flotillav1.SealedCredential) ([]byte, error) {
	if sealed == nil {
		return nil, errors.New("open the credential: nothing sealed")
	}
	eph, err := ecdh.X25519().NewPublicKey(sealed.EphemeralPublicKey)
	if err != nil {
		return nil, fmt.Errorf("open the credential: bad ephemeral key: %w", err)
	}
	shared, err := key.ECDH(eph)
	if err != nil {
		return nil, fmt.Errorf("open the credential: %w", err)
	}
	aead, err := newAEAD(shared, sealed.EphemeralPublicKey, key.PublicKey().Bytes())
	if err != nil {
		return nil, err
	}
	out, err := aead.Open(nil, sealed.Nonce, sealed.Ciphertext, []byte(info))
	if err != nil {
		return nil, fmt.Errorf("open the credential: it was not sealed to this agent's key: %w", err)
	}
	return out, nil
}

func newAEAD(shared, ephPub, recipientPub []byte) (cipher.AEAD, error) {
	h := sha256.New()
	h.Write([]byte(info))
	h.Write(shared)
	h.Write(ephPub)
	h.Write(recipientPub)
	block, err := aes.NewCipher(h.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("seal the credential: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal the credential: %w", err)
	}
	return aead, nil
}
