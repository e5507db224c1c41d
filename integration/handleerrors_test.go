package integration

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// handleErrorsCaddyfile shapes the guard's refusals with handle_errors.
const handleErrorsCaddyfile = `{
	admin 127.0.0.1:{{.AdminPort}}
	auto_https off
	scopegate {
		issuer  http://127.0.0.1:{{.HTTPPort}}
		storage {{.Dir}}/scopegate.db
	}
}

http://127.0.0.1:{{.HTTPPort}} {
	scopegate_issuer
	handle /orders/* {
		scopegate_guard orders:write
		respond "upstream"
	}
	handle_errors {
		respond "shaped {http.error.status_code} {scopegate.refusal}: {http.error.message}"
	}
}
`

// TestGuardRefusalsReachHandleErrors: on a server with handle_errors, a
// refusal is an error those routes shape, with the challenge already set
// and the reason in {scopegate.refusal}.
func TestGuardRefusalsReachHandleErrors(t *testing.T) {
	g := StartGateway(t, handleErrorsCaddyfile)
	c := createClient(t, g, map[string]any{"client_name": "app", "scope": "orders:read orders:write"})
	tok := fetchToken(t, g, c, "orders:read").AccessToken

	resp := do(t, http.MethodGet, g.URL("/orders/1"), nil)
	if resp.Status != http.StatusUnauthorized || string(resp.Body) != "shaped 401 no_token: " ||
		resp.Header.Get("WWW-Authenticate") != `Bearer realm="scopegate"` {
		t.Fatalf("no token: %d %q %q", resp.Status, resp.Body, resp.Header.Get("WWW-Authenticate"))
	}
	resp = do(t, http.MethodGet, g.URL("/orders/1"), nil, "Authorization", "Bearer "+tok)
	if resp.Status != http.StatusForbidden || !strings.HasPrefix(string(resp.Body), "shaped 403 scope: the token lacks") ||
		!strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Fatalf("missing scope: %d %q %q", resp.Status, resp.Body, resp.Header.Get("WWW-Authenticate"))
	}
	write := fetchToken(t, g, c, "orders:write").AccessToken
	if resp := do(t, http.MethodGet, g.URL("/orders/1"), nil, "Authorization", "Bearer "+write); resp.Status != http.StatusOK {
		t.Fatalf("allowed: %d %q", resp.Status, resp.Body)
	}
}

// TestGuardRefusalsWithoutHandleErrorsAreJSON: on a server without
// handle_errors, API clients get the RFC 6750 JSON body as before.
func TestGuardRefusalsWithoutHandleErrorsAreJSON(t *testing.T) {
	g := StartGateway(t, accessLogCaddyfile)
	resp := do(t, http.MethodGet, g.URL("/orders/1"), nil, "Authorization", "Bearer not-a-token")
	if resp.Status != http.StatusUnauthorized || resp.ErrorCode() != "invalid_token" ||
		!strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("bad token: %d %q %q", resp.Status, resp.Body, resp.Header.Get("WWW-Authenticate"))
	}
}

// TestAuthenticationProvider puts Scopegate inside Caddy's authentication
// handler (JSON config: the Caddyfile has no directive for providers) and
// checks that a good token passes with the client as the user, and a
// refusal is the handler's 401 with the guard's challenge.
func TestAuthenticationProvider(t *testing.T) {
	g := StartGateway(t, accessLogCaddyfile)
	c := createClient(t, g, map[string]any{"client_name": "app", "scope": "orders:read orders:write"})

	cfg := do(t, http.MethodGet, g.AdminURL("/config/"), nil)
	var config map[string]any
	cfg.JSON(t, &config)
	servers := config["apps"].(map[string]any)["http"].(map[string]any)["servers"].(map[string]any)
	var server map[string]any
	for _, s := range servers {
		server = s.(map[string]any)
	}
	route := map[string]any{
		"match": []any{map[string]any{"path": []any{"/api/*"}}},
		"handle": []any{
			map[string]any{"handler": "authentication", "providers": map[string]any{
				"scopegate": map[string]any{"scopes": []any{"orders:write"}},
			}},
			map[string]any{"handler": "static_response", "body": "api {http.auth.user.id} {http.request.header.X-Scope}"},
		},
	}
	server["routes"] = append([]any{route}, server["routes"].([]any)...)
	body, _ := json.Marshal(config)
	req, _ := http.NewRequest(http.MethodPost, g.AdminURL("/load"), strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if resp := doRequest(t, req); resp.Status != http.StatusOK {
		t.Fatalf("load: %d %s", resp.Status, resp.Body)
	}
	g.awaitOldAdminStopped()

	write := fetchToken(t, g, c, "orders:write").AccessToken
	resp := do(t, http.MethodGet, g.URL("/api/1"), nil, "Authorization", "Bearer "+write)
	if resp.Status != http.StatusOK || string(resp.Body) != "api "+c.ClientID+" orders:write" {
		t.Fatalf("allowed: %d %q", resp.Status, resp.Body)
	}
	read := fetchToken(t, g, c, "orders:read").AccessToken
	resp = do(t, http.MethodGet, g.URL("/api/1"), nil, "Authorization", "Bearer "+read)
	if resp.Status != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Fatalf("missing scope: %d %q %q", resp.Status, resp.Body, resp.Header.Get("WWW-Authenticate"))
	}
	resp = do(t, http.MethodGet, g.URL("/api/1"), nil)
	if resp.Status != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != `Bearer realm="scopegate"` {
		t.Fatalf("no token: %d %q %q", resp.Status, resp.Body, resp.Header.Get("WWW-Authenticate"))
	}
}
