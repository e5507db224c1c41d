package integration

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/scopegate/scopegate/internal/browsertest"
)

// consentsCaddyfile is a plain-HTTP gateway with the authorization
// endpoint, a page standing in for the app's redirect URI, and a route
// guarded for orders:read whose upstream says who called.
const consentsCaddyfile = `{
	admin 127.0.0.1:{{.AdminPort}}
	auto_https off
	scopegate {
		issuer  http://127.0.0.1:{{.HTTPPort}}
		storage {{.Dir}}/scopegate.db
	}
}

http://127.0.0.1:{{.HTTPPort}} {
	scopegate_issuer
	respond /callback "the app" 200
	handle /orders/* {
		scopegate_guard orders:read
		respond "user={http.request.header.X-User-Id} client={http.request.header.X-Client-Id}" 200
	}
	respond "not found" 404
}
`

// personBrowser is a person's browser without a page engine: it keeps
// cookies and never follows a redirect, so each step can be checked.
type personBrowser struct {
	t      *testing.T
	client *http.Client
}

func newPersonBrowser(t *testing.T) *personBrowser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &personBrowser{t: t, client: &http.Client{
		Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// send makes one request (a form when form is not nil) and returns the
// answer and its body.
func (b *personBrowser) send(method, target string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, string(raw)
}

var (
	consentRequestID = regexp.MustCompile(`name="request_id" value="([^"]+)"`)
	consentPageCSRF  = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
)

// authorize goes through the authorization endpoint as a person would:
// signing in when sent to, allowing on the consent page, and returns the
// code the app receives.
func (b *personBrowser) authorize(g *Gateway, authURL, username, password string) string {
	b.t.Helper()
	resp, page := b.send(http.MethodGet, authURL, nil)
	if loc, _ := url.Parse(resp.Header.Get("Location")); resp.StatusCode == http.StatusSeeOther && loc.Path == "/signin" {
		_, form := b.send(http.MethodGet, loc.String(), nil)
		token := consentPageCSRF.FindStringSubmatch(form)
		if token == nil {
			b.t.Fatalf("the sign-in page has no CSRF token: %s", form)
		}
		resp, _ = b.send(http.MethodPost, g.URL("/signin"), url.Values{"username": {username}, "password": {password},
			"csrf_token": {token[1]}, "return_to": {loc.Query().Get("return_to")}})
		if resp.StatusCode != http.StatusSeeOther {
			b.t.Fatalf("signing in: %d", resp.StatusCode)
		}
		resp, page = b.send(http.MethodGet, g.URL(resp.Header.Get("Location")), nil)
	}
	if resp.StatusCode == http.StatusOK {
		id, token := consentRequestID.FindStringSubmatch(page), consentPageCSRF.FindStringSubmatch(page)
		if id == nil || token == nil {
			b.t.Fatalf("not the consent page: %s", page)
		}
		resp, _ = b.send(http.MethodPost, g.URL("/oauth2/authorize"), url.Values{"request_id": {id[1]}, "csrf_token": {token[1]}, "decision": {"allow"}})
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Path != "/callback" || loc.Query().Get("code") == "" {
		b.t.Fatalf("the flow ended at %d %q, not the app's redirect URI with a code", resp.StatusCode, loc)
	}
	return loc.Query().Get("code")
}

// An admin withdraws a person's consent to an app with the CLI, against a
// real gateway: the app's token for the person, accepted a moment before,
// is refused on its next request (401 invalid_token), and the consent is
// no longer listed, by the CLI or the API.
func TestAdminWithdrawalEndsAnAppsTokens(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, consentsCaddyfile)
	userID := signinUser(t, g, "dana", "copper-kettle-3371")
	web := createClient(t, g, map[string]any{
		"client_name": "Order Desk", "scope": "orders:read", "grant_types": []string{"authorization_code"},
		"redirect_uris": []string{g.URL("/callback")},
	})
	app := &oauth2.Config{
		ClientID: web.ClientID, ClientSecret: web.ClientSecret, RedirectURL: g.URL("/callback"), Scopes: []string{"orders:read"},
		Endpoint: oauth2.Endpoint{AuthURL: g.URL("/oauth2/authorize"), TokenURL: g.URL("/oauth2/token"), AuthStyle: oauth2.AuthStyleInHeader},
	}
	verifier := oauth2.GenerateVerifier()
	code := newPersonBrowser(t).authorize(g, app.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), "dana", "copper-kettle-3371")
	tok, err := app.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchanging the code: %v", err)
	}
	call := func() apiResponse {
		return do(t, http.MethodGet, g.URL("/orders/1"), nil, "Authorization", "Bearer "+tok.AccessToken)
	}
	if r := call(); r.Status != http.StatusOK || string(r.Body) != "user="+userID+" client="+web.ClientID {
		t.Fatalf("the app's call for the person: %d %s", r.Status, r.Body)
	}

	admin := []string{"--address", fmt.Sprintf("127.0.0.1:%d", g.AdminPort)}
	listed := cliOK(t, nil, append([]string{"user", "consents", userID}, admin...)...)
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(web.ClientID) + ` +\S+ +orders:read$`).MatchString(listed.Stdout) {
		t.Fatalf("user consents printed:\n%s", listed.Stdout)
	}
	cliOK(t, nil, append([]string{"user", "withdraw-consent", userID, web.ClientID}, admin...)...)

	r := call()
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("the app's token after the admin withdrew the consent: %d %q", r.Status, r.Header.Get("WWW-Authenticate"))
	}
	if out := cliOK(t, nil, append([]string{"user", "consents", userID}, admin...)...).Stdout; out != "No apps allowed.\n" {
		t.Errorf("user consents after withdrawing: %q", out)
	}
	if r := do(t, http.MethodGet, g.AdminURL("/scopegate/users/"+userID+"/consents"), nil); r.Status != http.StatusOK || strings.TrimSpace(string(r.Body)) != `{"consents":[]}` {
		t.Errorf("GET consents after withdrawing: %d %s", r.Status, r.Body)
	}
	if stderr := cliFails(t, nil, append([]string{"user", "withdraw-consent", userID, web.ClientID}, admin...)...); stderr != "scopegate: the user has no standing consent to this client (HTTP 404)\n" {
		t.Errorf("withdrawing twice: %q", stderr)
	}
}

// confidentialCaddyfile is authorizeCaddyfile with the operator's words
// for the scopes.
var confidentialCaddyfile = strings.Replace(authorizeCaddyfile, "return_paths /account", `return_paths /account
			scope_description orders:read  See your orders and their status
			scope_description orders:write "Place and cancel orders for you"`, 1)

// A person goes through a confidential web app's flow in a real browser:
// the consent page names the app and says what each scope means in the
// operator's words; the app (golang.org/x/oauth2, client_secret_basic and
// PKCE) exchanges the code and calls a guarded route whose upstream is
// told who the person is. Asked again, the remembered consent sends a code
// at once; a request for one more scope asks again and lists it. Then the
// person withdraws the app on the account page, and the app's tokens are
// refused on their next request (401 invalid_token).
func TestBrowserConfidentialAppConsentRememberedAskedAgainAndWithdrawn(t *testing.T) {
	g := StartGateway(t, confidentialCaddyfile)
	userID := signinUser(t, g, "alice", "violet-harbour-92")
	if r := do(t, http.MethodPatch, g.AdminURL("/scopegate/roles/buyer"), map[string]any{"scopes": []string{"orders:read", "orders:write"}}); r.Status != http.StatusOK {
		t.Fatalf("patch role: %d %s", r.Status, r.Body)
	}
	site := fmt.Sprintf("https://127.0.0.1:%d", g.HTTPPort)
	web := createClient(t, g, map[string]any{
		"client_name": "Order Desk", "scope": "orders:read orders:write", "grant_types": []string{"authorization_code"},
		"redirect_uris": []string{site + "/callback"},
	})
	app := func(scopes ...string) *oauth2.Config {
		return &oauth2.Config{
			ClientID: web.ClientID, ClientSecret: web.ClientSecret, RedirectURL: site + "/callback", Scopes: scopes,
			Endpoint: oauth2.Endpoint{AuthURL: site + "/oauth2/authorize", TokenURL: site + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader},
		}
	}
	// Caddy's internal CA signs the gateway's certificate; the test trusts it
	// for this loopback address only.
	tlsClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	appCtx := context.WithValue(context.Background(), oauth2.HTTPClient, tlsClient)
	ctx := browsertest.New(t)
	// authorize sends the browser to the app's authorization URL for scopes
	// and returns the PKCE verifier the app keeps.
	authorize := func(scopes ...string) (*oauth2.Config, string) {
		t.Helper()
		cfg, verifier := app(scopes...), oauth2.GenerateVerifier()
		browse(t, ctx, "starting the authorization", chromedp.Navigate(cfg.AuthCodeURL("app-state-1", oauth2.S256ChallengeOption(verifier))))
		return cfg, verifier
	}
	exchange := func(cfg *oauth2.Config, verifier string) *oauth2.Token {
		t.Helper()
		tok, err := cfg.Exchange(appCtx, wantCallback(t, ctx, site), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchanging the code: %v", err)
		}
		return tok
	}
	call := func(tok *oauth2.Token) (int, string, string) {
		t.Helper()
		resp, err := app().Client(appCtx, tok).Get(site + "/orders/7")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(body)
	}

	cfg, verifier := authorize("orders:read")
	signIn(t, ctx, "alice", "violet-harbour-92", false, "consent-allow")
	if page := run(t, ctx, "reading the consent page", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(page, "Order Desk wants to access your account") ||
		!strings.Contains(page, "See your orders and their status") {
		t.Fatalf("the consent page does not name the app or describe its scope in the operator's words: %q", page)
	}
	browse(t, ctx, "allowing", chromedp.Click(chromedp.ID("consent-allow")))
	first := exchange(cfg, verifier)
	if status, _, body := call(first); status != http.StatusOK || body != "user="+userID+" client="+web.ClientID+" scope=orders:read" {
		t.Fatalf("the guarded call with the person's token: %d %q", status, body)
	}

	// Remembered: nobody clicks Allow, so reaching the app proves that no
	// consent page stood in the way.
	cfg, verifier = authorize("orders:read")
	exchange(cfg, verifier)

	cfg, verifier = authorize("orders:read", "orders:write")
	browse(t, ctx, "the consent page again", chromedp.WaitVisible(chromedp.ID("consent-allow")))
	if scopes := run(t, ctx, "reading the scopes", chromedp.Text(chromedp.ID("consent-scopes"))); !strings.Contains(scopes, "Place and cancel orders for you") {
		t.Fatalf("the consent page for one more scope does not list it: %q", scopes)
	}
	browse(t, ctx, "allowing the new scope", chromedp.Click(chromedp.ID("consent-allow")))
	wider := exchange(cfg, verifier)
	if got, _ := wider.Extra("scope").(string); got != "orders:read orders:write" {
		t.Fatalf("granted %q, want both scopes", got)
	}

	withdraw := chromedp.CSS(`button[id="withdraw-` + web.ClientID + `"]`)
	browse(t, ctx, "the account page", chromedp.Navigate(site+"/account"), chromedp.WaitVisible(withdraw))
	if page := run(t, ctx, "reading the account page", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(page, "Order Desk") ||
		!strings.Contains(page, "Place and cancel orders for you") || !strings.Contains(page, "Alice Example") {
		t.Fatalf("the account page: %q", page)
	}
	browse(t, ctx, "withdrawing", chromedp.Click(withdraw), chromedp.WaitVisible(chromedp.ID("account-notice")))
	if err := waitLocation(ctx, site+"/account?withdrawn"); err != nil {
		t.Fatal(err)
	}
	if page := run(t, ctx, "reading the page after withdrawing", chromedp.Text(chromedp.CSS("main"))); strings.Contains(page, "Order Desk") ||
		!strings.Contains(page, "You have not allowed any app") {
		t.Fatalf("the account page after withdrawing: %q", page)
	}
	for name, tok := range map[string]*oauth2.Token{"first": first, "wider": wider} {
		if status, challenge, _ := call(tok); status != http.StatusUnauthorized || !strings.Contains(challenge, `error="invalid_token"`) {
			t.Errorf("the %s token after the person withdrew: %d %q, want 401 invalid_token", name, status, challenge)
		}
	}
}
