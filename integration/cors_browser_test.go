package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/scopegate/scopegate/internal/browsertest"
)

// appPage is the single-page app's page: the test runs its script in it.
const appPage = "<!doctype html><title>Order Viewer</title><p>the app"

// A single-page app, served from its own origin, talks to a real gateway
// from a real Chromium with fetch(): it reads the discovery document,
// exchanges an authorization code (which a person got for it, as a public
// client with PKCE) at the token endpoint and reads UserInfo with the
// token, whose Authorization header makes the browser send a preflight
// first. A page of another origin (the same host at another port) reads
// the public discovery document too, but its fetch of UserInfo with the
// same token, and its exchange of a second code, fail in the page with a
// TypeError; that code, never redeemed, still works for the app.
func TestBrowserAppFetchesAcrossOrigins(t *testing.T) {
	g := StartGateway(t, authorizeCaddyfile)
	userID := signinUser(t, g, "alice", "violet-harbour-92")
	site := fmt.Sprintf("https://127.0.0.1:%d", g.HTTPPort)
	serve := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(appPage))
	})
	app, other := httptest.NewServer(serve), httptest.NewServer(serve)
	t.Cleanup(app.Close)
	t.Cleanup(other.Close)
	redirectURI := app.URL + "/callback"
	clientID := createPublicClient(t, g, "Order Viewer (browser)", redirectURI)
	allowScopes(t, g, clientID, oidcScopes)

	verifier := oauth2.GenerateVerifier()
	authorize := func(state string) string {
		return site + "/oauth2/authorize?" + url.Values{
			"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirectURI},
			"scope": {"openid profile"}, "state": {state},
			"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
		}.Encode()
	}
	person := trustingClient(t, caddyRootCA(t, g), redirectURI)
	firstCode := codeOf(t, signInAndAllow(t, person, authorize("first"), "alice", "violet-harbour-92"), redirectURI)
	resp, _ := visit(t, person, http.MethodGet, authorize("second"), nil) // consent remembered: a code at once
	secondCode := callbackQuery(t, resp, redirectURI).Get("code")

	browser := browsertest.New(t)
	args := pageArgs{Site: site, ClientID: clientID, Verifier: verifier, RedirectURI: redirectURI}

	browse(t, browser, "opening the app", chromedp.Navigate(app.URL+"/"))
	var signedIn struct {
		Issuer, Sub, AccessToken, Scope string
		TokenStatus                     int
	}
	args.Code = firstCode
	fetchInPage(t, browser, "the app's fetches", appScript, args, &signedIn)
	if signedIn.Issuer != site || signedIn.TokenStatus != http.StatusOK || signedIn.Sub != userID || signedIn.Scope != "openid profile" {
		t.Fatalf("the app read issuer %q, token status %d, scope %q, UserInfo sub %q; want %s, 200, openid profile, %s",
			signedIn.Issuer, signedIn.TokenStatus, signedIn.Scope, signedIn.Sub, site, userID)
	}

	browse(t, browser, "opening a page of another origin", chromedp.Navigate(other.URL+"/"))
	var foreign struct{ Issuer, UserInfo, Token string }
	args.Code, args.AccessToken = secondCode, signedIn.AccessToken
	fetchInPage(t, browser, "the other origin's fetches", otherScript, args, &foreign)
	if foreign.Issuer != site || !strings.HasPrefix(foreign.UserInfo, "TypeError") || !strings.HasPrefix(foreign.Token, "TypeError") {
		t.Fatalf("from another origin: discovery issuer %q, UserInfo %q, token %q; want the issuer and two TypeErrors",
			foreign.Issuer, foreign.UserInfo, foreign.Token)
	}

	browse(t, browser, "back to the app", chromedp.Navigate(app.URL+"/"))
	fetchInPage(t, browser, "the app's second exchange", appScript, args, &signedIn)
	if signedIn.TokenStatus != http.StatusOK || signedIn.Sub != userID {
		t.Fatalf("the code the other origin sent: token status %d, UserInfo sub %q; want it unused and redeemed now", signedIn.TokenStatus, signedIn.Sub)
	}
}

// pageArgs are what a page's script is given.
type pageArgs struct {
	Site, ClientID, Code, Verifier, RedirectURI, AccessToken string
}

// appScript is the app: discovery, the code exchange, UserInfo.
const appScript = `async (a) => {
	const discovery = await (await fetch(a.Site + "/.well-known/openid-configuration")).json();
	const res = await fetch(discovery.token_endpoint, {
		method: "POST",
		headers: {"Content-Type": "application/x-www-form-urlencoded"},
		body: new URLSearchParams({grant_type: "authorization_code", client_id: a.ClientID, code: a.Code,
			code_verifier: a.Verifier, redirect_uri: a.RedirectURI}),
	});
	const tokens = await res.json();
	const info = await (await fetch(discovery.userinfo_endpoint, {headers: {Authorization: "Bearer " + tokens.access_token}})).json();
	return {Issuer: discovery.issuer, TokenStatus: res.status, Scope: tokens.scope || "", AccessToken: tokens.access_token || "", Sub: info.sub || ""};
}`

// otherScript is another origin's page: discovery, then UserInfo with the
// app's token and the exchange of the app's code, each caught.
const otherScript = `async (a) => {
	const discovery = await (await fetch(a.Site + "/.well-known/openid-configuration")).json();
	const attempt = async (p) => { try { const r = await p; return "read " + r.status; } catch (e) { return e.name + ": " + e.message; } };
	return {
		Issuer: discovery.issuer,
		UserInfo: await attempt(fetch(discovery.userinfo_endpoint, {headers: {Authorization: "Bearer " + a.AccessToken}})),
		Token: await attempt(fetch(discovery.token_endpoint, {
			method: "POST",
			headers: {"Content-Type": "application/x-www-form-urlencoded"},
			body: new URLSearchParams({grant_type: "authorization_code", client_id: a.ClientID, code: a.Code,
				code_verifier: a.Verifier, redirect_uri: a.RedirectURI}),
		})),
	};
}`

// fetchInPage runs script, an async function of args, in the browser's
// page and decodes what it returns into out.
func fetchInPage(t *testing.T, ctx context.Context, what, script string, args pageArgs, out any) {
	t.Helper()
	raw, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	expr := "(" + script + ")(" + string(raw) + ").then(JSON.stringify)"
	result := run(t, ctx, what, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err := json.Unmarshal([]byte(result), out); err != nil {
		t.Fatalf("%s: %v in %q", what, err, result)
	}
}

// codeOf returns the code of a redirect to the app.
func codeOf(t *testing.T, location, redirectURI string) string {
	t.Helper()
	u, err := url.Parse(location)
	if err != nil || !strings.HasPrefix(location, redirectURI+"?") || u.Query().Get("code") == "" {
		t.Fatalf("not a redirect to the app with a code: %q", location)
	}
	return u.Query().Get("code")
}
