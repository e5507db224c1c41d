package integration

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/scopegate/scopegate/internal/browsertest"
)

// TestBrowserLogsOutAtTheAppsRequest: a person signed in at the gateway
// follows an app's RP-initiated logout link in Chromium. The gateway asks
// "Sign out of Acme Cloud?" naming the app; confirming ends the session
// (no cookie, no session in the store) and the browser lands on the app's
// registered post_logout_redirect_uri, on another origin, with its state:
// the page's CSP lets the form end there, and only there. A look-alike
// URI the app did not register ends on the gateway's signed-out page.
func TestBrowserLogsOutAtTheAppsRequest(t *testing.T) {
	g := StartGateway(t, signinCaddyfile)
	userID := signinUser(t, g, "alice", "violet-harbour-92")
	site := fmt.Sprintf("https://127.0.0.1:%d", g.HTTPPort)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "<!doctype html><title>App</title><p id=back>back at the app</p>")
	}))
	t.Cleanup(app.Close)
	bye := app.URL + "/bye"
	client := createClient(t, g, map[string]any{
		"client_name": "Orders app", "grant_types": []string{"authorization_code"},
		"redirect_uris": []string{app.URL + "/callback"}, "post_logout_redirect_uris": []string{bye},
	})
	ctx := browsertest.New(t)
	logoutURL := func(redirect string) string {
		return site + "/oauth2/logout?" + url.Values{
			"client_id": {client.ClientID}, "post_logout_redirect_uri": {redirect}, "state": {"st 1"},
		}.Encode()
	}

	browse(t, ctx, "loading the sign-in page", chromedp.Navigate(site+"/signin"))
	signIn(t, ctx, "alice", "violet-harbour-92", false, "signed-in-name")
	browse(t, ctx, "the app's logout link", chromedp.Navigate(logoutURL(bye)), chromedp.WaitVisible(chromedp.ID("logout-confirm")))
	heading := run(t, ctx, "reading the heading", chromedp.Text(chromedp.ID("logout-heading")))
	note := run(t, ctx, "reading the note", chromedp.Text(chromedp.ID("logout-note")))
	if heading != "Sign out of Acme Cloud?" || !strings.Contains(note, "Orders app") {
		t.Fatalf("heading %q, note %q", heading, note)
	}
	if len(userSessions(t, g, userID)) != 1 {
		t.Fatal("showing the question ended the session")
	}
	browse(t, ctx, "confirming", chromedp.Click(chromedp.ID("logout-confirm")), chromedp.WaitVisible(chromedp.ID("back")))
	if err := waitLocation(ctx, bye+"?state=st+1"); err != nil {
		t.Fatal(err)
	}
	if c, _ := browsertest.Cookie(ctx, site+"/", "__Host-scopegate_session"); c != nil {
		t.Fatalf("the session cookie outlived the logout: %+v", c)
	}
	if s := userSessions(t, g, userID); len(s) != 0 {
		t.Fatalf("sessions after the logout: %v", s)
	}

	browse(t, ctx, "signing in again", chromedp.Navigate(site+"/signin"))
	signIn(t, ctx, "alice", "violet-harbour-92", false, "signed-in-name")
	browse(t, ctx, "a look-alike redirect", chromedp.Navigate(logoutURL(bye+"/../evil")), chromedp.WaitVisible(chromedp.ID("logout-confirm")),
		chromedp.Click(chromedp.ID("logout-confirm")), chromedp.WaitVisible(chromedp.ID("logout-done")))
	if err := waitLocation(ctx, site+"/oauth2/logout"); err != nil {
		t.Fatal(err)
	}
	if s := userSessions(t, g, userID); len(s) != 0 {
		t.Fatalf("sessions after the second logout: %v", s)
	}
}
