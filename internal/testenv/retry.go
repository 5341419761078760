package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"
)

// DefaultRetryTimeout bounds Retry when the context has no deadline.
const DefaultRetryTimeout = 2 * time.Minute

// transientMessages are the texts of errors that a loaded machine or a
// component still starting produces, and that the same call can get past
// when repeated: the server is there, it was just slow or not listening yet.
var transientMessages = []string{
	"TLS handshake timeout",
	"connection refused",
	"connection reset by peer",
	"broken pipe",
	"i/o timeout",
	"EOF",
	"the server is currently unable to handle the request",
	"the server was unable to return a response in the time allotted",
	"Client.Timeout exceeded",
	"context deadline exceeded (Client.Timeout",
	"net/http: request canceled while waiting for connection",
	"http2: client connection lost",
	"etcdserver: request timed out",
	"etcdserver: leader changed",
	"Too many requests",
	"ServiceUnavailable",
	"unexpected disconnect while reading sideband packet",
	"The requested URL returned error: 5",
	"Connection timed out",
	// curl, as used by git over HTTP.
	"Couldn't connect to server",
	"Empty reply from server",
	"Operation timed out",
	"SSL connection timeout",
}

// IsTransient reports whether err is a transient failure worth repeating:
// a refused or reset connection, an I/O or TLS handshake timeout, an
// unexpected EOF, or an API server that is briefly unavailable. It matches
// wrapped errors and, for commands, the standard error text held in err's
// message. A context that ended is never transient.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	msg := err.Error()
	for _, m := range transientMessages {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// Retry calls fn until it succeeds, returns an error that is not transient
// (see IsTransient), or ctx ends; without a deadline on ctx it gives up after
// DefaultRetryTimeout. The wait between attempts grows from 100ms to 2s. The
// error returned is fn's last, with the number of attempts when more than one.
func Retry(ctx context.Context, fn func(ctx context.Context) error) error {
	ctx, cancel := withDefaultTimeout(ctx, DefaultRetryTimeout)
	defer cancel()
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil || !IsTransient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still failing after %d attempts: %w", attempt, err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// RetryT is Retry bounded by the test's deadline (go test -timeout) less a
// margin for cleanup, or DefaultRetryTimeout when the test has none.
func RetryT(t testing.TB, fn func(ctx context.Context) error) error {
	t.Helper()
	ctx, cancel := TestContext(t)
	defer cancel()
	return Retry(ctx, fn)
}

// TestContext returns a context that ends shortly before the test's deadline
// (so cleanup still runs), or after DefaultRetryTimeout when there is none.
func TestContext(t testing.TB) (context.Context, context.CancelFunc) {
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := d.Deadline(); ok {
			return context.WithDeadline(context.Background(), deadline.Add(-30*time.Second))
		}
	}
	return context.WithTimeout(context.Background(), DefaultRetryTimeout)
}
