package source

import (
	"fmt"
	"net"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

// Keys read from a Git credentials Secret by AuthFromSecretData.
const (
	// SecretKeyUsername is the HTTPS basic-auth user name.
	SecretKeyUsername = "username"
	// SecretKeyPassword is the HTTPS basic-auth password, or the passphrase
	// of an encrypted SSH identity.
	SecretKeyPassword = "password"
	// SecretKeyBearerToken is an HTTPS bearer token.
	SecretKeyBearerToken = "bearerToken"
	// SecretKeyIdentity is a PEM-encoded SSH private key.
	SecretKeyIdentity = "identity"
	// SecretKeyKnownHosts holds known_hosts lines that verify the SSH server.
	SecretKeyKnownHosts = "known_hosts"
	// SecretKeyCA is an optional PEM CA bundle trusted for HTTPS, in
	// addition to the system pool.
	SecretKeyCA = "ca.crt"
)

// Auth holds the credentials used to reach a Git server. The zero value (or
// nil) means anonymous HTTP(S); SSH always needs Identity and KnownHosts.
type Auth struct {
	// Username and Password are HTTPS basic-auth credentials. With an SSH
	// Identity, Password is the identity's passphrase instead.
	Username string
	Password string
	// BearerToken is sent as "Authorization: Bearer <token>" over HTTPS.
	BearerToken string
	// Identity is a PEM-encoded SSH private key.
	Identity []byte
	// KnownHosts are the known_hosts lines the SSH server's host key must
	// match. Host keys are always verified.
	KnownHosts []byte
	// CABundle is an extra PEM CA bundle for HTTPS.
	CABundle []byte
}

// AuthFromSecretData builds Auth from the data of a Kubernetes Secret (see
// the SecretKey constants). It rejects combinations that cannot work. A nil
// or empty map gives nil (anonymous).
func AuthFromSecretData(data map[string][]byte) (*Auth, error) {
	if len(data) == 0 {
		return nil, nil
	}
	a := &Auth{
		Username:    string(data[SecretKeyUsername]),
		Password:    string(data[SecretKeyPassword]),
		BearerToken: string(data[SecretKeyBearerToken]),
		Identity:    data[SecretKeyIdentity],
		KnownHosts:  data[SecretKeyKnownHosts],
		CABundle:    data[SecretKeyCA],
	}
	if err := a.validate(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Auth) validate() error {
	if a == nil {
		return nil
	}
	ssh := len(a.Identity) > 0
	switch {
	case a.BearerToken != "" && a.Username != "":
		return fmt.Errorf("git credentials: keys %q and %q are exclusive: keep only one of them", SecretKeyBearerToken, SecretKeyUsername)
	case ssh && (a.BearerToken != "" || a.Username != ""):
		return fmt.Errorf("git credentials: key %q (SSH) cannot be combined with %q or %q (HTTPS): keep one kind", SecretKeyIdentity, SecretKeyUsername, SecretKeyBearerToken)
	case !ssh && a.Password != "" && a.Username == "":
		return fmt.Errorf("git credentials: key %q is set without %q: add the user name", SecretKeyPassword, SecretKeyUsername)
	case ssh && len(a.KnownHosts) == 0:
		return fmt.Errorf("git credentials: key %q is set without %q: add the server's known_hosts line (host keys are always verified)", SecretKeyIdentity, SecretKeyKnownHosts)
	}
	if len(a.KnownHosts) > 0 {
		if _, err := parseKnownHosts(a.KnownHosts); err != nil {
			return fmt.Errorf("git credentials: key %q: %w", SecretKeyKnownHosts, err)
		}
	}
	return nil
}

// secrets lists the strings that must never appear in errors or logs.
func (a *Auth) secrets() []string {
	if a == nil {
		return nil
	}
	return []string{a.Password, a.BearerToken}
}

// TransportAuth returns the go-git auth method for the given repository URL.
// It fails for SSH URLs without an identity and known_hosts, and for
// unsupported schemes. A nil result means anonymous HTTP(S).
func (a *Auth) TransportAuth(url string) (transport.AuthMethod, error) {
	ep, err := endpoint(url)
	if err != nil {
		return nil, err
	}
	if err := a.validate(); err != nil {
		return nil, err
	}
	switch ep.Protocol {
	case "http", "https":
		if a == nil {
			return nil, nil
		}
		if len(a.Identity) > 0 {
			return nil, fmt.Errorf("git credentials for %s: the Secret holds an SSH identity but the URL is %s: use an ssh:// URL or HTTPS credentials", RedactURL(url), ep.Protocol)
		}
		if a.BearerToken != "" {
			return &githttp.TokenAuth{Token: a.BearerToken}, nil
		}
		if a.Username != "" {
			return &githttp.BasicAuth{Username: a.Username, Password: a.Password}, nil
		}
		return nil, nil
	case "ssh":
		if a == nil || len(a.Identity) == 0 || len(a.KnownHosts) == 0 {
			return nil, fmt.Errorf("git credentials for %s: SSH needs keys %q and %q in the Secret", RedactURL(url), SecretKeyIdentity, SecretKeyKnownHosts)
		}
		user := ep.User
		if user == "" {
			user = "git"
		}
		keys, err := gitssh.NewPublicKeys(user, a.Identity, a.Password)
		if err != nil {
			return nil, fmt.Errorf("git credentials: parse key %q: %w", SecretKeyIdentity, err)
		}
		db, err := parseKnownHosts(a.KnownHosts)
		if err != nil {
			return nil, fmt.Errorf("git credentials: key %q: %w", SecretKeyKnownHosts, err)
		}
		port := ep.Port
		if port == 0 {
			port = 22
		}
		keys.HostKeyCallback = db.hostKeyCallback()
		keys.HostKeyAlgorithms = db.hostKeyAlgorithms(net.JoinHostPort(ep.Host, fmt.Sprint(port)))
		return keys, nil
	default:
		return nil, fmt.Errorf("git URL %s: scheme %q is not supported: use https://, http:// or ssh://", RedactURL(url), ep.Protocol)
	}
}

// caBundle returns the extra CA bundle, if any.
func (a *Auth) caBundle() []byte {
	if a == nil {
		return nil
	}
	return a.CABundle
}

// endpoint parses a remote URL; only http, https and ssh URLs are accepted.
func endpoint(url string) (*transport.Endpoint, error) {
	ep, err := transport.NewEndpoint(url)
	if err != nil {
		return nil, fmt.Errorf("git URL %s: %w", RedactURL(url), redactErr(err, url))
	}
	switch ep.Protocol {
	case "http", "https", "ssh":
		return ep, nil
	default:
		return nil, fmt.Errorf("git URL %s: scheme %q is not supported: use https://, http:// or ssh://", RedactURL(url), ep.Protocol)
	}
}
