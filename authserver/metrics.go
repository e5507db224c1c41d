package authserver

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are Scopegate's Prometheus collectors, registered in the host's
// registry (Caddy's, so they appear on Caddy's /metrics). Labels are bounded sets
// (error codes, refusal reasons), plus the client ID when the operator turns
// per-client labels on.
type Metrics struct {
	perClient bool

	tokensIssued  *prometheus.CounterVec
	tokensRefused *prometheus.CounterVec
	tokenLatency  prometheus.Histogram
	guard         *prometheus.CounterVec
	guardLatency  prometheus.Histogram

	allowed prometheus.Counter // guard{result="allowed"}, resolved once
	issued  prometheus.Counter // tokensIssued without the client label

	store *storeCollector
}

// storeCollector reports the health of the store behind the newest server
// on the registry, read when the metrics are scraped.
type storeCollector struct {
	server                  atomic.Pointer[Server]
	degraded, revision, age *prometheus.Desc
}

func newStoreCollector() *storeCollector {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, "store", name), help, nil, nil)
	}
	return &storeCollector{
		degraded: desc("degraded", "1 while the gateway is not serving from a current store: a shared store's copy may be behind (degraded), is older than max_stale (stale), or is not listed yet (starting)."),
		revision: desc("revision", "The last revision of the shared store applied to this gateway's copy."),
		age:      desc("last_contact_age_seconds", "Seconds since this gateway last heard from its shared store."),
	}
}

// Describe sends the descriptions.
func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.degraded
	ch <- c.revision
	ch <- c.age
}

// Collect sends the store's health; revision and age only for a shared
// store.
func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.server.Load()
	if s == nil {
		return
	}
	rep := s.Health()
	degraded := 0.0
	if rep.Status != HealthOK {
		degraded = 1
	}
	ch <- prometheus.MustNewConstMetric(c.degraded, prometheus.GaugeValue, degraded)
	if s.sharedStore() != nil {
		ch <- prometheus.MustNewConstMetric(c.revision, prometheus.GaugeValue, float64(rep.Store.Revision))
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, rep.Store.AgeSeconds)
	}
}

const metricsNamespace = "scopegate"

// NewMetrics creates the collectors and registers them in reg; perClient
// adds a client_id label to the issued-token and guard counts.
func NewMetrics(reg prometheus.Registerer, perClient bool) (*Metrics, error) {
	clientLabel := func(labels ...string) []string {
		if perClient {
			return append(labels, "client_id")
		}
		return labels
	}
	m := &Metrics{
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
	var err error
	if m.tokensIssued, err = register(reg, m.tokensIssued); err != nil {
		return nil, err
	}
	if m.tokensRefused, err = register(reg, m.tokensRefused); err != nil {
		return nil, err
	}
	if m.tokenLatency, err = register(reg, m.tokenLatency); err != nil {
		return nil, err
	}
	if m.guard, err = register(reg, m.guard); err != nil {
		return nil, err
	}
	if m.guardLatency, err = register(reg, m.guardLatency); err != nil {
		return nil, err
	}
	if m.store, err = register(reg, newStoreCollector()); err != nil {
		return nil, err
	}
	if !perClient {
		m.allowed = m.guard.WithLabelValues("allowed")
		m.issued = m.tokensIssued.WithLabelValues()
	}
	return m, nil
}

// register registers c in reg and returns the collector to count with: c, or
// the one already registered under the same description (another provision
// on the same registry). Counting into c then would never show on /metrics.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var already prometheus.AlreadyRegisteredError
	switch {
	case err == nil:
		return c, nil
	case !errors.As(err, &already):
		return c, err
	}
	existing, ok := already.ExistingCollector.(C)
	if !ok {
		return c, fmt.Errorf("metric already registered as a %T: %w", already.ExistingCollector, err)
	}
	return existing, nil
}

// tokenIssued counts an issued token.
func (m *Metrics) tokenIssued(clientID string) {
	if m.perClient {
		m.tokensIssued.WithLabelValues(clientID).Inc()
		return
	}
	m.issued.Inc()
}

// tokenRefused counts a refused request by its OAuth error code.
func (m *Metrics) tokenRefused(code string) {
	m.tokensRefused.WithLabelValues(code).Inc()
}

// guardDecided counts a decision and how long it took.
func (m *Metrics) guardDecided(result, clientID string, start time.Time) {
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
