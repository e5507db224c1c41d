package authserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/grant"
	"github.com/scopegate/scopegate/registration"
	"github.com/scopegate/scopegate/storage"
)

// appOrigin is the origin of testRedirect, the test app's redirect URI.
const appOrigin = "https://app.example"

// corsFixture is a code fixture whose endpoints are served as an issuer
// route serves them (NewEndpoints), for an app registered with
// testRedirect.
type corsFixture struct {
	*codeFixture
	endpoints *Endpoints
}

func newCORSFixture(t *testing.T) *corsFixture {
	t.Helper()
	f := oidcCode(t)
	e, err := f.s.NewEndpoints(EndpointPaths{})
	if err != nil {
		t.Fatal(err)
	}
	return &corsFixture{codeFixture: f, endpoints: e}
}

// serve sends r to what the endpoints serve at its path, from the test
// app's address.
func (f *corsFixture) serve(t *testing.T, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	r.RemoteAddr = "192.0.2.7:1234"
	h, ok := f.endpoints.Lookup(r.URL.Path)
	if !ok {
		t.Fatalf("nothing is served at %s", r.URL.Path)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// post sends a form to path with an Origin header ("" for none).
func (f *corsFixture) post(t *testing.T, path, origin string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	return f.serve(t, r)
}

// token exchanges a fresh code of the app for its tokens, without an
// Origin, and returns the access token.
func (f *corsFixture) token(t *testing.T, scopes ...string) string {
	t.Helper()
	verifier, challenge := pkcePair("cors-")
	code := f.issueCode(t, f.clientID, challenge, func(ac *storage.AuthCode) { ac.Scopes = scopes })
	w := f.post(t, DefaultTokenPath, "", codeForm(f.clientID, code, verifier))
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &body) != nil {
		t.Fatalf("token: %d %s", w.Code, w.Body)
	}
	return body.AccessToken
}

// wantExposed are the headers beyond the body an app's page must be able to
// read: a refused token's challenge and a throttled request's wait.
const wantExposed = "WWW-Authenticate, Retry-After"

// preflight sends a CORS preflight (Fetch §4.8) to path from origin.
func preflight(path, origin, method string) *http.Request {
	r := httptest.NewRequest(http.MethodOptions, path, nil)
	r.Header.Set("Origin", origin)
	r.Header.Set("Access-Control-Request-Method", method)
	r.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
	return r
}

// wantCORSHeaders checks the CORS headers of an answer: want maps each
// header to its value, "" for absent. Allow-Credentials is never sent.
func wantCORSHeaders(t *testing.T, what string, h http.Header, want map[string]string) {
	t.Helper()
	want["Access-Control-Allow-Credentials"] = ""
	for name, value := range want {
		if got := strings.Join(h.Values(name), ", "); got != value {
			t.Errorf("%s: %s = %q, want %q", what, name, got, value)
		}
	}
}

// The public documents (both discovery documents, a protected resource's
// RFC 9728 metadata and the JWKS) are read by any origin, without
// credentials, and their preflights are answered.
func TestCORSPublicDocuments(t *testing.T) {
	f := newCORSFixture(t)
	resource, _, err := f.s.Resources().Publish("https://api.example/orders", f.s.Issuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/.well-known/openid-configuration", MetadataPath(f.s.Issuer), DefaultJWKSPath, resource} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			r := httptest.NewRequest(method, path, nil)
			r.Header.Set("Origin", "https://anyone.example")
			w := f.serve(t, r)
			if w.Code != http.StatusOK {
				t.Fatalf("%s %s: %d", method, path, w.Code)
			}
			wantCORSHeaders(t, method+" "+path, w.Header(), map[string]string{"Access-Control-Allow-Origin": "*"})
		}
		w := f.serve(t, preflight(path, "https://anyone.example", http.MethodGet))
		if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
			t.Fatalf("preflight of %s: %d %s, want 204", path, w.Code, w.Body)
		}
		wantCORSHeaders(t, "preflight of "+path, w.Header(), map[string]string{
			"Access-Control-Allow-Origin":  "*",
			"Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
			"Access-Control-Max-Age":       "600",
		})
	}
}

// A preflight of the token, revocation and UserInfo endpoints from any
// syntactically valid origin is answered: it reveals nothing, so it needs
// no client, and the browser then sends the real request, which the
// client's origins decide.
func TestCORSPreflightOfClientEndpoints(t *testing.T) {
	f := newCORSFixture(t)
	for _, tc := range []struct{ path, methods string }{
		{DefaultTokenPath, "POST"}, {DefaultRevocationPath, "POST"}, {DefaultUserInfoPath, "GET, POST"},
	} {
		for _, origin := range []string{appOrigin, "https://unknown.example:8443"} {
			w := f.serve(t, preflight(tc.path, origin, http.MethodPost))
			if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
				t.Fatalf("preflight of %s from %s: %d %s, want 204", tc.path, origin, w.Code, w.Body)
			}
			wantCORSHeaders(t, "preflight of "+tc.path+" from "+origin, w.Header(), map[string]string{
				"Access-Control-Allow-Origin":  origin,
				"Access-Control-Allow-Methods": tc.methods,
				"Access-Control-Allow-Headers": "Authorization, Content-Type",
				"Access-Control-Max-Age":       "600",
				"Vary":                         "Origin",
			})
		}
	}
}

// badOrigins are Origin values that are not one serialized origin.
var badOrigins = map[string]string{
	"null":           "null",
	"a path":         "https://app.example/path",
	"a bad port":     "https://app.example:99999",
	"header splice":  "https://app.example\r\nAccess-Control-Allow-Credentials: true",
	"a trailing /":   appOrigin + "/",
	"very long":      "https://" + strings.Repeat("a", 70000) + ".example",
	"two in one":     appOrigin + ", https://evil.example",
	"upper case":     "HTTPS://APP.EXAMPLE",
	"user info":      "https://u:p@app.example",
	"a leading zero": "https://app.example:0443",
}

// A preflight whose Origin is not a serialized origin is refused with 400
// and no CORS header: nothing the caller sent is echoed.
func TestCORSPreflightRefusesMalformedOrigins(t *testing.T) {
	f := newCORSFixture(t)
	for name, origin := range badOrigins {
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{DefaultTokenPath, DefaultRevocationPath, DefaultUserInfoPath} {
				w := f.serve(t, preflight(path, origin, http.MethodPost))
				if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `"error":"invalid_request"`) {
					t.Fatalf("preflight of %s: %d %s, want 400 invalid_request", path, w.Code, w.Body)
				}
				wantNoCORS(t, "preflight of "+path, w)
			}
		})
	}
	t.Run("two Origin headers", func(t *testing.T) {
		r := preflight(DefaultTokenPath, appOrigin, http.MethodPost)
		r.Header.Add("Origin", "https://evil.example")
		if w := f.serve(t, r); w.Code != http.StatusBadRequest {
			t.Fatalf("preflight with two origins: %d, want 400", w.Code)
		}
	})
}

// wantNoCORS checks that an answer carries no CORS header at all, and
// none of the request's bytes in a header.
func wantNoCORS(t *testing.T, what string, w *httptest.ResponseRecorder) {
	t.Helper()
	for name, values := range w.Header() {
		if strings.HasPrefix(name, "Access-Control-") {
			t.Errorf("%s: %s: %q, want no CORS header", what, name, values)
		}
		for _, v := range values {
			if strings.ContainsAny(v, "\r\n") {
				t.Errorf("%s: %s holds a line break: %q", what, name, v)
			}
		}
	}
}

// A code exchanged from the app's origin is answered with that origin
// allowed, and so is an OAuth error about it, which the app then reads.
// Without an Origin (a server), nothing changes.
func TestCORSTokenEndpointAllowsTheClientsOrigin(t *testing.T) {
	f := newCORSFixture(t)
	verifier, challenge := pkcePair("cors-")
	code := f.issueCode(t, f.clientID, challenge, nil)
	allowed := map[string]string{"Access-Control-Allow-Origin": appOrigin, "Vary": "Origin", "Access-Control-Expose-Headers": wantExposed}

	w := f.post(t, DefaultTokenPath, appOrigin, codeForm(f.clientID, code, "wrong-"+verifier))
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `"error":"invalid_grant"`) {
		t.Fatalf("a wrong verifier from the app's origin: %d %s, want 400 invalid_grant", w.Code, w.Body)
	}
	wantCORSHeaders(t, "the refusal", w.Header(), allowed)

	code = f.issueCode(t, f.clientID, challenge, nil)
	w = f.post(t, DefaultTokenPath, appOrigin, codeForm(f.clientID, code, verifier))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"access_token"`) {
		t.Fatalf("the exchange from the app's origin: %d %s", w.Code, w.Body)
	}
	wantCORSHeaders(t, "the token", w.Header(), allowed)

	code = f.issueCode(t, f.clientID, challenge, nil)
	w = f.post(t, DefaultTokenPath, "", codeForm(f.clientID, code, verifier))
	if w.Code != http.StatusOK {
		t.Fatalf("the exchange without an Origin: %d %s", w.Code, w.Body)
	}
	wantCORSHeaders(t, "no Origin", w.Header(), map[string]string{"Access-Control-Allow-Origin": "", "Vary": "", "Access-Control-Expose-Headers": ""})
}

// A token request that a browser sends from any origin but the client's
// is refused before its grant is looked at (the code stays unused), with
// no CORS header: it is not the app, and it could be a page injecting a
// code. Malformed Origin values are refused the same way.
func TestCORSTokenEndpointRefusesOtherOrigins(t *testing.T) {
	f := newCORSFixture(t)
	verifier, challenge := pkcePair("cors-")
	code := f.issueCode(t, f.clientID, challenge, nil)
	others := map[string]string{
		"another site": "https://evil.example", "another port": appOrigin + ":8443",
		"a longer host": "https://app.example.evil.example", "http": "http://app.example",
	}
	for name, origin := range badOrigins {
		others[name] = origin
	}
	for name, origin := range others {
		t.Run(name, func(t *testing.T) {
			w := f.post(t, DefaultTokenPath, origin, codeForm(f.clientID, code, verifier))
			if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `"error":"invalid_request"`) ||
				!strings.Contains(w.Body.String(), "the Origin is not allowed for this client") {
				t.Fatalf("from %s: %d %s, want 400 invalid_request", name, w.Code, w.Body)
			}
			wantNoCORS(t, "the refusal", w)
			if strings.Contains(w.Body.String(), "evil") || strings.Contains(w.Body.String(), "aaaa") {
				t.Fatalf("the refusal echoes the Origin: %s", w.Body)
			}
		})
	}
	if w := f.post(t, DefaultTokenPath, "", codeForm(f.clientID, code, verifier)); w.Code != http.StatusOK {
		t.Fatalf("the code, refused from other origins, no longer redeems: %d %s", w.Code, w.Body)
	}
}

// A confidential client without redirect URIs has no origin: a browser
// holding its secret is refused.
func TestCORSClientWithoutRedirectURIsHasNoOrigin(t *testing.T) {
	f := newCORSFixture(t)
	id, secret := newTestClient(t, f.s, "orders:read")
	form := url.Values{"grant_type": {grant.ClientCredentials}, "client_id": {id}, "client_secret": {secret}, "scope": {"orders:read"}}
	if w := f.post(t, DefaultTokenPath, appOrigin, form); w.Code != http.StatusBadRequest {
		t.Fatalf("client_credentials from a browser: %d %s, want 400", w.Code, w.Body)
	}
	if w := f.post(t, DefaultTokenPath, "", form); w.Code != http.StatusOK {
		t.Fatalf("client_credentials from a server: %d %s", w.Code, w.Body)
	}
}

// Revocation follows the token endpoint: the app's origin reads the
// answer; another origin is refused and the token stays live.
func TestCORSRevocation(t *testing.T) {
	f := newCORSFixture(t)
	access := f.token(t, "openid")
	form := url.Values{"client_id": {f.clientID}, "token": {access}}
	w := f.post(t, DefaultRevocationPath, "https://evil.example", form)
	if w.Code != http.StatusBadRequest {
		t.Fatalf("revocation from another origin: %d %s, want 400", w.Code, w.Body)
	}
	wantNoCORS(t, "the refusal", w)
	if _, _, err := f.s.CheckToken(context.Background(), access); err != nil {
		t.Fatalf("the token was revoked from another origin: %v", err)
	}
	w = f.post(t, DefaultRevocationPath, appOrigin, form)
	if w.Code != http.StatusOK {
		t.Fatalf("revocation from the app's origin: %d %s", w.Code, w.Body)
	}
	wantCORSHeaders(t, "the revocation", w.Header(), map[string]string{"Access-Control-Allow-Origin": appOrigin, "Vary": "Origin", "Access-Control-Expose-Headers": wantExposed})
	if _, _, err := f.s.CheckToken(context.Background(), access); err == nil {
		t.Fatal("the token is live after its revocation")
	}
}

// UserInfo's answer is read by the origin of the token's client, its
// refusals too (a token without openid); another origin gets the answer
// without the header, which the browser then hides: reading claims is
// the token's right, not the origin's, so nothing is refused. A token
// that names no client (it did not verify) gets a refusal that is the same
// for everyone, which any origin may read.
func TestCORSUserInfo(t *testing.T) {
	f := newCORSFixture(t)
	get := func(token, origin string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, DefaultUserInfoPath, nil)
		r.Header.Set("Authorization", "Bearer "+token)
		r.Header.Set("Origin", origin)
		return f.serve(t, r)
	}
	withOpenID, withoutOpenID := f.token(t, "openid", "profile"), f.token(t, "orders:read")
	allowed := map[string]string{"Access-Control-Allow-Origin": appOrigin, "Vary": "Origin", "Access-Control-Expose-Headers": wantExposed}

	w := get(withOpenID, appOrigin)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), f.userID) {
		t.Fatalf("UserInfo from the app's origin: %d %s", w.Code, w.Body)
	}
	wantCORSHeaders(t, "UserInfo", w.Header(), allowed)

	if w = get(withoutOpenID, appOrigin); w.Code != http.StatusForbidden {
		t.Fatalf("UserInfo without openid: %d, want 403", w.Code)
	}
	wantCORSHeaders(t, "the 403", w.Header(), allowed)

	if w = get(withOpenID, "https://evil.example"); w.Code != http.StatusOK {
		t.Fatalf("UserInfo from another origin: %d, want 200 (the browser hides it)", w.Code)
	}
	wantNoCORS(t, "UserInfo from another origin", w)

	for name, origin := range badOrigins {
		if w = get(withOpenID, origin); w.Code != http.StatusOK {
			t.Fatalf("UserInfo with Origin %s: %d", name, w.Code)
		}
		wantNoCORS(t, "UserInfo with Origin "+name, w)
	}

	w = get("not-a-token", "https://anyone.example")
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("UserInfo with a bad token: %d, want 401", w.Code)
	}
	wantCORSHeaders(t, "the 401", w.Header(), map[string]string{"Access-Control-Allow-Origin": "https://anyone.example", "Vary": "Origin", "Access-Control-Expose-Headers": wantExposed})
}

// Pages are navigations, not fetches, and introspection, registration and
// self-service are for servers: none of them answers CORS, to a preflight or to a
// request with an Origin.
func TestCORSNotOnPagesOrServerEndpoints(t *testing.T) {
	a := newAuthzFixture(t)
	account, err := a.s.NewAccountPage(a.page)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := a.s.NewRegistrationEndpoint(&registration.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := a.s.NewEndpoints(EndpointPaths{}, a.page, a.endpoint, account, reg)
	if err != nil {
		t.Fatal(err)
	}
	withCORS := map[string]bool{
		DefaultTokenPath: true, DefaultRevocationPath: true, DefaultUserInfoPath: true, DefaultJWKSPath: true,
		MetadataPath(a.s.Issuer): true, "/.well-known/openid-configuration": true,
	}
	checked := 0
	for path, h := range e.byPath {
		if withCORS[path] {
			continue
		}
		checked++
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			r := preflight(path, appOrigin, method)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			wantNoCORS(t, "preflight of "+path, w)
			r = httptest.NewRequest(method, path, nil)
			r.Header.Set("Origin", appOrigin)
			w = httptest.NewRecorder()
			h.ServeHTTP(w, r)
			wantNoCORS(t, method+" "+path, w)
		}
	}
	for _, path := range []string{DefaultIntrospectionPath, testAuthorizePath, a.page.AccountPath(), DefaultEndSessionPath, "/signin", DefaultSelfServicePath, "/oauth2/register"} {
		if _, ok := e.byPath[path]; !ok {
			t.Errorf("%s is not served, so not checked", path)
		}
	}
	if checked < 8 {
		t.Fatalf("only %d paths checked", checked)
	}
}
