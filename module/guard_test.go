package module

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/authserver"
	"github.com/scopegate/scopegate/registry"
)

// serveGuard sends one request through g and returns the answer and whether
// the next handler (the upstream) was reached.
func serveGuard(t *testing.T, g *Guard, r *http.Request) (*httptest.ResponseRecorder, bool) {
	t.Helper()
	reached := false
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { reached = true; return nil })
	rec := httptest.NewRecorder()
	if err := g.ServeHTTP(rec, r, next); err != nil {
		t.Fatalf("guard fault: %v", err)
	}
	return rec, reached
}

// TestGuardMethodScopes: a method policy holds whatever the case of the
// request's method, HEAD is held to what GET needs, and the except form
// covers every method it does not name, including ones nobody listed.
func TestGuardMethodScopes(t *testing.T) {
	a := newTestApp(t)
	id, _ := newTestClient(t, a, "r w")
	reader := mintToken(t, a, id, "r")
	writer := mintToken(t, a, id, "r w")
	guard := func(ms ...MethodScopes) *Guard {
		g := &Guard{Scopes: []string{"r"}, MethodScopes: ms}
		if err := g.setup(a.server); err != nil {
			t.Fatal(err)
		}
		return g
	}
	listed := guard(MethodScopes{Methods: []string{"post", "PUT", "Delete"}, Scopes: []string{"w"}})
	getOnly := guard(MethodScopes{Methods: []string{"GET"}, Scopes: []string{"w"}})
	except := guard(MethodScopes{ExceptMethods: []string{"GET", "HEAD", "options"}, Scopes: []string{"w"}})
	exceptGet := guard(MethodScopes{ExceptMethods: []string{"GET"}, Scopes: []string{"w"}})
	exceptHead := guard(MethodScopes{ExceptMethods: []string{"HEAD", "OPTIONS"}, Scopes: []string{"w"}})

	cases := []struct {
		name   string
		g      *Guard
		method string
		needsW bool // a token without w is refused
	}{
		{"listed, as configured", listed, "DELETE", true},
		{"listed, lower case", listed, "delete", true},
		{"listed, mixed case", listed, "Delete", true},
		{"listed, configured lower, sent upper", listed, "POST", true},
		{"listed, odd case", listed, "pUt", true},
		{"not listed", listed, "GET", false},
		{"not listed, PATCH", listed, "PATCH", false},
		{"GET policy holds for GET", getOnly, "GET", true},
		{"GET policy holds for HEAD", getOnly, "HEAD", true},
		{"GET policy holds for head", getOnly, "head", true},
		{"GET policy, OPTIONS free", getOnly, "OPTIONS", false},
		{"except, GET free", except, "GET", false},
		{"except, get free", except, "get", false},
		{"except, HEAD free", except, "HEAD", false},
		{"except, OPTIONS free", except, "OPTIONS", false},
		{"except, POST", except, "POST", true},
		{"except, patch", except, "patch", true},
		{"except, DELETE", except, "DELETE", true},
		{"except, a method nobody listed", except, "PROPFIND", true},
		{"except, an invented method", except, "PURGE", true},
		{"except GET alone, HEAD not excepted", exceptGet, "HEAD", true},
		{"except HEAD alone, HEAD held to GET", exceptHead, "HEAD", true},
		{"except HEAD alone, GET", exceptHead, "GET", true},
		{"except GET alone, OPTIONS", exceptGet, "OPTIONS", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := guardedRequest(reader)
			r.Method = tc.method
			rec, reached := serveGuard(t, tc.g, r)
			if tc.needsW {
				if reached || rec.Code != http.StatusForbidden || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `scope="w"`) {
					t.Fatalf("without w: status %d, upstream reached %v, challenge %q", rec.Code, reached, rec.Header().Get("WWW-Authenticate"))
				}
			} else if !reached {
				t.Fatalf("without w: status %d %s, want the upstream reached", rec.Code, rec.Body)
			}
			r = guardedRequest(writer)
			r.Method = tc.method
			if rec, reached := serveGuard(t, tc.g, r); !reached {
				t.Fatalf("with w: status %d %s", rec.Code, rec.Body)
			}
		})
	}
}

func TestGuardMethodScopesConfig(t *testing.T) {
	a := newTestApp(t)
	for _, tc := range []struct {
		name    string
		ms      MethodScopes
		wantErr string
	}{
		{"both forms", MethodScopes{Methods: []string{"POST"}, ExceptMethods: []string{"GET"}, Scopes: []string{"w"}}, "methods or except_methods, not both"},
		{"neither form", MethodScopes{Scopes: []string{"w"}}, "needs methods or except_methods"},
		{"no scopes", MethodScopes{Methods: []string{"POST"}}, "needs scopes"},
		{"space in a method", MethodScopes{Methods: []string{"PO ST"}, Scopes: []string{"w"}}, "not an HTTP method name"},
		{"empty method", MethodScopes{ExceptMethods: []string{""}, Scopes: []string{"w"}}, "not an HTTP method name"},
		{"separator in a method", MethodScopes{Methods: []string{"GET,POST"}, Scopes: []string{"w"}}, "not an HTTP method name"},
		{"non-ASCII method", MethodScopes{Methods: []string{"PÖST"}, Scopes: []string{"w"}}, "not an HTTP method name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &Guard{MethodScopes: []MethodScopes{tc.ms}}
			err := g.setup(a.server)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// earlyData marks r as received in TLS 1.3 early data (0-RTT): the handshake
// has not completed, so the peer's address is not yet proven.
func earlyData(r *http.Request, complete bool) *http.Request {
	r.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: complete}
	return r
}

// TestEarlyDataGetsNoAddressDecision: an allowlist is never decided on an
// address that the TLS handshake has not yet proven; such a request is asked
// to come back after the handshake (425), at the guard and at the token
// endpoint alike, as Caddy's own client_ip matcher does.
func TestEarlyDataGetsNoAddressDecision(t *testing.T) {
	a := newTestApp(t)
	c, secret, err := a.server.Registry.Create(context.Background(), registry.Metadata{
		ClientName: "pinned", Scope: "r", IPAllowlist: []string{"127.0.0.1/32"},
	})
	if err != nil {
		t.Fatal(err)
	}
	free, _ := newTestClient(t, a, "r")
	g := newTestGuard(t, a, "r")
	pinned := mintToken(t, a, c.ClientID, "r")

	t.Run("guard, early data", func(t *testing.T) {
		rec, reached := serveGuard(t, g, earlyData(guardedRequest(pinned), false))
		if reached || rec.Code != http.StatusTooEarly {
			t.Fatalf("status %d, upstream reached %v; want 425", rec.Code, reached)
		}
		wantErrorBody(t, rec, "temporarily_unavailable")
	})
	t.Run("guard, handshake complete", func(t *testing.T) {
		if rec, reached := serveGuard(t, g, earlyData(guardedRequest(pinned), true)); !reached {
			t.Fatalf("status %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("guard, early data, client without an allowlist", func(t *testing.T) {
		// No address decision is made for it, so there is nothing to defer.
		if rec, reached := serveGuard(t, g, earlyData(guardedRequest(mintToken(t, a, free, "r")), false)); !reached {
			t.Fatalf("status %d %s", rec.Code, rec.Body)
		}
	})

	iss := new(Issuer)
	if err := iss.setup(a.server, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	tokenRequest := func(complete bool) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "https://gw.example/oauth2/token", strings.NewReader("grant_type=client_credentials&scope=r"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(c.ClientID, secret)
		ctx := context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: "127.0.0.1"})
		rec := httptest.NewRecorder()
		endpoint(iss, authserver.DefaultTokenPath).ServeHTTP(rec, earlyData(r.WithContext(ctx), complete))
		return rec
	}
	t.Run("token endpoint, early data", func(t *testing.T) {
		rec := tokenRequest(false)
		if rec.Code != http.StatusTooEarly || strings.Contains(rec.Body.String(), "access_token") {
			t.Fatalf("status %d %s; want 425 and no token", rec.Code, rec.Body)
		}
		wantErrorBody(t, rec, "temporarily_unavailable")
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", rec.Header().Get("Cache-Control"))
		}
	})
	t.Run("token endpoint, handshake complete", func(t *testing.T) {
		if rec := tokenRequest(true); rec.Code != http.StatusOK {
			t.Fatalf("status %d %s", rec.Code, rec.Body)
		}
	})

	owner, ownerSecret, err := a.server.Registry.Create(context.Background(), registry.Metadata{
		ClientName: "pinned-owner", Features: []string{"owner"}, IPAllowlist: []string{"127.0.0.1/32"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ra := new(RemoteAdmin)
	if err := ra.setup(a, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	adminRequest := func(complete bool) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "https://gw.example/clients", nil)
		r.SetBasicAuth(owner.ClientID, ownerSecret)
		ctx := context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: "127.0.0.1"})
		rec := httptest.NewRecorder()
		if err := ra.ServeHTTP(rec, earlyData(r.WithContext(ctx), complete), nil); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	t.Run("remote admin, early data", func(t *testing.T) {
		rec := adminRequest(false)
		if rec.Code != http.StatusTooEarly || strings.Contains(rec.Body.String(), owner.ClientID) {
			t.Fatalf("status %d %s; want 425 and no client list", rec.Code, rec.Body)
		}
	})
	t.Run("remote admin, handshake complete", func(t *testing.T) {
		if rec := adminRequest(true); rec.Code != http.StatusOK {
			t.Fatalf("status %d %s", rec.Code, rec.Body)
		}
	})
}

// wantErrorBody checks the JSON error code of an answer.
func wantErrorBody(t *testing.T, rec *httptest.ResponseRecorder, code string) {
	t.Helper()
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error != code || body.Description == "" {
		t.Fatalf("body %s (%v), want error %s with a description", rec.Body, err, code)
	}
}
