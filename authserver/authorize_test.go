package authserver

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/session"
	"github.com/scopegate/scopegate/signin"
	"github.com/scopegate/scopegate/storage"
)

// testScopeDescriptions are the operator's words for the fixture's scopes.
var testScopeDescriptions = map[string]string{"orders:read": "See your orders and their status"}

const (
	testAuthorizePath = "/oauth2/authorize"
	testRedirectURI   = "https://app.example/cb"
	testVerifier      = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-verifier"
)

// authzFixture is a server on a real bbolt store with a real session
// manager, the sign-in page and the authorization endpoint, a person who
// holds orders:read and orders:write through roles, and a public client.
type authzFixture struct {
	t        testing.TB
	s        *Server
	endpoint *AuthorizeEndpoint
	page     *signin.Handler
	clientID string
	userID   string
	now      time.Time
}

func newAuthzFixture(t testing.TB) *authzFixture {
	t.Helper()
	ctx := context.Background()
	f := &authzFixture{t: t, s: newTestServer(t), now: time.Now().UTC()}
	f.s.SetClock(func() time.Time { return f.now })
	sessions, err := session.NewManager(f.s.Store, session.Config{Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	f.s.Sessions = sessions
	page, err := signin.New(signin.Config{Options: signin.Options{
		ReturnPaths: []string{testAuthorizePath}, ScopeDescriptions: testScopeDescriptions,
	}}, SignInAccounts{Server: f.s}, SignInSessions{Server: f.s}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.page = page
	if f.endpoint, err = f.s.NewAuthorizeEndpoint(testAuthorizePath, page); err != nil {
		t.Fatal(err)
	}
	for _, role := range []registry.RoleMetadata{
		{Name: "reader", Scopes: []string{"orders:read"}},
		{Name: "writer", Scopes: []string{"orders:write"}},
	} {
		if _, err := f.s.Registry.CreateRole(ctx, role); err != nil {
			t.Fatal(err)
		}
	}
	u, err := f.s.Registry.CreateUser(ctx, registry.UserMetadata{Username: "alice", Roles: []string{"reader", "writer"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	f.userID = u.UserID
	f.clientID = f.client(registry.Metadata{ClientName: "spa", TokenEndpointAuthMethod: "none"})
	return f
}

// client registers an authorization code client with scopes orders:read,
// orders:write and admin and the test redirect URI, over m.
func (f *authzFixture) client(m registry.Metadata) string {
	f.t.Helper()
	if m.GrantTypes == nil {
		m.GrantTypes = []string{"authorization_code"}
	}
	if m.Scope == "" {
		m.Scope = "orders:read orders:write admin"
	}
	if m.RedirectURIs == nil {
		m.RedirectURIs = []string{testRedirectURI}
	}
	c, _, err := f.s.Registry.Create(context.Background(), m)
	if err != nil {
		f.t.Fatal(err)
	}
	return c.ClientID
}

// signIn starts a session for the person and returns its cookie value.
func (f *authzFixture) signIn() string {
	f.t.Helper()
	value, _, err := f.s.Sessions.Start(context.Background(), f.userID, false, session.Meta{})
	if err != nil {
		f.t.Fatal(err)
	}
	return value
}

func testChallenge() string {
	sum := sha256.Sum256([]byte(testVerifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// query returns a valid authorization request of the fixture's client with
// PKCE, state and scope orders:read, with the changes applied ("" deletes).
func (f *authzFixture) query(changes ...string) string {
	q := url.Values{
		"response_type": {"code"}, "client_id": {f.clientID}, "redirect_uri": {testRedirectURI},
		"state": {"st-1"}, "scope": {"orders:read"},
		"code_challenge": {testChallenge()}, "code_challenge_method": {"S256"},
	}
	for i := 0; i+1 < len(changes); i += 2 {
		if changes[i+1] == "" {
			q.Del(changes[i])
		} else {
			q.Set(changes[i], changes[i+1])
		}
	}
	return q.Encode()
}

// get sends GET /oauth2/authorize?query with the session cookie (none for "").
func (f *authzFixture) get(query, cookie string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, testAuthorizePath, nil)
	r.URL.RawQuery = query // as sent, even what a request line could not carry
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: signin.DefaultCookieName, Value: cookie})
	}
	w := httptest.NewRecorder()
	f.endpoint.ServeHTTP(w, r)
	return w
}

// post sends the consent form with the session cookie.
func (f *authzFixture) post(form url.Values, cookie string) *httptest.ResponseRecorder {
	return f.postRaw(form.Encode(), cookie)
}

// postRaw sends body as the consent form with the session cookie.
func (f *authzFixture) postRaw(body, cookie string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, testAuthorizePath, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: signin.DefaultCookieName, Value: cookie})
	}
	w := httptest.NewRecorder()
	f.endpoint.ServeHTTP(w, r)
	return w
}

var (
	requestIDField = regexp.MustCompile(`name="request_id" value="([^"]+)"`)
	csrfField      = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
)

// consentForm returns the consent page's hidden fields from w, failing
// unless w is that page.
func (f *authzFixture) consentForm(w *httptest.ResponseRecorder) url.Values {
	f.t.Helper()
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		f.t.Fatalf("want the consent page, got %d %q: %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	id, csrf := requestIDField.FindStringSubmatch(w.Body.String()), csrfField.FindStringSubmatch(w.Body.String())
	if id == nil || csrf == nil {
		f.t.Fatalf("the consent page has no request_id or csrf_token: %s", w.Body)
	}
	return url.Values{"request_id": {id[1]}, "csrf_token": {csrf[1]}}
}

// redirected returns the query of a 303 to the test redirect URI.
func (f *authzFixture) redirected(w *httptest.ResponseRecorder) url.Values {
	f.t.Helper()
	loc := w.Header().Get("Location")
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(loc, testRedirectURI+"?") {
		f.t.Fatalf("want a 303 to the app, got %d %q: %s", w.Code, loc, w.Body)
	}
	u, _ := url.Parse(loc)
	return u.Query()
}

// wantCode checks a successful redirect and returns the stored code.
func (f *authzFixture) wantCode(w *httptest.ResponseRecorder) storage.AuthCode {
	f.t.Helper()
	q := f.redirected(w)
	if q.Get("error") != "" || q.Get("state") != "st-1" || q.Get("iss") != f.s.Issuer {
		f.t.Fatalf("want code, state and iss, got %v", q)
	}
	code := q.Get("code")
	if len(code) != 43 {
		f.t.Fatalf("code %q: want 43 characters", code)
	}
	c, err := f.s.Store.RedeemAuthCode(context.Background(), CodeID(code), f.now)
	if err != nil {
		f.t.Fatalf("the code is not stored by its CodeID: %v", err)
	}
	return c
}

// wantError checks a redirected error with the request's state.
func (f *authzFixture) wantError(w *httptest.ResponseRecorder, code string) {
	f.t.Helper()
	q := f.redirected(w)
	if q.Get("error") != code || q.Get("state") != "st-1" || q.Get("iss") != f.s.Issuer || q.Has("code") {
		f.t.Fatalf("want error %s with state and iss, got %v", code, q)
	}
}

// wantShown checks an error shown as a page, never redirected.
func wantShown(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if w.Code != status || w.Header().Get("Location") != "" || !strings.Contains(w.Body.String(), "("+code+")") {
		t.Fatalf("want %d %s shown, got %d %q: %s", status, code, w.Code, w.Header().Get("Location"), w.Body)
	}
	for name, want := range map[string]string{
		"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
		"Content-Type": "text/plain; charset=utf-8",
	} {
		if got := w.Header().Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if !strings.Contains(w.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy = %q", w.Header().Get("Content-Security-Policy"))
	}
}

func TestAuthorizeShownErrors(t *testing.T) {
	f := newAuthzFixture(t)
	cookie := f.signIn()
	noGrant := f.client(registry.Metadata{ClientName: "machine", GrantTypes: []string{"client_credentials"}})
	disabled := f.client(registry.Metadata{ClientName: "off", TokenEndpointAuthMethod: "none"})
	if _, err := f.s.Registry.SetDisabled(context.Background(), disabled, true); err != nil {
		t.Fatal(err)
	}
	for name, query := range map[string]string{
		"missing client_id":            f.query("client_id", ""),
		"unknown client":               f.query("client_id", "no-such-client"),
		"disabled client":              f.query("client_id", disabled),
		"client without the grant":     f.query("client_id", noGrant),
		"missing redirect_uri":         f.query("redirect_uri", ""),
		"unregistered redirect_uri":    f.query("redirect_uri", "https://evil.example/cb"),
		"redirect_uri prefix":          f.query("redirect_uri", testRedirectURI+"/more"),
		"redirect_uri with userinfo":   f.query("redirect_uri", "https://app.example@evil.example/cb"),
		"redirect_uri with a fragment": f.query("redirect_uri", testRedirectURI+"#x"),
		"redirect_uri other case":      f.query("redirect_uri", "https://APP.example/cb"),
		"bad response_type, bad uri":   f.query("redirect_uri", "https://evil.example/cb", "response_type", "token"),
		"request_uri, bad uri":         f.query("redirect_uri", "https://evil.example/cb", "request_uri", "https://evil.example/r"),
		"request, unknown client":      f.query("client_id", "no-such-client", "request", "eyJhbGciOiJub25lIn0.e30."),
	} {
		t.Run(name, func(t *testing.T) {
			w := f.get(query, cookie)
			status, code := http.StatusBadRequest, "invalid_request"
			if strings.Contains(name, "client") && !strings.Contains(name, "client_id") {
				code = "invalid_client"
			}
			wantShown(t, w, status, code)
		})
	}
}

func TestAuthorizeRedirectedErrors(t *testing.T) {
	f := newAuthzFixture(t)
	cookie := f.signIn()
	for name, tc := range map[string]struct{ query, code string }{
		"implicit grant":               {f.query("response_type", "token"), "unsupported_response_type"},
		"public client without PKCE":   {f.query("code_challenge", "", "code_challenge_method", ""), "invalid_request"},
		"PKCE plain":                   {f.query("code_challenge_method", "plain"), "invalid_request"},
		"scope the client lacks":       {f.query("scope", "orders:read billing"), "invalid_scope"},
		"resource outside audience":    {f.query("resource", "https://other.example/"), "invalid_target"},
		"prompt=none without session":  {f.query("prompt", "none"), "login_required"},
		"scope the person cannot hold": {f.query("scope", "admin"), "access_denied"},
		"request object":               {f.query("request", "eyJhbGciOiJub25lIn0.eyJzY29wZSI6ImFkbWluIn0."), "request_not_supported"},
		"request_uri":                  {f.query("request_uri", "urn:ietf:params:oauth:request_uri:abc"), "request_uri_not_supported"},
	} {
		t.Run(name, func(t *testing.T) {
			c := cookie
			if strings.Contains(name, "without session") {
				c = ""
			}
			f.wantError(f.get(tc.query, c), tc.code)
		})
	}
}

func TestAuthorizePKCERequiredByDefaultForConfidentialClients(t *testing.T) {
	f := newAuthzFixture(t)
	cookie := f.signIn()
	web := f.client(registry.Metadata{ClientName: "web"})
	f.wantError(f.get(f.query("client_id", web, "code_challenge", "", "code_challenge_method", ""), cookie), "invalid_request")
}

func TestAuthorizeSendsToSignIn(t *testing.T) {
	f := newAuthzFixture(t)
	w := f.get(f.query(), "")
	loc := w.Header().Get("Location")
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "https://gw.example/signin?return_to=") {
		t.Fatalf("want a 303 to the issuer's sign-in page, got %d %q", w.Code, loc)
	}
	u, _ := url.Parse(loc)
	returnTo := u.Query().Get("return_to")
	if signin.ReturnTo(returnTo, []string{testAuthorizePath}) != returnTo {
		t.Fatalf("return_to %q is not one the sign-in page follows", returnTo)
	}
	// Back from the sign-in page with a session, the same request goes on.
	back, _ := url.Parse(returnTo)
	f.consentForm(f.get(back.RawQuery, f.signIn()))
}

func TestAuthorizeHostHeaderIgnored(t *testing.T) {
	f := newAuthzFixture(t)
	r := httptest.NewRequest(http.MethodGet, testAuthorizePath+"?"+f.query(), nil)
	r.Host = "evil.example"
	r.Header.Set("X-Forwarded-Host", "evil.example")
	w := httptest.NewRecorder()
	f.endpoint.ServeHTTP(w, r)
	if loc := w.Header().Get("Location"); !strings.HasPrefix(loc, "https://gw.example/") {
		t.Fatalf("Location %q is not on the configured issuer", loc)
	}
}

func TestAuthorizePromptLoginSignsInAgain(t *testing.T) {
	f := newAuthzFixture(t)
	cookie := f.signIn()
	w := f.get(f.query("prompt", "login consent"), cookie)
	if w.Code != http.StatusSeeOther || !strings.Contains(w.Header().Get("Location"), "/signin?return_to=") {
		t.Fatalf("want a 303 to sign in, got %d %q", w.Code, w.Header().Get("Location"))
	}
	u, _ := url.Parse(w.Header().Get("Location"))
	back, _ := url.Parse(u.Query().Get("return_to"))
	if got := back.Query().Get("prompt"); got != "consent" {
		t.Fatalf("return_to's prompt = %q, want login taken out and consent kept", got)
	}
	if _, err := f.s.Sessions.Lookup(context.Background(), cookie); err == nil {
		t.Fatal("the old session still stands, so the sign-in page would not ask again")
	}
}

func TestAuthorizeMaxAge(t *testing.T) {
	f := newAuthzFixture(t)
	cookie := f.signIn()
	f.consentForm(f.get(f.query("max_age", "60"), cookie))
	f.now = f.now.Add(2 * time.Minute)
	w := f.get(f.query("max_age", "60"), cookie)
	if w.Code != http.StatusSeeOther || !strings.Contains(w.Header().Get("Location"), "/signin?return_to=") {
		t.Fatalf("max_age passed: want a 303 to sign in, got %d %q", w.Code, w.Header().Get("Location"))
	}
	f.wantError(f.get(f.query("max_age", "60", "prompt", "none"), f.signIn()), "consent_required")
}

func TestAuthorizeConsentAllowIssuesCode(t *testing.T) {
	f := newAuthzFixture(t)
	cookie := f.signIn()
	w := f.get(f.query("scope", "orders:read orders:write", "nonce", "n-1", "prompt", "none"), cookie)
	f.wantError(w, "consent_required")

	page := f.get(f.query("scope", "orders:read orders:write", "nonce", "n-1"), cookie)
	if csp := page.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://app.example") {
		t.Fatalf("consent page CSP %q does not allow the app's origin", csp)
	}
	// The operator's words for a scope, from the sign-in page's options.
	if body := page.Body.String(); !strings.Contains(body, "See your orders and their status</span> <span class=\"scope-name\">orders:read") {
		t.Fatalf("the consent page does not describe orders:read in the operator's words: %s", body)
	}
	form := f.consentForm(page)
	form.Set("decision", "allow")
	c := f.wantCode(f.post(form, cookie))
	sess, _ := f.s.Sessions.Lookup(context.Background(), cookie)
	if c.ClientID != f.clientID || c.UserID != f.userID || c.SessionID != sess.ID || c.RedirectURI != testRedirectURI ||
		!slices.Equal(c.Scopes, []string{"orders:read", "orders:write"}) || c.Nonce != "n-1" ||
		c.CodeChallenge != testChallenge() || c.CodeChallengeMethod != "S256" || !c.AuthTime.Equal(sess.CreatedAt) ||
		c.ExpiresAt.Sub(c.CreatedAt) != 60*time.Second {
		t.Fatalf("stored code %+v", c)
	}
	// The request is single use.
	wantShown(t, f.post(form, cookie), http.StatusBadRequest, "invalid_request")

	// Remembered: the same or fewer scopes go through at once, prompt=none too.
	f.wantCode(f.get(f.query("prompt", "none"), cookie))
	// A scope the person cannot delegate is left out, not asked for.
	if c := f.wantCode(f.get(f.query("scope", "orders:read admin orders:write"), cookie)); !slices.Equal(c.Scopes, []string{"orders:read", "orders:write"}) {
		t.Fatalf("granted %v, want admin left out", c.Scopes)
	}
	// prompt=consent asks again.
	f.consentForm(f.get(f.query("prompt", "consent"), cookie))
}

func TestAuthorizeConsentAskedAgainForNewScope(t *testing.T) {
	f := newAuthzFixture(t)
	cookie := f.signIn()
	form := f.consentForm(f.get(f.query(), cookie))
	form.Set("decision", "allow")
	f.wantCode(f.post(form, cookie))
	form = f.consentForm(f.get(f.query("scope", "orders:write"), cookie))
	form.Set("decision", "allow")
	f.wantCode(f.post(form, cookie))
	consent, err := f.s.Store.GetConsent(context.Background(), f.userID, f.clientID)
	if err != nil || !slices.Equal(consent.Scopes, []string{"orders:read", "orders:write"}) {
		t.Fatalf("consent %+v, %v: want both approvals kept", consent, err)
	}
	f.wantCode(f.get(f.query("scope", "orders:read orders:write"), cookie))
}

func TestAuthorizeSkipConsent(t *testing.T) {
	f := newAuthzFixture(t)
	first := f.client(registry.Metadata{ClientName: "first-party", TokenEndpointAuthMethod: "none", SkipConsent: true})
	q := f.redirected(f.get(f.query("client_id", first), f.signIn()))
	if q.Get("code") == "" {
		t.Fatalf("want a code at once, got %v", q)
	}
}

func TestAuthorizeConsentDeny(t *testing.T) {
	f := newAuthzFixture(t)
	cookie := f.signIn()
	form := f.consentForm(f.get(f.query(), cookie))
	form.Set("decision", "deny")
	f.wantError(f.post(form, cookie), "access_denied")
	if _, err := f.s.Store.GetConsent(context.Background(), f.userID, f.clientID); err == nil {
		t.Fatal("a denial stored a consent")
	}
}

func TestAuthorizeConsentBoundToBrowser(t *testing.T) {
	f := newAuthzFixture(t)
	victim := f.signIn()
	form := f.consentForm(f.get(f.query(), victim))
	form.Set("decision", "allow")
	// Another browser, signed in as the same person, with the form's fields.
	other := f.signIn()
	wantShown(t, f.post(form, other), http.StatusBadRequest, "invalid_request")
	wantShown(t, f.post(form, ""), http.StatusBadRequest, "invalid_request")
	// The flow still finishes in the browser that started it.
	f.wantCode(f.post(form, victim))
}

func TestAuthorizeConsentCSRF(t *testing.T) {
	f := newAuthzFixture(t)
	cookie := f.signIn()
	form := f.consentForm(f.get(f.query(), cookie))
	other := f.consentForm(f.get(f.query(), cookie))
	for name, token := range map[string]string{
		"missing":              "",
		"wrong":                strings.Repeat("A", len(form.Get("csrf_token"))),
		"another request's":    other.Get("csrf_token"),
		"another session's":    signin.ConsentCSRFToken(f.signIn(), form.Get("request_id")),
		"decision not allowed": form.Get("csrf_token"),
	} {
		t.Run(name, func(t *testing.T) {
			bad := url.Values{"request_id": {form.Get("request_id")}, "csrf_token": {token}, "decision": {"allow"}}
			status, code := http.StatusForbidden, "access_denied"
			if name == "decision not allowed" {
				bad.Set("decision", "maybe")
				status, code = http.StatusBadRequest, "invalid_request"
			}
			wantShown(t, f.post(bad, cookie), status, code)
		})
	}
	form.Set("decision", "allow")
	f.wantCode(f.post(form, cookie))
}

func TestAuthorizeConsentExpired(t *testing.T) {
	f := newAuthzFixture(t)
	cookie := f.signIn()
	form := f.consentForm(f.get(f.query(), cookie))
	form.Set("decision", "allow")
	f.now = f.now.Add(11 * time.Minute)
	cookie = f.signIn() // the first session went idle; the request is bound to it anyway
	wantShown(t, f.post(form, cookie), http.StatusBadRequest, "invalid_request")
}

func TestAuthorizeMethods(t *testing.T) {
	f := newAuthzFixture(t)
	for _, method := range []string{http.MethodHead, http.MethodPut, http.MethodDelete} {
		w := httptest.NewRecorder()
		f.endpoint.ServeHTTP(w, httptest.NewRequest(method, testAuthorizePath+"?"+f.query(), nil))
		if w.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s: %d, want 405", method, w.Code)
		}
	}
	big := url.Values{"request_id": {strings.Repeat("a", 8<<10)}}
	wantShown(t, f.post(big, f.signIn()), http.StatusBadRequest, "invalid_request")
}
