package module

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/authserver"
	"github.com/scopegate/scopegate/grant"
	"github.com/scopegate/scopegate/signin"
)

// TestMetadataHasNoEmptyLists: every list in the RFC 8414 document names
// something the server does, and the authorization code grant is
// announced with what a client needs for it: the authorization endpoint,
// response type code, PKCE S256 only, the iss parameter (RFC 9207) and
// public clients at the token endpoint.
func TestMetadataHasNoEmptyLists(t *testing.T) {
	a := newTestApp(t)
	iss := new(Issuer)
	if err := iss.setup(a.server, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	var md map[string]any
	if err := json.Unmarshal(endpoint(iss, "/.well-known/oauth-authorization-server").(authserver.Document).Body, &md); err != nil {
		t.Fatal(err)
	}
	for name, v := range md {
		if list, ok := v.([]any); ok && len(list) == 0 {
			t.Errorf("%s is an empty list", name)
		}
	}
	if md["authorization_endpoint"] != a.Issuer+authserver.DefaultAuthorizePath {
		t.Errorf("authorization_endpoint = %v, want %s", md["authorization_endpoint"], a.Issuer+authserver.DefaultAuthorizePath)
	}
	for member, want := range map[string][]string{
		"response_types_supported":                   {"code"},
		"code_challenge_methods_supported":           {"S256"},
		"token_endpoint_auth_methods_supported":      {"client_secret_basic", "client_secret_post", "none"},
		"revocation_endpoint_auth_methods_supported": {"client_secret_basic", "client_secret_post", "none"},
	} {
		var got []string
		for _, v := range md[member].([]any) {
			got = append(got, v.(string))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", member, got, want)
		}
	}
	if md["authorization_response_iss_parameter_supported"] != true {
		t.Errorf("authorization_response_iss_parameter_supported = %v, want true", md["authorization_response_iss_parameter_supported"])
	}
	var grants []string
	for _, g := range md["grant_types_supported"].([]any) {
		grants = append(grants, g.(string))
	}
	if !slices.Equal(grants, grant.Issued) || !slices.Contains(grants, grant.AuthorizationCode) {
		t.Errorf("grant_types_supported = %v, want %v: what the token endpoint issues, not what clients may be registered for", grants, grant.Issued)
	}
}

// A sign-in page that cannot be served as configured fails the load: a
// path another endpoint has, a template that does not parse or exist.
func TestIssuerRefusesABadSignInPage(t *testing.T) {
	a := newTestApp(t)
	bad := filepath.Join(t.TempDir(), "bad.html")
	if err := os.WriteFile(bad, []byte("{{ .Nope "), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, page := range map[string]*SignInPage{
		"path of the token endpoint":         {Options: signin.Options{Path: authserver.DefaultTokenPath}},
		"sign-out on the JWKS path":          {Options: signin.Options{SignOutPath: authserver.DefaultJWKSPath}},
		"template does not parse":            {Options: signin.Options{TemplateFile: bad}},
		"template does not exist":            {Options: signin.Options{TemplateFile: filepath.Join(t.TempDir(), "missing.html")}},
		"open-ended return path":             {Options: signin.Options{ReturnPaths: []string{"//evil.example"}}},
		"account page on the token endpoint": {Options: signin.Options{AccountPath: authserver.DefaultTokenPath}},
		"scope description too long":         {Options: signin.Options{ScopeDescriptions: map[string]string{"orders:read": strings.Repeat("x", 201)}}},
		"description of no scope":            {Options: signin.Options{ScopeDescriptions: map[string]string{"": "Read your orders"}}},
		"consent template does not parse":    {Options: signin.Options{ConsentTemplateFile: bad}},
		"consent template does not exist":    {Options: signin.Options{ConsentTemplateFile: filepath.Join(t.TempDir(), "missing.html")}},
	} {
		t.Run(name, func(t *testing.T) {
			iss := &Issuer{SignIn: page}
			if err := iss.setup(a.server, zap.NewNop()); err == nil {
				t.Fatal("the issuer was set up")
			}
		})
	}
	iss := &Issuer{SignIn: &SignInPage{Options: signin.Options{Path: "/login", SignOutPath: "/logout"}}}
	if err := iss.setup(a.server, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/login", "/login/style.css", "/logout", signin.DefaultAccountPath} {
		if _, ok := iss.endpoints.Lookup(path); !ok {
			t.Errorf("%s is not served", path)
		}
	}
}
