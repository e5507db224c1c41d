package authserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/registration"
	"github.com/scopegate/scopegate/registry"
)

// newRegistrationEndpoint returns the endpoint of opts over a test server.
func newRegistrationEndpoint(t *testing.T, s *Server, opts registration.Options) *RegistrationEndpoint {
	t.Helper()
	p, err := s.NewRegistrationEndpoint(&opts)
	if err != nil {
		t.Fatal(err)
	}
	return p.(*RegistrationEndpoint)
}

// postRegistration posts body as JSON from addr.
func postRegistration(e *RegistrationEndpoint, body, addr string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/register", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.RemoteAddr = addr + ":4000"
	w := httptest.NewRecorder()
	e.ServeHTTP(w, r)
	return w
}

// wantRegistrationError checks an RFC 7591 §3.2.2 answer.
func wantRegistrationError(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	var body struct {
		Error string `json:"error"`
	}
	if w.Code != status || json.Unmarshal(w.Body.Bytes(), &body) != nil || body.Error != code ||
		w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("got %d %s, want %d %s", w.Code, w.Body, status, code)
	}
}

const mcpRegistration = `{"client_name":"MCP Inspector","redirect_uris":["http://127.0.0.1:6274/oauth/callback"],` +
	`"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}`

func TestRegistrationEndpoint(t *testing.T) {
	s := newTestServer(t)
	e := newRegistrationEndpoint(t, s, registration.Options{AllowedScopes: []string{"mcp:*", "notes:read"}})
	w := postRegistration(e, mcpRegistration, "192.0.2.1")
	if w.Code != http.StatusCreated || w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %v %s", w.Code, w.Header(), w.Body)
	}
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	id, _ := got["client_id"].(string)
	if id == "" || got["token_endpoint_auth_method"] != "none" || got["scope"] != "notes:read" ||
		got["client_secret"] != nil || got["client_id_issued_at"] == nil {
		t.Fatalf("answer %s", w.Body)
	}
	c, err := s.Registry.Get(context.Background(), id)
	if err != nil || !c.Registered || c.SkipConsent || c.ClientName != got["client_name"] {
		t.Fatalf("stored %+v, %v", c, err)
	}
}

// TestRegistrationRefusals: each bad request gets its status and code and
// stores nothing.
func TestRegistrationRefusals(t *testing.T) {
	s := newTestServer(t)
	e := newRegistrationEndpoint(t, s, registration.Options{AllowedScopes: []string{"notes:read"}})
	for _, tc := range []struct {
		name, method, contentType, body string
		status                          int
		code                            string
	}{
		{"GET", http.MethodGet, "application/json", "", http.StatusMethodNotAllowed, "invalid_request"},
		{"a form", http.MethodPost, "application/x-www-form-urlencoded", "client_name=x", http.StatusUnsupportedMediaType, "invalid_request"},
		{"no content type", http.MethodPost, "", mcpRegistration, http.StatusUnsupportedMediaType, "invalid_request"},
		{"huge body", http.MethodPost, "application/json", `{"client_name":"` + strings.Repeat("a", registration.MaxBodyBytes) + `"}`,
			http.StatusRequestEntityTooLarge, "invalid_request"},
		{"not JSON", http.MethodPost, "application/json", `{`, http.StatusBadRequest, "invalid_client_metadata"},
		{"scope escalation", http.MethodPost, "application/json",
			`{"redirect_uris":["https://app.example/cb"],"scope":"admin"}`, http.StatusBadRequest, "invalid_client_metadata"},
		{"phishing redirect", http.MethodPost, "application/json",
			`{"redirect_uris":["http://evil.example/cb"]}`, http.StatusBadRequest, "invalid_redirect_uri"},
		{"a control character in the name", http.MethodPost, "application/json",
			`{"redirect_uris":["https://app.example/cb"],"client_name":"a\u202eb"}`, http.StatusBadRequest, "invalid_client_metadata"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/oauth2/register", strings.NewReader(tc.body))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			w := httptest.NewRecorder()
			e.ServeHTTP(w, r)
			wantRegistrationError(t, w, tc.status, tc.code)
		})
	}
	page, err := s.Registry.List(context.Background(), registry.ListQuery{})
	if err != nil || len(page.Clients) != 0 {
		t.Fatalf("refused registrations stored %d clients (%v)", len(page.Clients), err)
	}
}

// TestRegistrationAdminOnlyFieldsIgnored: skip_consent, features, claims,
// metadata and an allowlist in a registration are not stored.
func TestRegistrationAdminOnlyFieldsIgnored(t *testing.T) {
	s := newTestServer(t)
	e := newRegistrationEndpoint(t, s, registration.Options{})
	w := postRegistration(e, `{"redirect_uris":["https://app.example/cb"],"skip_consent":true,"features":["owner"],`+
		`"claims":{"role":"admin"},"metadata":{"registered":false},"ip_allowlist":["10.0.0.0/8"],"access_token_ttl":"90m",`+
		`"audience":["https://admin.example"],"require_pkce":false}`, "192.0.2.1")
	if w.Code != http.StatusCreated {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
	var got struct {
		ClientID string `json:"client_id"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &got)
	c, err := s.Registry.Lookup(context.Background(), got.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if c.SkipsConsent() || c.SkipConsent || len(c.Features) > 0 || c.Claims != nil || c.Metadata != nil || len(c.IPAllowlist) > 0 ||
		c.AccessTokenTTL != 0 || len(c.Audience) > 0 || c.PKCEOptional || !c.Registered {
		t.Fatalf("stored %+v", c)
	}
}

// TestRegistrationThrottledPerSource: a source that registered its limit
// is answered 429 with Retry-After; another source is not, and the first
// may register again after the window.
func TestRegistrationThrottledPerSource(t *testing.T) {
	s := newTestServer(t)
	now := time.Now()
	s.SetClock(func() time.Time { return now })
	e := newRegistrationEndpoint(t, s, registration.Options{PerSource: 2, Window: registry.Duration(time.Minute)})
	for range 2 {
		if w := postRegistration(e, mcpRegistration, "192.0.2.1"); w.Code != http.StatusCreated {
			t.Fatalf("got %d %s", w.Code, w.Body)
		}
	}
	w := postRegistration(e, mcpRegistration, "192.0.2.1")
	wantRegistrationError(t, w, http.StatusTooManyRequests, "temporarily_unavailable")
	if w.Header().Get("Retry-After") != "60" {
		t.Errorf("Retry-After %q", w.Header().Get("Retry-After"))
	}
	if w := postRegistration(e, mcpRegistration, "192.0.2.2"); w.Code != http.StatusCreated {
		t.Fatalf("another source: %d %s", w.Code, w.Body)
	}
	now = now.Add(time.Minute)
	if w := postRegistration(e, mcpRegistration, "192.0.2.1"); w.Code != http.StatusCreated {
		t.Fatalf("after the window: %d %s", w.Code, w.Body)
	}
}

// TestRegistrationRegistryFull: with max_clients reached, registration is
// answered 503 temporarily_unavailable.
func TestRegistrationRegistryFull(t *testing.T) {
	s := newTestServer(t)
	e := newRegistrationEndpoint(t, s, registration.Options{PerSource: 1000})
	for i := 0; ; i++ {
		w := postRegistration(e, mcpRegistration, "192.0.2.1")
		if w.Code == http.StatusCreated {
			continue
		}
		wantRegistrationError(t, w, http.StatusServiceUnavailable, "temporarily_unavailable")
		if i != 90 {
			t.Fatalf("refused after %d clients; the test registry holds 100, of which registrations may take 90", i)
		}
		if _, _, err := s.Registry.Create(context.Background(), registry.Metadata{ClientName: "the operator's"}); err != nil {
			t.Fatalf("the operator cannot create a client after the flood: %v", err)
		}
		return
	}
}

// TestMetadataNamesRegistration: the RFC 8414 document names the
// registration endpoint only when registration is on.
func TestMetadataNamesRegistration(t *testing.T) {
	s := newTestServer(t)
	for _, tc := range []struct {
		opts *registration.Options
		want any
	}{
		{nil, nil},
		{&registration.Options{}, "https://gw.example/oauth2/register"},
		{&registration.Options{Path: "/apps/register"}, "https://gw.example/apps/register"},
	} {
		reg, err := s.NewRegistrationEndpoint(tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		endpoints, err := s.NewEndpoints(EndpointPaths{}, reg)
		if err != nil {
			t.Fatal(err)
		}
		doc, _ := endpoints.Lookup(MetadataPath(s.Issuer))
		w := httptest.NewRecorder()
		doc.ServeHTTP(w, httptest.NewRequest(http.MethodGet, MetadataPath(s.Issuer), nil))
		var got map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if got["registration_endpoint"] != tc.want {
			t.Errorf("registration_endpoint %v, want %v", got["registration_endpoint"], tc.want)
		}
		if tc.opts != nil {
			if _, ok := endpoints.Lookup(reg.Paths()[0]); !ok {
				t.Errorf("%s is not served", reg.Paths()[0])
			}
		}
	}
}

// TestAuthorizeRegisteredClientShowsRedirectTarget: the consent page of
// an app that registered itself says where the browser goes next, and is
// shown even when an administrator set skip_consent on it.
func TestAuthorizeRegisteredClientShowsRedirectTarget(t *testing.T) {
	f := newAuthzFixture(t)
	c, _, err := f.s.Registry.Register(context.Background(), registry.Metadata{
		ClientName: "Orders App", TokenEndpointAuthMethod: "none", GrantTypes: []string{"authorization_code"},
		RedirectURIs: []string{testRedirectURI}, Scope: "orders:read",
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Registry.Patch(context.Background(), c.ClientID, []byte(`{"skip_consent":true}`)); err != nil {
		t.Fatal(err)
	}
	w := f.get(f.query("client_id", c.ClientID), f.signIn())
	f.consentForm(w)
	if !strings.Contains(w.Body.String(), `<strong id="consent-redirect-target">app.example</strong>`) {
		t.Fatalf("the consent page does not name the redirect host: %s", w.Body)
	}
	admins := f.get(f.query(), f.signIn())
	if strings.Contains(admins.Body.String(), "consent-redirect-target") {
		t.Error("an administrator's app is shown as registered")
	}
}

// TestRegistrationConfidential: with allow_confidential an app may
// register with a secret, shown once in the 201 with
// client_secret_expires_at 0, which then authenticates it.
func TestRegistrationConfidential(t *testing.T) {
	s := newTestServer(t)
	e := newRegistrationEndpoint(t, s, registration.Options{AllowConfidential: true})
	w := postRegistration(e, `{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"client_secret_post"}`, "192.0.2.1")
	var got struct {
		ClientID  string `json:"client_id"`
		Secret    string `json:"client_secret"`
		ExpiresAt *int64 `json:"client_secret_expires_at"`
		Method    string `json:"token_endpoint_auth_method"`
	}
	if w.Code != http.StatusCreated || json.Unmarshal(w.Body.Bytes(), &got) != nil || got.Secret == "" ||
		got.ExpiresAt == nil || *got.ExpiresAt != 0 || got.Method != "client_secret_post" {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
	c, err := s.Registry.Authenticate(context.Background(), got.ClientID, got.Secret)
	if err != nil || !c.Registered {
		t.Fatalf("the returned secret: %+v, %v", c, err)
	}
	view, _ := s.Registry.Get(context.Background(), got.ClientID)
	if b, _ := json.Marshal(view); strings.Contains(string(b), got.Secret) {
		t.Fatal("the secret is in the client's view")
	}
}

// TestRegistrationIDTokenAlg: a registered client's ID tokens default to
// RS256 (OpenID Connect Registration §2), the operator's algorithm may be
// asked for, anything else is invalid_client_metadata naming the field; the
// answer echoes what the client's ID tokens will use.
func TestRegistrationIDTokenAlg(t *testing.T) {
	s := newTestServer(t)
	e := newRegistrationEndpoint(t, s, registration.Options{})
	for _, tc := range []struct{ name, member, want string }{
		{"default", ``, "RS256"},
		{"the operator's", `,"id_token_signed_response_alg":"ES256"`, "ES256"},
		{"RS256 named", `,"id_token_signed_response_alg":"RS256"`, "RS256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := postRegistration(e, `{"redirect_uris":["https://app.example/cb"]`+tc.member+`}`, "192.0.2.1")
			var got struct {
				ClientID string `json:"client_id"`
				Alg      string `json:"id_token_signed_response_alg"`
			}
			if w.Code != http.StatusCreated || json.Unmarshal(w.Body.Bytes(), &got) != nil || got.Alg != tc.want {
				t.Fatalf("got %d %s, want id_token_signed_response_alg %s", w.Code, w.Body, tc.want)
			}
			c, err := s.Registry.Lookup(context.Background(), got.ClientID)
			if err != nil || c.IDTokenSignedResponseAlg != tc.want {
				t.Fatalf("stored %q, %v", c.IDTokenSignedResponseAlg, err)
			}
		})
	}
	for _, bad := range []string{`"HS256"`, `"none"`, `"EdDSA"`, `7`} {
		w := postRegistration(e, `{"redirect_uris":["https://app.example/cb"],"id_token_signed_response_alg":`+bad+`}`, "192.0.2.2")
		wantRegistrationError(t, w, http.StatusBadRequest, "invalid_client_metadata")
		if !strings.Contains(w.Body.String(), "id_token_signed_response_alg") || strings.Contains(w.Body.String(), strings.Trim(bad, `"`)+`"`) {
			t.Errorf("%s: %s, want the field named and the value not repeated", bad, w.Body)
		}
	}
}
