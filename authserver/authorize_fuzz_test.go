package authserver

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/signin"
)

// FuzzAuthorizeEndpoint sends arbitrary authorization queries and consent
// forms, from a signed-in browser, to the endpoint on a real store: the
// answer is never a server fault, and a redirect goes only to the issuer
// (to sign in) or to the client's registered redirect URI.
func FuzzAuthorizeEndpoint(f *testing.F) {
	fx := newAuthzFixture(f)
	cookie := fx.signIn()
	valid := fx.query()
	for _, seed := range []struct{ query, form string }{
		{valid, ""},
		{fx.query("prompt", "none"), ""},
		{fx.query("prompt", "login consent", "max_age", "0"), ""},
		{fx.query("redirect_uri", "https://evil.example/cb"), ""},
		{fx.query("scope", "admin billing"), "request_id=x&csrf_token=y&decision=allow"},
		{"client_id=%zz&redirect_uri=", "request_id=%zz"},
		{strings.Replace(valid, "response_type=code", "response_type=token", 1), "decision=deny"},
		{fx.query("request", "eyJhbGciOiJub25lIn0.e30.", "response_type", ""), ""},
		{fx.query("request_uri", "https://evil.example/r", "redirect_uri", "https://evil.example/cb"), ""},
		{fx.query("prompt", "login consent", "state", strings.Repeat("s", 1024), "x", strings.Repeat("a/", 4<<10)), ""},
	} {
		f.Add(seed.query, seed.form)
	}
	f.Fuzz(func(t *testing.T, query, form string) {
		for _, w := range []interface {
			Result() *http.Response
		}{fx.get(query, cookie), fx.postRaw(form, cookie)} {
			resp := w.Result()
			if resp.StatusCode >= 500 {
				t.Fatalf("status %d for query %q form %q", resp.StatusCode, query, form)
			}
			loc := resp.Header.Get("Location")
			if loc == "" {
				continue
			}
			if !strings.HasPrefix(loc, "https://gw.example/signin?") && !strings.HasPrefix(loc, testRedirectURI+"?") {
				t.Fatalf("redirect to %q for query %q form %q", loc, query, form)
			}
			checkReturnTo(t, loc, query)
		}
	})
}

// checkReturnTo checks a redirect to the sign-in page: its return_to is
// one the page follows, and no longer than the request it came from, so
// that every accepted request finds its way back after sign-in.
func checkReturnTo(t *testing.T, loc, query string) {
	t.Helper()
	page, ok := strings.CutPrefix(loc, "https://gw.example/signin?")
	if !ok {
		return
	}
	values, err := url.ParseQuery(page)
	if err != nil {
		t.Fatalf("sign-in URL %q: %v", loc, err)
	}
	returnTo := values.Get("return_to")
	if signin.ReturnTo(returnTo, []string{testAuthorizePath}) != returnTo || len(returnTo) > len(testAuthorizePath)+1+len(query) {
		t.Fatalf("return_to %q of %d bytes for a query of %d bytes is not one the sign-in page follows", returnTo, len(returnTo), len(query))
	}
}
