package testenv

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"
)

// retryUnsent wraps a client's transport so that requests that never reached
// the server, because the connection was refused or the TLS handshake timed
// out (a loaded machine, an apiserver restarting), are sent again until the
// request's context ends, or for DefaultRetryTimeout without a deadline.
// Such a request had no effect, so repeating it is safe for every verb.
type retryUnsent struct {
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t retryUnsent) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(DefaultRetryTimeout)
	}
	wait := 100 * time.Millisecond
	for {
		res, err := t.next.RoundTrip(req)
		if err == nil || !notSent(err) || time.Now().Add(wait).After(deadline) {
			return res, err
		}
		if req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				return res, err
			}
			body, berr := req.GetBody()
			if berr != nil {
				return res, err
			}
			req = req.Clone(ctx)
			req.Body = body
		}
		select {
		case <-ctx.Done():
			return res, err
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// notSent reports whether err shows the request was never sent: the dial
// failed or the TLS handshake timed out.
func notSent(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return true
	}
	return strings.Contains(err.Error(), "TLS handshake timeout")
}
