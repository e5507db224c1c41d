package authserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/scopegate/scopegate/grant"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/token"
)

// rs256Verifier is go-oidc's ID token verifier for clientID, fetching the
// server's JWKS over HTTP and accepting RS256 only, as a relying party
// that knows nothing else does.
func rs256Verifier(t *testing.T, s *Server, clientID string) *oidc.IDTokenVerifier {
	t.Helper()
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(s.KeySet().JWKS())
	}))
	t.Cleanup(jwks.Close)
	keys := oidc.NewRemoteKeySet(context.Background(), jwks.URL)
	return oidc.NewVerifier(s.Issuer, keys, &oidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{oidc.RS256}})
}

// activeIDTokenKey returns the kid of the active key that signs RS256 ID
// tokens only.
func activeIDTokenKey(t *testing.T, s *Server) string {
	t.Helper()
	for _, k := range s.KeySet().Keys() {
		if k.Use == token.UseIDToken && k.Status == token.StatusActive {
			return k.KeyID
		}
	}
	t.Fatalf("no active ID-token key in %+v", s.KeySet().Keys())
	return ""
}

// TestIDTokenSignedWithTheClientsAlgorithm: a client registered with
// id_token_signed_response_alg RS256 gets ID tokens of the RS256 key kept
// beside the operator's ES256 key, which go-oidc verifies against the JWKS
// knowing RS256 only; its access tokens stay ES256. A client that names no
// algorithm gets the operator's.
func TestIDTokenSignedWithTheClientsAlgorithm(t *testing.T) {
	f := oidcCode(t)
	ctx := context.Background()
	c, _, err := f.s.Registry.Create(ctx, registry.Metadata{
		ClientName: "rs256 app", Scope: "openid orders:read", GrantTypes: []string{grant.AuthorizationCode},
		RedirectURIs: []string{testRedirect}, TokenEndpointAuthMethod: storage.AuthMethodNone,
		IDTokenSignedResponseAlg: token.AlgRS256,
	})
	if err != nil {
		t.Fatal(err)
	}
	defaultClient := f.clientID
	f.clientID = c.ClientID
	f.consent(t, f.clientID, "openid", "orders:read")

	body := f.redeem(t, "n-rs", "openid", "orders:read")
	raw, _ := body["id_token"].(string)
	header, claims := verifyIDToken(t, f.s, raw)
	if header["alg"] != token.AlgRS256 || header["kid"] != activeIDTokenKey(t, f.s) || header["typ"] != "JWT" {
		t.Fatalf("ID token header %v, want RS256 by the ID-token key", header)
	}
	id, err := rs256Verifier(t, f.s, f.clientID).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("go-oidc refused the RS256 ID token: %v", err)
	}
	access, _ := body["access_token"].(string)
	if id.Subject != f.userID || id.Nonce != "n-rs" || claims["aud"] != f.clientID || id.VerifyAccessToken(access) != nil {
		t.Fatalf("ID token %+v", id)
	}
	accessHeader, _ := verifyIDToken(t, f.s, access)
	if accessHeader["alg"] != token.AlgES256 || accessHeader["kid"] != f.s.KeySet().SigningKeyID() {
		t.Fatalf("access token header %v, want the operator's ES256 key", accessHeader)
	}
	if _, _, err := f.s.CheckToken(ctx, access); err != nil {
		t.Fatalf("the access token beside it: %v", err)
	}
	if _, _, err := f.s.CheckToken(ctx, raw); err == nil {
		t.Fatal("the guard's check accepted an RS256 ID token as an access token")
	}

	f.clientID = defaultClient
	raw, _ = f.redeem(t, "n-es", "openid")["id_token"].(string)
	if header, _ := verifyIDToken(t, f.s, raw); header["alg"] != token.AlgES256 || header["kid"] != f.s.KeySet().SigningKeyID() {
		t.Fatalf("default client's ID token header %v, want the operator's ES256 key", header)
	}
	if _, err := rs256Verifier(t, f.s, f.clientID).Verify(ctx, raw); err == nil {
		t.Fatal("an RS256-only verifier accepted the ES256 ID token")
	}
}

// TestRefreshIssuesAFreshIDToken: a refresh of a grant with openid answers
// a new ID token (OpenID Connect Core §12.2) for the same person and app,
// with the original auth_time, no nonce and the at_hash of the new access
// token, signed with the client's algorithm; a refresh narrowed without
// openid answers none.
func TestRefreshIssuesAFreshIDToken(t *testing.T) {
	f := oidcCode(t)
	ctx := context.Background()
	c, _, err := f.s.Registry.Create(ctx, registry.Metadata{
		ClientName: "refreshing rp", Scope: "openid orders:read",
		GrantTypes:   []string{grant.AuthorizationCode, grant.RefreshToken},
		RedirectURIs: []string{testRedirect}, TokenEndpointAuthMethod: storage.AuthMethodNone,
		IDTokenSignedResponseAlg: token.AlgRS256,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.clientID = c.ClientID
	f.consent(t, f.clientID, "openid", "orders:read")
	first := f.redeem(t, "n-first", "openid", "orders:read")
	verify := rs256Verifier(t, f.s, f.clientID)
	original, err := verify.Verify(ctx, first["id_token"].(string))
	if err != nil {
		t.Fatal(err)
	}
	var originalClaims map[string]any
	if err := original.Claims(&originalClaims); err != nil {
		t.Fatal(err)
	}

	status, body := f.refresh(t, f.clientID, first["refresh_token"].(string), "")
	raw, _ := body["id_token"].(string)
	if status != http.StatusOK || raw == "" {
		t.Fatalf("refresh: %d %v, want a new id_token", status, body)
	}
	if raw == first["id_token"] {
		t.Fatal("the refresh answered the old ID token")
	}
	id, err := verify.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("go-oidc refused the refreshed ID token: %v", err)
	}
	if err := id.VerifyAccessToken(body["access_token"].(string)); err != nil {
		t.Fatalf("at_hash of the new access token: %v", err)
	}
	var claims map[string]any
	if err := id.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if id.Subject != f.userID || claims["aud"] != f.clientID || claims["auth_time"] != originalClaims["auth_time"] || claims["auth_time"] == nil {
		t.Fatalf("refreshed claims %v, original %v", claims, originalClaims)
	}
	if _, ok := claims["nonce"]; ok {
		t.Fatalf("a nonce in the refreshed ID token: %v", claims)
	}

	status, body = f.refresh(t, f.clientID, body["refresh_token"].(string), "orders:read")
	if status != http.StatusOK || body["id_token"] != nil {
		t.Fatalf("refresh without openid: %d %v, want no id_token", status, body)
	}
}

// TestLogoutWithAnRS256Hint: an RS256 ID token, signed by the key that
// signs ID tokens only, names its person as an id_token_hint at logout as
// the operator's key's tokens do: the session ends at once.
func TestLogoutWithAnRS256Hint(t *testing.T) {
	f := newLogoutFixture(t)
	now := f.s.Now()
	hint, err := f.s.KeySet().SignIDTokenWith(token.AlgRS256, &token.IDClaims{
		Issuer: f.s.Issuer, Subject: f.userID, Audience: f.app,
		ExpiresAt: now.Add(-time.Hour).Unix(), IssuedAt: now.Add(-2 * time.Hour).Unix(),
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	if h := jwsHeaderOf(t, hint); h["kid"] != activeIDTokenKey(t, f.s) {
		t.Fatalf("hint header %v", h)
	}
	value := f.signIn()
	w := f.send(http.MethodGet, url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {testSignedOut}}, value)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != testSignedOut || f.live(value) {
		t.Fatalf("%d Location %q, session live %v", w.Code, w.Header().Get("Location"), f.live(value))
	}
}

// jwsHeaderOf returns the decoded header of the compact JWS raw.
func jwsHeaderOf(t *testing.T, raw string) map[string]any {
	t.Helper()
	seg, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}
