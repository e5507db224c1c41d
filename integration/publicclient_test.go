package integration

import (
	"net/http"
	"net/url"
	"testing"
)

// TestPublicClientThroughTheGateway registers a public client through the
// admin API of a real gateway, then uses its client_id alone at the token
// endpoint: authenticated for authorization_code (a made-up code is then
// invalid_grant), refused every other grant and any secret. The
// record survives a restart as a public client, through the store's codec.
func TestPublicClientThroughTheGateway(t *testing.T) {
	t.Parallel()
	g := startIssuer(t)
	clients := g.AdminURL("/scopegate/clients")
	resp := do(t, http.MethodPost, clients, map[string]any{
		"client_name": "spa", "token_endpoint_auth_method": "none", "scope": "read",
		"redirect_uris": []string{"http://127.0.0.1/callback"}, "skip_consent": true,
	})
	if resp.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	var created map[string]any
	resp.JSON(t, &created)
	if _, ok := created["client_secret"]; ok {
		t.Fatalf("a public client was given a secret: %s", resp.Body)
	}
	id, _ := created["client_id"].(string)

	token := func(form url.Values, basicID, basicSecret string) tokenAnswer {
		return postForm(t, g, "/oauth2/token", form, basicID, basicSecret)
	}
	t.Run("authorization_code with client_id alone", func(t *testing.T) {
		token(url.Values{"grant_type": {"authorization_code"}, "client_id": {id}, "code": {"c"}, "code_verifier": {"v"}}, "", "").
			wantError(t, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("client_credentials with client_id alone", func(t *testing.T) {
		token(url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "scope": {"read"}}, "", "").
			wantError(t, http.StatusBadRequest, "unauthorized_client")
	})
	t.Run("a secret over Basic", func(t *testing.T) {
		ans := token(url.Values{"grant_type": {"authorization_code"}, "code": {"c"}}, id, "sgs_guess")
		ans.wantError(t, http.StatusUnauthorized, "invalid_client")
		if ans.Header.Get("WWW-Authenticate") == "" {
			t.Error("no Basic challenge")
		}
	})
	t.Run("rotating its secret", func(t *testing.T) {
		if r := do(t, http.MethodPost, clients+"/"+id+"/secrets", nil); r.Status != http.StatusConflict || r.ErrorCode() != "conflict" {
			t.Fatalf("rotate: %d %s", r.Status, r.Body)
		}
	})
	t.Run("PKCE made optional", func(t *testing.T) {
		r := do(t, http.MethodPatch, clients+"/"+id, map[string]any{"require_pkce": false}, "Content-Type", "application/merge-patch+json")
		if r.Status != http.StatusBadRequest || r.ErrorCode() != "invalid_client_metadata" {
			t.Fatalf("patch: %d %s", r.Status, r.Body)
		}
	})

	g.Stop()
	g.Start()
	r := do(t, http.MethodGet, clients+"/"+id, nil)
	var got map[string]any
	r.JSON(t, &got)
	if r.Status != http.StatusOK || got["client_type"] != "public" || got["token_endpoint_auth_method"] != "none" ||
		got["skip_consent"] != true || got["require_pkce"] != true {
		t.Fatalf("after a restart: %d %s", r.Status, r.Body)
	}
	token(url.Values{"grant_type": {"authorization_code"}, "client_id": {id}, "code": {"c"}}, "", "").
		wantError(t, http.StatusBadRequest, "invalid_grant")
}
