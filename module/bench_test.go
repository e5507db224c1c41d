package module

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/authserver"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/token"
)

// newTestApp provisions a real app on a store in a temporary directory, as
// Caddy would, without a Caddy config around it; configure, if given, sets
// options before Provision.
func newTestApp(tb testing.TB, configure ...func(*App)) *App {
	tb.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	a := &App{Issuer: "https://gw.example", StorageRaw: boltAt(filepath.Join(tb.TempDir(), "scopegate.db"), 0)}
	for _, f := range configure {
		f(a)
	}
	if err := a.Provision(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cancel()
		_ = a.Cleanup()
	})
	a.logger = zap.NewNop()
	if err := a.Start(); err != nil {
		tb.Fatal(err)
	}
	return a
}

// newTestClient creates a client and returns its ID and secret.
func newTestClient(tb testing.TB, a *App, scopes string) (string, string) {
	tb.Helper()
	c, secret, err := a.server.Registry.Create(context.Background(), registry.Metadata{ClientName: "bench-" + scopes, Scope: scopes})
	if err != nil {
		tb.Fatal(err)
	}
	return c.ClientID, secret
}

// mintToken signs a token for clientID the way the token endpoint does.
func mintToken(tb testing.TB, a *App, clientID, scopes string) string {
	tb.Helper()
	return mintTokenFor(tb, a, clientID, clientID, scopes)
}

// mintTokenFor signs a token with the given subject: a token clientID holds
// for the user subject names, when they differ.
func mintTokenFor(tb testing.TB, a *App, subject, clientID, scopes string) string {
	tb.Helper()
	now := time.Now()
	raw, err := a.server.KeySet().Sign(&token.Claims{
		Issuer: a.Issuer, Subject: subject, ClientID: clientID, Audience: token.Audience{a.Issuer},
		IssuedAt: now.Unix(), ExpiresAt: now.Add(10 * time.Minute).Unix(), JWTID: token.NewJTI(), Scope: scopes,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// guardedRequest builds a request as Caddy hands it to a handler: with a
// replacer and the resolved client IP in its context.
func guardedRequest(raw string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://gw.example/orders/1", nil)
	ctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer())
	ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: "127.0.0.1"})
	r = r.WithContext(ctx)
	r.Header.Set("Authorization", "Bearer "+raw)
	return r
}

// discard is a ResponseWriter that keeps nothing, so benchmarks measure the
// handler rather than a recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

var passThrough = caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })

func newTestGuard(tb testing.TB, a *App, scopes ...string) *Guard {
	tb.Helper()
	g := &Guard{Scopes: scopes}
	if err := g.setup(a.server); err != nil {
		tb.Fatal(err)
	}
	return g
}

// BenchmarkGuardCachedToken is the common case: a token seen before, so the
// signature check is skipped; everything else runs on every request.
func BenchmarkGuardCachedToken(b *testing.B) {
	a := newTestApp(b)
	id, _ := newTestClient(b, a, "orders:read")
	g := newTestGuard(b, a, "orders:read")
	r := guardedRequest(mintToken(b, a, id, "orders:read"))
	w := &discard{h: http.Header{}}
	if err := g.ServeHTTP(w, r, passThrough); err != nil || r.Header.Get("X-Client-Id") != id {
		b.Fatalf("guard refused: %v", err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_ = g.ServeHTTP(w, r, passThrough)
	}
}

// BenchmarkGuardCachedUserToken is BenchmarkGuardCachedToken for a token an
// app holds for a person: the user and their roles come from the store's
// cache and what the roles grant from the guard's, on every request.
func BenchmarkGuardCachedUserToken(b *testing.B) {
	a := newTestApp(b)
	ctx := context.Background()
	if _, err := a.server.Registry.CreateRole(ctx, registry.RoleMetadata{Name: "buyer", Scopes: []string{"orders:read"}}); err != nil {
		b.Fatal(err)
	}
	u, err := a.server.Registry.CreateUser(ctx, registry.UserMetadata{Username: "bench", Roles: []string{"buyer"}}, "")
	if err != nil {
		b.Fatal(err)
	}
	id, _ := newTestClient(b, a, "orders:read")
	consentTo(b, a, u.UserID, id, "orders:read")
	g := newTestGuard(b, a, "orders:read")
	r := guardedRequest(mintTokenFor(b, a, u.UserID, id, "orders:read"))
	w := &discard{h: http.Header{}}
	if err := g.ServeHTTP(w, r, passThrough); err != nil || r.Header.Get("X-Client-Id") != id {
		b.Fatalf("guard refused: %v", err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_ = g.ServeHTTP(w, r, passThrough)
	}
}

// BenchmarkGuardNewToken presents a token never seen before on every
// request, so each one pays for an ES256 signature check.
func BenchmarkGuardNewToken(b *testing.B) {
	a := newTestApp(b)
	id, _ := newTestClient(b, a, "orders:read")
	g := newTestGuard(b, a, "orders:read")
	const pool = 4096
	reqs := make([]*http.Request, pool)
	for i := range reqs {
		reqs[i] = guardedRequest(mintToken(b, a, id, "orders:read"))
	}
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if i%pool == 0 {
			a.server.ForgetVerifiedTokens() // keep every token unseen
		}
		_ = g.ServeHTTP(w, reqs[i%pool], passThrough)
		i++
	}
}

// BenchmarkTokenEndpoint issues client_credentials tokens through the
// handler, request parsing and client authentication included, for each
// signing algorithm. The request is built once and reused, so allocs/op is
// the handler's alone; token.BenchmarkSignature has the signature's share.
func BenchmarkTokenEndpoint(b *testing.B) {
	for _, alg := range []string{token.AlgES256, token.AlgEdDSA, token.AlgRS256} {
		b.Run(alg, func(b *testing.B) {
			a := newTestApp(b, func(a *App) { a.SigningAlg = alg })
			id, secret := newTestClient(b, a, "orders:read")
			h := newTokenEndpoint(b, a)
			req := newTokenRequest(id, secret)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req.next())
			if rec.Code != http.StatusOK {
				b.Fatalf("token endpoint: %d %s", rec.Code, rec.Body)
			}
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, req.next())
			}
		})
	}
}

// newTokenEndpoint returns the token endpoint's handler on a's server, as
// the issuer finds it.
func newTokenEndpoint(tb testing.TB, a *App) http.Handler {
	tb.Helper()
	iss := new(Issuer)
	if err := iss.setup(a.server, zap.NewNop()); err != nil {
		tb.Fatal(err)
	}
	return endpoint(iss, authserver.DefaultTokenPath)
}

// tokenRequest is one client_credentials request that a benchmark sends
// again and again. Building a request costs about 20 allocations (URL,
// headers, Basic credentials, context); building it once and rewinding its
// body keeps them out of the measured loop. The handler only reads the
// request, so what it sees is the same each time.
type tokenRequest struct {
	r    *http.Request
	body *strings.Reader
}

func newTokenRequest(id, secret string) *tokenRequest {
	body := strings.NewReader("grant_type=client_credentials&scope=orders%3Aread")
	r := httptest.NewRequest(http.MethodPost, "http://gw.example/oauth2/token", body)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(id, secret)
	ctx := context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: "127.0.0.1"})
	return &tokenRequest{r: r.WithContext(ctx), body: body}
}

// next returns the request with its body rewound to the start.
func (t *tokenRequest) next() *http.Request {
	_, _ = t.body.Seek(0, io.SeekStart)
	return t.r
}

// BenchmarkGuardCachedTokenParallel is BenchmarkGuardCachedToken from every
// core at once, each goroutine with its own request as concurrent
// connections have: it shows what the shared caches' locks cost under
// contention.
func BenchmarkGuardCachedTokenParallel(b *testing.B) {
	a := newTestApp(b)
	id, _ := newTestClient(b, a, "orders:read")
	g := newTestGuard(b, a, "orders:read")
	raw := mintToken(b, a, id, "orders:read")
	if err := g.ServeHTTP(&discard{h: http.Header{}}, guardedRequest(raw), passThrough); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := guardedRequest(raw)
		w := &discard{h: http.Header{}}
		for pb.Next() {
			_ = g.ServeHTTP(w, r, passThrough)
		}
	})
}

// BenchmarkGuardRefused is what a refused request costs: the price an
// unauthenticated caller can make the gateway pay. A forged signature costs
// a full signature check, since only a verified token is cached.
func BenchmarkGuardRefused(b *testing.B) {
	a := newTestApp(b)
	id, _ := newTestClient(b, a, "orders:read")
	g := newTestGuard(b, a, "orders:read")
	valid := mintToken(b, a, id, "orders:read")
	// Change one character inside the signature, far from its end, so the
	// encoding stays canonical and only the signature check can refuse it.
	i := len(valid) - 20
	swap := byte('A')
	if valid[i] == 'A' {
		swap = 'B'
	}
	forged := valid[:i] + string(swap) + valid[i+1:]
	cases := []struct {
		name   string
		header string
		status int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"not a JWT", "Bearer not-a-jwt", http.StatusUnauthorized},
		{"forged signature", "Bearer " + forged, http.StatusUnauthorized},
		{"missing scope", "Bearer " + mintToken(b, a, id, "orders:write"), http.StatusForbidden},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			r := guardedRequest("")
			r.Header.Del("Authorization")
			if c.header != "" {
				r.Header.Set("Authorization", c.header)
			}
			rec := httptest.NewRecorder()
			if err := g.ServeHTTP(rec, r, passThrough); err != nil || rec.Code != c.status {
				b.Fatalf("status %d, err %v; want %d", rec.Code, err, c.status)
			}
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				clear(w.h)
				_ = g.ServeHTTP(w, r, passThrough)
			}
		})
	}
}

// BenchmarkTokenEndpointParallel issues tokens from every core at once.
func BenchmarkTokenEndpointParallel(b *testing.B) {
	a := newTestApp(b)
	id, secret := newTestClient(b, a, "orders:read")
	h := newTokenEndpoint(b, a)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newTokenRequest(id, secret).next())
	if rec.Code != http.StatusOK {
		b.Fatalf("token endpoint: %d %s", rec.Code, rec.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := newTokenRequest(id, secret)
		w := &discard{h: http.Header{}}
		for pb.Next() {
			clear(w.h)
			h.ServeHTTP(w, req.next())
		}
	})
}

// endpoint returns the issuer's handler of path, as ServeHTTP finds it.
func endpoint(iss *Issuer, path string) http.Handler {
	h, ok := iss.endpoints.Lookup(path)
	if !ok {
		panic("no endpoint at " + path)
	}
	return h
}
