package module

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// TestRevokedSigningKeyRefusedAtOnce retires the signing key early, as for a
// key that may be compromised: its tokens are refused on the next request,
// the one the guard has already verified and cached as well as one it has
// never seen, and tokens of the key that takes over pass.
func TestRevokedSigningKeyRefusedAtOnce(t *testing.T) {
	a := newTestApp(t)
	id, _ := newTestClient(t, a, "orders:read")
	g := newTestGuard(t, a, "orders:read")

	serve := func(raw string) (*httptest.ResponseRecorder, bool) {
		t.Helper()
		rec := httptest.NewRecorder()
		reached := false
		next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
			reached = true
			w.WriteHeader(http.StatusOK)
			return nil
		})
		if err := g.ServeHTTP(rec, guardedRequest(raw), next); err != nil {
			t.Fatalf("guard: %v", err)
		}
		return rec, reached
	}

	cached := mintToken(t, a, id, "orders:read")
	if rec, reached := serve(cached); rec.Code != http.StatusOK || !reached {
		t.Fatalf("before the revocation: %d", rec.Code)
	}
	unseen := mintToken(t, a, id, "orders:read")
	kid := a.server.KeySet().SigningKeyID()

	if err := a.server.Keys.Retire(context.Background(), kid); err != nil {
		t.Fatal(err)
	}
	if a.server.KeySet().HasKey(kid) {
		t.Fatal("the revoked key still verifies")
	}
	if strings.Contains(string(a.server.KeySet().JWKS()), kid) {
		t.Fatal("the revoked key is still published")
	}
	for name, raw := range map[string]string{"cached": cached, "unseen": unseen} {
		t.Run(name, func(t *testing.T) {
			rec, reached := serve(raw)
			challenge := rec.Header().Get("WWW-Authenticate")
			if rec.Code != http.StatusUnauthorized || reached || !strings.Contains(challenge, `error="invalid_token"`) {
				t.Fatalf("token of the revoked key: %d, upstream reached %v, challenge %q", rec.Code, reached, challenge)
			}
		})
	}
	t.Run("the next key signs and verifies", func(t *testing.T) {
		if next := a.server.KeySet().SigningKeyID(); next == kid || next == "" {
			t.Fatalf("signing key after the revocation: %q", next)
		}
		if rec, reached := serve(mintToken(t, a, id, "orders:read")); rec.Code != http.StatusOK || !reached {
			t.Fatalf("token of the next key: %d", rec.Code)
		}
	})
}
