package authserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

// The metadata says that request objects are not supported, by value or
// by reference: OpenID Connect Discovery, whose fields RFC 8414 §2 takes
// in, defaults request_uri_parameter_supported to true, so an app reading
// the document would otherwise expect the authorization endpoint to fetch
// its request_uri.
func TestMetadataRefusesRequestObjects(t *testing.T) {
	doc, err := Metadata("https://gw.example", EndpointPaths{Token: "/oauth2/token", Authorize: "/oauth2/authorize"})
	if err != nil {
		t.Fatal(err)
	}
	var md map[string]any
	if err := json.Unmarshal(doc.Body, &md); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"request_parameter_supported", "request_uri_parameter_supported"} {
		if v, ok := md[name]; !ok || v != false {
			t.Errorf("%s = %v (present %v), want false", name, v, ok)
		}
	}
}

// discoveryDocument fetches the OpenID configuration at path from the
// server's endpoints.
func discoveryDocument(t *testing.T, e *Endpoints, path string) map[string]any {
	t.Helper()
	h, ok := e.Lookup(path)
	if !ok {
		t.Fatalf("nothing is served at %s", path)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	var doc map[string]any
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &doc) != nil {
		t.Fatalf("%s: %d %s", path, w.Code, w.Body)
	}
	return doc
}

// The OpenID configuration (Discovery 1.0 §3) holds every field Discovery
// requires, with values this server keeps: public subjects, the signing
// algorithm of its keys, the identity scopes, code only. It is a superset
// of the RFC 8414 document, equal on every member the two share, so the
// two never disagree on an endpoint.
func TestOpenIDConfiguration(t *testing.T) {
	s := newTestServer(t)
	e, err := s.NewEndpoints(EndpointPaths{})
	if err != nil {
		t.Fatal(err)
	}
	doc := discoveryDocument(t, e, "/.well-known/openid-configuration")
	for _, name := range []string{
		"issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
		"response_types_supported", "subject_types_supported", "id_token_signing_alg_values_supported",
		"scopes_supported", "claims_supported", "grant_types_supported", "token_endpoint_auth_methods_supported",
		"code_challenge_methods_supported",
	} {
		if _, ok := doc[name]; !ok {
			t.Errorf("%s is missing", name)
		}
	}
	want := map[string]string{
		"issuer": "https://gw.example", "userinfo_endpoint": "https://gw.example/oauth2/userinfo",
		"subject_types_supported": `["public"]`, "response_types_supported": `["code"]`,
		"id_token_signing_alg_values_supported": `["ES256","RS256"]`, // Discovery §3: RS256 must be listed
		"scopes_supported":                      `["openid","profile","email","offline_access"]`,
	}
	for name, v := range want {
		got, _ := json.Marshal(doc[name])
		if s, ok := doc[name].(string); ok {
			got = []byte(s)
		}
		if string(got) != v {
			t.Errorf("%s = %s, want %s", name, got, v)
		}
	}
	metadata := discoveryDocument(t, e, MetadataPath(s.Issuer))
	for name, v := range metadata {
		a, _ := json.Marshal(v)
		b, _ := json.Marshal(doc[name])
		if string(a) != string(b) {
			t.Errorf("%s: RFC 8414 says %s, OpenID configuration %s", name, a, b)
		}
	}
}

// An issuer with a path has its OpenID configuration under that path
// (Discovery §4.1, where go-oidc and openid-client look) and at RFC 8414
// §5's place.
func TestOpenIDConfigurationUnderTheIssuersPath(t *testing.T) {
	if got, want := OpenIDConfigurationPaths("https://gw.example/tenant/"), []string{
		"/tenant/.well-known/openid-configuration", "/.well-known/openid-configuration/tenant",
	}; !slices.Equal(got, want) {
		t.Fatalf("paths %q, want %q", got, want)
	}
	if got := OpenIDConfigurationPaths("https://gw.example"); !slices.Equal(got, []string{"/.well-known/openid-configuration"}) {
		t.Fatalf("paths %q", got)
	}
}
