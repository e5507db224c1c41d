package authserver

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/signin"
)

var returnToField = regexp.MustCompile(`name="return_to" value="([^"]*)"`)

// An authorization request of over 10 KiB, within the endpoint's bound
// (oauth.MaxAuthorizeQueryLen) but far over the 4 KiB the sign-in page
// used to keep, comes back whole after the person signs in: the endpoint
// sends them to the sign-in page with return_to, the page carries it
// through its form, and the request then goes on to consent and a code
// with the app's long state.
func TestAuthorizeLongRequestSurvivesSignIn(t *testing.T) {
	f := newAuthzFixture(t)
	const password = "correct-horse-battery-staple"
	if _, err := f.s.Registry.CreateUser(context.Background(), registry.UserMetadata{Username: "bob", Roles: []string{"reader"}}, password); err != nil {
		t.Fatal(err)
	}
	state := strings.Repeat("s", oauth.MaxStateLen)
	query := f.query("state", state, "nonce", strings.Repeat("n", oauth.MaxNonceLen),
		"x_app_context", strings.Repeat("ab/", 1700)) // an extension parameter, ignored but kept
	if len(query) < 10<<10 || len(query) > oauth.MaxAuthorizeQueryLen {
		t.Fatalf("the request is %d bytes, want 10 KiB to the endpoint's bound", len(query))
	}

	w := f.get(query, "")
	signInURL, err := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusSeeOther || err != nil || signInURL.Path != "/signin" {
		t.Fatalf("want a 303 to the sign-in page, got %d %q", w.Code, w.Header().Get("Location"))
	}
	returnTo := signInURL.Query().Get("return_to")

	// The person's browser loads the sign-in page and posts its form.
	page := serve(f.endpoint.page, httptest.NewRequest(http.MethodGet, signInURL.RequestURI(), nil))
	body := page.Body.String()
	csrf, hidden := csrfField.FindStringSubmatch(body), returnToField.FindStringSubmatch(body)
	if csrf == nil || hidden == nil || html.UnescapeString(hidden[1]) != returnTo {
		t.Fatalf("the sign-in form does not carry the %d-byte return_to", len(returnTo))
	}
	form := url.Values{"username": {"bob"}, "password": {password}, "csrf_token": {csrf[1]}, "return_to": {returnTo}}
	post := httptest.NewRequest(http.MethodPost, "/signin", strings.NewReader(form.Encode()))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range page.Result().Cookies() {
		post.AddCookie(c)
	}
	signedIn := serve(f.endpoint.page, post)
	if signedIn.Code != http.StatusSeeOther || signedIn.Header().Get("Location") != returnTo {
		t.Fatalf("signing in: %d to a Location of %d bytes, want 303 back to the %d-byte request",
			signedIn.Code, len(signedIn.Header().Get("Location")), len(returnTo))
	}
	var session string
	for _, c := range signedIn.Result().Cookies() {
		if c.Name == signin.DefaultCookieName {
			session = c.Value
		}
	}

	back, _ := url.Parse(returnTo)
	consent := f.consentForm(f.get(back.RawQuery, session))
	consent.Set("decision", "allow")
	if q := f.redirected(f.post(consent, session)); q.Get("code") == "" || q.Get("state") != state {
		t.Fatalf("after sign-in the request did not end in a code with its state: %v", q)
	}
}

// serve runs h on r and returns the recorded answer.
func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
