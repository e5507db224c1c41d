package admin

import (
	"encoding/json"
	"net/http"
	"testing"
)

// A public client is created without a secret: the answer has neither
// client_secret nor secret_id, where the handler used to index the first
// secret of a client that has none.
func TestCreatePublicClient(t *testing.T) {
	a := newTestAPI(t)
	res := a.do(http.MethodPost, "/clients", `{"client_name":"spa","token_endpoint_auth_method":"none","redirect_uris":["http://127.0.0.1:8400/cb"],"skip_consent":true}`)
	if res.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	var doc map[string]any
	if err := json.Unmarshal(res.Body, &doc); err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"client_secret", "secret_id"} {
		if _, ok := doc[absent]; ok {
			t.Errorf("%s in the answer: %s", absent, res.Body)
		}
	}
	want := map[string]any{"client_type": "public", "token_endpoint_auth_method": "none", "require_pkce": true, "skip_consent": true}
	for k, v := range want {
		if doc[k] != v {
			t.Errorf("%s = %v, want %v", k, doc[k], v)
		}
	}
	if secrets, _ := doc["secrets"].([]any); len(secrets) != 0 {
		t.Errorf("secrets %v", doc["secrets"])
	}
	// A confidential client still gets its secret and its ID.
	c := a.create(`{"client_name":"web","grant_types":["authorization_code"],"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"client_secret_post"}`)
	if c.ClientSecret == "" || c.SecretID == "" || c.ClientType != "confidential" || c.TokenEndpointAuthMethod != "client_secret_post" {
		t.Fatalf("confidential create: %+v", c)
	}
}
