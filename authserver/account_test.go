package authserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/session"
	"github.com/scopegate/scopegate/signin"
)

// accountFixture is the authorization fixture with the account page.
type accountFixture struct {
	*authzFixture
	account *AccountPage
}

func newAccountFixture(t testing.TB) *accountFixture {
	t.Helper()
	f := newAuthzFixture(t)
	account, err := f.s.NewAccountPage(f.page)
	if err != nil {
		t.Fatal(err)
	}
	return &accountFixture{authzFixture: f, account: account}
}

// approve walks the fixture's client through the consent page for scope,
// in the browser of cookie.
func (f *accountFixture) approve(cookie, clientID, scope string) {
	f.t.Helper()
	form := f.consentForm(f.get(f.query("client_id", clientID, "scope", scope), cookie))
	form.Set("decision", "allow")
	f.redirected(f.post(form, cookie))
}

// accountRequest sends a request to the account page with the session
// cookie (none for "").
func (f *accountFixture) accountRequest(method, target, body, cookie string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: signin.DefaultCookieName, Value: cookie})
	}
	w := httptest.NewRecorder()
	f.account.ServeHTTP(w, r)
	return w
}

var withdrawForm = regexp.MustCompile(`name="csrf_token" value="([^"]+)">\s*<input type="hidden" name="client_id" value="([^"]+)">`)

// withdrawForms returns the page's withdraw forms' CSRF tokens by client ID.
func withdrawForms(t *testing.T, w *httptest.ResponseRecorder) map[string]string {
	t.Helper()
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("want the account page, got %d %q: %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	forms := map[string]string{}
	for _, m := range withdrawForm.FindAllStringSubmatch(w.Body.String(), -1) {
		forms[m[2]] = m[1]
	}
	return forms
}

func TestAccountPageSendsToSignIn(t *testing.T) {
	f := newAccountFixture(t)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		w := f.accountRequest(method, "/account", "client_id=x", "")
		loc := w.Header().Get("Location")
		if w.Code != http.StatusSeeOther || loc != "https://gw.example/signin?return_to=%2Faccount" {
			t.Fatalf("%s without a session: %d %q, want 303 to sign in", method, w.Code, loc)
		}
		u, _ := url.Parse(loc)
		page := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, u.RequestURI(), nil)
		r.AddCookie(&http.Cookie{Name: signin.DefaultCookieName, Value: f.signIn()})
		f.page.ServeHTTP(page, r)
		if page.Code != http.StatusSeeOther || page.Header().Get("Location") != "/account" {
			t.Fatalf("the sign-in page does not lead back to the account page: %d %q", page.Code, page.Header().Get("Location"))
		}
	}
}

func TestAccountPageListsAndWithdraws(t *testing.T) {
	f := newAccountFixture(t)
	cookie := f.signIn()
	web := f.client(registry.Metadata{ClientName: "Order <Viewer>"})
	f.approve(cookie, f.clientID, "orders:read")
	f.approve(cookie, web, "orders:read orders:write")

	w := f.accountRequest(http.MethodGet, "/account", "", cookie)
	for name, want := range map[string]string{
		"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
		"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
	} {
		if got := w.Header().Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	forms := withdrawForms(t, w)
	if len(forms) != 2 || forms[f.clientID] == "" || forms[web] == "" {
		t.Fatalf("withdraw forms %v, want one per app", forms)
	}
	body := w.Body.String()
	for _, part := range []string{"Order &lt;Viewer&gt;", ">spa<", "See your orders and their status", "<code>orders:write</code>", `href="/signin/style.css"`} {
		if !strings.Contains(body, part) {
			t.Errorf("the page lacks %q", part)
		}
	}

	w = f.accountRequest(http.MethodPost, "/account", url.Values{"client_id": {web}, "csrf_token": {forms[web]}}.Encode(), cookie)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "https://gw.example/account?withdrawn" {
		t.Fatalf("withdraw: %d %q, want 303 back to the page: %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	if c, err := f.s.Store.GetConsent(context.Background(), f.userID, web); err != nil || c.Granted() || c.TokensRevokedAt.IsZero() {
		t.Fatalf("the consent after withdrawal: %+v, %v", c, err)
	}
	w = f.accountRequest(http.MethodGet, "/account?withdrawn", "", cookie)
	if forms := withdrawForms(t, w); len(forms) != 1 || forms[f.clientID] == "" {
		t.Fatalf("after withdrawing, the page lists %v", forms)
	}
	if !strings.Contains(w.Body.String(), `role="status"`) || strings.Contains(w.Body.String(), "Order &lt;Viewer&gt;") {
		t.Fatalf("the page after a withdrawal: %s", w.Body)
	}
	// The app must ask again; the other app's approval still holds.
	f.consentForm(f.get(f.query("client_id", web), cookie))
	f.wantCode(f.get(f.query(), cookie))

	// Withdrawn already: a clear notice, not a fault.
	w = f.accountRequest(http.MethodPost, "/account", url.Values{"client_id": {web}, "csrf_token": {forms[web]}}.Encode(), cookie)
	if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "already withdrew it") {
		t.Fatalf("withdrawing twice: %d %s", w.Code, w.Body)
	}
}

// The form acts only on the session's person: another person posting the
// first one's client ID, with a token valid for their own session, finds
// nothing of theirs to withdraw, and the first person's consent stands.
func TestAccountPageActsOnlyForTheSessionsPerson(t *testing.T) {
	f := newAccountFixture(t)
	f.approve(f.signIn(), f.clientID, "orders:read")
	bob, err := f.s.Registry.CreateUser(context.Background(), registry.UserMetadata{Username: "bob", Roles: []string{"reader"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	bobCookie, _, err := f.s.Sessions.Start(context.Background(), bob.UserID, false, session.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if forms := withdrawForms(t, f.accountRequest(http.MethodGet, "/account", "", bobCookie)); len(forms) != 0 {
		t.Fatalf("bob's page lists alice's apps: %v", forms)
	}
	form := url.Values{"client_id": {f.clientID}, "csrf_token": {signin.WithdrawCSRFToken(bobCookie, f.clientID)}, "user_id": {f.userID}}
	w := f.accountRequest(http.MethodPost, "/account", form.Encode(), bobCookie)
	if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "You have not allowed this app") {
		t.Fatalf("bob withdrawing alice's app: %d %s", w.Code, w.Body)
	}
	if c, err := f.s.Store.GetConsent(context.Background(), f.userID, f.clientID); err != nil || !c.Granted() {
		t.Fatalf("alice's consent after bob's post: %+v, %v", c, err)
	}
}

func TestAccountPageRefusesForgedForms(t *testing.T) {
	f := newAccountFixture(t)
	cookie := f.signIn()
	other := f.client(registry.Metadata{ClientName: "other", TokenEndpointAuthMethod: "none"})
	f.approve(cookie, f.clientID, "orders:read")
	f.approve(cookie, other, "orders:read")
	good := signin.WithdrawCSRFToken(cookie, f.clientID)
	for name, tc := range map[string]struct {
		body   string
		status int
	}{
		"missing token":          {url.Values{"client_id": {f.clientID}}.Encode(), http.StatusForbidden},
		"wrong token":            {url.Values{"client_id": {f.clientID}, "csrf_token": {strings.Repeat("A", len(good))}}.Encode(), http.StatusForbidden},
		"another session's":      {url.Values{"client_id": {f.clientID}, "csrf_token": {signin.WithdrawCSRFToken(f.signIn(), f.clientID)}}.Encode(), http.StatusForbidden},
		"another app's":          {url.Values{"client_id": {other}, "csrf_token": {good}}.Encode(), http.StatusForbidden},
		"a consent form's token": {url.Values{"client_id": {f.clientID}, "csrf_token": {signin.ConsentCSRFToken(cookie, f.clientID)}}.Encode(), http.StatusForbidden},
		"no client":              {url.Values{"csrf_token": {good}}.Encode(), http.StatusForbidden},
		"too long":               {"client_id=" + strings.Repeat("a", 8<<10), http.StatusBadRequest},
		"malformed":              {"client_id=%zz", http.StatusBadRequest},
	} {
		t.Run(name, func(t *testing.T) {
			w := f.accountRequest(http.MethodPost, "/account", tc.body, cookie)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), `role="alert"`) {
				t.Fatalf("%d %s, want %d with an alert", w.Code, w.Body, tc.status)
			}
		})
	}
	for _, id := range []string{f.clientID, other} {
		if c, err := f.s.Store.GetConsent(context.Background(), f.userID, id); err != nil || !c.Granted() {
			t.Fatalf("a refused form withdrew %s: %+v, %v", id, c, err)
		}
	}
	for _, method := range []string{http.MethodPut, http.MethodDelete} {
		if w := f.accountRequest(method, "/account", "", cookie); w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD, POST" {
			t.Errorf("%s: %d %q, want 405", method, w.Code, w.Header().Get("Allow"))
		}
	}
}

// The admin API's adapter lists standing consents only and withdraws as
// the page does.
func TestConsentAdmin(t *testing.T) {
	f := newAccountFixture(t)
	cookie := f.signIn()
	f.approve(cookie, f.clientID, "orders:read")
	ca := ConsentAdmin{Server: f.s}
	list, err := ca.ListConsents(context.Background(), f.userID)
	if err != nil || len(list) != 1 || list[0].ClientID != f.clientID || list[0].Scopes[0] != "orders:read" || !list[0].GrantedAt.Equal(f.now) {
		t.Fatalf("list: %+v, %v", list, err)
	}
	if err := ca.WithdrawConsent(context.Background(), f.userID, f.clientID); err != nil {
		t.Fatal(err)
	}
	if list, err := ca.ListConsents(context.Background(), f.userID); err != nil || len(list) != 0 {
		t.Fatalf("a withdrawn consent is listed: %+v, %v", list, err)
	}
	for _, id := range []string{f.clientID, "", "nosuch", strings.Repeat("x", 1000)} {
		if err := ca.WithdrawConsent(context.Background(), f.userID, id); err == nil || !strings.Contains(err.Error(), "no standing consent") {
			t.Errorf("withdrawing %.20q: %v, want ErrConsentNotFound", id, err)
		}
	}
}
