package integration

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestMetricsOnCaddysEndpoint(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
	f := startGuard(t)
	// Refusals are logged at debug level; the search below needs them.
	setLogLevel(t, f.g, "DEBUG")
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

// setLogLevel sets the level of Caddy's default log through the admin API,
// which loads the changed config.
func setLogLevel(t *testing.T, g *Gateway, level string) {
	t.Helper()
	body := map[string]any{"logs": map[string]any{"default": map[string]any{"level": level}}}
	if resp := do(t, http.MethodPost, g.AdminURL("/config/logging"), body); resp.Status != http.StatusOK {
		t.Fatalf("setting the log level: %d %s", resp.Status, resp.Body)
	}
	// A config change restarts the admin endpoint, as a reload does.
	g.awaitOldAdminStopped()
}

// infoRefusals returns the log lines at info level or above that report a
// refused request.
func infoRefusals(logs string) []string {
	var found []string
	for _, line := range strings.Split(logs, "\n") {
		var entry struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal([]byte(line), &entry) != nil || entry.Level == "debug" {
			continue
		}
		if strings.Contains(entry.Msg, "refused") {
			found = append(found, line)
		}
	}
	return found
}

// TestRefusalsStayOutOfInfoLogs: a flood of bad requests to the token
// endpoint or remote admin must not become a flood of log lines. Refusals
// are logged at debug level and counted in the metrics.
func TestRefusalsStayOutOfInfoLogs(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, remoteAdminCaddyfile)
	c := createClient(t, g, map[string]any{"client_name": "app", "scope": "read"})
	good := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
	refuse := func() {
		t.Helper()
		postForm(t, g, "/oauth2/token", good, c.ClientID, "sgs_wrong").wantError(t, http.StatusUnauthorized, "invalid_client")
		postForm(t, g, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"write"}}, c.ClientID, c.ClientSecret).
			wantError(t, http.StatusBadRequest, "invalid_scope")
		postForm(t, g, "/oauth2/revoke", url.Values{}, c.ClientID, c.ClientSecret).wantError(t, http.StatusBadRequest, "invalid_request")
		if resp := do(t, http.MethodGet, g.URL("/manage/clients"), nil, "Authorization", "Basic "+b64(c.ClientID+":sgs_wrong")); resp.Status != http.StatusUnauthorized {
			t.Fatalf("remote admin with a wrong secret: %d %s", resp.Status, resp.Body)
		}
		if resp := do(t, http.MethodGet, g.URL("/manage/clients"), nil, "Authorization", "Basic "+b64(c.ClientID+":"+c.ClientSecret)); resp.Status != http.StatusForbidden {
			t.Fatalf("remote admin as a plain client: %d %s", resp.Status, resp.Body)
		}
	}
	refuse()

	metrics := string(do(t, http.MethodGet, g.AdminURL("/metrics"), nil).Body)
	for _, want := range []string{
		`scopegate_token_requests_refused_total{error="invalid_client"} 1`,
		`scopegate_token_requests_refused_total{error="invalid_scope"} 1`,
		`scopegate_token_requests_refused_total{error="invalid_request"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if lines := infoRefusals(g.Logs()); len(lines) > 0 {
		t.Fatalf("refusals logged at info level or above:\n%s", strings.Join(lines, "\n"))
	}

	// The same refusals do appear at debug level: the check above could fail.
	setLogLevel(t, g, "DEBUG")
	refuse()
	if !eventually(10*time.Second, func() bool {
		logs := g.Logs()
		return strings.Contains(logs, `"token request refused"`) && strings.Contains(logs, `"admin request refused"`)
	}) {
		t.Fatal("no refusal logged at debug level")
	}
	if lines := infoRefusals(g.Logs()); len(lines) > 0 {
		t.Fatalf("refusals logged at info level or above:\n%s", strings.Join(lines, "\n"))
	}
}
