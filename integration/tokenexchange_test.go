package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// exchangeCaddyfile is a plain-HTTP gateway with the authorization
// endpoint, a page standing in for app A's redirect URI, and B's API: a
// route guarded for orders:read and B's audience whose upstream says who
// called.
const exchangeCaddyfile = `{
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
		scopegate_guard {
			scopes   orders:read
			audience https://b.example/orders
		}
		respond "user={http.request.header.X-User-Id} client={http.request.header.X-Client-Id} scope={http.request.header.X-Scope}" 200
	}
	respond "not found" 404
}
`

const tokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange"

// A person signs in to app A, an access_issuer, with the authorization
// code flow; A's token, meant for A's own API, is refused by B's route. A
// exchanges it (RFC 8693, client_secret_basic, a plain form POST) for a
// token meant for B's audience, which B's route accepts for the person
// with A as the client and the scopes granted; once the person is
// disabled it is refused on the next request. The metadata names the
// grant, and the gateway's log has the exchange's audit line with both
// clients and the person, and neither token.
func TestTokenExchangeThroughTheGateway(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, exchangeCaddyfile)
	userID := signinUser(t, g, "frank", "amber-lighthouse-5127")
	a := createClient(t, g, map[string]any{
		"client_name": "Shop Front", "scope": "orders:read", "audience": []string{"https://a.example/api"},
		"grant_types": []string{"authorization_code", tokenExchangeGrant}, "features": []string{"access_issuer"},
		"redirect_uris": []string{g.URL("/callback")},
	})
	b := createClient(t, g, map[string]any{
		"client_name": "Order API", "scope": "orders:read", "audience": []string{"https://b.example/orders"},
	})

	var meta struct {
		Grants []string `json:"grant_types_supported"`
	}
	do(t, http.MethodGet, g.URL("/.well-known/oauth-authorization-server"), nil).JSON(t, &meta)
	if !strings.Contains(strings.Join(meta.Grants, " "), tokenExchangeGrant) {
		t.Fatalf("grant_types_supported %v lacks token exchange", meta.Grants)
	}

	app := &oauth2.Config{
		ClientID: a.ClientID, ClientSecret: a.ClientSecret, RedirectURL: g.URL("/callback"), Scopes: []string{"orders:read"},
		Endpoint: oauth2.Endpoint{AuthURL: g.URL("/oauth2/authorize"), TokenURL: g.URL("/oauth2/token"), AuthStyle: oauth2.AuthStyleInHeader},
	}
	verifier := oauth2.GenerateVerifier()
	code := newPersonBrowser(t).authorize(g, app.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), "frank", "amber-lighthouse-5127")
	subject, err := app.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchanging the code: %v", err)
	}
	call := func(tok string) apiResponse {
		return do(t, http.MethodGet, g.URL("/orders/1"), nil, "Authorization", "Bearer "+tok)
	}
	if r := call(subject.AccessToken); r.Status != http.StatusUnauthorized {
		t.Fatalf("A's own token on B's route: %d %s, want 401 (another audience)", r.Status, r.Body)
	}

	form := url.Values{
		"grant_type": {tokenExchangeGrant}, "subject_token": {subject.AccessToken},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}, "audience": {b.ClientID},
	}
	req, err := http.NewRequest(http.MethodPost, g.URL("/oauth2/token"), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(a.ClientID), url.QueryEscape(a.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var issued struct {
		AccessToken     string `json:"access_token"`
		IssuedTokenType string `json:"issued_token_type"`
		TokenType       string `json:"token_type"`
		ExpiresIn       int    `json:"expires_in"`
		Scope           string `json:"scope"`
		RefreshToken    string `json:"refresh_token"`
	}
	if err := json.Unmarshal(raw, &issued); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("token exchange: %d %s", resp.StatusCode, raw)
	}
	if issued.IssuedTokenType != "urn:ietf:params:oauth:token-type:access_token" || issued.TokenType != "Bearer" ||
		issued.ExpiresIn <= 0 || issued.Scope != "orders:read" || issued.RefreshToken != "" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token exchange answered %s (Cache-Control %q)", raw, resp.Header.Get("Cache-Control"))
	}

	want := "user=" + userID + " client=" + a.ClientID + " scope=orders:read"
	if r := call(issued.AccessToken); r.Status != http.StatusOK || string(r.Body) != want {
		t.Fatalf("the exchanged token on B's route: %d %q, want 200 %q", r.Status, r.Body, want)
	}
	if r := do(t, http.MethodPost, g.AdminURL("/scopegate/users/"+userID+"/disable"), nil); r.Status != http.StatusOK {
		t.Fatalf("disabling the person: %d %s", r.Status, r.Body)
	}
	r := call(issued.AccessToken)
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("the exchanged token after the person was disabled: %d %q", r.Status, r.Header.Get("WWW-Authenticate"))
	}

	logs := g.Logs()
	audit := ""
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "token exchange issued") {
			audit = line
		}
	}
	for _, part := range []string{a.ClientID, b.ClientID, userID} {
		if !strings.Contains(audit, part) {
			t.Errorf("the audit line %q does not name %s", audit, part)
		}
	}
	for _, tok := range []string{subject.AccessToken, issued.AccessToken} {
		if strings.Contains(logs, tok) {
			t.Error("the gateway's log holds a token")
		}
	}
}
