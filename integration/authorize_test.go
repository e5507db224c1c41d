package integration

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/scopegate/scopegate/internal/browsertest"
)

// authorizeCaddyfile is signinCaddyfile with a page standing in for the
// app's redirect URI.
var authorizeCaddyfile = strings.Replace(signinCaddyfile, `respond /account`, `respond /callback "the app" 200
	respond /account`, 1)

// A person goes through the authorization endpoint of a real gateway in a
// real browser: the app's request leads to the sign-in page, then to the
// consent page that names the app, and Allow sends the browser to the
// app's redirect URI with a code, the app's state and the issuer. Asked
// again, the remembered consent sends the code at once.
func TestBrowserAuthorizesAnApp(t *testing.T) {
	g := StartGateway(t, authorizeCaddyfile)
	signinUser(t, g, "alice", "violet-harbour-92")
	site := fmt.Sprintf("https://127.0.0.1:%d", g.HTTPPort)
	resp := do(t, http.MethodPost, g.AdminURL("/scopegate/clients"), map[string]any{
		"client_name": "Order Viewer", "token_endpoint_auth_method": "none", "scope": "orders:read",
		"grant_types": []string{"authorization_code"}, "redirect_uris": []string{site + "/callback"},
	})
	if resp.Status != http.StatusCreated {
		t.Fatalf("create client: %d %s", resp.Status, resp.Body)
	}
	var client struct {
		ID string `json:"client_id"`
	}
	resp.JSON(t, &client)
	sum := sha256.Sum256([]byte("a-code-verifier-of-at-least-forty-three-characters"))
	authorize := site + "/oauth2/authorize?" + url.Values{
		"response_type": {"code"}, "client_id": {client.ID}, "redirect_uri": {site + "/callback"},
		"scope": {"orders:read"}, "state": {"app-state-1"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}.Encode()
	ctx := browsertest.New(t)

	browse(t, ctx, "starting the authorization", chromedp.Navigate(authorize))
	signIn(t, ctx, "alice", "violet-harbour-92", false, "consent-allow")
	if body := run(t, ctx, "reading the consent page", chromedp.Text(chromedp.CSS("body"))); !strings.Contains(body, "Order Viewer") || !strings.Contains(body, "orders:read") {
		t.Fatalf("the consent page does not name the app and its scope: %q", body)
	}
	browse(t, ctx, "allowing", chromedp.Click(chromedp.ID("consent-allow")))
	wantCallback(t, ctx, site)

	browse(t, ctx, "asking again", chromedp.Navigate(authorize))
	wantCallback(t, ctx, site)
}

// wantCallback waits for the browser to reach the app's redirect URI and
// checks that it carries a code, the app's state and the issuer.
func wantCallback(t *testing.T, ctx context.Context, site string) {
	t.Helper()
	var at string
	if !eventually(10*time.Second, func() bool {
		at, _ = chromedp.Run(ctx, chromedp.Location())
		return strings.HasPrefix(at, site+"/callback?")
	}) {
		t.Fatalf("the browser is at %s, not the app's redirect URI", at)
	}
	u, _ := url.Parse(at)
	q := u.Query()
	if len(q.Get("code")) != 43 || q.Get("state") != "app-state-1" || q.Get("iss") != site || q.Has("error") {
		t.Fatalf("the redirect carries %v", q)
	}
}
