package apply

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/flotilla-gitops/flotilla/apply/clusterclient"
)

// A cluster whose apiserver is gone fails fast, naming the cluster, and a
// cluster that accepts connections but never answers fails within the
// client's request timeout instead of holding the worker.
func TestSyncToAnUnreachableClusterFailsFastNamingIt(t *testing.T) {
	requireMember(t)
	closed := closedAddress(t)
	hanging := hangingAddress(t)
	for name, host := range map[string]string{"closed port": closed, "no answer": hanging} {
		t.Run(name, func(t *testing.T) {
			cfg := rest.CopyConfig(memberCfg)
			cfg.Host = "https://" + host
			cl, err := clusterclient.New("edge-down", cfg, clusterclient.Options{Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			_, err = Sync(ctx, cl, baseRequest("adc", readObjects(t, "adc", webManifest)))
			elapsed := time.Since(start)
			if err == nil {
				t.Fatal("Sync to an unreachable cluster succeeded")
			}
			t.Logf("error after %s: %v", elapsed.Round(time.Millisecond), err)
			if !strings.Contains(err.Error(), "edge-down") {
				t.Errorf("error %q does not name the cluster", err)
			}
			if elapsed > 10*time.Second {
				t.Errorf("Sync took %s with a 1s request timeout", elapsed)
			}
		})
	}
}

// closedAddress returns a loopback address where nothing listens.
func closedAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// hangingAddress returns a loopback address that accepts connections and
// never writes a byte.
func hangingAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().String()
}
