package dashboard

import (
	"fmt"
	"net"
	"time"
)

// Defaults of Options.
const (
	// DefaultBatch is how long changes are gathered into one update.
	DefaultBatch = 250 * time.Millisecond
	// DefaultStaleAfter is the heartbeat age past which a cluster is shown
	// stale when Options.StaleAfter is unset.
	DefaultStaleAfter = 90 * time.Second
	// DefaultAuthCacheTTL is how long a TokenReview or SubjectAccessReview
	// answer is reused.
	DefaultAuthCacheTTL = 30 * time.Second
)

// Options configure the dashboard server.
type Options struct {
	// Addr is the listen address, for example "127.0.0.1:9090".
	Addr string
	// Auth turns on authentication (TokenReview) and per-namespace
	// authorization (SubjectAccessReview). Required for an address that is
	// not loopback unless InsecureNoAuth is set.
	Auth bool
	// InsecureNoAuth accepts serving a non-loopback address without
	// authentication (anyone who reaches it sees the fleet).
	InsecureNoAuth bool
	// TLSCertFile and TLSKeyFile, when both set, serve HTTPS.
	TLSCertFile, TLSKeyFile string
	// Batch is how long changes are gathered before the open pages are
	// told; zero means DefaultBatch.
	Batch time.Duration
	// StaleAfter is the heartbeat age past which a cluster is stale; zero
	// means DefaultStaleAfter.
	StaleAfter time.Duration
	// AuthCacheTTL bounds how long an authentication or authorization
	// answer is reused; zero means DefaultAuthCacheTTL.
	AuthCacheTTL time.Duration
}

func (o Options) withDefaults() Options {
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = DefaultStaleAfter
	}
	if o.AuthCacheTTL <= 0 {
		o.AuthCacheTTL = DefaultAuthCacheTTL
	}
	return o
}

// validate refuses an exposed address without authentication.
func (o Options) validate() error {
	if o.Addr == "" {
		return fmt.Errorf("dashboard: no listen address: set --dashboard-addr, for example 127.0.0.1:9090")
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		return fmt.Errorf("dashboard: set both --dashboard-tls-cert and --dashboard-tls-key, or neither")
	}
	if !o.Auth && !o.InsecureNoAuth && !IsLoopback(o.Addr) {
		return fmt.Errorf("dashboard: address %q is not loopback: turn on --dashboard-auth, or listen on 127.0.0.1", o.Addr)
	}
	return nil
}

// IsLoopback reports whether a listen address binds only loopback
// interfaces ("localhost:9090", "127.0.0.1:0", "[::1]:80"). An empty host
// (":9090") binds every interface and is not loopback.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
