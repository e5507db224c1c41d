package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// selfServiceCaddyfile is a gateway whose issuer lets login_client apps
// change a person's names (not the username or email) at /oauth2/me.
const selfServiceCaddyfile = `{
	admin 127.0.0.1:{{.AdminPort}}
	skip_install_trust
	auto_https disable_redirects
	scopegate {
		issuer https://127.0.0.1:{{.HTTPPort}}
		storage {{.Dir}}/scopegate.db
	}
}

https://127.0.0.1:{{.HTTPPort}} {
	tls internal
	scopegate_issuer {
		self_service {
			fields name given_name family_name
		}
	}
	respond "not found" 404
}
`

// selfServiceCall sends a request with a bearer token and a JSON body
// (none when body is "") and returns the status, WWW-Authenticate and the
// decoded JSON answer (nil when there is none).
func selfServiceCall(t *testing.T, c *http.Client, method, target, tok, body string) (int, string, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var answer map[string]any
	if len(raw) > 0 && json.Unmarshal(raw, &answer) != nil {
		t.Fatalf("%s %s: %d, not JSON: %s", method, target, resp.StatusCode, raw)
	}
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), answer
}

// TestSelfServiceThroughTheGateway: a person signs in (an HTTP client
// playing the browser) to a login_client app, which gets their access
// token by the authorization code and reads and changes their own record
// through a real gateway: their name yes, their roles no; the password
// with the current one, not with a wrong one. The same person's token held
// by an app without the feature gets 403 insufficient_scope. The changes
// are audited with the app and the person; no password reaches the log.
func TestSelfServiceThroughTheGateway(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, selfServiceCaddyfile)
	const pw, newPW = "quiet-orchard-5531", "amber-tidewater-2207"
	userID := signinUser(t, g, "grace", pw)
	site := fmt.Sprintf("https://127.0.0.1:%d", g.HTTPPort)
	const callback = "https://login.example/cb"
	newApp := func(name string, features ...string) createdClient {
		return createClient(t, g, map[string]any{
			"client_name": name, "grant_types": []string{"authorization_code"}, "redirect_uris": []string{callback},
			"scope": "orders:read", "skip_consent": true, "features": features,
		})
	}
	loginApp, otherApp := newApp("accounts", "login_client"), newApp("shop")
	rootCA := caddyRootCA(t, g)
	api := trustingClient(t, rootCA, "")

	// personToken signs Grace in to app with password in a fresh browser
	// and redeems the code the browser is sent back with.
	personToken := func(app createdClient, password string) string {
		t.Helper()
		browser := trustingClient(t, rootCA, callback)
		cfg := oauth2.Config{
			ClientID: app.ClientID, ClientSecret: app.ClientSecret, RedirectURL: callback, Scopes: []string{"orders:read"},
			Endpoint: oauth2.Endpoint{AuthURL: site + "/oauth2/authorize", TokenURL: site + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader},
		}
		verifier := oauth2.GenerateVerifier()
		resp, page := visit(t, browser, http.MethodGet, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), nil)
		action, form := pageForm(t, resp, page)
		form.Set("username", "grace")
		form.Set("password", password)
		resp, _ = visit(t, browser, http.MethodPost, action, form)
		back, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || !strings.HasPrefix(back.String(), callback) || back.Query().Get("code") == "" {
			t.Fatalf("the sign-in ended at %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		tok, err := cfg.Exchange(context.WithValue(context.Background(), oauth2.HTTPClient, api), back.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchanging the code: %v", err)
		}
		return tok.AccessToken
	}
	tok := personToken(loginApp, pw)
	me := site + "/oauth2/me"

	status, _, u := selfServiceCall(t, api, http.MethodGet, me, tok, "")
	if status != http.StatusOK || u["user_id"] != userID || u["name"] != "Alice Example" || u["password_hash"] != nil {
		t.Fatalf("GET: %d %v", status, u)
	}
	status, _, u = selfServiceCall(t, api, http.MethodPatch, me, tok, `{"name":"Grace Hopper","family_name":"Hopper"}`)
	if status != http.StatusOK || u["name"] != "Grace Hopper" || u["family_name"] != "Hopper" {
		t.Fatalf("PATCH name: %d %v", status, u)
	}
	status, _, u = selfServiceCall(t, api, http.MethodPatch, me, tok, `{"roles":["buyer","admin"]}`)
	if d, _ := u["error_description"].(string); status != http.StatusBadRequest || !strings.Contains(d, "roles") {
		t.Fatalf("PATCH roles: %d %v", status, u)
	}
	admin := do(t, http.MethodGet, g.AdminURL("/scopegate/users/"+userID), nil)
	var stored struct {
		Name  string   `json:"name"`
		Roles []string `json:"roles"`
	}
	admin.JSON(t, &stored)
	if stored.Name != "Grace Hopper" || len(stored.Roles) != 1 || stored.Roles[0] != "buyer" {
		t.Fatalf("the admin API sees %+v", stored)
	}

	passwordURL := me + "/password"
	status, _, _ = selfServiceCall(t, api, http.MethodPut, passwordURL, tok, `{"current_password":"`+pw+`","new_password":"`+newPW+`"}`)
	if status != http.StatusNoContent {
		t.Fatalf("PUT password with the current one: %d", status)
	}
	status, _, u = selfServiceCall(t, api, http.MethodPut, passwordURL, tok, `{"current_password":"`+pw+`","new_password":"another-long-passphrase"}`)
	if status != http.StatusBadRequest || u["error"] != "invalid_grant" {
		t.Fatalf("PUT password with a wrong (the old) one: %d %v", status, u)
	}
	signIn := do(t, http.MethodGet, g.AdminURL("/scopegate/users/"+userID+"/sessions"), nil)
	if signIn.Status != http.StatusOK || strings.Contains(string(signIn.Body), `"session_id"`) {
		t.Fatalf("the password change left sessions: %d %s", signIn.Status, signIn.Body)
	}

	// The new password signs in; the other app's token for the person is
	// refused.
	other := personToken(otherApp, newPW)
	status, challenge, u := selfServiceCall(t, api, http.MethodGet, me, other, "")
	if status != http.StatusForbidden || u["error"] != "insufficient_scope" || !strings.Contains(challenge, `error="insufficient_scope"`) {
		t.Fatalf("an app without login_client: %d %q %v", status, challenge, u)
	}

	logs := g.Logs()
	for _, want := range []string{`"action":"user.update"`, `"action":"user.password"`, loginApp.ClientID} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %s", want)
		}
	}
	for _, secret := range []string{pw, newPW, "another-long-passphrase"} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a password reached the log")
		}
	}
}
