package registration

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/registry"
)

func mustPolicy(t *testing.T, o Options) *Policy {
	t.Helper()
	p, err := NewPolicy(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewPolicy(t *testing.T) {
	p := mustPolicy(t, Options{})
	if p.Path != DefaultPath || p.PerSource != DefaultPerSource || time.Duration(p.Window) != DefaultWindow ||
		p.AllowConfidential || p.PrivateUseSchemes || len(p.AllowedScopes) != 0 {
		t.Fatalf("defaults: %+v", p.Options)
	}
	for name, o := range map[string]Options{
		"relative path":       {Path: "oauth2/register"},
		"negative per_source": {PerSource: -1},
		"negative window":     {Window: registry.Duration(-time.Second)},
		"inner wildcard":      {AllowedScopes: []string{"a*b"}},
		"scope with a space":  {AllowedScopes: []string{"a b"}},
		"relative audience":   {Audience: []string{"/mcp"}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewPolicy(o); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// TestParseRequest: unknown members are ignored (RFC 7591 §2), names are
// exact, and a body that parsers could read two ways is refused.
func TestParseRequest(t *testing.T) {
	r, oerr := ParseRequest([]byte(`{"client_name":"Notes","redirect_uris":["http://127.0.0.1/cb"],"logo_uri":"https://x/l.png",` +
		`"Scope":"admin","skip_consent":true,"scope":null,"software_statement":"e30"}`))
	if oerr != nil {
		t.Fatal(oerr)
	}
	if r.ClientName != "Notes" || r.Scope != "" || !slices.Equal(r.RedirectURIs, []string{"http://127.0.0.1/cb"}) {
		t.Fatalf("parsed %+v", r)
	}
	for name, body := range map[string]string{
		"not JSON":             `client_name=x`,
		"an array":             `[{"client_name":"x"}]`,
		"two objects":          `{}{}`,
		"repeated member":      `{"scope":"a","scope":"admin"}`,
		"repeated nested":      `{"jwks":{"k":1,"k":2}}`,
		"too deep":             strings.Repeat("[", 100) + strings.Repeat("]", 100),
		"wrong type":           `{"redirect_uris":"https://app/cb"}`,
		"number for a string":  `{"client_name":5}`,
		"not UTF-8":            "{\"client_name\":\"\xff\"}",
		"empty":                ``,
		"scope as an array":    `{"scope":["a"]}`,
		"grant_types a string": `{"grant_types":"authorization_code"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, oerr := ParseRequest([]byte(body))
			if oerr == nil || oerr.Code != CodeInvalidClientMetadata || oerr.Status != 400 {
				t.Fatalf("got %v, want 400 invalid_client_metadata", oerr)
			}
			if strings.Contains(oerr.Description, "admin") || strings.Contains(oerr.Description, "https://app") {
				t.Errorf("the description repeats the input: %q", oerr.Description)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	policy := Options{AllowedScopes: []string{"notes:read", "mcp:*"}, Audience: []string{"https://mcp.example/mcp"}}
	public := Request{RedirectURIs: []string{"http://127.0.0.1:4711/callback"}}
	t.Run("a public MCP client", func(t *testing.T) {
		m, oerr := mustPolicy(t, policy).Decide(public)
		if oerr != nil {
			t.Fatal(oerr)
		}
		if m.TokenEndpointAuthMethod != "none" || !slices.Equal(m.GrantTypes, []string{"authorization_code"}) ||
			m.Scope != "notes:read" || m.ClientName != DefaultClientName || *m.RequireScopeRequest ||
			!slices.Equal(m.Audience, policy.Audience) || m.SkipConsent {
			t.Fatalf("metadata %+v", m)
		}
	})
	for _, tc := range []struct {
		name   string
		policy func(*Options)
		req    func(*Request)
		code   string // "" for success
		check  func(*testing.T, registry.Metadata)
	}{
		{name: "scopes within the patterns", req: func(r *Request) { r.Scope = "mcp:tools mcp:prompts" },
			check: func(t *testing.T, m registry.Metadata) {
				if m.Scope != "mcp:tools mcp:prompts" {
					t.Errorf("scope %q", m.Scope)
				}
			}},
		{name: "scope escalation", req: func(r *Request) { r.Scope = "notes:read admin" }, code: CodeInvalidClientMetadata},
		{name: "scope look-alike", req: func(r *Request) { r.Scope = "notes:readwrite" }, code: CodeInvalidClientMetadata},
		{name: "a literal wildcard", req: func(r *Request) { r.Scope = "mcp:*" }, code: CodeInvalidClientMetadata},
		{name: "malformed scope", req: func(r *Request) { r.Scope = "a  b" }, code: CodeInvalidClientMetadata},
		{name: "confidential by default refused", req: func(r *Request) { r.TokenEndpointAuthMethod = "client_secret_basic" }, code: CodeInvalidClientMetadata},
		{name: "private_key_jwt", policy: func(o *Options) { o.AllowConfidential = true },
			req: func(r *Request) { r.TokenEndpointAuthMethod = "private_key_jwt" }, code: CodeInvalidClientMetadata},
		{name: "confidential when allowed", policy: func(o *Options) { o.AllowConfidential = true },
			req: func(r *Request) { r.TokenEndpointAuthMethod = "client_secret_post" },
			check: func(t *testing.T, m registry.Metadata) {
				if m.TokenEndpointAuthMethod != "client_secret_post" {
					t.Errorf("method %q", m.TokenEndpointAuthMethod)
				}
			}},
		{name: "RFC 7591's default method when confidential is allowed", policy: func(o *Options) { o.AllowConfidential = true },
			check: func(t *testing.T, m registry.Metadata) {
				if m.TokenEndpointAuthMethod != "client_secret_basic" {
					t.Errorf("method %q", m.TokenEndpointAuthMethod)
				}
			}},
		{name: "client_credentials", req: func(r *Request) { r.GrantTypes = []string{"authorization_code", "client_credentials"} }, code: CodeInvalidClientMetadata},
		{name: "client_credentials even when confidential is allowed", policy: func(o *Options) { o.AllowConfidential = true },
			req: func(r *Request) { r.GrantTypes = []string{"client_credentials"} }, code: CodeInvalidClientMetadata},
		{name: "implicit", req: func(r *Request) { r.GrantTypes = []string{"implicit"} }, code: CodeInvalidClientMetadata},
		{name: "post_logout_redirect_uris kept", req: func(r *Request) { r.PostLogoutRedirectURIs = []string{"http://127.0.0.1:3000/bye"} },
			check: func(t *testing.T, m registry.Metadata) {
				if !slices.Equal(m.PostLogoutRedirectURIs, []string{"http://127.0.0.1:3000/bye"}) {
					t.Errorf("post_logout_redirect_uris %q", m.PostLogoutRedirectURIs)
				}
			}},
		{name: "post_logout_redirect_uri over plain http", req: func(r *Request) { r.PostLogoutRedirectURIs = []string{"http://evil.example/bye"} }, code: CodeInvalidRedirectURI},
		{name: "post_logout_redirect_uri with a fragment", req: func(r *Request) { r.PostLogoutRedirectURIs = []string{"https://app.example/bye#x"} }, code: CodeInvalidRedirectURI},
		{name: "post_logout_redirect_uri private-use scheme", req: func(r *Request) { r.PostLogoutRedirectURIs = []string{"com.example.app:/bye"} }, code: CodeInvalidRedirectURI},
		{name: "password grant", req: func(r *Request) { r.GrantTypes = []string{"authorization_code", "password"} }, code: CodeInvalidClientMetadata},
		{name: "refresh_token alone", req: func(r *Request) { r.GrantTypes = []string{"refresh_token"} }, code: CodeInvalidClientMetadata},
		{name: "refresh_token kept", req: func(r *Request) { r.GrantTypes = []string{"authorization_code", "refresh_token"} },
			check: func(t *testing.T, m registry.Metadata) {
				if !slices.Equal(m.GrantTypes, []string{"authorization_code", "refresh_token"}) {
					t.Errorf("grant_types %q", m.GrantTypes)
				}
			}},
		{name: "response type token", req: func(r *Request) { r.ResponseTypes = []string{"code", "token"} }, code: CodeInvalidClientMetadata},
		{name: "no redirect URI", req: func(r *Request) { r.RedirectURIs = nil }, code: CodeInvalidRedirectURI},
		{name: "too many redirect URIs", req: func(r *Request) {
			r.RedirectURIs = nil
			for i := range MaxRedirectURIs + 1 {
				r.RedirectURIs = append(r.RedirectURIs, "https://app.example/cb"+strings.Repeat("x", i))
			}
		}, code: CodeInvalidRedirectURI},
		{name: "long redirect URI", req: func(r *Request) {
			r.RedirectURIs = []string{"https://app.example/" + strings.Repeat("a", MaxRedirectURILength)}
		}, code: CodeInvalidRedirectURI},
		{name: "plain http", req: func(r *Request) { r.RedirectURIs = []string{"http://app.example/cb"} }, code: CodeInvalidRedirectURI},
		{name: "localhost", req: func(r *Request) { r.RedirectURIs = []string{"http://localhost:8080/cb"} }, code: CodeInvalidRedirectURI},
		{name: "fragment", req: func(r *Request) { r.RedirectURIs = []string{"https://app.example/cb#x"} }, code: CodeInvalidRedirectURI},
		{name: "user info", req: func(r *Request) { r.RedirectURIs = []string{"https://app.example@evil.example/cb"} }, code: CodeInvalidRedirectURI},
		{name: "javascript", req: func(r *Request) { r.RedirectURIs = []string{"javascript:alert(1)"} }, code: CodeInvalidRedirectURI},
		{name: "private-use scheme by default", req: func(r *Request) { r.RedirectURIs = []string{"com.example.app:/cb"} }, code: CodeInvalidRedirectURI},
		{name: "private-use scheme when allowed", policy: func(o *Options) { o.PrivateUseSchemes = true },
			req: func(r *Request) {
				r.RedirectURIs = []string{"com.example.app:/cb", "https://app.example/cb", "http://[::1]/cb"}
			}},
		{name: "long client name", req: func(r *Request) { r.ClientName = strings.Repeat("é", MaxClientNameRunes+1) }, code: CodeInvalidClientMetadata},
		{name: "client name kept", req: func(r *Request) { r.ClientName = strings.Repeat("é", MaxClientNameRunes) },
			check: func(t *testing.T, m registry.Metadata) {
				if m.ClientName != strings.Repeat("é", MaxClientNameRunes) {
					t.Errorf("name %q", m.ClientName)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, req := policy, public
			if tc.policy != nil {
				tc.policy(&o)
			}
			if tc.req != nil {
				tc.req(&req)
			}
			m, oerr := mustPolicy(t, o).Decide(req)
			switch {
			case tc.code == "" && oerr != nil:
				t.Fatalf("refused: %v", oerr)
			case tc.code != "" && (oerr == nil || oerr.Code != tc.code || oerr.Status != 400):
				t.Fatalf("got %v, want 400 %s", oerr, tc.code)
			case tc.check != nil:
				tc.check(t, m)
			}
		})
	}
}

func TestNewResponse(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := registry.Client{ClientID: "abc", ClientName: "Notes (abc)", GrantTypes: []string{"authorization_code"},
		RedirectURIs: []string{"http://127.0.0.1/cb"}, TokenEndpointAuthMethod: "none", CreatedAt: created, Scope: "a"}
	b, err := json.Marshal(NewResponse(c, ""))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"client_id":"abc","client_id_issued_at":1767323045,"client_name":"Notes (abc)","redirect_uris":["http://127.0.0.1/cb"],` +
		`"grant_types":["authorization_code"],"response_types":["code"],"token_endpoint_auth_method":"none","scope":"a"}`
	if string(b) != want {
		t.Fatalf("public:\n got %s\nwant %s", b, want)
	}
	c.TokenEndpointAuthMethod = "client_secret_basic"
	b, _ = json.Marshal(NewResponse(c, "sgs_secret"))
	if !strings.Contains(string(b), `"client_secret":"sgs_secret","client_secret_expires_at":0,`) {
		t.Fatalf("confidential: %s", b)
	}
}

// FuzzParseRequest: any body is parsed or refused with a 400
// invalid_client_metadata, never a panic, and a parsed request's decision
// never registers a scope outside the policy.
func FuzzParseRequest(f *testing.F) {
	for _, seed := range []string{
		`{"redirect_uris":["http://127.0.0.1:3000/callback"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],"response_types":["code"],"client_name":"MCP Inspector","scope":"mcp:tools"}`,
		`{"redirect_uris":["https://app.example/cb"],"scope":"admin","skip_consent":true,"ip_allowlist":["0.0.0.0/0"]}`,
		`{"scope":"a","scope":"b"}`, `{"client_name":"\ud800"}`, `{"redirect_uris":[null,1]}`, `[]`, `{`, `null`,
		`{"redirect_uris":["https://app.example/cb"],"id_token_signed_response_alg":"ES256"}`,
		`{"id_token_signed_response_alg":7}`, `{"id_token_signed_response_alg":null}`, `{"id_token_signed_response_alg":"RS256","id_token_signed_response_alg":"none"}`,
	} {
		f.Add([]byte(seed))
	}
	policy, err := NewPolicy(Options{AllowedScopes: []string{"mcp:*", "notes:read"}})
	if err != nil {
		f.Fatal(err)
	}
	policy.IDTokenAlgs = []string{"ES256", "RS256"}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, oerr := ParseRequest(body)
		if oerr != nil {
			if oerr.Code != CodeInvalidClientMetadata || oerr.Status != 400 {
				t.Fatalf("error %+v", oerr)
			}
			return
		}
		m, oerr := policy.Decide(req)
		if oerr != nil {
			return
		}
		for _, s := range strings.Fields(m.Scope) {
			if s != "notes:read" && !strings.HasPrefix(s, "mcp:") {
				t.Fatalf("registered scope %q outside the policy", s)
			}
		}
		if m.SkipConsent || m.TokenEndpointAuthMethod != "none" || len(m.Features) > 0 {
			t.Fatalf("metadata %+v", m)
		}
		// The request's algorithm goes to the registry as sent (which checks
		// it); none sent is RS256, Registration §2's default.
		if want := cmp.Or(req.IDTokenSignedResponseAlg, "RS256"); m.IDTokenSignedResponseAlg != want {
			t.Fatalf("id_token_signed_response_alg %q, want %q", m.IDTokenSignedResponseAlg, want)
		}
	})
}
