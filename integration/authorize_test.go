package integration

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/scopegate/scopegate/internal/browsertest"
)

// authorizeCaddyfile is signinCaddyfile with a page standing in for the
// app's redirect URI.
// and a route guarded for orders:read whose upstream echoes who called.
var authorizeCaddyfile = strings.Replace(signinCaddyfile, `respond /account`, `respond /callback "the app" 200
	handle /orders/* {
		scopegate_guard orders:read
		respond "user={http.request.header.X-User-Id} client={http.request.header.X-Client-Id} scope={http.request.header.X-Scope}" 200
	}
	respond /account`, 1)

// A person goes through the authorization endpoint of a real gateway in a
// real browser: the app's request leads to the sign-in page, then to the
// consent page that names the app, and Allow sends the browser to the
// app's redirect URI with a code, the app's state and the issuer. The app
// (golang.org/x/oauth2, unmodified) exchanges the code with its PKCE
// verifier for a token that acts for the person at a guarded route, whose
// upstream is told who. Asked again, the remembered consent sends a code at
// once; the first code sent again fails and takes its token with it.
func TestBrowserAuthorizesAnApp(t *testing.T) {
	g := StartGateway(t, authorizeCaddyfile)
	userID := signinUser(t, g, "alice", "violet-harbour-92")
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
	const verifier = "a-code-verifier-of-at-least-forty-three-characters"
	sum := sha256.Sum256([]byte(verifier))
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
	code := wantCallback(t, ctx, site)

	app := &oauth2.Config{
		ClientID: client.ID, RedirectURL: site + "/callback", Scopes: []string{"orders:read"},
		Endpoint: oauth2.Endpoint{AuthURL: site + "/oauth2/authorize", TokenURL: site + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams},
	}
	// Caddy's internal CA signs the gateway's certificate; the test trusts it
	// for this loopback address only.
	tlsClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	appCtx := context.WithValue(context.Background(), oauth2.HTTPClient, tlsClient)
	tok, err := app.Exchange(appCtx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchanging the code: %v", err)
	}
	call := func() (int, string) {
		t.Helper()
		resp, err := app.Client(appCtx, tok).Get(site + "/orders/7")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if status, body := call(); status != http.StatusOK || body != "user="+userID+" client="+client.ID+" scope=orders:read" {
		t.Fatalf("the guarded call with the person's token: %d %q", status, body)
	}

	browse(t, ctx, "asking again", chromedp.Navigate(authorize))
	if again := wantCallback(t, ctx, site); again == code {
		t.Fatal("the same code was issued twice")
	}
	if _, err := app.Exchange(appCtx, code, oauth2.VerifierOption(verifier)); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("the first code sent again: %v, want invalid_grant", err)
	}
	if status, _ := call(); status != http.StatusUnauthorized {
		t.Fatalf("the token of a code sent twice still works: %d", status)
	}
}

// wantCallback waits for the browser to reach the app's redirect URI,
// checks that it carries a code, the app's state and the issuer, and
// returns the code.
func wantCallback(t *testing.T, ctx context.Context, site string) string {
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
	return q.Get("code")
}
