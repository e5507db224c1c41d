package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/scopegate/scopegate/internal/browsertest"
)

// An app built on the npm openid-client, unmodified, lives a whole life with
// a person who signs in and approves in a real Chromium: default OpenID
// Connect discovery, the authorization code with PKCE and a nonce, the
// id_token (nonce, at_hash and claims checked by the library), UserInfo, a
// guarded call; then, with the person away, a refresh that rotates the
// refresh token, revocation of the new refresh token, which ends the grant
// and its access tokens; and last RP-initiated logout, which the browser
// follows back to the app and which ends the person's session at the
// gateway.
func TestOpenIDClientLifeInABrowser(t *testing.T) {
	node := requireOpenIDClient(t)
	g := StartGateway(t, authorizeCaddyfile)
	userID := signinUser(t, g, "alice", "violet-harbour-92")
	site := fmt.Sprintf("https://127.0.0.1:%d", g.HTTPPort)
	redirectURI, signedOut := site+"/callback", site+"/callback?signed-out"
	created := do(t, http.MethodPost, g.AdminURL("/scopegate/clients"), map[string]any{
		"client_name": "Order Viewer (openid-client)", "token_endpoint_auth_method": "none", "scope": oidcScopes,
		"grant_types": []string{"authorization_code", "refresh_token"}, "redirect_uris": []string{redirectURI},
		"post_logout_redirect_uris": []string{signedOut},
	})
	if created.Status != http.StatusCreated {
		t.Fatalf("create client: %d %s", created.Status, created.Body)
	}
	var client struct {
		ID string `json:"client_id"`
	}
	created.JSON(t, &client)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	app := startOpenIDClient(t, ctx, node, caddyRootCA(t, g),
		"ISSUER="+site, "CLIENT_ID="+client.ID, "REDIRECT_URI="+redirectURI, "SCOPE="+oidcScopes,
		"RESOURCE_URL="+site+"/orders/7", "POST_LOGOUT_REDIRECT_URI="+signedOut)
	var start struct {
		AuthorizationURL string `json:"authorization_url"`
		Nonce            string `json:"nonce"`
	}
	app.read(&start)

	browser := browsertest.New(t)
	browse(t, browser, "opening the app's authorization URL", chromedp.Navigate(start.AuthorizationURL))
	signIn(t, browser, "alice", "violet-harbour-92", false, "consent-allow")
	browse(t, browser, "allowing", chromedp.Click(chromedp.ID("consent-allow")))
	app.write(awaitLocation(t, browser, redirectURI+"?", "the app's redirect URI"))

	var granted struct {
		IDTokenClaims map[string]any `json:"id_token_claims"`
		UserInfo      map[string]any `json:"userinfo"`
		Resource      struct {
			Status int    `json:"status"`
			Body   string `json:"body"`
		} `json:"resource"`
		Error *struct{ Message, Cause string } `json:"error"`
	}
	app.read(&granted)
	switch c := granted.IDTokenClaims; {
	case granted.Error != nil:
		t.Fatalf("the grant failed: %s (%s)", granted.Error.Message, granted.Error.Cause)
	case c["sub"] != userID || c["aud"] != client.ID || c["nonce"] != start.Nonce:
		t.Fatalf("id_token claims %v", c)
	case granted.UserInfo["sub"] != userID || granted.UserInfo["name"] != "Alice Example":
		t.Fatalf("UserInfo %v", granted.UserInfo)
	case granted.Resource.Status != http.StatusOK || !strings.HasPrefix(granted.Resource.Body, "user="+userID+" "):
		t.Fatalf("the guarded call: %d %q", granted.Resource.Status, granted.Resource.Body)
	}

	type call struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}
	var life struct {
		Refreshed struct {
			Rotated  bool   `json:"rotated"`
			Scope    string `json:"scope"`
			Resource call   `json:"resource"`
		} `json:"refreshed"`
		Revoked struct {
			RefreshError string `json:"refresh_error"`
			Resource     call   `json:"resource"`
		} `json:"revoked"`
		EndSessionURL string `json:"end_session_url"`
		LogoutState   string `json:"logout_state"`
	}
	app.read(&life)
	switch r := life.Refreshed; {
	case !r.Rotated || r.Scope != oidcScopes || r.Resource.Status != http.StatusOK:
		t.Fatalf("the refresh: %+v, want a rotated refresh token and a token the guard admits", r)
	case life.Revoked.RefreshError != "invalid_grant" || life.Revoked.Resource.Status != http.StatusUnauthorized:
		t.Fatalf("after revoking the refresh token: %+v, want invalid_grant and its access token refused", life.Revoked)
	}
	app.wait()

	// RP-initiated logout: the id_token hint names the signed-in person, so
	// the gateway ends the session at once and returns to the app.
	browse(t, browser, "opening the app's logout URL", chromedp.Navigate(life.EndSessionURL))
	back, err := url.Parse(awaitLocation(t, browser, signedOut, "the app's post-logout URI"))
	if err != nil || back.Query().Get("state") != life.LogoutState {
		t.Fatalf("the logout came back to %v without the app's state %q", back, life.LogoutState)
	}
	if sessions := userSessions(t, g, userID); len(sessions) != 0 {
		t.Fatalf("the person still has sessions after logout: %v", sessions)
	}
	browse(t, browser, "opening the sign-in page again",
		chromedp.Navigate(site+"/signin"), chromedp.WaitVisible(chromedp.ID("username")))
}

// awaitLocation waits until the browser is at a URL that begins with
// prefix, and returns it.
func awaitLocation(t *testing.T, ctx context.Context, prefix, what string) string {
	t.Helper()
	var at string
	if !eventually(10*time.Second, func() bool {
		at, _ = chromedp.Run(ctx, chromedp.Location())
		return strings.HasPrefix(at, prefix)
	}) {
		t.Fatalf("the browser is at %s, not %s", at, what)
	}
	return at
}
