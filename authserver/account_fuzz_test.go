package authserver

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/signin"
)

// FuzzAccountPage posts arbitrary withdraw forms, from a signed-in browser
// whose person allowed an app, to the account page on a real store: the
// answer is never a server fault, a redirect goes only back to the page,
// and a consent is withdrawn only by a form whose CSRF token is the one the
// page gives this session for that app.
func FuzzAccountPage(f *testing.F) {
	fx := newAccountFixture(f)
	cookie := fx.signIn()
	fx.approve(cookie, fx.clientID, "orders:read")
	good := url.Values{"client_id": {fx.clientID}, "csrf_token": {signin.WithdrawCSRFToken(cookie, fx.clientID)}}
	for _, seed := range []string{
		good.Encode(),
		"client_id=" + fx.clientID,
		"client_id=%zz&csrf_token=x",
		"client_id=a&client_id=b&csrf_token=" + signin.WithdrawCSRFToken(cookie, "a"),
		"csrf_token=" + signin.WithdrawCSRFToken(cookie, ""),
		"client_id=" + strings.Repeat("x", 300) + "&csrf_token=" + signin.WithdrawCSRFToken(cookie, strings.Repeat("x", 300)),
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, form string) {
		w := fx.accountRequest(http.MethodPost, "/account", form, cookie)
		resp := w.Result()
		if resp.StatusCode >= 500 {
			t.Fatalf("status %d for form %q", resp.StatusCode, form)
		}
		loc := resp.Header.Get("Location")
		if loc == "" {
			return
		}
		if loc != "https://gw.example/account?withdrawn" {
			t.Fatalf("redirect to %q for form %q", loc, form)
		}
		fields, err := url.ParseQuery(form)
		if err != nil || !signin.ValidWithdrawCSRF(cookie, fields.Get("client_id"), fields.Get("csrf_token")) {
			t.Fatalf("withdrawn by form %q without this session's token for its app", form)
		}
	})
}
