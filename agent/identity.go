package agent

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Keys of the identity Secret.
const (
	keyHubURL     = "hubURL"
	keyCA         = "ca.crt"
	keyNamespace  = "namespace"
	keyToken      = "token"
	keyIssued     = "issuedAt"
	keyExpiration = "expirationTime"
)

// Identity is what the agent obtained by registering: the hub's address and
// CA, its agent namespace and a token of the ServiceAccount "agent" there.
type Identity struct {
	// HubURL is the hub API server's address.
	HubURL string
	// CA is the PEM CA bundle that verifies the hub; empty means the
	// system roots.
	CA []byte
	// Namespace is the cluster's agent namespace on the hub.
	Namespace string
	// Token is the bearer token of ServiceAccount "agent" in Namespace.
	Token string
	// IssuedAt is when the token was obtained.
	IssuedAt time.Time
	// Expiration is when the token expires.
	Expiration time.Time
}

// renewAt is when the token is renewed: at 2/3 of its lifetime.
func (id *Identity) renewAt() time.Time {
	return id.IssuedAt.Add(id.Expiration.Sub(id.IssuedAt) * 2 / 3)
}

// loadIdentity reads the identity Secret; nil when there is none.
func loadIdentity(ctx context.Context, member client.Client, namespace string) (*Identity, error) {
	s := &corev1.Secret{}
	if err := member.Get(ctx, client.ObjectKey{Namespace: namespace, Name: IdentitySecret}, s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("read the identity Secret %s/%s: %w", namespace, IdentitySecret, err)
	}
	id := &Identity{
		HubURL:    string(s.Data[keyHubURL]),
		CA:        s.Data[keyCA],
		Namespace: string(s.Data[keyNamespace]),
		Token:     string(s.Data[keyToken]),
	}
	if id.HubURL == "" || id.Namespace == "" || id.Token == "" {
		return nil, fmt.Errorf("identity Secret %s/%s lacks %s, %s or %s: delete it and register again with a new bootstrap token", namespace, IdentitySecret, keyHubURL, keyNamespace, keyToken)
	}
	var err error
	if id.IssuedAt, err = time.Parse(time.RFC3339, string(s.Data[keyIssued])); err != nil {
		return nil, fmt.Errorf("identity Secret %s/%s: %s: %w", namespace, IdentitySecret, keyIssued, err)
	}
	if id.Expiration, err = time.Parse(time.RFC3339, string(s.Data[keyExpiration])); err != nil {
		return nil, fmt.Errorf("identity Secret %s/%s: %s: %w", namespace, IdentitySecret, keyExpiration, err)
	}
	return id, nil
}

// storeIdentity creates or replaces the identity Secret.
func storeIdentity(ctx context.Context, member client.Client, namespace string, id *Identity) error {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: IdentitySecret}}
	data := map[string][]byte{
		keyHubURL:     []byte(id.HubURL),
		keyCA:         id.CA,
		keyNamespace:  []byte(id.Namespace),
		keyToken:      []byte(id.Token),
		keyIssued:     []byte(id.IssuedAt.UTC().Format(time.RFC3339)),
		keyExpiration: []byte(id.Expiration.UTC().Format(time.RFC3339)),
	}
	err := member.Get(ctx, client.ObjectKeyFromObject(s), s)
	switch {
	case apierrors.IsNotFound(err):
		s.Type = corev1.SecretTypeOpaque
		s.Labels = map[string]string{labelAgentSecret: "identity"}
		s.Data = data
		err = member.Create(ctx, s)
	case err == nil:
		s.Data = data
		err = member.Update(ctx, s)
	}
	if err != nil {
		return fmt.Errorf("store the identity in Secret %s/%s: %w", namespace, IdentitySecret, err)
	}
	return nil
}

// bearer holds the current token; the hub client reads it on every request,
// so a renewed token is used at once.
type bearer struct {
	mu    sync.RWMutex
	token string
}

func (b *bearer) set(token string) {
	b.mu.Lock()
	b.token = token
	b.mu.Unlock()
}

func (b *bearer) get() string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.token
}

type bearerTransport struct {
	b    *bearer
	next http.RoundTripper
}

func (t *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+t.b.get())
	return t.next.RoundTrip(req)
}

// hubConfig is the rest.Config of the agent identity: the token comes from b.
func hubConfig(id *Identity, b *bearer, timeout time.Duration) *rest.Config {
	return &rest.Config{
		Host:            id.HubURL,
		TLSClientConfig: rest.TLSClientConfig{CAData: id.CA},
		Timeout:         timeout,
		QPS:             20,
		Burst:           40,
		UserAgent:       "flotilla-agent",
		WrapTransport: func(rt http.RoundTripper) http.RoundTripper {
			return &bearerTransport{b: b, next: rt}
		},
	}
}
