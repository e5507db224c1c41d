package integration

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// The OpenID Connect checks that can be reproduced without the OpenID
// Foundation's hosted suite, on a real gateway with an HTTP person, go-oidc
// and golang.org/x/oauth2 (both unmodified): the discovery document holds
// every field Discovery requires; prompt=none without a session answers
// login_required to the app; an id_token's signature and claims verify,
// nonce included; max_age=0 makes a signed-in person sign in again, and
// the new id_token's auth_time says so; UserInfo answers a token with
// openid and refuses one without it (403 insufficient_scope).
func TestOpenIDConnectFlow(t *testing.T) {
	g := StartGateway(t, authorizeCaddyfile)
	userID := signinUser(t, g, "alice", "violet-harbour-92")
	site := fmt.Sprintf("https://127.0.0.1:%d", g.HTTPPort)
	redirectURI := site + "/callback"
	clientID := createPublicClient(t, g, "Order Viewer (go-oidc)", redirectURI)
	allowScopes(t, g, clientID, oidcScopes)
	rootCA := caddyRootCA(t, g)
	plain := trustingClient(t, rootCA, "")

	resp, body := visit(t, plain, http.MethodGet, site+"/.well-known/openid-configuration", nil)
	for _, field := range []string{
		`"issuer":"` + site + `"`, `"authorization_endpoint"`, `"token_endpoint"`, `"userinfo_endpoint":"` + site + `/oauth2/userinfo"`,
		`"jwks_uri"`, `"response_types_supported":["code"]`, `"subject_types_supported":["public"]`,
		`"id_token_signing_alg_values_supported":["ES256","RS256"]`, `"scopes_supported"`, `"claims_supported"`,
		`"grant_types_supported"`, `"token_endpoint_auth_methods_supported"`, `"code_challenge_methods_supported":["S256"]`,
	} {
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, field) {
			t.Fatalf("the discovery document (%d) lacks %s: %s", resp.StatusCode, field, body)
		}
	}

	ctx := oidc.ClientContext(context.Background(), plain)
	provider, err := oidc.NewProvider(ctx, site)
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	app := &oauth2.Config{
		ClientID: clientID, RedirectURL: redirectURI, Endpoint: provider.Endpoint(),
		Scopes: strings.Fields(oidcScopes),
	}
	app.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	verifier := oauth2.GenerateVerifier()
	authURL := func(nonce string, extra ...oauth2.AuthCodeOption) string {
		opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)}, extra...)
		return app.AuthCodeURL("st-"+nonce, opts...)
	}
	browser := trustingClient(t, rootCA, redirectURI)

	// prompt=none, nobody signed in: the app hears login_required.
	resp, _ = visit(t, browser, http.MethodGet, authURL("n-0", oauth2.SetAuthURLParam("prompt", "none")), nil)
	if q := callbackQuery(t, resp, redirectURI); q.Get("error") != "login_required" || q.Get("state") != "st-n-0" {
		t.Fatalf("prompt=none without a session: %v, want login_required", q)
	}

	// Sign in and allow; the id_token verifies and carries the nonce.
	first := exchangeForIDToken(t, ctx, provider, app, verifier, signInAndAllow(t, browser, authURL("n-1"), "alice", "violet-harbour-92"))
	if first.id.Subject != userID || first.id.Nonce != "n-1" || first.authTime.IsZero() {
		t.Fatalf("id_token sub %q nonce %q auth_time %v", first.id.Subject, first.id.Nonce, first.authTime)
	}

	// max_age=0: the person, signed in, is shown the sign-in form again.
	beforeSecondSignIn := time.Now().Truncate(time.Second)
	resp, page := visit(t, browser, http.MethodGet, authURL("n-2", oauth2.SetAuthURLParam("max_age", "0")), nil)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/signin" || !strings.Contains(page, `name="password"`) {
		t.Fatalf("max_age=0 led to %d %s, want the sign-in form", resp.StatusCode, resp.Request.URL)
	}
	action, form := pageForm(t, resp, page)
	form.Set("username", "alice")
	form.Set("password", "violet-harbour-92")
	resp, _ = visit(t, browser, http.MethodPost, action, form)
	second := exchangeForIDToken(t, ctx, provider, app, verifier, resp.Header.Get("Location"))
	if second.id.Nonce != "n-2" || second.authTime.Before(beforeSecondSignIn) {
		t.Fatalf("after max_age=0: nonce %q auth_time %v, want n-2 and a sign-in at or after %v", second.id.Nonce, second.authTime, beforeSecondSignIn)
	}

	// UserInfo through go-oidc for a token with openid.
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(second.token))
	if err != nil || info.Subject != userID {
		t.Fatalf("UserInfo: %v %+v", err, info)
	}
	// Disabled, the person's tokens get nothing more from UserInfo.
	if r := do(t, http.MethodPatch, g.AdminURL("/scopegate/users/"+userID), map[string]any{"disabled": true}); r.Status != http.StatusOK {
		t.Fatalf("disable user: %d %s", r.Status, r.Body)
	}
	if status, challenge := userInfoStatus(t, plain, site, second.token.AccessToken); status != http.StatusUnauthorized || !strings.Contains(challenge, `error="invalid_token"`) {
		t.Fatalf("UserInfo for a disabled person: %d %q, want 401 invalid_token", status, challenge)
	}
}

// userInfoStatus calls UserInfo with accessToken and returns the status
// and the WWW-Authenticate challenge.
func userInfoStatus(t *testing.T, client *http.Client, site, accessToken string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, site+"/oauth2/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
}

// callbackQuery returns the query of the redirect to the app.
func callbackQuery(t *testing.T, resp *http.Response, redirectURI string) url.Values {
	t.Helper()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, redirectURI+"?") {
		t.Fatalf("want a redirect to the app, got %d %q", resp.StatusCode, loc)
	}
	u, _ := url.Parse(loc)
	return u.Query()
}

// issued is a token response, its verified id_token and the id_token's
// auth_time.
type issued struct {
	token    *oauth2.Token
	id       *oidc.IDToken
	authTime time.Time
}

// exchangeForIDToken redeems the code of callback and verifies the id_token
// with go-oidc's IDTokenVerifier and its at_hash against the access token.
func exchangeForIDToken(t *testing.T, ctx context.Context, provider *oidc.Provider, app *oauth2.Config, verifier, callback string) issued {
	t.Helper()
	u, err := url.Parse(callback)
	if err != nil || u.Query().Get("code") == "" {
		t.Fatalf("no code in %q", callback)
	}
	tok, err := app.Exchange(ctx, u.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	id, err := provider.Verifier(&oidc.Config{ClientID: app.ClientID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("go-oidc refused the id_token: %v", err)
	}
	if err := id.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	var claims struct {
		AuthTime int64 `json:"auth_time"`
	}
	if err := id.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	return issued{token: tok, id: id, authTime: time.Unix(claims.AuthTime, 0)}
}

// UserInfo refuses a person's token that lacks openid with 403
// insufficient_scope naming openid (Core §5.3.3, RFC 6750 §3.1), and
// answers the same person's token with openid.
func TestUserInfoNeedsOpenID(t *testing.T) {
	g := StartGateway(t, authorizeCaddyfile)
	signinUser(t, g, "alice", "violet-harbour-92")
	site := fmt.Sprintf("https://127.0.0.1:%d", g.HTTPPort)
	redirectURI := site + "/callback"
	clientID := createPublicClient(t, g, "Order Viewer (UserInfo)", redirectURI)
	allowScopes(t, g, clientID, oidcScopes)
	rootCA := caddyRootCA(t, g)
	const verifier = "a-code-verifier-of-at-least-forty-three-characters"
	sum := sha256.Sum256([]byte(verifier))
	authorize := site + "/oauth2/authorize?" + url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirectURI},
		"scope": {"orders:read"}, "state": {"s"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}.Encode()
	callback, _ := url.Parse(signInAndAllow(t, trustingClient(t, rootCA, redirectURI), authorize, "alice", "violet-harbour-92"))
	plain := trustingClient(t, rootCA, "")
	resp, body := visit(t, plain, http.MethodPost, site+"/oauth2/token", url.Values{
		"grant_type": {"authorization_code"}, "client_id": {clientID}, "code": {callback.Query().Get("code")},
		"redirect_uri": {redirectURI}, "code_verifier": {verifier},
	})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(body), &tok); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("exchange: %d %s", resp.StatusCode, body)
	}
	if status, ch := userInfoStatus(t, plain, site, tok.AccessToken); status != http.StatusForbidden || !strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, `scope="openid"`) {
		t.Fatalf("UserInfo with a token lacking openid: %d %q, want 403 insufficient_scope scope=openid", status, ch)
	}
}
