package controllers

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	syncDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "flotilla_sync_duration_seconds",
		Help:    "Time to apply one app to one cluster, by result.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
	}, []string{"result"})
	clustersByState = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "flotilla_clusters",
		Help: "Member clusters by reachability state (reachable, unreachable, pull).",
	}, []string{"namespace", "state"})
	applyErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flotilla_apply_errors_total",
		Help: "Failed applies, by cluster.",
	}, []string{"cluster"})
	driftCorrections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flotilla_drift_corrections_total",
		Help: "Objects restored after being changed on a cluster by hand, by cluster.",
	}, []string{"cluster"})
	memberRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flotilla_member_requests_total",
		Help: "HTTP requests sent to member clusters, by cluster (<namespace>/<name>) and purpose (sync, health, drift, heartbeat, prune).",
	}, []string{"cluster", "purpose"})
	rendersTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "flotilla_renders_total",
		Help: "Targets rendered (cache hits included).",
	})
)

func init() {
	metrics.Registry.MustRegister(memberRequests, syncDuration, clustersByState, applyErrors, driftCorrections, rendersTotal)
}

// countRequests wraps a member cluster's transport to count its requests.
func countRequests(cluster string, rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		memberRequests.WithLabelValues(cluster, purposeOf(req.Context())).Inc()
		return rt.RoundTrip(req)
	})
}

type purposeKey struct{}

// withPurpose tags the requests made with ctx for flotilla_member_requests_total.
func withPurpose(ctx context.Context, purpose string) context.Context {
	return context.WithValue(ctx, purposeKey{}, purpose)
}

func purposeOf(ctx context.Context) string {
	if p, ok := ctx.Value(purposeKey{}).(string); ok {
		return p
	}
	return "other"
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// MemberRequests returns how many requests this process has sent to a member
// cluster ("<namespace>/<name>") for a purpose (sync, health, drift, heartbeat, prune), as
// counted by flotilla_member_requests_total.
func MemberRequests(cluster, purpose string) float64 {
	m := &dto.Metric{}
	if err := memberRequests.WithLabelValues(cluster, purpose).Write(m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}
