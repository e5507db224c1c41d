package module

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/registry"
)

// postFrom posts a form to an issuer endpoint from the client address ip,
// with the Authorization header auth when it is not empty.
func (f *failStoreFixture) postFrom(ip, path string, form url.Values, auth string) answer {
	f.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "https://gw.example"+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	ctx := context.WithValue(req.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer())
	ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: ip})
	rec := httptest.NewRecorder()
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		f.t.Fatalf("the issuer passed %s on", path)
		return nil
	})
	if err := f.issuer.ServeHTTP(rec, req.WithContext(ctx), next); err != nil {
		f.t.Fatalf("issuer: %v", err)
	}
	return answer{rec.Code, rec.Header(), rec.Body.String()}
}

// TestTokenEndpointAuthenticatesPublicClients: a client_id without a secret
// authenticates a public client, for the authorization_code grant only
// (a made-up code is then invalid_grant);
// a public client presenting a secret, and a confidential or unknown client
// without one, are invalid_client; failures count against their source.
func TestTokenEndpointAuthenticatesPublicClients(t *testing.T) {
	f := newFailStoreFixture(t)
	ctx := context.Background()
	public, _, err := f.app.server.Registry.Create(ctx, registry.Metadata{
		ClientName: "spa", TokenEndpointAuthMethod: "none", RedirectURIs: []string{"http://127.0.0.1/cb"}, Scope: "orders:read",
	})
	if err != nil {
		t.Fatal(err)
	}
	confID, confSecret := newTestClient(t, f.app, "orders:read")
	const here, elsewhere = "127.0.0.1", "192.0.2.7"
	form := func(grant, id string, more ...string) url.Values {
		v := url.Values{"grant_type": {grant}, "scope": {"orders:read"}}
		if id != "" {
			v.Set("client_id", id)
		}
		for i := 0; i+1 < len(more); i += 2 {
			v.Set(more[i], more[i+1])
		}
		return v
	}
	basic := func(id, secret string) string {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		return r.Header.Get("Authorization")
	}
	want := func(t *testing.T, a answer, status int, code string) {
		t.Helper()
		if a.status != status || a.errorCode() != code || a.header.Get("Cache-Control") != "no-store" || strings.Contains(a.body, "access_token") {
			t.Fatalf("got %d %s, want %d %s", a.status, a.body, status, code)
		}
	}

	t.Run("public client, authorization_code: authenticated, the code checked", func(t *testing.T) {
		want(t, f.postFrom(here, "/oauth2/token", form("authorization_code", public.ClientID, "code", "x", "code_verifier", strings.Repeat("v", 43)), ""),
			http.StatusBadRequest, "invalid_grant")
	})
	t.Run("public client, client_credentials", func(t *testing.T) {
		want(t, f.postFrom(here, "/oauth2/token", form("client_credentials", public.ClientID), ""), http.StatusBadRequest, "unauthorized_client")
	})
	t.Run("public client, another grant", func(t *testing.T) {
		want(t, f.postFrom(here, "/oauth2/token", form("refresh_token", public.ClientID, "refresh_token", "x"), ""), http.StatusBadRequest, "unauthorized_client")
	})
	t.Run("public client presenting a secret over Basic", func(t *testing.T) {
		a := f.postFrom(here, "/oauth2/token", form("authorization_code", ""), basic(public.ClientID, "sgs_anything"))
		want(t, a, http.StatusUnauthorized, "invalid_client")
		if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("WWW-Authenticate %q", a.header.Get("WWW-Authenticate"))
		}
	})
	t.Run("public client presenting a secret in the body", func(t *testing.T) {
		want(t, f.postFrom(here, "/oauth2/token", form("authorization_code", public.ClientID, "client_secret", "sgs_anything"), ""),
			http.StatusUnauthorized, "invalid_client")
	})
	t.Run("public client with an empty Basic secret", func(t *testing.T) {
		want(t, f.postFrom(here, "/oauth2/token", form("authorization_code", ""), basic(public.ClientID, "")), http.StatusUnauthorized, "invalid_client")
	})
	var confidentialAnswer answer
	t.Run("confidential client without its secret", func(t *testing.T) {
		confidentialAnswer = f.postFrom(here, "/oauth2/token", form("client_credentials", confID), "")
		want(t, confidentialAnswer, http.StatusUnauthorized, "invalid_client")
		want(t, f.postFrom(here, "/oauth2/token", form("authorization_code", confID, "code", "x"), ""), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("unknown client without a secret looks the same", func(t *testing.T) {
		a := f.postFrom(here, "/oauth2/token", form("client_credentials", "nosuchclient"), "")
		if a.status != confidentialAnswer.status || a.body != confidentialAnswer.body ||
			a.header.Get("WWW-Authenticate") != confidentialAnswer.header.Get("WWW-Authenticate") {
			t.Fatalf("unknown: %d %s %v\nconfidential: %d %s %v", a.status, a.body, a.header, confidentialAnswer.status, confidentialAnswer.body, confidentialAnswer.header)
		}
	})
	t.Run("no client at all", func(t *testing.T) {
		want(t, f.postFrom(here, "/oauth2/token", form("authorization_code", ""), ""), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("introspection still needs a secret; revocation takes the client_id", func(t *testing.T) {
		want(t, f.postFrom(here, "/oauth2/introspect", url.Values{"token": {"x"}, "client_id": {public.ClientID}}, ""), http.StatusUnauthorized, "invalid_client")
		// RFC 7009 §2.2: a token that is not valid needs no revoking, 200.
		if a := f.postFrom(here, "/oauth2/revoke", url.Values{"token": {"x"}, "client_id": {public.ClientID}}, ""); a.status != http.StatusOK {
			t.Fatalf("a public client's revocation: %d %s", a.status, a.body)
		}
		want(t, f.postFrom(here, "/oauth2/revoke", url.Values{"token": {"x"}, "client_id": {public.ClientID}, "client_secret": {"sgs_x"}}, ""), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("the confidential client still gets its token", func(t *testing.T) {
		if tok := f.token(confID, confSecret); tok == "" {
			t.Fatal("no token")
		}
	})
	t.Run("failures are throttled by their source", func(t *testing.T) {
		// Failed logins above have counted against here; enough more from
		// elsewhere, with the public client's ID and made-up ones, throttle
		// elsewhere only.
		var last answer
		for i := range 12 {
			id := public.ClientID
			if i%2 == 1 {
				id = "made-up-" + strings.Repeat("x", i)
			}
			last = f.postFrom(elsewhere, "/oauth2/token", form("authorization_code", id, "client_secret", "sgs_guess"), "")
		}
		want(t, last, http.StatusTooManyRequests, "temporarily_unavailable")
		if last.header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		// Throttled before its credentials are looked at: the public
		// client's own ID from there gets the same answer.
		want(t, f.postFrom(elsewhere, "/oauth2/token", form("authorization_code", public.ClientID), ""), http.StatusTooManyRequests, "temporarily_unavailable")
		// From another address the public client still authenticates.
		want(t, f.postFrom("198.51.100.9", "/oauth2/token", form("authorization_code", public.ClientID, "code", "x"), ""), http.StatusBadRequest, "invalid_grant")
	})
}
