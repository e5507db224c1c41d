package integration

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// lockoutCaddyfile serves every endpoint a client logs in to: token,
// revocation, introspection and remote admin. 127.0.0.5 stands in for a
// load balancer (the only trusted proxy), so a request "through" it is one
// sent from 127.0.0.5 with X-Forwarded-For.
const lockoutCaddyfile = `{
	admin 127.0.0.1:{{.AdminPort}}
	auto_https off
	servers :{{.HTTPPort}} {
		trusted_proxies static 127.0.0.5/32
		trusted_proxies_strict
	}
	scopegate {
		issuer  http://127.0.0.1:{{.HTTPPort}}
		storage {{.Dir}}/scopegate.db
		failed_login_limit  5
		failed_login_window {{.Window}}
	}
}

http://127.0.0.1:{{.HTTPPort}} {
	scopegate_issuer
	handle_path /manage/* {
		scopegate_admin
	}
	respond 404
}
`

// loginEndpoint is one endpoint a client authenticates to, with a request
// that succeeds for a client with the right secret.
type loginEndpoint struct {
	name string
	// send sends the request as id/secret from ip (with X-Forwarded-For xff
	// when not empty).
	send func(t *testing.T, ip, xff, id, secret string) tokenAnswer
	// ok is the status of a success.
	ok int
}

// loginEndpoints are the token, revocation, introspection and remote admin
// endpoints of g.
func loginEndpoints(g *Gateway) []loginEndpoint {
	form := func(path string, values url.Values) func(t *testing.T, ip, xff, id, secret string) tokenAnswer {
		return func(t *testing.T, ip, xff, id, secret string) tokenAnswer {
			t.Helper()
			req, _ := http.NewRequest(http.MethodPost, g.URL(path), strings.NewReader(values.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return sendAs(t, req, ip, xff, id, secret)
		}
	}
	return []loginEndpoint{
		{"token", form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}), http.StatusOK},
		{"revoke", form("/oauth2/revoke", url.Values{"token": {"not-a-token"}}), http.StatusOK},
		{"introspect", form("/oauth2/introspect", url.Values{"token": {"not-a-token"}}), http.StatusOK},
		{"remote admin", func(t *testing.T, ip, xff, id, secret string) tokenAnswer {
			t.Helper()
			req, _ := http.NewRequest(http.MethodGet, g.URL("/manage/clients"), nil)
			return sendAs(t, req, ip, xff, id, secret)
		}, http.StatusOK},
	}
}

// sendAs sends req from ip with Basic credentials (form-encoded first) and
// decodes the JSON answer.
func sendAs(t *testing.T, req *http.Request, ip, xff, id, secret string) tokenAnswer {
	t.Helper()
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := clientFrom(ip).Do(req)
	if err != nil {
		t.Fatalf("%s %s from %s: %v", req.Method, req.URL.Path, ip, err)
	}
	defer resp.Body.Close()
	ans := tokenAnswer{Status: resp.StatusCode, Header: resp.Header}
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err == nil {
		ans.Raw = string(raw)
		_ = json.Unmarshal(raw, &ans.Body)
	}
	return ans
}

// wantThrottled checks the answer to a throttled source: 429, a Retry-After
// of whole seconds within the window, temporarily_unavailable, no-store.
func (a tokenAnswer) wantThrottled(t *testing.T, window time.Duration) {
	t.Helper()
	if a.Status != http.StatusTooManyRequests || a.errorCode() != "temporarily_unavailable" {
		t.Fatalf("got %d %s, want 429 temporarily_unavailable", a.Status, a.Raw)
	}
	secs, err := strconv.Atoi(a.Header.Get("Retry-After"))
	if err != nil || secs < 1 || time.Duration(secs)*time.Second > window {
		t.Fatalf("Retry-After %q, want whole seconds within the %s window", a.Header.Get("Retry-After"), window)
	}
	a.wantNoStore(t)
}

// TestNoLockOutByClientID: client IDs are public, so failures are counted
// against the address they come from, never against the client they name.
// An attacker fails many times with the victim's ID, on every endpoint, from
// outside the victim's allowlist; the attacker is throttled on every
// endpoint (even with the right secret: a throttled source is answered
// before its credentials are checked), and the victim, from its own
// address, is not.
func TestNoLockOutByClientID(t *testing.T) {
	t.Parallel()
	const window = time.Minute
	g := NewGateway(t, lockoutCaddyfile)
	g.Vars["Window"] = window.String()
	g.Start()
	const victimIP, attackerIP, bystanderIP, balancerIP = "127.0.0.3", "127.0.0.2", "127.0.0.4", "127.0.0.5"
	victim := createClient(t, g, map[string]any{
		"client_name": "victim", "scope": "read", "features": []string{"owner", "introspect"},
		"ip_allowlist": []string{victimIP + "/32", "198.51.100.8/32"},
	})
	endpoints := loginEndpoints(g)

	// Two rounds of wrong secrets on every endpoint: eight failures, past
	// the limit of five.
	for range 2 {
		for _, ep := range endpoints {
			if ans := ep.send(t, attackerIP, "", victim.ClientID, "sgs_guess"); ans.Status != http.StatusUnauthorized && ans.Status != http.StatusTooManyRequests {
				t.Fatalf("%s: a wrong secret got %d %s", ep.name, ans.Status, ans.Raw)
			}
		}
	}
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			t.Run("the attacker is throttled", func(t *testing.T) {
				ep.send(t, attackerIP, "", victim.ClientID, "sgs_guess").wantThrottled(t, window)
				ep.send(t, attackerIP, "", "made-up-id", "sgs_guess").wantThrottled(t, window)
				// Answered before the credentials are checked: the right
				// secret from a throttled source gets the same answer.
				ep.send(t, attackerIP, "", victim.ClientID, victim.ClientSecret).wantThrottled(t, window)
				// A forged X-Forwarded-For from an untrusted peer changes
				// nothing: the source is the peer.
				ep.send(t, attackerIP, bystanderIP, victim.ClientID, victim.ClientSecret).wantThrottled(t, window)
			})
			t.Run("the victim is not locked out", func(t *testing.T) {
				if ans := ep.send(t, victimIP, "", victim.ClientID, victim.ClientSecret); ans.Status != ep.ok {
					t.Fatalf("the right secret from the allowed address: %d %s, want %d", ans.Status, ans.Raw, ep.ok)
				}
			})
			t.Run("another source is not throttled", func(t *testing.T) {
				ans := ep.send(t, bystanderIP, "", victim.ClientID, "sgs_guess")
				if ans.Status != http.StatusUnauthorized {
					t.Fatalf("one wrong secret from another address: %d %s, want 401", ans.Status, ans.Raw)
				}
			})
		})
	}

	// Behind the trusted balancer, each client address is its own source.
	t.Run("through a trusted proxy", func(t *testing.T) {
		for range 6 {
			sendAs(t, tokenRequest(g), balancerIP, "198.51.100.66", victim.ClientID, "sgs_guess")
		}
		sendAs(t, tokenRequest(g), balancerIP, "198.51.100.66", victim.ClientID, victim.ClientSecret).wantThrottled(t, window)
		if ans := sendAs(t, tokenRequest(g), balancerIP, "198.51.100.8", victim.ClientID, victim.ClientSecret); ans.Status != http.StatusOK {
			t.Fatalf("the victim behind the same balancer: %d %s", ans.Status, ans.Raw)
		}
	})
}

// tokenRequest is a client_credentials request for scope read.
func tokenRequest(g *Gateway) *http.Request {
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
	req, _ := http.NewRequest(http.MethodPost, g.URL("/oauth2/token"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

// TestThrottleEndsWithItsWindow: a throttled source may try again once its
// window is over, and then the right secret works.
func TestThrottleEndsWithItsWindow(t *testing.T) {
	t.Parallel()
	const window = 2 * time.Second
	g := NewGateway(t, lockoutCaddyfile)
	g.Vars["Window"] = window.String()
	g.Start()
	c := createClient(t, g, map[string]any{"client_name": "app", "scope": "read"})
	const ip = "127.0.0.2"
	for range 5 {
		sendAs(t, tokenRequest(g), ip, "", c.ClientID, "sgs_guess").wantError(t, http.StatusUnauthorized, "invalid_client")
	}
	sendAs(t, tokenRequest(g), ip, "", c.ClientID, c.ClientSecret).wantThrottled(t, window)
	// A throttled attempt is not a failure: polling with the right secret
	// does not extend the window.
	if !eventually(window+5*time.Second, func() bool {
		ans := sendAs(t, tokenRequest(g), ip, "", c.ClientID, c.ClientSecret)
		if ans.Status != http.StatusOK {
			ans.wantThrottled(t, window)
		}
		return ans.Status == http.StatusOK
	}) {
		t.Fatalf("still throttled %s after the %s window began", window+5*time.Second, window)
	}
}
