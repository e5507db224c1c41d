package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// openIDClientDir holds the openid-client script, its package.json and
// package-lock.json; `npm ci` installs its node_modules (CI does).
const openIDClientDir = "testdata/openid-client"

// openIDClientInstall is the command that installs the script's packages.
const openIDClientInstall = "cd integration/testdata/openid-client && npm ci --no-audit --no-fund"

// The npm package openid-client (v6), unmodified and with its default
// configuration, runs its authorization code grant with PKCE and OpenID
// Connect against a real gateway: it reads the gateway's OpenID Connect
// discovery document, builds the authorization URL with a nonce, and once
// the person has signed in and allowed the app (played here by an HTTP
// client with a cookie jar that posts the pages' forms, CSRF tokens and
// all), it checks the redirect (state, and the RFC 9207 iss the metadata
// announces: a redirect naming another issuer, or none, is refused before
// the code is spent), exchanges the code with its verifier, validates the
// id_token (iss, aud, exp, iat, and the nonce: a mismatched one, as a
// replayed response would carry, is refused), reads UserInfo and calls a
// guarded route whose upstream is told the person. go-oidc's Provider and
// IDTokenVerifier, also unmodified, check the same id_token's signature,
// nonce and at_hash.
func TestOpenIDClientAuthorizationCode(t *testing.T) {
	node := requireOpenIDClient(t)
	g := StartGateway(t, authorizeCaddyfile)
	userID := signinUser(t, g, "alice", "violet-harbour-92")
	site := fmt.Sprintf("https://127.0.0.1:%d", g.HTTPPort)
	redirectURI := site + "/callback"
	clientID := createPublicClient(t, g, "Order Viewer (openid-client)", redirectURI)
	allowScopes(t, g, clientID, oidcScopes)
	rootCA := caddyRootCA(t, g)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	app := startOpenIDClient(t, ctx, node, rootCA,
		"ISSUER="+site, "CLIENT_ID="+clientID, "REDIRECT_URI="+redirectURI,
		"SCOPE="+oidcScopes, "RESOURCE_URL="+site+"/orders/7")

	var start struct {
		AuthorizationURL      string `json:"authorization_url"`
		Nonce                 string `json:"nonce"`
		ISSParameterSupported bool   `json:"iss_parameter_supported"`
	}
	app.read(&start)
	authURL, err := url.Parse(start.AuthorizationURL)
	if err != nil || authURL.Scheme+"://"+authURL.Host+authURL.Path != site+"/oauth2/authorize" {
		t.Fatalf("the authorization URL %q is not the endpoint the metadata names", start.AuthorizationURL)
	}
	if q := authURL.Query(); q.Get("code_challenge_method") != "S256" || q.Get("client_id") != clientID || q.Get("state") == "" || q.Get("nonce") != start.Nonce {
		t.Fatalf("the authorization URL lacks PKCE, the client, state or the nonce: %v", q)
	}
	if !start.ISSParameterSupported {
		t.Fatal("the library did not read authorization_response_iss_parameter_supported from the metadata")
	}

	browser := trustingClient(t, rootCA, redirectURI)
	callback := signInAndAllow(t, browser, start.AuthorizationURL, "alice", "violet-harbour-92")
	back, _ := url.Parse(callback)
	if q := back.Query(); q.Get("iss") != site || q.Get("code") == "" {
		t.Fatalf("the redirect carries %v, want a code and iss %s", q, site)
	}

	// Mix-up (RFC 9207): the library refuses a redirect that names another
	// issuer or none, before it sends the code anywhere.
	for name, tampered := range map[string]string{
		"another issuer": withQuery(back, "iss", "https://other.example"),
		"no issuer":      withQuery(back, "iss", ""),
	} {
		app.write(tampered)
		wantRefusedBy(t, app, name, `"iss"`)
	}
	// A nonce other than the one this app sent (a response replayed from
	// another request) is refused once the id_token is read; the code is
	// spent, so the app asks again and, consent remembered, gets a new code.
	app.write(callback + " a-nonce-from-another-request")
	wantRefusedBy(t, app, "a mismatched nonce", `"nonce"`)
	resp, _ := visit(t, browser, http.MethodGet, start.AuthorizationURL, nil)
	if callback = resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(callback, redirectURI+"?") {
		t.Fatalf("asking again led to %d %q, want a redirect to the app", resp.StatusCode, callback)
	}

	app.write(callback)
	var done struct {
		Token struct {
			TokenType string `json:"token_type"`
			Scope     string `json:"scope"`
			ExpiresIn int    `json:"expires_in"`
		} `json:"token"`
		AccessToken   string         `json:"access_token"`
		IDToken       string         `json:"id_token"`
		IDTokenClaims map[string]any `json:"id_token_claims"`
		UserInfo      map[string]any `json:"userinfo"`
		Resource      struct {
			Status int    `json:"status"`
			Body   string `json:"body"`
		} `json:"resource"`
		Error *struct{ Message string } `json:"error"`
	}
	app.read(&done)
	if done.Error != nil {
		t.Fatalf("the grant failed: %s", done.Error.Message)
	}
	if !strings.EqualFold(done.Token.TokenType, "bearer") || done.Token.Scope != oidcScopes || done.Token.ExpiresIn <= 0 {
		t.Fatalf("token response %+v", done.Token)
	}
	c := done.IDTokenClaims
	if c["iss"] != site || c["sub"] != userID || c["aud"] != clientID || c["nonce"] != start.Nonce || c["auth_time"] == nil || c["at_hash"] == nil {
		t.Fatalf("id_token claims %v", c)
	}
	if u := done.UserInfo; u["sub"] != userID || u["name"] != "Alice Example" || u["preferred_username"] != "alice" {
		t.Fatalf("UserInfo %v", u)
	}
	want := "user=" + userID + " client=" + clientID + " scope=" + oidcScopes
	if done.Resource.Status != http.StatusOK || done.Resource.Body != want {
		t.Fatalf("the guarded call answered %d %q, want 200 %q", done.Resource.Status, done.Resource.Body, want)
	}
	app.wait()

	idToken := verifyWithGoOIDC(t, trustingClient(t, rootCA, ""), site, clientID, done.IDToken)
	if idToken.Subject != userID || idToken.Nonce != start.Nonce {
		t.Fatalf("go-oidc read sub %q nonce %q, want %q %q", idToken.Subject, idToken.Nonce, userID, start.Nonce)
	}
	if err := idToken.VerifyAccessToken(done.AccessToken); err != nil {
		t.Fatalf("at_hash does not match the access token: %v", err)
	}
	if err := idToken.VerifyAccessToken(done.AccessToken + "x"); err == nil {
		t.Fatal("at_hash matches another access token")
	}
}

// oidcScopes are the scopes the OpenID Connect tests' app asks for: the
// identity scopes beside an API's.
const oidcScopes = "openid profile email orders:read"

// allowScopes sets a client's scope through the admin API.
func allowScopes(t *testing.T, g *Gateway, clientID, scopes string) {
	t.Helper()
	if r := do(t, http.MethodPatch, g.AdminURL("/scopegate/clients/"+clientID), map[string]any{"scope": scopes}); r.Status != http.StatusOK {
		t.Fatalf("patch client: %d %s", r.Status, r.Body)
	}
}

// wantRefusedBy reads the script's answer to a callback it must refuse,
// for a reason whose message names what.
func wantRefusedBy(t *testing.T, app *nodeScript, name, what string) {
	t.Helper()
	var refused struct {
		Error *struct{ Message, Cause string } `json:"error"`
	}
	app.read(&refused)
	if refused.Error == nil || !strings.Contains(refused.Error.Message+" "+refused.Error.Cause, what) {
		t.Fatalf("%s: the library accepted the redirect or refused it for another reason: %+v", name, refused.Error)
	}
}

// verifyWithGoOIDC discovers the gateway with go-oidc's NewProvider, as an
// app with the default configuration does, and verifies rawIDToken for
// clientID with its IDTokenVerifier: signature against the JWKS, iss, aud
// and exp.
func verifyWithGoOIDC(t *testing.T, httpClient *http.Client, issuer, clientID, rawIDToken string) *oidc.IDToken {
	t.Helper()
	ctx := oidc.ClientContext(context.Background(), httpClient)
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	idToken, err := provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(ctx, rawIDToken)
	if err != nil {
		t.Fatalf("go-oidc refused the id_token: %v", err)
	}
	return idToken
}

// requireOpenIDClient returns the node binary. Without node or the
// script's packages the test skips, naming the command that installs them;
// under CI (CI=true), which installs both, it fails instead.
func requireOpenIDClient(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	missing := ""
	if err != nil {
		missing = "node is not installed"
	} else if _, err := os.Stat(filepath.Join(openIDClientDir, "node_modules", "openid-client", "package.json")); err != nil {
		missing = "openid-client is not installed"
	}
	if missing != "" {
		msg := missing + "; install it with: " + openIDClientInstall
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return node
}

// createPublicClient registers a public client for the authorization code
// grant with orders:read through the admin API and returns its ID.
func createPublicClient(t *testing.T, g *Gateway, name, redirectURI string) string {
	t.Helper()
	resp := do(t, http.MethodPost, g.AdminURL("/scopegate/clients"), map[string]any{
		"client_name": name, "token_endpoint_auth_method": "none", "scope": "orders:read",
		"grant_types": []string{"authorization_code"}, "redirect_uris": []string{redirectURI},
	})
	if resp.Status != http.StatusCreated {
		t.Fatalf("create client: %d %s", resp.Status, resp.Body)
	}
	var client struct {
		ID string `json:"client_id"`
	}
	resp.JSON(t, &client)
	return client.ID
}

// signInAndAllow plays the person: it opens authURL, which leads to the
// sign-in page, signs in there, allows the app on the consent page, and
// returns the URL the gateway then sends the browser to.
func signInAndAllow(t *testing.T, browser *http.Client, authURL, username, password string) string {
	t.Helper()
	resp, page := visit(t, browser, http.MethodGet, authURL, nil)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/signin" {
		t.Fatalf("opening the authorization URL led to %d %s, want the sign-in page", resp.StatusCode, resp.Request.URL)
	}
	action, form := pageForm(t, resp, page)
	if form.Get("return_to") == "" {
		t.Fatal("the sign-in page lost the way back to the authorization request")
	}
	form.Set("username", username)
	form.Set("password", password)
	resp, page = visit(t, browser, http.MethodPost, action, form)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="consent-allow"`) {
		t.Fatalf("signing in led to %d %s, want the consent page: %s", resp.StatusCode, resp.Request.URL, page)
	}
	action, form = pageForm(t, resp, page)
	form.Set("decision", "allow")
	resp, _ = visit(t, browser, http.MethodPost, action, form)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || loc == "" {
		t.Fatalf("allowing led to %d %q, want a redirect to the app", resp.StatusCode, loc)
	}
	return loc
}

// withQuery returns u with the query parameter name set to value, or
// removed when value is "".
func withQuery(u *url.URL, name, value string) string {
	q := u.Query()
	q.Del(name)
	if value != "" {
		q.Set(name, value)
	}
	v := *u
	v.RawQuery = q.Encode()
	return v.String()
}

// nodeScript is a running openid-client script: it writes JSON lines on
// stdout and reads redirect URLs on stdin.
type nodeScript struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  *bufio.Scanner
	stderr *lockedBuffer
}

// startOpenIDClient starts the script with env added to the environment
// and the gateway's root certificate trusted; ctx bounds its run.
func startOpenIDClient(t *testing.T, ctx context.Context, node, rootCA string, env ...string) *nodeScript {
	t.Helper()
	cmd := exec.CommandContext(ctx, node, "authorize.js")
	cmd.Dir = openIDClientDir
	cmd.Env = append(append(os.Environ(), "NODE_EXTRA_CA_CERTS="+rootCA), env...)
	s := &nodeScript{t: t, cmd: cmd, stderr: new(lockedBuffer)}
	cmd.Stderr = s.stderr
	var err error
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.lines = bufio.NewScanner(stdout)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the openid-client script: %v", err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return s
}

// read decodes the script's next line into v; the script ending first, or
// running past its context, fails the test with what it wrote on stderr.
func (s *nodeScript) read(v any) {
	s.t.Helper()
	if !s.lines.Scan() {
		s.t.Fatalf("the openid-client script ended without answering (%v):\n%s", s.lines.Err(), s.stderr)
	}
	if err := json.Unmarshal(s.lines.Bytes(), v); err != nil {
		s.t.Fatalf("the script wrote %q: %v", s.lines.Text(), err)
	}
}

// write sends the script one line.
func (s *nodeScript) write(line string) {
	s.t.Helper()
	if _, err := io.WriteString(s.stdin, line+"\n"); err != nil {
		s.t.Fatalf("writing to the openid-client script: %v\n%s", err, s.stderr)
	}
}

// wait waits for the script to exit and fails unless it succeeded.
func (s *nodeScript) wait() {
	s.t.Helper()
	_ = s.stdin.Close()
	if err := s.cmd.Wait(); err != nil {
		s.t.Fatalf("the openid-client script: %v\n%s", err, s.stderr)
	}
}
