package authserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/session"
	"github.com/scopegate/scopegate/signin"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/token"
)

const (
	testLogoutPath = "/oauth2/logout"
	testSignedOut  = "https://app.example/signed-out"
)

// logoutFixture is the authorization fixture's person signed in, an app
// that registered testSignedOut as its post_logout_redirect_uri, and the
// logout endpoint.
type logoutFixture struct {
	*authzFixture
	logout *LogoutEndpoint
	app    string
}

func newLogoutFixture(t *testing.T) *logoutFixture {
	t.Helper()
	f := &logoutFixture{authzFixture: newAuthzFixture(t)}
	var err error
	if f.logout, err = f.s.newLogoutEndpoint(testLogoutPath, f.page); err != nil {
		t.Fatal(err)
	}
	f.app = f.client(registry.Metadata{ClientName: "Orders app", PostLogoutRedirectURIs: []string{testSignedOut, "https://app.example/bye?from=gw"}})
	return f
}

// send sends a logout request: GET with query, or POST with form, with the
// session cookie (none for "").
func (f *logoutFixture) send(method string, params url.Values, cookie string) *httptest.ResponseRecorder {
	var r *http.Request
	if method == http.MethodGet || method == http.MethodHead {
		r = httptest.NewRequest(method, testLogoutPath+"?"+params.Encode(), nil)
	} else {
		r = httptest.NewRequest(method, testLogoutPath, strings.NewReader(params.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: signin.DefaultCookieName, Value: cookie})
	}
	w := httptest.NewRecorder()
	f.logout.ServeHTTP(w, r)
	return w
}

// live reports whether the session of value is still in the store (which
// every gateway on it reads) and live for the session manager.
func (f *logoutFixture) live(value string) bool {
	f.t.Helper()
	_, err := f.s.Store.GetSession(context.Background(), session.ID(value))
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		f.t.Fatal(err)
	}
	_, lookupErr := f.s.Sessions.Lookup(context.Background(), value)
	if (err == nil) != (lookupErr == nil) {
		f.t.Fatalf("the store says %v, the manager %v", err, lookupErr)
	}
	return err == nil
}

// idToken signs an ID token of the fixture's issuer with the server's
// current key, as the token endpoint's signer holds it, with claims
// changed by changes (nil deletes). typ is the header's.
func (f *logoutFixture) idToken(typ string, changes map[string]any) string {
	f.t.Helper()
	ks := f.s.KeySet()
	keys, err := f.s.Store.SigningKeys(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	var priv *ecdsa.PrivateKey
	for _, k := range keys {
		if k.ID == ks.SigningKeyID() {
			p, err := x509.ParsePKCS8PrivateKey(k.PrivateKey)
			if err != nil {
				f.t.Fatal(err)
			}
			priv = p.(*ecdsa.PrivateKey)
		}
	}
	now := f.s.Now()
	claims := map[string]any{
		"iss": f.s.Issuer, "sub": f.userID, "aud": f.app, "iat": now.Add(-2 * time.Hour).Unix(),
		"exp": now.Add(-time.Hour).Unix(), "auth_time": now.Add(-2 * time.Hour).Unix(),
	}
	for k, v := range changes {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	header, _ := json.Marshal(map[string]string{"alg": "ES256", "kid": ks.SigningKeyID(), "typ": typ})
	payload, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, priv, digest[:])
	if err != nil {
		f.t.Fatal(err)
	}
	if half := new(big.Int).Rsh(priv.Curve.Params().N, 1); s.Cmp(half) > 0 {
		s.Sub(priv.Curve.Params().N, s) // low-S, the one spelling the verifier accepts
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + enc.EncodeToString(sig)
}

var hiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// confirmForm returns the confirmation page's hidden fields, failing
// unless w is that page.
func (f *logoutFixture) confirmForm(w *httptest.ResponseRecorder) url.Values {
	f.t.Helper()
	body := w.Body.String()
	if w.Code != http.StatusOK || !strings.Contains(body, "Sign out of Scopegate?") {
		f.t.Fatalf("not the confirmation page: %d %s", w.Code, body)
	}
	form := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	return form
}

// in returns the fixture reporting to t, for a subtest.
func (f *logoutFixture) in(t *testing.T) *logoutFixture {
	af := *f.authzFixture
	af.t = t
	return &logoutFixture{authzFixture: &af, logout: f.logout, app: f.app}
}

// wantSignedOutPage fails unless w is the signed-out page, with no redirect.
func (f *logoutFixture) wantSignedOutPage(w *httptest.ResponseRecorder) {
	f.t.Helper()
	if w.Code != http.StatusOK || w.Header().Get("Location") != "" || !strings.Contains(w.Body.String(), "You are signed out") {
		f.t.Fatalf("want the signed-out page: %d Location %q %s", w.Code, w.Header().Get("Location"), w.Body.String())
	}
}

// Without a hint the person is asked; the form's POST ends the session in
// the store and sends the browser to the registered URI with the state.
func TestLogoutAsksThenEndsTheSession(t *testing.T) {
	f := newLogoutFixture(t)
	value := f.signIn()
	w := f.send(http.MethodGet, url.Values{"client_id": {f.app}, "post_logout_redirect_uri": {testSignedOut}, "state": {"s t&1"}}, value)
	form := f.confirmForm(w)
	if !strings.Contains(w.Body.String(), "Orders app") || form.Get("post_logout_redirect_uri") != testSignedOut || form.Get("state") != "s t&1" {
		t.Fatalf("form %v, page %s", form, w.Body.String())
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://app.example") {
		t.Errorf("CSP %q does not let the form end at the app", csp)
	}
	if !f.live(value) {
		t.Fatal("asking ended the session")
	}
	w = f.send(http.MethodPost, form, value)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != testSignedOut+"?state=s+t%261" {
		t.Fatalf("after confirming: %d Location %q", w.Code, w.Header().Get("Location"))
	}
	if f.live(value) {
		t.Fatal("the session is still live")
	}
	if c := w.Header().Get("Set-Cookie"); !strings.Contains(c, signin.DefaultCookieName+"=;") || !strings.Contains(c, "Max-Age=0") {
		t.Errorf("the session cookie was not cleared: %q", c)
	}
}

// An ID token of the signed-in person for the app (expired, as an app's
// often is) ends the session at once, GET or POST; a registered URI with
// its own query gets state appended.
func TestLogoutWithThePersonsHintEndsAtOnce(t *testing.T) {
	f := newLogoutFixture(t)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		value := f.signIn()
		w := f.send(method, url.Values{"id_token_hint": {f.idToken("JWT", nil)}, "post_logout_redirect_uri": {"https://app.example/bye?from=gw"}, "state": {"x"}}, value)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "https://app.example/bye?from=gw&state=x" {
			t.Fatalf("%s: %d Location %q %s", method, w.Code, w.Header().Get("Location"), w.Body.String())
		}
		if f.live(value) {
			t.Fatalf("%s: the session is still live", method)
		}
	}
	// HEAD changes nothing, even with the person's hint.
	value := f.signIn()
	if w := f.send(http.MethodHead, url.Values{"id_token_hint": {f.idToken("JWT", nil)}}, value); w.Code != http.StatusOK || !f.live(value) {
		t.Fatalf("HEAD: %d, session live %v", w.Code, f.live(value))
	}
	// Nobody signed in: straight back to the app.
	w := f.send(http.MethodGet, url.Values{"client_id": {f.app}, "post_logout_redirect_uri": {testSignedOut}}, "")
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != testSignedOut {
		t.Fatalf("without a session: %d %q", w.Code, w.Header().Get("Location"))
	}
	// Someone else's hint: the person signed in here is asked.
	bob, err := f.s.Registry.CreateUser(context.Background(), registry.UserMetadata{Username: "bob"}, "")
	if err != nil {
		t.Fatal(err)
	}
	value = f.signIn()
	f.confirmForm(f.send(http.MethodGet, url.Values{"id_token_hint": {f.idToken("JWT", map[string]any{"sub": bob.UserID})}}, value))
	if !f.live(value) {
		t.Fatal("another person's hint ended the session")
	}
}

// A post_logout_redirect_uri the app did not register, exactly, is never
// followed: neither carried in the form, nor allowed by its CSP, nor
// redirected to; the person ends on the signed-out page.
func TestLogoutNeverRedirectsElsewhere(t *testing.T) {
	f := newLogoutFixture(t)
	f.client(registry.Metadata{ClientName: "Other app", PostLogoutRedirectURIs: []string{"https://other.example/bye"}})
	for _, tc := range []struct{ name, clientID, uri string }{
		{"unregistered", f.app, "https://evil.example/"},
		{"prefix of a registered URI", f.app, "https://app.example/signed"},
		{"registered URI with more path", f.app, testSignedOut + "/x"},
		{"registered URI with a query", f.app, testSignedOut + "?next=https://evil.example"},
		{"trailing slash", f.app, testSignedOut + "/"},
		{"other case", f.app, "https://APP.example/signed-out"},
		{"userinfo", f.app, "https://app.example@evil.example/signed-out"},
		{"other port", f.app, "https://app.example:8443/signed-out"},
		{"fragment", f.app, testSignedOut + "#x"},
		{"scheme-relative", f.app, "//evil.example/signed-out"},
		{"javascript", f.app, "javascript:alert(1)"},
		{"encoded dots", f.app, "https://app.example/%2e%2e/signed-out"},
		{"another app's URI", f.app, "https://other.example/bye"},
		{"registered URI without naming the app", "", testSignedOut},
		{"unknown app", "no-such-client", testSignedOut},
		{"the app's redirect_uri, not a logout one", f.app, testRedirectURI},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := f.in(t)
			params := url.Values{"post_logout_redirect_uri": {tc.uri}, "state": {"st"}}
			if tc.clientID != "" {
				params.Set("client_id", tc.clientID)
			}
			value := f.signIn()
			w := f.send(http.MethodGet, params, value)
			form := f.confirmForm(w)
			if form.Has("post_logout_redirect_uri") || form.Has("state") {
				t.Errorf("the form carries %v", form)
			}
			if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self';") {
				t.Errorf("CSP %q", csp)
			}
			form.Set("post_logout_redirect_uri", tc.uri) // a tampered form is checked again
			f.wantSignedOutPage(f.send(http.MethodPost, form, value))
			if f.live(value) {
				t.Error("the session is still live")
			}
			f.wantSignedOutPage(f.send(http.MethodGet, params, "")) // nobody signed in
		})
	}
}

// A forged confirmation is refused with 403 and the session stays live.
func TestLogoutConfirmationCSRF(t *testing.T) {
	f := newLogoutFixture(t)
	value := f.signIn()
	otherSession := f.signIn()
	for name, csrf := range map[string]string{
		"wrong token":                 "forged",
		"another session's token":     signin.LogoutCSRFToken(otherSession),
		"the token of an empty value": signin.LogoutCSRFToken(""),
	} {
		t.Run(name, func(t *testing.T) {
			f := f.in(t)
			w := f.send(http.MethodPost, url.Values{"csrf_token": {csrf}, "client_id": {f.app}, "post_logout_redirect_uri": {testSignedOut}}, value)
			if w.Code != http.StatusForbidden || w.Header().Get("Location") != "" || !strings.Contains(w.Body.String(), "This page expired") {
				t.Fatalf("%d %q %s", w.Code, w.Header().Get("Location"), w.Body.String())
			}
			if !f.live(value) {
				t.Fatal("a forged confirmation ended the session")
			}
		})
	}
}

// A hint that is not an ID token this server issued for the app is refused
// with 400, and nothing ends.
func TestLogoutRefusesBadHints(t *testing.T) {
	f := newLogoutFixture(t)
	accessToken, err := f.s.KeySet().Sign(&token.Claims{
		Issuer: f.s.Issuer, Subject: f.userID, ClientID: f.app, Audience: token.Audience{f.s.Issuer},
		ExpiresAt: f.s.Now().Add(time.Minute).Unix(), IssuedAt: f.s.Now().Unix(), JWTID: token.NewJTI(),
	})
	if err != nil {
		t.Fatal(err)
	}
	other := f.client(registry.Metadata{ClientName: "Other app"})
	for name, params := range map[string]url.Values{
		"another issuer":                {"id_token_hint": {f.idToken("JWT", map[string]any{"iss": "https://other.example"})}},
		"our issuer with a trailing /":  {"id_token_hint": {f.idToken("JWT", map[string]any{"iss": f.s.Issuer + "/"})}},
		"an access token of the person": {"id_token_hint": {accessToken}},
		"a tampered signature":          {"id_token_hint": {f.idToken("JWT", nil)[:40] + "x" + f.idToken("JWT", nil)[41:]}},
		"garbage":                       {"id_token_hint": {"not-a-token"}},
		"client_id not the hint's aud":  {"id_token_hint": {f.idToken("JWT", nil)}, "client_id": {other}},
		"repeated post_logout_redirect": {"client_id": {f.app}, "post_logout_redirect_uri": {testSignedOut, "https://evil.example"}},
	} {
		t.Run(name, func(t *testing.T) {
			f := f.in(t)
			value := f.signIn()
			if !params.Has("post_logout_redirect_uri") {
				params.Set("post_logout_redirect_uri", testSignedOut)
			}
			w := f.send(http.MethodGet, params, value)
			if w.Code != http.StatusBadRequest || w.Header().Get("Location") != "" || !strings.Contains(w.Body.String(), "not valid") {
				t.Fatalf("%d %q %s", w.Code, w.Header().Get("Location"), w.Body.String())
			}
			if !f.live(value) {
				t.Fatal("the session ended")
			}
		})
	}
}

// The RFC 8414 metadata names the endpoint where the sign-in page is
// served; the endpoint answers only GET, HEAD and POST.
func TestLogoutEndpointServedAndListed(t *testing.T) {
	f := newLogoutFixture(t)
	endpoints, err := f.s.NewEndpoints(EndpointPaths{}, f.page)
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := endpoints.Lookup(DefaultEndSessionPath); !ok || h == nil {
		t.Fatal("no end_session_endpoint served")
	}
	meta, _ := endpoints.Lookup(MetadataPath(f.s.Issuer))
	w := httptest.NewRecorder()
	meta.ServeHTTP(w, httptest.NewRequest(http.MethodGet, MetadataPath(f.s.Issuer), nil))
	var doc map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || doc["end_session_endpoint"] != f.s.Issuer+DefaultEndSessionPath {
		t.Fatalf("metadata %v %v", doc, err)
	}
	r := httptest.NewRequest(http.MethodPut, testLogoutPath, nil)
	w = httptest.NewRecorder()
	f.logout.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD, POST" {
		t.Fatalf("PUT: %d %q", w.Code, w.Header().Get("Allow"))
	}
}
