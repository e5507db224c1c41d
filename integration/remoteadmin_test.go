package integration

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// remoteAdminCaddyfile mounts the client-management API on a site route.
const remoteAdminCaddyfile = `{
	admin 127.0.0.1:{{.AdminPort}}
	auto_https off
	scopegate {
		issuer  http://127.0.0.1:{{.HTTPPort}}
		storage {{.Dir}}/scopegate.db
	}
}

http://127.0.0.1:{{.HTTPPort}} {
	scopegate_issuer
	handle_path /manage/* {
		scopegate_admin
	}
	respond "site" 200
}
`

func TestRemoteAdmin(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, remoteAdminCaddyfile)
	// The first owner is made through the trusted admin endpoint.
	owner := createClient(t, g, map[string]any{"client_name": "ops", "scope": "admin", "features": []string{"owner"},
		"audience": []string{g.URL("/scopegate/admin")}})
	reader := createClient(t, g, map[string]any{"client_name": "auditor", "scope": "admin", "features": []string{"client_read"}})
	plain := createClient(t, g, map[string]any{"client_name": "app", "scope": "admin"})
	basic := func(c createdClient) string { return "Basic " + b64(c.ClientID+":"+c.ClientSecret) }
	remote := func(method, path, authorization string, body any) apiResponse {
		t.Helper()
		if authorization == "" {
			return do(t, method, g.URL("/manage"+path), body)
		}
		return do(t, method, g.URL("/manage"+path), body, "Authorization", authorization)
	}

	t.Run("owner with Basic manages clients", func(t *testing.T) {
		resp := remote(http.MethodPost, "/clients", basic(owner), map[string]any{"client_name": "made-remotely"})
		if resp.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", resp.Status, resp.Body)
		}
		if resp := remote(http.MethodGet, "/clients", basic(owner), nil); resp.Status != http.StatusOK {
			t.Fatalf("list: %d %s", resp.Status, resp.Body)
		}
		if !strings.Contains(g.Logs(), `"actor":"client:`+owner.ClientID+`"`) {
			t.Error("audit line does not name the owner")
		}
	})
	t.Run("owner with a bearer token minted for remote admin", func(t *testing.T) {
		tok := adminToken(t, g, owner, g.URL("/scopegate/admin"))
		if resp := remote(http.MethodGet, "/clients", "Bearer "+tok, nil); resp.Status != http.StatusOK {
			t.Fatalf("list: %d %s", resp.Status, resp.Body)
		}
	})
	t.Run("client_read may only read", func(t *testing.T) {
		if resp := remote(http.MethodGet, "/clients/"+plain.ClientID, basic(reader), nil); resp.Status != http.StatusOK {
			t.Fatalf("get: %d %s", resp.Status, resp.Body)
		}
		for _, m := range []string{http.MethodPost, http.MethodPatch, http.MethodDelete, http.MethodPut} {
			if resp := remote(m, "/clients/"+plain.ClientID, basic(reader), `{}`); resp.Status != http.StatusForbidden {
				t.Fatalf("%s by a reader: %d %s", m, resp.Status, resp.Body)
			}
		}
	})
	t.Run("consents are read and withdrawn as sessions are", func(t *testing.T) {
		r := do(t, http.MethodPost, g.AdminURL("/scopegate/users"), map[string]any{"username": "remote-consents"})
		var u struct {
			ID string `json:"user_id"`
		}
		r.JSON(t, &u)
		path := "/users/" + u.ID + "/consents"
		// Users are read with direct_read_access; client_read reads clients only.
		userReader := createClient(t, g, map[string]any{"client_name": "user-auditor", "features": []string{"direct_read_access"}})
		if resp := remote(http.MethodGet, path, basic(userReader), nil); resp.Status != http.StatusOK || strings.TrimSpace(string(resp.Body)) != `{"consents":[]}` {
			t.Fatalf("a reader lists consents: %d %s", resp.Status, resp.Body)
		}
		if resp := remote(http.MethodDelete, path+"/"+plain.ClientID, basic(userReader), nil); resp.Status != http.StatusForbidden {
			t.Fatalf("a reader withdraws a consent: %d %s", resp.Status, resp.Body)
		}
		if resp := remote(http.MethodGet, path, basic(reader), nil); resp.Status != http.StatusForbidden {
			t.Fatalf("a client_read client lists consents: %d %s", resp.Status, resp.Body)
		}
		if resp := remote(http.MethodGet, path, basic(plain), nil); resp.Status != http.StatusForbidden {
			t.Fatalf("a plain client lists consents: %d %s", resp.Status, resp.Body)
		}
		// The owner reaches the API, which has no such consent to withdraw.
		if resp := remote(http.MethodDelete, path+"/"+plain.ClientID, basic(owner), nil); resp.Status != http.StatusNotFound || resp.ErrorCode() != "not_found" {
			t.Fatalf("the owner withdraws a consent never given: %d %s", resp.Status, resp.Body)
		}
	})
	t.Run("a plain client is forbidden", func(t *testing.T) {
		if resp := remote(http.MethodGet, "/clients", basic(plain), nil); resp.Status != http.StatusForbidden {
			t.Fatalf("got %d %s", resp.Status, resp.Body)
		}
	})
	t.Run("no or wrong credentials", func(t *testing.T) {
		resp := remote(http.MethodGet, "/clients", "", nil)
		if resp.Status != http.StatusUnauthorized || !strings.Contains(strings.Join(resp.Header.Values("WWW-Authenticate"), ","), "Basic") {
			t.Fatalf("no credentials: %d %v", resp.Status, resp.Header)
		}
		wrong := owner
		wrong.ClientSecret = "sgs_wrong"
		if resp := remote(http.MethodGet, "/clients", basic(wrong), nil); resp.Status != http.StatusUnauthorized {
			t.Fatalf("wrong secret: %d", resp.Status)
		}
	})
	t.Run("path tricks never get past authorisation", func(t *testing.T) {
		// Each variant either stays under /manage/ and meets the
		// authorisation there, or resolves outside it and gets the site's own
		// answer: never the API without the right client.
		outside := func(resp apiResponse) bool { return resp.Status == http.StatusOK && string(resp.Body) == "site" }
		for _, path := range []string{"//clients", "/clients/../clients", "/%2e%2e/clients", "/CLIENTS", "/clients/", "/./clients", "/clients%2f..%2fkeys/rotate", "/keys/rotate"} {
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				if resp := remote(method, path, "", `{}`); resp.Status != http.StatusUnauthorized && !outside(resp) {
					t.Errorf("%s %s without credentials: %d %s", method, path, resp.Status, resp.Body)
				}
				if resp := remote(method, path, basic(plain), `{}`); resp.Status != http.StatusForbidden && !outside(resp) {
					t.Errorf("%s %s as a plain client: %d %s", method, path, resp.Status, resp.Body)
				}
				if method == http.MethodPost {
					if resp := remote(method, path, basic(reader), `{}`); resp.Status != http.StatusForbidden && !outside(resp) {
						t.Errorf("%s %s as a reader: %d %s", method, path, resp.Status, resp.Body)
					}
				}
			}
		}
	})
	t.Run("owner outside its allowlist", func(t *testing.T) {
		fenced := createClient(t, g, map[string]any{"client_name": "fenced-owner", "features": []string{"owner"}, "ip_allowlist": []string{"10.0.0.0/8"}})
		if resp := remote(http.MethodGet, "/clients", basic(fenced), nil); resp.Status != http.StatusForbidden ||
			!strings.Contains(string(resp.Body), "may not connect from 127.0.0.1") {
			t.Fatalf("got %d %s", resp.Status, resp.Body)
		}
	})
	t.Run("disabled owner", func(t *testing.T) {
		off := createClient(t, g, map[string]any{"client_name": "old-owner", "scope": "admin", "features": []string{"owner"},
			"audience": []string{g.URL("/scopegate/admin")}})
		tok := adminToken(t, g, off, g.URL("/scopegate/admin"))
		do(t, http.MethodPost, g.AdminURL("/scopegate/clients/"+off.ClientID+"/disable"), nil)
		if resp := remote(http.MethodGet, "/clients", basic(off), nil); resp.Status != http.StatusForbidden {
			t.Fatalf("Basic: %d %s", resp.Status, resp.Body)
		}
		if resp := remote(http.MethodGet, "/clients", "Bearer "+tok, nil); resp.Status != http.StatusUnauthorized {
			t.Fatalf("bearer: %d %s", resp.Status, resp.Body)
		}
	})
	t.Run("secrets stay out of the logs", func(t *testing.T) {
		for _, c := range []createdClient{owner, reader, plain} {
			if strings.Contains(g.Logs(), c.ClientSecret) {
				t.Fatalf("a secret is in the logs")
			}
		}
	})
}

// adminToken gets a token for resource (RFC 8707) as client c, which must
// have the scope admin and resource in its audience.
func adminToken(t *testing.T, g *Gateway, c createdClient, resources ...string) string {
	t.Helper()
	ans := postForm(t, g, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}, "resource": resources},
		c.ClientID, c.ClientSecret)
	tok, _ := ans.Body["access_token"].(string)
	if ans.Status != http.StatusOK || tok == "" {
		t.Fatalf("token for %v: %d %s", resources, ans.Status, ans.Raw)
	}
	return tok
}

// remoteAdminAudienceCaddyfile has a guarded API whose upstream receives the
// Authorization header (the default), remote admin with its default
// resource identifier and remote admin with one set by the operator.
const remoteAdminAudienceCaddyfile = `{
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
		scopegate_guard {
			scopes   admin
			audience https://api.example.com/orders
		}
		reverse_proxy {{.Upstream}}
	}
	handle_path /manage/* {
		scopegate_admin
	}
	handle_path /ops/* {
		scopegate_admin {
			resource https://ops.example.com/manage
		}
	}
	respond 404
}
`

// TestRemoteAdminAcceptsOnlyItsOwnTokens: an upstream behind the guard sees
// the caller's bearer token; an owner's token minted for that upstream must
// not work at remote admin. Only a token whose aud names remote admin's
// resource identifier does.
func TestRemoteAdminAcceptsOnlyItsOwnTokens(t *testing.T) {
	t.Parallel()
	upstream := echoUpstream(t)
	g := NewGateway(t, remoteAdminAudienceCaddyfile)
	g.Vars["Upstream"] = strings.TrimPrefix(upstream.URL, "http://")
	g.Start()
	const orders, ops = "https://api.example.com/orders", "https://ops.example.com/manage"
	defaultResource := g.URL("/scopegate/admin") // the issuer's URL + /scopegate/admin
	owner := createClient(t, g, map[string]any{"client_name": "ops", "scope": "admin", "features": []string{"owner"},
		"audience": []string{orders, defaultResource, ops}})
	noAudience := createClient(t, g, map[string]any{"client_name": "ops-plain", "scope": "admin", "features": []string{"owner"}})
	list := func(path, tok string) apiResponse {
		t.Helper()
		return do(t, http.MethodGet, g.URL(path+"/clients"), nil, "Authorization", "Bearer "+tok)
	}
	wantRefused := func(t *testing.T, resp apiResponse) {
		t.Helper()
		challenges := strings.Join(resp.Header.Values("WWW-Authenticate"), ", ")
		if resp.Status != http.StatusUnauthorized || resp.ErrorCode() != "unauthorized" || !strings.Contains(challenges, "Bearer") {
			t.Fatalf("got %d %v %s, want 401 unauthorized with a Bearer challenge", resp.Status, challenges, resp.Body)
		}
	}

	t.Run("a token an upstream has seen is refused", func(t *testing.T) {
		tok := adminToken(t, g, owner, orders)
		// The guarded upstream receives the token, as upstreams do by default.
		resp := do(t, http.MethodGet, g.URL("/orders/1"), nil, "Authorization", "Bearer "+tok)
		if seen := upstreamSaw(t, resp).Get("Authorization"); seen != "Bearer "+tok {
			t.Fatalf("the upstream saw Authorization %q, want the token", seen)
		}
		wantRefused(t, list("/manage", tok))
		wantRefused(t, list("/ops", tok))
		if resp := do(t, http.MethodPost, g.URL("/manage/clients"), map[string]any{"client_name": "planted"},
			"Authorization", "Bearer "+tok); resp.Status != http.StatusUnauthorized {
			t.Fatalf("create with a replayed token: %d %s", resp.Status, resp.Body)
		}
	})
	t.Run("a token that names other audiences too is refused", func(t *testing.T) {
		// Without resource= the token carries the client's whole audience,
		// the admin API's among them; it would be sent to the orders API too.
		tok := fetchToken(t, g, owner, "admin").AccessToken
		wantRefused(t, list("/manage", tok))
		wantRefused(t, list("/ops", tok))
		both := adminToken(t, g, owner, orders, defaultResource)
		wantRefused(t, list("/manage", both))
	})
	t.Run("a token with the gateway's default audience is refused", func(t *testing.T) {
		tok := fetchToken(t, g, noAudience, "admin").AccessToken
		wantRefused(t, list("/manage", tok))
	})
	t.Run("a token for the default resource works there only", func(t *testing.T) {
		tok := adminToken(t, g, owner, defaultResource)
		if resp := list("/manage", tok); resp.Status != http.StatusOK {
			t.Fatalf("list: %d %s", resp.Status, resp.Body)
		}
		wantRefused(t, list("/ops", tok))
	})
	t.Run("a token for the configured resource works there only", func(t *testing.T) {
		tok := adminToken(t, g, owner, ops)
		if resp := list("/ops", tok); resp.Status != http.StatusOK {
			t.Fatalf("list: %d %s", resp.Status, resp.Body)
		}
		wantRefused(t, list("/manage", tok))
	})
	t.Run("RFC 9728 metadata names the resource", func(t *testing.T) {
		for path, resource := range map[string]string{
			"/.well-known/oauth-protected-resource/scopegate/admin": defaultResource,
			"/.well-known/oauth-protected-resource/manage":          ops,
		} {
			resp := do(t, http.MethodGet, g.URL(path), nil)
			var md struct {
				Resource             string   `json:"resource"`
				AuthorizationServers []string `json:"authorization_servers"`
			}
			if resp.Status != http.StatusOK || json.Unmarshal(resp.Body, &md) != nil ||
				md.Resource != resource || len(md.AuthorizationServers) != 1 || md.AuthorizationServers[0] != g.URL("") {
				t.Errorf("%s: %d %s", path, resp.Status, resp.Body)
			}
		}
	})
}
