package integration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// accessLogCaddyfile turns Caddy's access log on with the filter that
// docs/security.md gives operators. Caddy logs the request URI, query
// included: without the filter, credentials a client wrongly put in the
// query string (refused by the gateway) would be written to the access log.
// Authorization headers Caddy redacts by itself.
const accessLogCaddyfile = `{
	admin 127.0.0.1:{{.AdminPort}}
	auto_https off
	scopegate {
		issuer  http://127.0.0.1:{{.HTTPPort}}
		storage {{.Dir}}/scopegate.db
	}
}

http://127.0.0.1:{{.HTTPPort}} {
	log {
		format filter {
			request>uri query {
				delete client_secret
				delete access_token
			}
		}
	}
	scopegate_issuer
	handle /orders/* {
		scopegate_guard orders:read
		respond "upstream"
	}
}
`

// TestAccessLogFilterKeepsCredentialsOut sends credentials and tokens in
// every place a client might put them, with Caddy's access log on and the
// documented filter, and searches the whole output for them.
func TestAccessLogFilterKeepsCredentialsOut(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, accessLogCaddyfile)
	c := createClient(t, g, map[string]any{"client_name": "app", "scope": "orders:read"})
	tok := fetchToken(t, g, c, "orders:read").AccessToken

	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"orders:read"}}.Encode()
	query := url.Values{"client_id": {c.ClientID}, "client_secret": {c.ClientSecret}}.Encode()
	req, _ := http.NewRequest(http.MethodPost, g.URL("/oauth2/token?"+query), strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sendToken(t, req).wantError(t, http.StatusBadRequest, "invalid_request")

	if resp := do(t, http.MethodGet, g.URL("/orders/1?access_token="+tok), nil); resp.Status != http.StatusUnauthorized {
		t.Fatalf("token in the query: %d", resp.Status)
	}
	if resp := do(t, http.MethodGet, g.URL("/orders/1"), nil, "Authorization", "Bearer "+tok); resp.Status != http.StatusOK {
		t.Fatalf("token in the header: %d %s", resp.Status, resp.Body)
	}
	g.Stop()

	logs := g.Logs()
	var access []string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"logger":"http.log.access`) {
			access = append(access, line)
		}
	}
	// The token fetch, the query-string login, two guarded requests.
	if len(access) != 4 || !strings.Contains(strings.Join(access, "\n"), `"uri":"/oauth2/token?client_id=`) {
		t.Fatalf("want 4 access log lines, one for the query-string login; got %d:\n%s", len(access), strings.Join(access, "\n"))
	}
	if strings.Contains(logs, c.ClientSecret) || strings.Contains(logs, strings.TrimPrefix(c.ClientSecret, "sgs_")) {
		t.Error("the client secret is in the logs")
	}
	for i, part := range strings.Split(tok, ".") {
		if strings.Contains(logs, part) {
			t.Errorf("segment %d of the token is in the logs", i)
		}
	}
}
