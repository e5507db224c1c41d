package authserver

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMetricsSharedRegistry provisions the collectors twice on one registry,
// as two apps or two provisions in one Caddy registry do. The second set must
// be the registered one, so that what it counts shows on /metrics; an
// unregistered duplicate would count into the void.
func TestMetricsSharedRegistry(t *testing.T) {
	for _, perClient := range []bool{false, true} {
		name := "without client label"
		if perClient {
			name = "with client label"
		}
		t.Run(name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			first, err := NewMetrics(reg, perClient)
			if err != nil {
				t.Fatal(err)
			}
			second, err := NewMetrics(reg, perClient)
			if err != nil {
				t.Fatalf("second registration: %v", err)
			}
			first.tokenIssued("c1")
			second.tokenIssued("c1")
			second.tokenIssued("c1")
			second.tokenRefused("invalid_client")
			second.guardDecided("allowed", "c1", time.Now())
			second.guardDecided("scope", "c1", time.Now())

			issued := gatheredTotal(t, reg, "scopegate_tokens_issued_total")
			if issued != 3 {
				t.Errorf("tokens issued on the registry = %v, want 3 (1 from the first set, 2 from the second)", issued)
			}
			if v := gatheredTotal(t, reg, "scopegate_token_requests_refused_total"); v != 1 {
				t.Errorf("refused = %v, want 1", v)
			}
			if v := gatheredTotal(t, reg, "scopegate_guard_decisions_total"); v != 2 {
				t.Errorf("guard decisions = %v, want 2", v)
			}
			if v := gatheredTotal(t, reg, "scopegate_guard_duration_seconds"); v != 2 {
				t.Errorf("guard latency observations = %v, want 2", v)
			}
		})
	}
}

// gatheredTotal is what reg shows for the metric name: the sum of its
// counters' values, or of its histograms' observation counts.
func gatheredTotal(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if h := m.GetHistogram(); h != nil {
				total += float64(h.GetSampleCount())
				continue
			}
			total += m.GetCounter().GetValue()
		}
	}
	return total
}
