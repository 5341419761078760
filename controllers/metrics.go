package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
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
	rendersTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "flotilla_renders_total",
		Help: "Targets rendered (cache hits included).",
	})
)

func init() {
	metrics.Registry.MustRegister(syncDuration, clustersByState, applyErrors, driftCorrections, rendersTotal)
}
