package module

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/authserver"
	"github.com/scopegate/scopegate/grant"
)

// TestMetadataHasNoEmptyLists: every list in the RFC 8414 document names
// something the server does. response_types_supported names what an
// authorization endpoint accepts; there is none yet, so the member is left
// out (as authorization_endpoint is) rather than sent as [], which clients
// that validate metadata refuse.
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
	for _, absent := range []string{"response_types_supported", "authorization_endpoint"} {
		if _, ok := md[absent]; ok {
			t.Errorf("%s is published without an authorization endpoint", absent)
		}
	}
	var grants []string
	for _, g := range md["grant_types_supported"].([]any) {
		grants = append(grants, g.(string))
	}
	if !slices.Equal(grants, grant.Issued) {
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
		"path of the token endpoint": {Path: authserver.DefaultTokenPath},
		"sign-out on the JWKS path":  {SignOutPath: authserver.DefaultJWKSPath},
		"template does not parse":    {TemplateFile: bad},
		"template does not exist":    {TemplateFile: filepath.Join(t.TempDir(), "missing.html")},
		"open-ended return path":     {ReturnPaths: []string{"//evil.example"}},
	} {
		t.Run(name, func(t *testing.T) {
			iss := &Issuer{SignIn: page}
			if err := iss.setup(a.server, zap.NewNop()); err == nil {
				t.Fatal("the issuer was set up")
			}
		})
	}
	iss := &Issuer{SignIn: &SignInPage{Path: "/login", SignOutPath: "/logout"}}
	if err := iss.setup(a.server, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/login", "/login/style.css", "/logout"} {
		if _, ok := iss.endpoints.Lookup(path); !ok {
			t.Errorf("%s is not served", path)
		}
	}
}
