package module

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/authserver"
	"github.com/scopegate/scopegate/storage"
)

// testClock is a settable clock for the app's now hooks.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// useClock makes the app and its verifier read time from c.
func useClock(a *App, c *testClock) {
	a.server.SetClock(c.now)
}

// TestRevocationOutlivesARaisedLeeway: a revoked token stays revoked when a
// reload raises the leeway to its bound. The revocation is kept until exp
// plus the largest leeway allowed, not the leeway in force when it was made,
// and is forgotten once no config could accept the token.
func TestRevocationOutlivesARaisedLeeway(t *testing.T) {
	f := newFailStoreFixture(t) // leeway 30s, the default
	clock := &testClock{t: time.Now()}
	useClock(f.app, clock)
	id, secret := newTestClient(t, f.app, "orders:read")
	raw := f.token(id, secret)
	if ans := f.oauthPost("/oauth2/revoke", url.Values{"token": {raw}}, id, secret); ans.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", ans.status, ans.body)
	}

	// A minute after the token's exp, maintenance prunes.
	clock.add(authserver.DefaultAccessTokenTTL + time.Minute)
	f.app.maintainOnce()

	// A reload raises the leeway to 5m: the token's exp is within it again.
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	reloaded := &App{Issuer: f.app.Issuer, StorageRaw: f.app.StorageRaw, Leeway: caddy.Duration(authserver.MaxLeeway)}
	if err := reloaded.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = reloaded.Cleanup() }()
	reloaded.logger = zap.NewNop()
	useClock(reloaded, clock)
	if err := reloaded.Start(); err != nil {
		t.Fatal(err)
	}
	g := newTestGuard(t, reloaded, "orders:read")
	rec := &discard{h: http.Header{}}
	reached := false
	next := handlerFunc(func() { reached = true })
	if err := g.ServeHTTP(rec, guardedRequest(raw), next); err != nil {
		t.Fatal(err)
	}
	if reached {
		t.Fatal("a revoked token passed the guard after the leeway was raised")
	}
	if !stored(t, f.app.handle.State.Store, clock.now()) {
		t.Fatal("the revocation is gone from the store while a config may still accept the token")
	}

	// Past exp plus the leeway bound, no config accepts the token: the
	// revocation is forgotten, in memory and in the store.
	clock.add(authserver.MaxLeeway)
	f.app.maintainOnce()
	if stored(t, f.app.handle.State.Store, clock.now()) || f.app.handle.State.Revoked.Len() != 0 {
		t.Fatal("the revocation outlived every possible use of its token")
	}
}

// stored reports whether the store holds an unexpired revocation at now.
func stored(t *testing.T, s storage.Store, now time.Time) bool {
	t.Helper()
	list, err := s.Revocations(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	return len(list) > 0
}

// handlerFunc is a next handler that records that it was reached.
func handlerFunc(reached func()) nextHandler {
	return nextHandler(func(w http.ResponseWriter, _ *http.Request) error {
		reached()
		w.WriteHeader(http.StatusOK)
		return nil
	})
}

type nextHandler func(http.ResponseWriter, *http.Request) error

func (h nextHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) error { return h(w, r) }

// TestRevocationRateLimited: a client cannot grow the revocation store
// without bound through RFC 7009 revocation. After revocationsPerWindow
// revocations in a window, the next one is refused with 429, Retry-After
// and temporarily_unavailable, and nothing is stored; revoking an already
// revoked token still answers 200 and does not count; the next window
// allows revocations again.
func TestRevocationRateLimited(t *testing.T) {
	// The rate the revocation endpoint documents (authserver/revocation.go).
	const revocationsPerWindow, revocationWindow = 10, time.Minute
	f := newFailStoreFixture(t)
	clock := &testClock{t: time.Now()}
	useClock(f.app, clock)
	id, secret := newTestClient(t, f.app, "orders:read")
	revoke := func(raw string) answer {
		return f.oauthPost("/oauth2/revoke", url.Values{"token": {raw}}, id, secret)
	}
	var first string
	for i := range revocationsPerWindow {
		raw := f.token(id, secret)
		if i == 0 {
			first = raw
		}
		if ans := revoke(raw); ans.status != http.StatusOK {
			t.Fatalf("revocation %d: %d %s", i+1, ans.status, ans.body)
		}
	}
	if ans := revoke(first); ans.status != http.StatusOK {
		t.Fatalf("revoking a revoked token again: %d %s", ans.status, ans.body)
	}
	over := f.token(id, secret)
	ans := revoke(over)
	if ans.status != http.StatusTooManyRequests || ans.errorCode() != "temporarily_unavailable" ||
		ans.header.Get("Retry-After") == "" || ans.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("revocation over the limit: %d %s %v", ans.status, ans.body, ans.header)
	}
	if status, reached := f.guarded(over); status != http.StatusOK || !reached {
		t.Fatalf("the refused revocation was applied: guard %d", status)
	}
	if n := f.app.handle.State.Revoked.Len(); n != revocationsPerWindow {
		t.Fatalf("%d revocations held, want %d", n, revocationsPerWindow)
	}

	clock.add(revocationWindow)
	if ans := revoke(over); ans.status != http.StatusOK {
		t.Fatalf("revocation in the next window: %d %s", ans.status, ans.body)
	}
	if status, _ := f.guarded(over); status != http.StatusUnauthorized {
		t.Fatalf("revoked in the next window, guard answers %d", status)
	}
}

// TestTokenTooLongIsAClientError: a client stored before its metadata was
// bounded, whose token would be longer than the guard reads, is refused a
// token with 400 invalid_request naming the limit, not a 500 and not a
// token the guard refuses.
func TestTokenTooLongIsAClientError(t *testing.T) {
	f := newFailStoreFixture(t)
	id, secret := newTestClient(t, f.app, "orders:read")
	claims := json.RawMessage(`{"note":"` + strings.Repeat("x", 7000) + `"}`)
	_, err := f.app.handle.State.Store.UpdateClient(context.Background(), id, func(c storage.Client) (storage.Client, error) {
		c.Claims = claims
		return c, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ans := f.oauthPost("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"orders:read"}}, id, secret)
	if ans.status != http.StatusBadRequest || ans.errorCode() != "invalid_request" || !strings.Contains(ans.body, "8192-byte limit") {
		t.Fatalf("token for an oversized client: %d %s", ans.status, ans.body)
	}
}
