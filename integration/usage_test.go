package integration

import (
	"net/http"
	"testing"
)

func TestUsageCountsSurviveReloadAndRestart(t *testing.T) {
	t.Parallel()
	f := startGuard(t)
	usage := func() map[string]any {
		t.Helper()
		var c struct {
			Usage map[string]any `json:"usage"`
		}
		do(t, http.MethodGet, f.g.AdminURL("/scopegate/clients/"+f.app.ClientID), nil).JSON(t, &c)
		return c.Usage
	}
	want := func(tokens, allowed, denied float64) {
		t.Helper()
		u := usage()
		if u["tokens_issued"] != tokens || u["requests_allowed"] != allowed || u["requests_denied"] != denied {
			t.Fatalf("usage %v, want tokens %v allowed %v denied %v", u, tokens, allowed, denied)
		}
		if u["last_token_at"] == nil || u["last_seen_at"] == nil {
			t.Fatalf("usage %v lacks times", u)
		}
	}

	tok := f.token(t, f.app, "billing:read")
	f.token(t, f.app, "billing:read")
	for range 5 {
		upstreamSaw(t, f.call(t, http.MethodGet, "/billing/1", "Bearer "+tok))
	}
	for range 2 {
		wantChallenge(t, f.call(t, http.MethodGet, "/orders/1", "Bearer "+tok), http.StatusForbidden, "insufficient_scope")
	}
	want(2, 5, 2)

	if status, msg := f.g.Reload(guardCaddyfile); status != http.StatusOK {
		t.Fatalf("reload: %d %s", status, msg)
	}
	for range 3 {
		upstreamSaw(t, f.call(t, http.MethodGet, "/billing/1", "Bearer "+tok))
	}
	want(2, 8, 2)

	f.g.Stop()
	f.g.Start()
	want(2, 8, 2)
}
