package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// mcpCaddyfile is a gateway in front of an MCP server: /mcp is guarded for
// orders:read and tokens for its resource, and apps may register
// themselves for that scope and resource.
const mcpCaddyfile = `{
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
		registration {
			allowed_scopes orders:read
			audience https://127.0.0.1:{{.HTTPPort}}/mcp
		}
	}
	handle /mcp {
		scopegate_guard orders:read {
			audience https://127.0.0.1:{{.HTTPPort}}/mcp
		}
		respond "user={http.request.header.X-User-Id} client={http.request.header.X-Client-Id}" 200
	}
	respond "not found" 404
}
`

// getJSON GETs url and decodes its JSON answer into v.
func getJSON(t *testing.T, c *http.Client, url string, v any) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
}

// TestMCPClientWalk is an MCP client's way to a guarded MCP server, with
// every URL after the first found in the answer before: the unauthenticated
// call's 401 names the protected resource metadata, which names the
// authorization server, whose RFC 8414 metadata names the registration,
// authorization and token endpoints. The client registers itself as a
// public client with a loopback redirect URI on a port it listens on; the
// person signs in and approves on the consent page, which says where the
// browser goes next since the app named itself; the code comes to the
// client's listener; the token (PKCE S256, resource) is for the MCP
// server, whose upstream sees the person.
func TestMCPClientWalk(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, mcpCaddyfile)
	userID := signinUser(t, g, "alice", "violet-harbour-92")
	c := trustingClient(t, caddyRootCA(t, g), "")
	mcpURL := fmt.Sprintf("https://127.0.0.1:%d/mcp", g.HTTPPort)

	// 1. The unauthenticated call and its challenge.
	resp, err := c.Get(mcpURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	challenge := resp.Header.Get("WWW-Authenticate")
	m := regexp.MustCompile(`resource_metadata="([^"]+)"`).FindStringSubmatch(challenge)
	if resp.StatusCode != http.StatusUnauthorized || m == nil {
		t.Fatalf("unauthenticated call: %d %q", resp.StatusCode, challenge)
	}
	// 2. The protected resource metadata (RFC 9728).
	var prm struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
		ScopesSupported      []string `json:"scopes_supported"`
	}
	getJSON(t, c, m[1], &prm)
	if prm.Resource != mcpURL || len(prm.AuthorizationServers) == 0 {
		t.Fatalf("protected resource metadata %+v", prm)
	}
	// 3. The authorization server metadata (RFC 8414 §3: the well-known
	// segment goes between the issuer's host and its path).
	issuer, err := url.Parse(prm.AuthorizationServers[0])
	if err != nil {
		t.Fatal(err)
	}
	var asm struct {
		Issuer                string   `json:"issuer"`
		AuthorizationEndpoint string   `json:"authorization_endpoint"`
		TokenEndpoint         string   `json:"token_endpoint"`
		RegistrationEndpoint  string   `json:"registration_endpoint"`
		CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
		AuthMethods           []string `json:"token_endpoint_auth_methods_supported"`
	}
	getJSON(t, c, issuer.Scheme+"://"+issuer.Host+"/.well-known/oauth-authorization-server"+strings.TrimSuffix(issuer.Path, "/"), &asm)
	if asm.Issuer != prm.AuthorizationServers[0] || asm.RegistrationEndpoint == "" ||
		!slices.Contains(asm.CodeChallengeMethods, "S256") || !slices.Contains(asm.AuthMethods, "none") {
		t.Fatalf("authorization server metadata %+v", asm)
	}

	// 4. Registration, with a loopback redirect URI on the client's own port.
	callback := make(chan url.Values, 1)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	redirectURI := fmt.Sprintf("http://%s/callback", listener.Addr())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case callback <- r.URL.Query():
		default:
		}
		_, _ = io.WriteString(w, "you may close this window")
	})}
	go func() { _ = srv.Serve(listener) }()
	t.Cleanup(func() { _ = srv.Close() })
	metadata, _ := json.Marshal(map[string]any{
		"client_name": "Claude Desktop", "redirect_uris": []string{redirectURI},
		"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
		"token_endpoint_auth_method": "none", "scope": strings.Join(prm.ScopesSupported, " "),
	})
	reg, err := c.Post(asm.RegistrationEndpoint, "application/json", strings.NewReader(string(metadata)))
	if err != nil {
		t.Fatal(err)
	}
	regBody, _ := io.ReadAll(reg.Body)
	reg.Body.Close()
	var client struct {
		ClientID     string   `json:"client_id"`
		ClientSecret string   `json:"client_secret"`
		RedirectURIs []string `json:"redirect_uris"`
		AuthMethod   string   `json:"token_endpoint_auth_method"`
	}
	if reg.StatusCode != http.StatusCreated || json.Unmarshal(regBody, &client) != nil || client.ClientID == "" ||
		client.ClientSecret != "" || client.AuthMethod != "none" || !slices.Equal(client.RedirectURIs, []string{redirectURI}) {
		t.Fatalf("registration: %d %s", reg.StatusCode, regBody)
	}
	admin := do(t, http.MethodGet, g.AdminURL("/scopegate/clients/"+client.ClientID), nil)
	if admin.Status != http.StatusOK || !strings.Contains(string(admin.Body), `"registered":true`) {
		t.Fatalf("the admin API's view: %d %s", admin.Status, admin.Body)
	}

	// 5. Authorization with PKCE S256 and the resource: the person signs in
	// and approves.
	app := &oauth2.Config{
		ClientID: client.ClientID, RedirectURL: redirectURI, Scopes: prm.ScopesSupported,
		Endpoint: oauth2.Endpoint{AuthURL: asm.AuthorizationEndpoint, TokenURL: asm.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams},
	}
	verifier := oauth2.GenerateVerifier()
	resource := oauth2.SetAuthURLParam("resource", prm.Resource)
	resp, page := visit(t, c, http.MethodGet, app.AuthCodeURL("mcp-state", oauth2.S256ChallengeOption(verifier), resource), nil)
	action, form := pageForm(t, resp, page)
	form.Set("username", "alice")
	form.Set("password", "violet-harbour-92")
	resp, page = visit(t, c, http.MethodPost, action, form)
	if !strings.Contains(page, `id="consent-redirect-target">`+listener.Addr().String()+`<`) {
		t.Fatalf("the consent page does not say where the browser goes: %s", page)
	}
	action, form = pageForm(t, resp, page)
	form.Set("decision", "allow")
	done, _ := visit(t, c, http.MethodPost, action, form)
	var q url.Values
	select {
	case q = <-callback:
	case <-time.After(10 * time.Second):
		t.Fatalf("the code never reached the client's listener (the browser ended at %s, %d)", done.Request.URL, done.StatusCode)
	}
	if q.Get("state") != "mcp-state" || q.Get("iss") != asm.Issuer || q.Get("code") == "" {
		t.Fatalf("the redirect carries %v", q)
	}

	// 6. The token, for the resource.
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, c)
	tok, err := app.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier), resource)
	if err != nil {
		t.Fatalf("exchanging the code: %v", err)
	}
	var claims struct {
		Aud      any    `json:"aud"`
		Sub      string `json:"sub"`
		ClientID string `json:"client_id"`
	}
	parts := strings.Split(tok.AccessToken, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(payload, &claims) != nil {
		t.Fatalf("the access token's payload: %v", err)
	}
	if fmt.Sprint(claims.Aud) != prm.Resource && fmt.Sprint(claims.Aud) != "["+prm.Resource+"]" || claims.Sub != userID || claims.ClientID != client.ClientID {
		t.Fatalf("claims %+v; want aud %s, sub %s", claims, prm.Resource, userID)
	}

	// 7. The guarded call.
	call, err := app.Client(ctx, tok).Get(prm.Resource)
	if err != nil {
		t.Fatal(err)
	}
	defer call.Body.Close()
	got, _ := io.ReadAll(call.Body)
	if call.StatusCode != http.StatusOK || string(got) != "user="+userID+" client="+client.ClientID {
		t.Fatalf("the guarded call: %d %q", call.StatusCode, got)
	}
}

// TestRegistrationOffByDefault: an issuer without a registration block
// serves no registration endpoint and its metadata names none.
func TestRegistrationOffByDefault(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, signinCaddyfile)
	c := trustingClient(t, caddyRootCA(t, g), "")
	site := fmt.Sprintf("https://127.0.0.1:%d", g.HTTPPort)
	var asm map[string]any
	getJSON(t, c, site+"/.well-known/oauth-authorization-server", &asm)
	if _, ok := asm["registration_endpoint"]; ok || asm["authorization_endpoint"] == nil {
		t.Fatalf("metadata %v", asm)
	}
	resp, err := c.Post(site+"/oauth2/register", "application/json", strings.NewReader(`{"redirect_uris":["https://app.example/cb"]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("POST /oauth2/register: %d, want the site's 404", resp.StatusCode)
	}
}

// TestRegisteredClientsListedApart: apps that registered themselves
// through a real gateway are listed apart from the administrators' clients
// by GET /clients?registered=, page by page with the cursor, and an
// operator can find and delete them all.
func TestRegisteredClientsListedApart(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, mcpCaddyfile)
	c := trustingClient(t, caddyRootCA(t, g), "")
	endpoint := fmt.Sprintf("https://127.0.0.1:%d/oauth2/register", g.HTTPPort)
	var registered, made []string
	for i := range 3 {
		resp, err := c.Post(endpoint, "application/json", strings.NewReader(`{"redirect_uris":["http://127.0.0.1/cb"]}`))
		if err != nil {
			t.Fatal(err)
		}
		var app struct {
			ClientID string `json:"client_id"`
		}
		err = json.NewDecoder(resp.Body).Decode(&app)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("registration %d: %d %v", i+1, resp.StatusCode, err)
		}
		registered = append(registered, app.ClientID)
		made = append(made, createClient(t, g, map[string]any{"client_name": fmt.Sprintf("svc-%d", i)}).ClientID)
	}
	slices.Sort(registered)
	slices.Sort(made)
	list := func(filter string) []string {
		t.Helper()
		var ids []string
		path := "/scopegate/clients?limit=2&registered=" + filter
		for range 10 {
			var page struct {
				Clients []struct {
					ClientID string `json:"client_id"`
				} `json:"clients"`
				NextCursor string `json:"next_cursor"`
			}
			r := do(t, http.MethodGet, g.AdminURL(path), nil)
			if r.Status != http.StatusOK {
				t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
			}
			r.JSON(t, &page)
			for _, cl := range page.Clients {
				ids = append(ids, cl.ClientID)
			}
			if page.NextCursor == "" {
				return ids
			}
			path = "/scopegate/clients?limit=2&registered=" + filter + "&cursor=" + url.QueryEscape(page.NextCursor)
		}
		t.Fatalf("registered=%s: the pages never end", filter)
		return nil
	}
	if got := list("true"); !slices.Equal(got, registered) {
		t.Fatalf("registered=true listed %v, want %v", got, registered)
	}
	if got := list("false"); !slices.Equal(got, made) {
		t.Fatalf("registered=false listed %v, want %v", got, made)
	}
	if r := do(t, http.MethodGet, g.AdminURL("/scopegate/clients?registered=yes"), nil); r.Status != http.StatusBadRequest ||
		!strings.Contains(string(r.Body), `"registered: must be true or false"`) {
		t.Fatalf("registered=yes: %d %s", r.Status, r.Body)
	}
	for _, id := range registered {
		if r := do(t, http.MethodDelete, g.AdminURL("/scopegate/clients/"+id), nil); r.Status != http.StatusNoContent {
			t.Fatalf("delete %s: %d %s", id, r.Status, r.Body)
		}
	}
	if got := list("true"); len(got) != 0 {
		t.Fatalf("after deleting them, registered=true lists %v", got)
	}
	if got := list("false"); !slices.Equal(got, made) {
		t.Fatalf("after deleting the registered apps, registered=false lists %v, want %v", got, made)
	}
}

// TestRegistrationFloodThrottled: one address registers its 10 clients
// an hour through a real gateway, then gets 429 with Retry-After, and
// nothing more is stored.
func TestRegistrationFloodThrottled(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, mcpCaddyfile)
	c := trustingClient(t, caddyRootCA(t, g), "")
	endpoint := fmt.Sprintf("https://127.0.0.1:%d/oauth2/register", g.HTTPPort)
	post := func() *http.Response {
		t.Helper()
		resp, err := c.Post(endpoint, "application/json", strings.NewReader(`{"redirect_uris":["http://127.0.0.1/cb"]}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i := range 10 {
		if resp := post(); resp.StatusCode != http.StatusCreated {
			t.Fatalf("registration %d: %d", i+1, resp.StatusCode)
		}
	}
	resp := post()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("the 11th registration: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	var list struct {
		Clients []map[string]any `json:"clients"`
	}
	r := do(t, http.MethodGet, g.AdminURL("/scopegate/clients?limit=100"), nil)
	r.JSON(t, &list)
	if len(list.Clients) != 10 {
		t.Fatalf("%d clients stored, want 10", len(list.Clients))
	}
	for _, cl := range list.Clients {
		if cl["registered"] != true || cl["skip_consent"] != false {
			t.Errorf("client %v", cl)
		}
	}
}
