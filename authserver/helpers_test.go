package authserver

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/token"
)

// newTestServer opens a server on a bbolt store in a temporary directory,
// without Caddy; a request's client address is its RemoteAddr.
func newTestServer(tb testing.TB) *Server {
	return newTestServerOver(tb, nil)
}

// newTestServerOver is newTestServer with its bbolt store wrapped by wrap,
// when not nil, beneath the cache: for tests that must act at a given
// moment inside a store call.
func newTestServerOver(tb testing.TB, wrap func(storage.Store) storage.Store) *Server {
	tb.Helper()
	ctx := context.Background()
	db, err := storage.Open(filepath.Join(tb.TempDir(), "scopegate.db"), storage.BoltOptions{Timeout: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	var inner storage.Store = db
	if wrap != nil {
		inner = wrap(db)
	}
	cached, err := storage.NewCached(inner, 100)
	if err != nil {
		tb.Fatal(err)
	}
	metrics, err := NewMetrics(prometheus.NewRegistry(), false)
	if err != nil {
		tb.Fatal(err)
	}
	rules, _ := scope.NewRules(nil)
	cfg := Config{
		Options:    Options{Issuer: "https://gw.example", VerifiedTokenCacheSize: 100}.WithDefaults(),
		ScopeRules: rules, Metrics: metrics,
		ClientAddr: func(r *http.Request) netip.Addr {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			addr, _ := netip.ParseAddr(host)
			return addr
		},
	}
	cfg.Keys = &StoredKeys{Alg: token.AlgES256, RetiredLifetime: cfg.RetiredKeyLifetime()}
	s, err := New(cfg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	state := NewState(cached, 100, zap.NewNop())
	reg := registry.New(UsageStore{Store: cached, Counters: state.Usage}, registry.Limits{
		MaxClients: 100, MaxScopes: 100, MaxTokenTTL: cfg.MaxAccessTokenTTL, TokenIssuer: cfg.Issuer,
	})
	err = s.Open(ctx, Shared{State: state, Registry: reg})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// newTestClient creates a client and returns its ID and secret.
func newTestClient(tb testing.TB, s *Server, scopes string) (string, string) {
	tb.Helper()
	c, secret, err := s.Registry.Create(context.Background(), registry.Metadata{ClientName: "test-" + scopes, Scope: scopes})
	if err != nil {
		tb.Fatal(err)
	}
	return c.ClientID, secret
}
