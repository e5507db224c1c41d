package integration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestMetricsOnCaddysEndpoint(t *testing.T) {
	f := startGuard(t)
	tok := f.token(t, f.app, "billing:read")
	f.token(t, f.app, "billing:read")
	postForm(t, f.g, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"nope"}}, f.app.ClientID, f.app.ClientSecret)
	for range 3 {
		upstreamSaw(t, f.call(t, http.MethodGet, "/billing/1", "Bearer "+tok))
	}
	f.call(t, http.MethodGet, "/billing/1")
	f.call(t, http.MethodGet, "/orders/1", "Bearer "+tok)

	metrics := string(do(t, http.MethodGet, f.g.AdminURL("/metrics"), nil).Body)
	for _, want := range []string{
		"scopegate_tokens_issued_total 2",
		`scopegate_token_requests_refused_total{error="invalid_scope"} 1`,
		`scopegate_guard_decisions_total{result="allowed"} 3`,
		`scopegate_guard_decisions_total{result="no_token"} 1`,
		`scopegate_guard_decisions_total{result="scope"} 1`,
		"scopegate_guard_duration_seconds_count 5",
		"scopegate_token_request_duration_seconds_count 3",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(metrics, f.app.ClientID) {
		t.Error("per-client labels appear though they are off")
	}
}

// TestLogsNeverHoldSecretsOrTokens runs a full session — clients created,
// rotated, tokens issued, used, refused, revoked, remote admin — and then
// searches everything the process wrote for any secret or token.
func TestLogsNeverHoldSecretsOrTokens(t *testing.T) {
	f := startGuard(t)
	// Refusals log at Debug: search what the gateway writes at its most
	// talkative level.
	if status, msg := f.g.Reload(strings.Replace(guardCaddyfile, "auto_https off", "auto_https off\n\tdebug", 1)); status != http.StatusOK {
		t.Fatalf("reload with debug: %d %s", status, msg)
	}
	secrets := []string{f.app.ClientSecret}
	var tokens []string

	owner := createClient(t, f.g, map[string]any{"client_name": "ops", "features": []string{"owner", "introspect"}, "scope": "x"})
	secrets = append(secrets, owner.ClientSecret)
	rot := do(t, http.MethodPost, f.g.AdminURL("/scopegate/clients/"+f.app.ClientID+"/secrets"), `{"grace_period":"1h"}`)
	var rotated struct {
		ClientSecret string `json:"client_secret"`
	}
	rot.JSON(t, &rotated)
	secrets = append(secrets, rotated.ClientSecret)

	for range 3 {
		tokens = append(tokens, f.token(t, f.app, "billing:read"))
	}
	tokens = append(tokens, f.token(t, owner, "x"))
	for _, tok := range tokens {
		f.call(t, http.MethodGet, "/billing/1", "Bearer "+tok)
		f.call(t, http.MethodGet, "/orders/1", "Bearer "+tok)
		f.call(t, http.MethodGet, "/billing/1?access_token="+tok)
		introspect(t, f.g, owner, tok)
	}
	postFormURL(t, f.g.URL("/oauth2/revoke"), "token="+tokens[0], f.app.ClientID, f.app.ClientSecret)
	f.call(t, http.MethodGet, "/billing/1", "Bearer "+tokens[0])
	// Failed logins and malformed requests echo nothing either.
	postForm(t, f.g, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, f.app.ClientID, f.app.ClientSecret+"x")
	req, _ := http.NewRequest(http.MethodPost, f.g.URL("/oauth2/token?client_secret="+f.app.ClientSecret), strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	doRequest(t, req)

	f.g.Stop()
	logs := f.g.Logs()
	if !strings.Contains(logs, "request refused") || !strings.Contains(logs, "token request refused") {
		t.Fatal("the run logged no refusals: the search below would prove nothing")
	}
	for i, s := range secrets {
		if strings.Contains(logs, s) || strings.Contains(logs, strings.TrimPrefix(s, "sgs_")) {
			t.Errorf("secret %d is in the logs", i)
		}
	}
	for i, tok := range tokens {
		for _, part := range strings.Split(tok, ".") {
			if strings.Contains(logs, part) {
				t.Errorf("a segment of token %d is in the logs", i)
			}
		}
	}
}
