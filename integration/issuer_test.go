package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// issuerCaddyfile serves the OAuth endpoints. Every test here connects from
// one address, and failed logins are counted per address, so the throttle is
// set out of the way of the tests' deliberate failures; lockout_test.go
// tests the throttle.
const issuerCaddyfile = `{
	admin 127.0.0.1:{{.AdminPort}}
	auto_https off
	scopegate {
		issuer  http://127.0.0.1:{{.HTTPPort}}
		storage {{.Dir}}/scopegate.db
		access_token_ttl 10m
		failed_login_limit 1000
	}
}

http://127.0.0.1:{{.HTTPPort}} {
	scopegate_issuer
	respond "not an OAuth endpoint" 404
}
`

// tokenAnswer is a token endpoint response, success or error.
type tokenAnswer struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// postForm sends a form to path with optional Basic credentials (form-
// urlencoded first, as RFC 6749 Appendix B says) and extra headers.
func postForm(t *testing.T, g *Gateway, path string, form url.Values, basicID, basicSecret string) tokenAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, g.URL(path), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" || basicSecret != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	return sendToken(t, req)
}

func sendToken(t *testing.T, req *http.Request) tokenAnswer {
	t.Helper()
	resp := doRequest(t, req)
	ans := tokenAnswer{Status: resp.Status, Header: resp.Header, Raw: string(resp.Body)}
	if len(resp.Body) > 0 {
		if err := json.Unmarshal(resp.Body, &ans.Body); err != nil {
			t.Fatalf("token endpoint answered non-JSON %q", resp.Body)
		}
	}
	return ans
}

func (a tokenAnswer) errorCode() string { s, _ := a.Body["error"].(string); return s }

// wantError checks an RFC 6749 §5.2 error answer.
func (a tokenAnswer) wantError(t *testing.T, status int, code string) {
	t.Helper()
	if a.Status != status || a.errorCode() != code {
		t.Fatalf("got %d %s, want %d %s", a.Status, a.Raw, status, code)
	}
	if _, ok := a.Body["access_token"]; ok {
		t.Fatal("an error answer carries an access token")
	}
	a.wantNoStore(t)
}

func (a tokenAnswer) wantNoStore(t *testing.T) {
	t.Helper()
	if a.Header.Get("Cache-Control") != "no-store" || a.Header.Get("Pragma") != "no-cache" {
		t.Errorf("Cache-Control %q, Pragma %q", a.Header.Get("Cache-Control"), a.Header.Get("Pragma"))
	}
}

func startIssuer(t *testing.T) *Gateway {
	t.Helper()
	return StartGateway(t, issuerCaddyfile)
}

// fetchToken gets a token with the standard client library.
func fetchToken(t *testing.T, g *Gateway, c createdClient, scopes ...string) *oauth2.Token {
	t.Helper()
	cfg := clientcredentials.Config{
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		TokenURL:     g.URL("/oauth2/token"),
		Scopes:       scopes,
		AuthStyle:    oauth2.AuthStyleInHeader,
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, httpClient)
	tok, err := cfg.Token(ctx)
	if err != nil {
		t.Fatalf("fetching a token: %v", err)
	}
	return tok
}

// verifyWithJWKS verifies a token independently of Scopegate's code: jwx
// reads the published key set and checks signature, issuer and expiry.
func verifyWithJWKS(t *testing.T, g *Gateway, raw string) jwt.Token {
	t.Helper()
	resp := do(t, http.MethodGet, g.URL("/.well-known/jwks.json"), nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("JWKS: %d", resp.Status)
	}
	set, err := jwk.Parse(resp.Body)
	if err != nil {
		t.Fatalf("parsing JWKS: %v", err)
	}
	tok, err := jwt.Parse([]byte(raw), jwt.WithKeySet(set), jwt.WithIssuer(g.URL("")), jwt.WithValidate(true))
	if err != nil {
		t.Fatalf("jwx refuses the token: %v", err)
	}
	return tok
}

// tokenHeader decodes a JWT's protected header.
func tokenHeader(t *testing.T, raw string) map[string]any {
	t.Helper()
	msg, err := jws.Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	seg, _ := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	var h map[string]any
	if err := json.Unmarshal(seg, &h); err != nil {
		t.Fatal(err)
	}
	if len(msg.Signatures()) != 1 {
		t.Fatalf("%d signatures", len(msg.Signatures()))
	}
	return h
}

func TestTokenWithStandardClientVerifiesAgainstJWKS(t *testing.T) {
	t.Parallel()
	g := startIssuer(t)
	c := createClient(t, g, map[string]any{
		"client_name": "orders-app",
		"scope":       "orders:read orders:write",
		"audience":    []string{"https://api.example.com/orders"},
		"claims":      map[string]any{"tenant": "acme"},
	})
	tok := fetchToken(t, g, c, "orders:read")
	if tok.TokenType != "Bearer" || tok.RefreshToken != "" || tok.Expiry.IsZero() {
		t.Fatalf("token %+v", tok)
	}
	if until := time.Until(tok.Expiry); until < 9*time.Minute || until > 11*time.Minute {
		t.Errorf("expires in %s, want about 10m", until)
	}
	if s, _ := tok.Extra("scope").(string); s != "orders:read" {
		t.Errorf("scope %q", s)
	}

	claims := verifyWithJWKS(t, g, tok.AccessToken)
	sub, _ := claims.Subject()
	aud, _ := claims.Audience()
	if sub != c.ClientID || len(aud) != 1 || aud[0] != "https://api.example.com/orders" {
		t.Errorf("sub %q aud %v", sub, aud)
	}
	for name, want := range map[string]string{"client_id": c.ClientID, "scope": "orders:read", "tenant": "acme"} {
		var got string
		if err := claims.Get(name, &got); err != nil || got != want {
			t.Errorf("claim %s = %q (%v), want %q", name, got, err, want)
		}
	}
	if jti, ok := claims.JwtID(); !ok || jti == "" {
		t.Error("no jti")
	}
	if iat, ok := claims.IssuedAt(); !ok || time.Since(iat) > time.Minute {
		t.Errorf("iat %v", iat)
	}
	h := tokenHeader(t, tok.AccessToken)
	if h["typ"] != "at+jwt" || h["alg"] != "ES256" || h["kid"] == "" {
		t.Errorf("header %v", h)
	}

	t.Run("client_secret_post works too", func(t *testing.T) {
		ans := postForm(t, g, "/oauth2/token", url.Values{
			"grant_type": {"client_credentials"}, "scope": {"orders:write"},
			"client_id": {c.ClientID}, "client_secret": {c.ClientSecret},
		}, "", "")
		if ans.Status != http.StatusOK || ans.Body["token_type"] != "Bearer" || ans.Body["scope"] != "orders:write" {
			t.Fatalf("got %d %s", ans.Status, ans.Raw)
		}
		if _, ok := ans.Body["refresh_token"]; ok {
			t.Error("refresh token issued for client_credentials")
		}
		ans.wantNoStore(t)
	})

	t.Run("jti unique over many issuances", func(t *testing.T) {
		seen := map[string]bool{}
		for range 200 {
			tok := fetchToken(t, g, c, "orders:read")
			var jti string
			if err := verifyWithJWKS(t, g, tok.AccessToken).Get("jti", &jti); err != nil {
				t.Fatal(err)
			}
			if seen[jti] {
				t.Fatalf("jti %q issued twice", jti)
			}
			seen[jti] = true
		}
	})

	t.Run("metadata lists exactly what is served", func(t *testing.T) {
		resp := do(t, http.MethodGet, g.URL("/.well-known/oauth-authorization-server"), nil)
		var md map[string]any
		resp.JSON(t, &md)
		if md["issuer"] != g.URL("") {
			t.Errorf("issuer %v", md["issuer"])
		}
		for _, field := range []string{"token_endpoint", "jwks_uri", "revocation_endpoint", "introspection_endpoint"} {
			endpoint, _ := md[field].(string)
			if !strings.HasPrefix(endpoint, g.URL("/")) {
				t.Fatalf("%s = %q", field, endpoint)
			}
			// Every advertised endpoint is served: GET on a POST endpoint
			// answers 405, not the site's 404.
			r := do(t, http.MethodGet, endpoint, nil)
			if r.Status != http.StatusOK && r.Status != http.StatusMethodNotAllowed {
				t.Errorf("%s (%s) answers %d", field, endpoint, r.Status)
			}
		}
		for name, v := range md {
			if list, ok := v.([]any); ok && len(list) == 0 {
				t.Errorf("%s is an empty list", name)
			}
		}
		if resp := do(t, http.MethodGet, g.URL("/elsewhere"), nil); resp.Status != http.StatusNotFound {
			t.Errorf("other paths are not passed on: %d", resp.Status)
		}
	})
}

func TestTokenEndpointRefusesBadInput(t *testing.T) {
	t.Parallel()
	g := startIssuer(t)
	c := createClient(t, g, map[string]any{"client_name": "app", "scope": "read write"})
	good := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
	tokenURL := g.URL("/oauth2/token")

	t.Run("GET is 405 with Allow POST", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, tokenURL, nil)
		ans := sendToken(t, req)
		ans.wantError(t, http.StatusMethodNotAllowed, "invalid_request")
		if ans.Header.Get("Allow") != "POST" {
			t.Errorf("Allow %q", ans.Header.Get("Allow"))
		}
	})
	t.Run("credentials in the query string", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, tokenURL+"?client_id="+c.ClientID+"&client_secret="+c.ClientSecret,
			strings.NewReader(good.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		sendToken(t, req).wantError(t, http.StatusBadRequest, "invalid_request")
	})
	t.Run("Basic and a body secret together", func(t *testing.T) {
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}, "client_secret": {c.ClientSecret}}
		postForm(t, g, "/oauth2/token", form, c.ClientID, c.ClientSecret).wantError(t, http.StatusBadRequest, "invalid_request")
	})
	t.Run("wrong secret over Basic", func(t *testing.T) {
		ans := postForm(t, g, "/oauth2/token", good, c.ClientID, "sgs_wrong")
		ans.wantError(t, http.StatusUnauthorized, "invalid_client")
		if !strings.HasPrefix(ans.Header.Get("WWW-Authenticate"), `Basic realm="`) {
			t.Errorf("WWW-Authenticate %q", ans.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("unknown client looks like a wrong secret", func(t *testing.T) {
		a := postForm(t, g, "/oauth2/token", good, "unknown-client", "sgs_wrong")
		b := postForm(t, g, "/oauth2/token", good, c.ClientID, "sgs_wrong2")
		if a.Status != b.Status || a.Raw != b.Raw {
			t.Fatalf("unknown: %d %s; wrong secret: %d %s", a.Status, a.Raw, b.Status, b.Raw)
		}
		for _, h := range []string{"WWW-Authenticate", "Content-Type", "Cache-Control", "Pragma"} {
			if a.Header.Get(h) != b.Header.Get(h) {
				t.Errorf("%s differs: %q vs %q", h, a.Header.Get(h), b.Header.Get(h))
			}
		}
	})
	t.Run("malformed Basic encoding", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(good.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("%zz:secret")))
		sendToken(t, req).wantError(t, http.StatusBadRequest, "invalid_request")
	})
	t.Run("Basic credentials are form-urlencoded first", func(t *testing.T) {
		// The id with a '+' decodes to a space: an unknown client, refused as
		// such rather than as a malformed request.
		req, _ := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(good.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("a%3Ab+c%26d%25:x%3Ay")))
		sendToken(t, req).wantError(t, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("missing grant_type", func(t *testing.T) {
		postForm(t, g, "/oauth2/token", url.Values{"scope": {"read"}}, c.ClientID, c.ClientSecret).
			wantError(t, http.StatusBadRequest, "invalid_request")
	})
	t.Run("unsupported grant_type", func(t *testing.T) {
		postForm(t, g, "/oauth2/token", url.Values{"grant_type": {"password"}, "scope": {"read"}}, c.ClientID, c.ClientSecret).
			wantError(t, http.StatusBadRequest, "unsupported_grant_type")
	})
	t.Run("repeated parameter", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader("grant_type=client_credentials&scope=read&scope=write"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(c.ClientID, c.ClientSecret)
		sendToken(t, req).wantError(t, http.StatusBadRequest, "invalid_request")
	})
	t.Run("JSON body", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(`{"grant_type":"client_credentials"}`))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(c.ClientID, c.ClientSecret)
		sendToken(t, req).wantError(t, http.StatusBadRequest, "invalid_request")
	})
	for name, sc := range map[string]string{
		"scope not allowed":    "admin",
		"scope with a quote":   `read"`,
		"scope with backslash": `read\`,
		"scope with control":   "read\x01",
	} {
		t.Run(name, func(t *testing.T) {
			postForm(t, g, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {sc}}, c.ClientID, c.ClientSecret).
				wantError(t, http.StatusBadRequest, "invalid_scope")
		})
	}
	t.Run("the refusal names the scope that is not allowed", func(t *testing.T) {
		ans := postForm(t, g, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"read admin"}}, c.ClientID, c.ClientSecret)
		ans.wantError(t, http.StatusBadRequest, "invalid_scope")
		if got := ans.Body["error_description"]; got != "not allowed for this client: admin" {
			t.Fatalf("error_description %q", got)
		}
	})
	t.Run("scope omitted when the client must request one", func(t *testing.T) {
		postForm(t, g, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, c.ClientID, c.ClientSecret).
			wantError(t, http.StatusBadRequest, "invalid_scope")
	})
	t.Run("scope omitted when the client need not request one", func(t *testing.T) {
		lax := createClient(t, g, map[string]any{"client_name": "lax", "scope": "read write", "require_scope_request": false})
		ans := postForm(t, g, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, lax.ClientID, lax.ClientSecret)
		if ans.Status != http.StatusOK || ans.Body["scope"] != "read write" {
			t.Fatalf("got %d %s", ans.Status, ans.Raw)
		}
	})
	t.Run("resource outside the client's audience", func(t *testing.T) {
		postForm(t, g, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"read"},
			"resource": {"https://other.example.com/"}}, c.ClientID, c.ClientSecret).
			wantError(t, http.StatusBadRequest, "invalid_target")
	})
	t.Run("no error reflects input", func(t *testing.T) {
		evil := "<script>alert(1)</script>\r\nX-Injected: 1\""
		for _, form := range []url.Values{
			{"grant_type": {evil}, "scope": {"read"}},
			{"grant_type": {"client_credentials"}, "scope": {evil}},
			{"grant_type": {"client_credentials"}, "scope": {"read"}, "resource": {evil}},
		} {
			ans := postForm(t, g, "/oauth2/token", form, c.ClientID, c.ClientSecret)
			if ans.Status < 400 || strings.Contains(ans.Raw, "<script") || strings.Contains(ans.Raw, `\u003cscript`) || strings.Contains(ans.Raw, "Injected") {
				t.Errorf("answer reflects input: %d %s", ans.Status, ans.Raw)
			}
			if ans.Header.Get("X-Injected") != "" {
				t.Error("header injected")
			}
		}
	})
	t.Run("a grant the client may not use", func(t *testing.T) {
		// The registry allows only grants the server supports, and this
		// release supports one, so a client without it cannot be made here;
		// grant.TestDecide covers the refusal.
		resp := do(t, http.MethodPost, g.AdminURL("/scopegate/clients"), map[string]any{"client_name": "x", "grant_types": []string{"implicit"}})
		if resp.Status != http.StatusBadRequest {
			t.Fatalf("unsupported grant accepted: %d %s", resp.Status, resp.Body)
		}
	})
}

func TestTokenRefusedByClientState(t *testing.T) {
	t.Parallel()
	g := startIssuer(t)
	good := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}

	t.Run("address outside the allowlist", func(t *testing.T) {
		c := createClient(t, g, map[string]any{"client_name": "remote", "scope": "read", "ip_allowlist": []string{"10.0.0.0/8"}})
		ans := postForm(t, g, "/oauth2/token", good, c.ClientID, c.ClientSecret)
		ans.wantError(t, http.StatusBadRequest, "unauthorized_client")
		// The refusal names the address the gateway saw: what the allowlist lacks.
		if desc := ans.Body["error_description"]; desc != "the client may not connect from 127.0.0.1" {
			t.Errorf("error_description %q", desc)
		}
		// Forged forwarding headers from an untrusted peer change nothing.
		req, _ := http.NewRequest(http.MethodPost, g.URL("/oauth2/token"), strings.NewReader(good.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", "10.1.2.3")
		req.Header.Set("X-Real-IP", "10.1.2.3")
		req.SetBasicAuth(c.ClientID, c.ClientSecret)
		sendToken(t, req).wantError(t, http.StatusBadRequest, "unauthorized_client")
	})
	t.Run("disabled", func(t *testing.T) {
		c := createClient(t, g, map[string]any{"client_name": "off", "scope": "read"})
		do(t, http.MethodPatch, g.AdminURL("/scopegate/clients/"+c.ClientID), `{"disabled":true}`)
		postForm(t, g, "/oauth2/token", good, c.ClientID, c.ClientSecret).wantError(t, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("deleted", func(t *testing.T) {
		c := createClient(t, g, map[string]any{"client_name": "gone", "scope": "read"})
		do(t, http.MethodDelete, g.AdminURL("/scopegate/clients/"+c.ClientID), nil)
		postForm(t, g, "/oauth2/token", good, c.ClientID, c.ClientSecret).wantError(t, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("rotated secret with grace, then retired", func(t *testing.T) {
		c := createClient(t, g, map[string]any{"client_name": "rot", "scope": "read"})
		resp := do(t, http.MethodPost, g.AdminURL("/scopegate/clients/"+c.ClientID+"/secrets"), `{"grace_period":"1h"}`)
		var rot struct {
			ClientSecret string `json:"client_secret"`
		}
		resp.JSON(t, &rot)
		for _, secret := range []string{c.ClientSecret, rot.ClientSecret} {
			if ans := postForm(t, g, "/oauth2/token", good, c.ClientID, secret); ans.Status != http.StatusOK {
				t.Fatalf("secret during grace: %d %s", ans.Status, ans.Raw)
			}
		}
		oldID := c.Secrets[0].ID
		if resp := do(t, http.MethodDelete, g.AdminURL("/scopegate/clients/"+c.ClientID+"/secrets/"+oldID), nil); resp.Status >= 300 {
			t.Fatalf("retire: %d %s", resp.Status, resp.Body)
		}
		postForm(t, g, "/oauth2/token", good, c.ClientID, c.ClientSecret).wantError(t, http.StatusUnauthorized, "invalid_client")
	})
}

// introspect asks the introspection endpoint about raw as client c.
func introspect(t *testing.T, g *Gateway, c createdClient, raw string) tokenAnswer {
	t.Helper()
	return postForm(t, g, "/oauth2/introspect", url.Values{"token": {raw}}, c.ClientID, c.ClientSecret)
}

func TestRevokeAndIntrospect(t *testing.T) {
	t.Parallel()
	g := startIssuer(t)
	app := createClient(t, g, map[string]any{"client_name": "app", "scope": "read"})
	inspector := createClient(t, g, map[string]any{"client_name": "inspector", "scope": "read", "features": []string{"introspect"}})
	tok := fetchToken(t, g, app, "read")
	other := fetchToken(t, g, app, "read")

	if ans := introspect(t, g, app, tok.AccessToken); ans.Status != http.StatusForbidden {
		t.Fatalf("introspection without the feature: %d %s", ans.Status, ans.Raw)
	}
	ans := introspect(t, g, inspector, tok.AccessToken)
	if ans.Status != http.StatusOK || ans.Body["active"] != true || ans.Body["client_id"] != app.ClientID || ans.Body["scope"] != "read" {
		t.Fatalf("introspection of a live token: %d %s", ans.Status, ans.Raw)
	}
	if ans := introspect(t, g, inspector, "not-a-token"); ans.Body["active"] != false {
		t.Fatalf("garbage is active: %s", ans.Raw)
	}

	// A client cannot revoke another client's token.
	if ans := postForm(t, g, "/oauth2/revoke", url.Values{"token": {tok.AccessToken}}, inspector.ClientID, inspector.ClientSecret); ans.Status != http.StatusBadRequest {
		t.Fatalf("foreign revoke: %d %s", ans.Status, ans.Raw)
	}
	if ans := postForm(t, g, "/oauth2/revoke", url.Values{"token": {tok.AccessToken}}, app.ClientID, app.ClientSecret); ans.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", ans.Status, ans.Raw)
	}
	if ans := introspect(t, g, inspector, tok.AccessToken); ans.Body["active"] != false {
		t.Fatalf("revoked token still active: %s", ans.Raw)
	}
	if ans := introspect(t, g, inspector, other.AccessToken); ans.Body["active"] != true {
		t.Fatalf("the other token was revoked too: %s", ans.Raw)
	}

	g.Stop()
	g.Start()
	if ans := introspect(t, g, inspector, tok.AccessToken); ans.Body["active"] != false {
		t.Fatalf("revocation lost on restart: %s", ans.Raw)
	}
	if ans := introspect(t, g, inspector, other.AccessToken); ans.Body["active"] != true {
		t.Fatalf("live token inactive after restart: %s", ans.Raw)
	}

	// Disabling the client, or deleting it, makes its tokens inactive.
	do(t, http.MethodPost, g.AdminURL("/scopegate/clients/"+app.ClientID+"/disable"), nil)
	if ans := introspect(t, g, inspector, other.AccessToken); ans.Body["active"] != false {
		t.Fatalf("disabled client's token active: %s", ans.Raw)
	}
	do(t, http.MethodPost, g.AdminURL("/scopegate/clients/"+app.ClientID+"/enable"), nil)
	if ans := introspect(t, g, inspector, other.AccessToken); ans.Body["active"] != true {
		t.Fatalf("re-enabled client's token inactive: %s", ans.Raw)
	}
	do(t, http.MethodDelete, g.AdminURL("/scopegate/clients/"+app.ClientID), nil)
	if ans := introspect(t, g, inspector, other.AccessToken); ans.Body["active"] != false {
		t.Fatalf("deleted client's token active: %s", ans.Raw)
	}
}

func TestKeyRotationWhileTokensLive(t *testing.T) {
	t.Parallel()
	g := startIssuer(t)
	c := createClient(t, g, map[string]any{"client_name": "app", "scope": "read"})
	inspector := createClient(t, g, map[string]any{"client_name": "inspector", "features": []string{"introspect"}})
	before := fetchToken(t, g, c, "read")
	oldKid := tokenHeader(t, before.AccessToken)["kid"]

	// The next key is published before it signs.
	var keys struct {
		Keys []struct {
			Kid    string `json:"kid"`
			Status string `json:"status"`
			Use    string `json:"use"`
		} `json:"keys"`
	}
	do(t, http.MethodGet, g.AdminURL("/scopegate/keys"), nil).JSON(t, &keys)
	next := ""
	for _, k := range keys.Keys {
		// The access tokens' next key, not the next RS256 key for ID tokens.
		if k.Status == "next" && k.Use == "all" {
			next = k.Kid
		}
	}
	jwks := string(do(t, http.MethodGet, g.URL("/.well-known/jwks.json"), nil).Body)
	if next == "" || !strings.Contains(jwks, next) {
		t.Fatalf("next key %q not published: keys %+v", next, keys)
	}

	if resp := do(t, http.MethodPost, g.AdminURL("/scopegate/keys/rotate"), nil); resp.Status != http.StatusOK {
		t.Fatalf("rotate: %d %s", resp.Status, resp.Body)
	}
	after := fetchToken(t, g, c, "read")
	if kid := tokenHeader(t, after.AccessToken)["kid"]; kid != next || kid == oldKid {
		t.Fatalf("after rotation kid %v, want the published next key %q", kid, next)
	}
	// Old and new tokens both verify, independently and by introspection.
	verifyWithJWKS(t, g, before.AccessToken)
	verifyWithJWKS(t, g, after.AccessToken)
	for _, tok := range []*oauth2.Token{before, after} {
		if ans := introspect(t, g, inspector, tok.AccessToken); ans.Body["active"] != true {
			t.Fatalf("token inactive after rotation: %s", ans.Raw)
		}
	}
	// And after a restart.
	g.Stop()
	g.Start()
	verifyWithJWKS(t, g, before.AccessToken)
	if kid := tokenHeader(t, fetchToken(t, g, c, "read").AccessToken)["kid"]; kid != next {
		t.Fatalf("after restart kid %v, want %q", kid, next)
	}
}
