package integration

import (
	"net/http"
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
	g := StartGateway(t, remoteAdminCaddyfile)
	// The first owner is made through the trusted admin endpoint.
	owner := createClient(t, g, map[string]any{"client_name": "ops", "scope": "admin", "features": []string{"owner"}})
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
	t.Run("owner with a bearer token", func(t *testing.T) {
		tok := fetchToken(t, g, owner, "admin")
		if resp := remote(http.MethodGet, "/clients", "Bearer "+tok.AccessToken, nil); resp.Status != http.StatusOK {
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
		if resp := remote(http.MethodGet, "/clients", basic(fenced), nil); resp.Status != http.StatusForbidden {
			t.Fatalf("got %d %s", resp.Status, resp.Body)
		}
	})
	t.Run("disabled owner", func(t *testing.T) {
		off := createClient(t, g, map[string]any{"client_name": "old-owner", "scope": "admin", "features": []string{"owner"}})
		tok := fetchToken(t, g, off, "admin")
		do(t, http.MethodPost, g.AdminURL("/scopegate/clients/"+off.ClientID+"/disable"), nil)
		if resp := remote(http.MethodGet, "/clients", basic(off), nil); resp.Status != http.StatusForbidden {
			t.Fatalf("Basic: %d %s", resp.Status, resp.Body)
		}
		if resp := remote(http.MethodGet, "/clients", "Bearer "+tok.AccessToken, nil); resp.Status != http.StatusUnauthorized {
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
