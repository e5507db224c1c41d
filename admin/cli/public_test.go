package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/registry"
)

// A public client is made with --public: no secret is printed or expected,
// and the table shows its type; rotating its secret is refused.
func TestCreatePublicClient(t *testing.T) {
	ts := newTestServer(t)
	r := runOK(t, "client", "create", "--address", ts.Addr, "--name", "spa", "--public",
		"--redirect-uri", "http://127.0.0.1/cb", "--skip-consent")
	if strings.Contains(r.Stderr, secretWarning) || !strings.Contains(r.Stderr, publicNote) {
		t.Errorf("stderr = %q, want the public client note and no secret warning", r.Stderr)
	}
	fields := tableFields(r.Stdout)
	want := map[string]string{
		"client_name":                "spa",
		"client_type":                "public",
		"token_endpoint_auth_method": "none",
		"grant_types":                "authorization_code",
		"redirect_uris":              "http://127.0.0.1/cb",
		"skip_consent":               "true",
		"require_pkce":               "true",
	}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("output %s = %q, want %q", k, fields[k], v)
		}
	}
	if _, ok := fields["client_secret"]; ok {
		t.Errorf("a secret was printed:\n%s", r.Stdout)
	}
	if body := ts.Requests()[0].Body; body != `{"client_name":"spa","redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none","skip_consent":true}` {
		t.Errorf("request body = %s", body)
	}
	stderr := runFail(t, nil, "client", "rotate-secret", fields["client_id"], "--address", ts.Addr)
	if stderr != "scopegate: the client is public (token_endpoint_auth_method none) and holds no secret; make it confidential first to give it one (HTTP 409)\n" {
		t.Errorf("rotating a public client's secret: %q", stderr)
	}
}

func TestAuthorizationCodeFlags(t *testing.T) {
	ts := newTestServer(t)
	s := createViaCLI(t, ts, "--name", "web", "--grant", "authorization_code", "--redirect-uri", "https://app.example/cb",
		"--auth-method", "client_secret_post", "--no-require-pkce")
	if s.ClientType != "confidential" || s.TokenEndpointAuthMethod != "client_secret_post" || s.RequirePKCE || s.SkipConsent {
		t.Fatalf("created %+v", s.Client)
	}
	for _, tc := range []struct {
		args  []string
		patch string
	}{
		{[]string{"--skip-consent"}, `{"skip_consent":true}`},
		{[]string{"--skip-consent=false"}, `{"skip_consent":false}`},
		{[]string{"--no-require-pkce=false"}, `{"require_pkce":true}`},
		{[]string{"--auth-method", ""}, `{"token_endpoint_auth_method":null}`},
		{[]string{"--public", "--grant", "authorization_code"}, `{"grant_types":["authorization_code"],"token_endpoint_auth_method":"none"}`},
		{[]string{"--public=false"}, `{"token_endpoint_auth_method":null}`},
	} {
		runOK(t, append([]string{"client", "update", s.ClientID, "--address", ts.Addr}, tc.args...)...)
		if body := ts.Requests()[len(ts.Requests())-1].Body; body != tc.patch {
			t.Errorf("update %v sent %s, want %s", tc.args, body, tc.patch)
		}
	}
	c, err := ts.reg.Get(context.Background(), s.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientType != "confidential" || !c.RequirePKCE || c.SkipConsent {
		t.Errorf("after the updates: %+v", c)
	}
	stderr := runFail(t, nil, "client", "create", "--address", ts.Addr, "--name", "x", "--public", "--auth-method", "client_secret_basic")
	if stderr != "scopegate: --public and --auth-method both set token_endpoint_auth_method; give one\n" {
		t.Errorf("both flags: %q", stderr)
	}
}

// A client that registered itself shows as registered in the table, so
// an operator can tell it from the apps they created.
func TestGetRegisteredClient(t *testing.T) {
	ts := newTestServer(t)
	c, _, err := ts.reg.Register(context.Background(), registry.Metadata{
		ClientName: "mcp", TokenEndpointAuthMethod: "none", GrantTypes: []string{"authorization_code"},
		RedirectURIs: []string{"http://127.0.0.1/cb"},
	})
	if err != nil {
		t.Fatal(err)
	}
	fields := tableFields(runOK(t, "client", "get", c.ClientID, "--address", ts.Addr).Stdout)
	if fields["registered"] != "true" || fields["skip_consent"] != "false" {
		t.Fatalf("registered %q, skip_consent %q", fields["registered"], fields["skip_consent"])
	}
	created := createViaCLI(t, ts, "--name", "svc")
	if fields := tableFields(runOK(t, "client", "get", created.ClientID, "--address", ts.Addr).Stdout); fields["registered"] != "false" {
		t.Fatalf("an operator's client shows registered %q", fields["registered"])
	}
}

// --post-logout-redirect-uri sets post_logout_redirect_uris at create and
// in a patch, and the table shows them.
func TestPostLogoutRedirectURIFlag(t *testing.T) {
	ts := newTestServer(t)
	r := runOK(t, "client", "create", "--address", ts.Addr, "--name", "web", "--grant", "authorization_code",
		"--redirect-uri", "https://app.example/cb", "--post-logout-redirect-uri", "https://app.example/bye")
	fields := tableFields(r.Stdout)
	if fields["post_logout_redirect_uris"] != "https://app.example/bye" {
		t.Fatalf("output:\n%s", r.Stdout)
	}
	if body := ts.Requests()[0].Body; !strings.Contains(body, `"post_logout_redirect_uris":["https://app.example/bye"]`) {
		t.Errorf("request body = %s", body)
	}
	runOK(t, "client", "update", fields["client_id"], "--address", ts.Addr, "--post-logout-redirect-uri", "https://app.example/out")
	if body := ts.Requests()[1].Body; body != `{"post_logout_redirect_uris":["https://app.example/out"]}` {
		t.Errorf("patch body = %s", body)
	}
}
