package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// proxyCaddyfile puts two Caddy server blocks in front of the gateway, both
// connecting from 127.0.0.2, the gateway's only trusted proxy:
//
//   - the replacing proxy is Caddy's reverse_proxy as it comes: its own
//     clients are not trusted, so it replaces any X-Forwarded-For they send
//     with their address;
//   - the appending proxy adds the client's address to whatever
//     X-Forwarded-For the client sent, as many load balancers do (nginx's
//     $proxy_add_x_forwarded_for, cloud load balancers).
//
// Strict turns on trusted_proxies_strict: the client address is then the
// right-most untrusted entry of X-Forwarded-For rather than the left-most.
const proxyCaddyfile = `{
	admin 127.0.0.1:{{.AdminPort}}
	auto_https off
	servers :{{.HTTPPort}} {
		trusted_proxies static 127.0.0.2/32
		{{if .Strict}}trusted_proxies_strict{{end}}
	}
	scopegate {
		issuer  http://127.0.0.1:{{.HTTPPort}}
		storage {{.Dir}}/scopegate.db
	}
}

http://127.0.0.1:{{.HTTPPort}} {
	scopegate_issuer
	handle /orders/* {
		scopegate_guard orders:read
		reverse_proxy {{.Upstream}}
	}
	respond 404
}

http://127.0.0.1:{{.ReplacingPort}} {
	reverse_proxy 127.0.0.1:{{.HTTPPort}} {
		transport http {
			local_address 127.0.0.2
		}
	}
}

http://127.0.0.1:{{.AppendingPort}} {
	reverse_proxy 127.0.0.1:{{.HTTPPort}} {
		header_up X-Forwarded-For "{http.request.header.X-Forwarded-For}, {http.request.remote.host}"
		transport http {
			local_address 127.0.0.2
		}
	}
}
`

// clientFrom returns an HTTP client whose connections come from the local
// address ip (any 127.0.0.0/8 address is the loopback interface on Linux).
func clientFrom(ip string) *http.Client {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, addr)
			},
		},
		Timeout: 30 * time.Second,
	}
}

// proxyRoute is one way to reach the gateway.
type proxyRoute struct {
	from string // the caller's own address
	port int    // the gateway itself, or one of the proxies
	xff  string // X-Forwarded-For the caller sends; "" sends none
}

func (r proxyRoute) send(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	if r.xff != "" {
		req.Header.Set("X-Forwarded-For", r.xff)
	}
	resp, err := clientFrom(r.from).Do(req)
	if err != nil {
		t.Fatalf("%s %s from %s: %v", req.Method, req.URL, r.from, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// TestTrustedProxies checks whose address the allowlist is applied to. The
// client may connect from 127.0.0.3 only. A caller elsewhere (127.0.0.1)
// that forges X-Forwarded-For: 127.0.0.3 is refused when it connects
// directly and through a proxy that replaces the header, in both modes;
// through a proxy that appends to the header, it is refused only with
// trusted_proxies_strict: without it Caddy takes the left-most address,
// which is the caller's forgery. That is why docs/security.md tells
// operators to set trusted_proxies_strict. The real client behind a proxy
// is admitted by its forwarded address, at the guard and at the token
// endpoint.
func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	upstream := echoUpstream(t)
	g := NewGateway(t, proxyCaddyfile)
	g.Vars["Upstream"] = strings.TrimPrefix(upstream.URL, "http://")
	g.Vars["ReplacingPort"] = freePort(t)
	g.Vars["AppendingPort"] = freePort(t)
	g.Vars["Strict"] = false
	g.Start()
	c := createClient(t, g, map[string]any{"client_name": "fenced", "scope": "orders:read", "ip_allowlist": []string{"127.0.0.3/32"}})

	const allowed, outsider = "127.0.0.3", "127.0.0.1"
	direct, replacing, appending := g.HTTPPort, g.Vars["ReplacingPort"].(int), g.Vars["AppendingPort"].(int)

	tokenVia := func(t *testing.T, r proxyRoute) (int, string) {
		t.Helper()
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"orders:read"}}
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/oauth2/token", r.port), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(c.ClientID, c.ClientSecret)
		status, body := r.send(t, req)
		var ans struct {
			AccessToken string `json:"access_token"`
			Error       string `json:"error"`
		}
		if err := json.Unmarshal(body, &ans); err != nil {
			t.Fatalf("token answer %q", body)
		}
		if status == http.StatusOK {
			return status, ans.AccessToken
		}
		return status, ans.Error
	}
	tok := func() string {
		t.Helper()
		status, tok := tokenVia(t, proxyRoute{from: allowed, port: direct})
		if status != http.StatusOK {
			t.Fatalf("token from the allowed address: %d %s", status, tok)
		}
		return tok
	}()
	guardVia := func(t *testing.T, r proxyRoute) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/orders/1", r.port), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		return r.send(t, req)
	}

	cases := []struct {
		name  string
		route proxyRoute
		// admitted in the default mode and with trusted_proxies_strict.
		lax, strict bool
	}{
		{"direct from the allowed address", proxyRoute{allowed, direct, ""}, true, true},
		{"direct from outside", proxyRoute{outsider, direct, ""}, false, false},
		{"direct from outside with a forged header", proxyRoute{outsider, direct, allowed}, false, false},
		{"direct from outside with a forged list", proxyRoute{outsider, direct, "127.0.0.2, " + allowed}, false, false},
		{"replacing proxy from the allowed address", proxyRoute{allowed, replacing, ""}, true, true},
		{"replacing proxy from outside", proxyRoute{outsider, replacing, ""}, false, false},
		{"replacing proxy from outside with a forged header", proxyRoute{outsider, replacing, allowed}, false, false},
		{"appending proxy from the allowed address", proxyRoute{allowed, appending, ""}, true, true},
		{"appending proxy from outside", proxyRoute{outsider, appending, ""}, false, false},
		// The hazard trusted_proxies_strict removes: the left-most entry is
		// the caller's own claim.
		{"appending proxy from outside with a forged header", proxyRoute{outsider, appending, allowed}, true, false},
		{"appending proxy from the allowed address claiming another", proxyRoute{allowed, appending, outsider}, false, true},
	}
	for _, strict := range []bool{false, true} {
		g.Vars["Strict"] = strict
		if status, msg := g.Reload(proxyCaddyfile); status != http.StatusOK {
			t.Fatalf("reload with strict=%v: %d %s", strict, status, msg)
		}
		for _, tc := range cases {
			want := tc.lax
			if strict {
				want = tc.strict
			}
			t.Run(fmt.Sprintf("strict=%v/%s", strict, tc.name), func(t *testing.T) {
				status, body := guardVia(t, tc.route)
				if want {
					var echo struct {
						Headers http.Header `json:"headers"`
					}
					if status != http.StatusOK || json.Unmarshal(body, &echo) != nil || echo.Headers.Get("X-Client-Id") != c.ClientID {
						t.Fatalf("guard: %d %s, want the upstream's answer", status, body)
					}
				} else if status != http.StatusForbidden || !strings.Contains(string(body), `"access_denied"`) || strings.Contains(string(body), "headers") {
					t.Fatalf("guard: %d %s, want 403 access_denied", status, body)
				}

				status, code := tokenVia(t, tc.route)
				switch {
				case want && status != http.StatusOK:
					t.Fatalf("token endpoint: %d %s, want a token", status, code)
				case !want && (status != http.StatusBadRequest || code != "unauthorized_client"):
					t.Fatalf("token endpoint: %d %s, want 400 unauthorized_client", status, code)
				}
			})
		}
	}
}
