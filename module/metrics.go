package module

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are Scopegate's Prometheus collectors, registered in Caddy's
// registry so they appear on Caddy's /metrics. Labels are bounded sets
// (error codes, refusal reasons), plus the client ID when the operator turns
// per-client labels on.
type metrics struct {
	perClient bool

	tokensIssued  *prometheus.CounterVec
	tokensRefused *prometheus.CounterVec
	tokenLatency  prometheus.Histogram
	guard         *prometheus.CounterVec
	guardLatency  prometheus.Histogram

	allowed prometheus.Counter // guard{result="allowed"}, resolved once
	issued  prometheus.Counter // tokensIssued without the client label
}

const metricsNamespace = "scopegate"

// newMetrics creates the collectors and registers them in reg.
func newMetrics(reg prometheus.Registerer, perClient bool) (*metrics, error) {
	clientLabel := func(labels ...string) []string {
		if perClient {
			return append(labels, "client_id")
		}
		return labels
	}
	m := &metrics{
		perClient: perClient,
		tokensIssued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "tokens_issued_total",
			Help: "Access tokens issued by the token endpoint.",
		}, clientLabel()),
		tokensRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "token_requests_refused_total",
			Help: "Requests to the token, revocation and introspection endpoints refused, by OAuth error code.",
		}, []string{"error"}),
		tokenLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Name: "token_request_duration_seconds",
			Help:    "Time to answer a token request.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 14),
		}),
		guard: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "guard_decisions_total",
			Help: "Guard decisions: allowed, or the reason of a refusal.",
		}, clientLabel("result")),
		guardLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Name: "guard_duration_seconds",
			Help:    "Time the guard takes to decide, excluding the upstream.",
			Buckets: prometheus.ExponentialBuckets(0.000001, 2, 18),
		}),
	}
	for _, c := range []prometheus.Collector{m.tokensIssued, m.tokensRefused, m.tokenLatency, m.guard, m.guardLatency} {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				return nil, err
			}
		}
	}
	if !perClient {
		m.allowed = m.guard.WithLabelValues("allowed")
		m.issued = m.tokensIssued.WithLabelValues()
	}
	return m, nil
}

// tokenIssued counts an issued token.
func (m *metrics) tokenIssued(clientID string) {
	if m.perClient {
		m.tokensIssued.WithLabelValues(clientID).Inc()
		return
	}
	m.issued.Inc()
}

// tokenRefused counts a refused request by its OAuth error code.
func (m *metrics) tokenRefused(code string) {
	m.tokensRefused.WithLabelValues(code).Inc()
}

// guardDecided counts a decision and how long it took.
func (m *metrics) guardDecided(result, clientID string, start time.Time) {
	m.guardLatency.Observe(time.Since(start).Seconds())
	switch {
	case m.perClient:
		m.guard.WithLabelValues(result, clientID).Inc()
	case result == "allowed":
		m.allowed.Inc()
	default:
		m.guard.WithLabelValues(result).Inc()
	}
}
