package clusterclient

import (
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

// Defaults used when Options leaves a field zero.
const (
	// DefaultTimeout bounds every single request to a member cluster.
	DefaultTimeout = 10 * time.Second
	// DefaultQPS is the sustained request rate allowed per cluster.
	DefaultQPS float32 = 50
	// DefaultBurst is the request burst allowed per cluster.
	DefaultBurst = 100
)

// Options configure how clients for member clusters are built.
type Options struct {
	// AllowExec allows kubeconfigs whose users run exec credential plugins
	// or auth-provider plugins. Off by default: such a kubeconfig, stored in
	// a Secret, would make the controller run an arbitrary command.
	AllowExec bool
	// Timeout bounds every request to the cluster; DefaultTimeout if zero.
	Timeout time.Duration
	// QPS and Burst rate-limit requests to one cluster; DefaultQPS and
	// DefaultBurst if zero.
	QPS float32
	// Burst is the request burst allowed per cluster.
	Burst int
	// Scheme maps Go types to kinds for typed objects; the client-go scheme
	// (all built-in kinds) if nil. Unstructured objects need no scheme.
	Scheme *runtime.Scheme
	// UserAgent is sent with every request; "flotilla/<cluster>" if empty.
	UserAgent string
	// WrapTransport, when set, wraps the HTTP transport of each cluster's
	// client (for example to count requests per cluster).
	WrapTransport func(cluster string, rt http.RoundTripper) http.RoundTripper
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.QPS <= 0 {
		o.QPS = DefaultQPS
	}
	if o.Burst <= 0 {
		o.Burst = DefaultBurst
	}
	if o.Scheme == nil {
		o.Scheme = clientgoscheme.Scheme
	}
	return o
}
