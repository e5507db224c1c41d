package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// policyCaddyfile guards routes with the method-policy forms and an
// audience, in front of an upstream that records what reaches it. {{.Debug}}
// is empty or Caddy's debug option, to switch the log level by a reload.
const policyCaddyfile = `{
	admin 127.0.0.1:{{.AdminPort}}
	auto_https off
	{{.Debug}}
	scopegate {
		issuer  http://127.0.0.1:{{.HTTPPort}}
		storage {{.Dir}}/scopegate.db
	}
}

http://127.0.0.1:{{.HTTPPort}} {
	scopegate_issuer
	handle /items/* {
		scopegate_guard {
			scopes   items:read
			method   except GET HEAD OPTIONS scopes items:write
			audience https://api.example.com/items
		}
		reverse_proxy {{.Upstream}}
	}
	handle /feed/* {
		scopegate_guard {
			method GET scopes feed:read
		}
		reverse_proxy {{.Upstream}}
	}
	respond "no such route" 404
}
`

// recorded is what the recording upstream received: headers, and the
// trailers that followed the body.
type recorded struct {
	Method   string      `json:"method"`
	Headers  http.Header `json:"headers"`
	Trailers http.Header `json:"trailers"`
}

// recordingUpstream reads each request's body to the end, so that request
// trailers arrive, and answers with what it received.
func recordingUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(recorded{Method: r.Method, Headers: r.Header, Trailers: r.Trailer})
	}))
	t.Cleanup(srv.Close)
	return srv
}

type policyFixture struct {
	g   *Gateway
	app createdClient
}

func startPolicy(t *testing.T) *policyFixture {
	t.Helper()
	f := &policyFixture{g: NewGateway(t, policyCaddyfile)}
	f.g.Vars["Upstream"] = strings.TrimPrefix(recordingUpstream(t).URL, "http://")
	f.g.Vars["Debug"] = ""
	f.g.Start()
	f.app = createClient(t, f.g, map[string]any{
		"client_name": "items-app",
		"scope":       "items:read items:write feed:read",
		"audience":    []string{"https://api.example.com/items"},
	})
	return f
}

func (f *policyFixture) call(t *testing.T, method, path, tok string) apiResponse {
	t.Helper()
	req, err := http.NewRequest(method, f.g.URL(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return doRequest(t, req)
}

// TestGuardMethodExceptForm: `method except GET HEAD OPTIONS scopes w` holds
// for every other method, whatever its case and whether or not anybody
// thought to list it; and a GET policy holds for HEAD.
func TestGuardMethodExceptForm(t *testing.T) {
	t.Parallel()
	f := startPolicy(t)
	reader := fetchToken(t, f.g, f.app, "items:read").AccessToken
	writer := fetchToken(t, f.g, f.app, "items:read", "items:write").AccessToken

	for _, method := range []string{"GET", "HEAD", "OPTIONS", "get", "Head"} {
		t.Run(method+" is excepted", func(t *testing.T) {
			if resp := f.call(t, method, "/items/1", reader); resp.Status != http.StatusOK {
				t.Fatalf("status %d %s", resp.Status, resp.Body)
			}
		})
	}
	for _, method := range []string{"POST", "PUT", "PATCH", "DELETE", "delete", "Patch", "PROPFIND", "PURGE"} {
		t.Run(method+" needs the write scope", func(t *testing.T) {
			resp := f.call(t, method, "/items/1", reader)
			wantChallenge(t, resp, http.StatusForbidden, "insufficient_scope")
			if resp := f.call(t, method, "/items/1", writer); resp.Status != http.StatusOK {
				t.Fatalf("with items:write: status %d %s", resp.Status, resp.Body)
			}
		})
	}
	t.Run("HEAD needs what GET needs", func(t *testing.T) {
		none := fetchToken(t, f.g, f.app, "items:read").AccessToken
		for _, method := range []string{"GET", "HEAD", "head"} {
			if resp := f.call(t, method, "/feed/1", none); resp.Status != http.StatusForbidden {
				t.Fatalf("%s without feed:read: status %d", method, resp.Status)
			}
		}
		feed := fetchToken(t, f.g, f.app, "feed:read").AccessToken
		for _, method := range []string{"GET", "HEAD"} {
			if resp := f.call(t, method, "/feed/1", feed); resp.Status != http.StatusOK {
				t.Fatalf("%s with feed:read: status %d", method, resp.Status)
			}
		}
		if resp := f.call(t, http.MethodPost, "/feed/1", none); resp.Status != http.StatusOK {
			t.Fatalf("POST is not under the GET policy: status %d", resp.Status)
		}
	})
}

// rawExchange writes a request byte for byte, as a hostile client would, and
// reads the answer.
func rawExchange(t *testing.T, g *Gateway, request string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", g.HTTPPort), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// TestGuardIdentityHeadersReachTheUpstreamIntact: a caller can neither strip
// the gateway's X-Client-Id and X-Scope (by naming them in Connection, which
// makes a proxy drop them as hop-by-hop) nor add its own (as request
// trailers, which arrive after the guard has run). The upstream records the
// headers and the trailers it receives.
func TestGuardIdentityHeadersReachTheUpstreamIntact(t *testing.T) {
	t.Parallel()
	f := startPolicy(t)
	tok := fetchToken(t, f.g, f.app, "items:read").AccessToken
	host := fmt.Sprintf("127.0.0.1:%d", f.g.HTTPPort)

	check := func(t *testing.T, resp *http.Response, body []byte) {
		t.Helper()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d %s", resp.StatusCode, body)
		}
		var saw recorded
		if err := json.Unmarshal(body, &saw); err != nil {
			t.Fatalf("decoding %s: %v", body, err)
		}
		if got := saw.Headers.Values("X-Client-Id"); len(got) != 1 || got[0] != f.app.ClientID {
			t.Errorf("upstream saw X-Client-Id %q, want only %q", got, f.app.ClientID)
		}
		if got := saw.Headers.Values("X-Scope"); len(got) != 1 || got[0] != "items:read" {
			t.Errorf("upstream saw X-Scope %q, want only items:read", got)
		}
		for name, v := range saw.Headers {
			if isIdentityName(name) && name != "X-Client-Id" && name != "X-Scope" {
				t.Errorf("upstream saw %s: %q", name, v)
			}
		}
		wantNoIdentityTrailer(t, saw)
	}

	for name, connection := range map[string]string{
		"Connection names both":              "X-Client-Id, X-Scope",
		"Connection in other case":           "x-client-id,x-scope",
		"Connection with keep-alive between": "keep-alive, X-Scope, close, X-Client-Id",
		"Connection repeated":                "X-Client-Id\r\nConnection: X-Scope",
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := rawExchange(t, f.g, "GET /items/1 HTTP/1.1\r\nHost: "+host+"\r\n"+
				"Authorization: Bearer "+tok+"\r\nConnection: "+connection+"\r\n\r\n")
			check(t, resp, body)
		})
	}
	for name, trailer := range map[string]string{
		"declared trailer":          "X-Client-Id",
		"declared, lower case":      "x-client-id",
		"declared, underscore":      "X_Client_Id",
		"declared scope and id":     "X-Scope, X-Client-Id",
		"undeclared trailer":        "",
		"declared other, sent ours": "X-Checksum",
	} {
		t.Run(name, func(t *testing.T) {
			declare := ""
			if trailer != "" {
				declare = "Trailer: " + trailer + "\r\n"
			}
			resp, body := rawExchange(t, f.g, "POST /items/1 HTTP/1.1\r\nHost: "+host+"\r\n"+
				"Authorization: Bearer "+fetchToken(t, f.g, f.app, "items:read", "items:write").AccessToken+"\r\n"+
				"Transfer-Encoding: chunked\r\n"+declare+"Connection: close\r\n\r\n"+
				"5\r\nhello\r\n0\r\n"+
				"X-Client-Id: admin\r\nx-scope: *\r\nX_Client_Id: admin\r\nX-Checksum: 1\r\n\r\n")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d %s", resp.StatusCode, body)
			}
			var saw recorded
			if err := json.Unmarshal(body, &saw); err != nil {
				t.Fatalf("decoding %s: %v", body, err)
			}
			if got := saw.Headers.Get("X-Client-Id"); got != f.app.ClientID {
				t.Errorf("upstream saw X-Client-Id %q", got)
			}
			wantNoIdentityTrailer(t, saw)
			if trailer == "X-Checksum" && saw.Trailers.Get("X-Checksum") != "1" {
				t.Errorf("a declared trailer of another name was lost: %q", saw.Trailers)
			}
		})
	}
}

// isIdentityName reports whether a header name is one of the gateway's
// identity headers in some spelling: case and '_' for '-'.
func isIdentityName(name string) bool {
	folded := strings.ReplaceAll(strings.ToLower(name), "_", "-")
	return folded == "x-client-id" || folded == "x-scope"
}

func wantNoIdentityTrailer(t *testing.T, saw recorded) {
	t.Helper()
	for name, v := range saw.Trailers {
		if isIdentityName(name) {
			t.Errorf("upstream saw the trailer %s: %q", name, v)
		}
	}
}

// guardLogLines returns the guard's refusal log lines, decoded.
func guardLogLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, "scopegate_guard") {
			continue
		}
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			continue
		}
		if entry["logger"] == "http.handlers.scopegate_guard" && entry["msg"] == "request refused" {
			lines = append(lines, entry)
		}
	}
	return lines
}

// TestGuardRefusalsSayWhatDidNotMatch: a refusal names the scope that is
// missing, the audience the route expected and the address the gateway saw
// (the caller's own), in error_description and in the log line; the log
// line is Debug, so a flood of refused requests is no flood of log lines at
// the default level, and the counts stay in the metrics.
func TestGuardRefusalsSayWhatDidNotMatch(t *testing.T) {
	t.Parallel()
	f := startPolicy(t)
	reader := fetchToken(t, f.g, f.app, "items:read").AccessToken
	other := createClient(t, f.g, map[string]any{"client_name": "elsewhere", "scope": "items:read"})
	elsewhere := fetchToken(t, f.g, other, "items:read").AccessToken
	pinned := createClient(t, f.g, map[string]any{"client_name": "pinned", "scope": "items:read",
		"audience": []string{"https://api.example.com/items"}})
	pinnedTok := fetchToken(t, f.g, pinned, "items:read").AccessToken
	if resp := do(t, http.MethodPatch, f.g.AdminURL("/scopegate/clients/"+pinned.ClientID), `{"ip_allowlist":["10.0.0.0/8"]}`); resp.Status != http.StatusOK {
		t.Fatalf("patch: %d %s", resp.Status, resp.Body)
	}

	refuse := func(t *testing.T) map[string]string {
		t.Helper()
		descriptions := map[string]string{}
		resp := f.call(t, http.MethodDelete, "/items/1", reader)
		wantChallenge(t, resp, http.StatusForbidden, "insufficient_scope")
		descriptions["scope"] = errorDescription(t, resp)
		resp = f.call(t, http.MethodGet, "/items/1", elsewhere)
		wantChallenge(t, resp, http.StatusUnauthorized, "invalid_token")
		descriptions["audience"] = errorDescription(t, resp)
		resp = f.call(t, http.MethodGet, "/items/1", pinnedTok)
		if resp.Status != http.StatusForbidden || resp.ErrorCode() != "access_denied" {
			t.Fatalf("outside the allowlist: %d %s", resp.Status, resp.Body)
		}
		descriptions["address"] = errorDescription(t, resp)
		f.call(t, http.MethodGet, "/items/1", "not-a-token")
		return descriptions
	}

	t.Run("error_description names what did not match", func(t *testing.T) {
		got := refuse(t)
		for reason, want := range map[string]string{
			"scope":    "items:write",
			"audience": "https://api.example.com/items",
			"address":  "127.0.0.1",
		} {
			if !strings.Contains(got[reason], want) {
				t.Errorf("%s refusal: description %q does not name %q", reason, got[reason], want)
			}
		}
	})
	t.Run("nothing at the default level", func(t *testing.T) {
		refuse(t)
		for _, line := range guardLogLines(t, f.g.Logs()) {
			if line["level"] != "debug" {
				t.Errorf("refusal logged at %v: %v", line["level"], line)
			}
		}
		metrics := string(do(t, http.MethodGet, f.g.AdminURL("/metrics"), nil).Body)
		for _, want := range []string{`result="scope"} 2`, `result="audience"} 2`, `result="address"} 2`, `result="invalid"} 2`} {
			if !strings.Contains(metrics, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
	t.Run("the Debug line names what did not match", func(t *testing.T) {
		f.g.Vars["Debug"] = "debug"
		if status, msg := f.g.Reload(policyCaddyfile); status != http.StatusOK {
			t.Fatalf("reload: %d %s", status, msg)
		}
		before := len(guardLogLines(t, f.g.Logs()))
		refuse(t)
		lines := guardLogLines(t, f.g.Logs())[before:]
		want := map[string]string{"scope": "items:write", "audience": "https://api.example.com/items", "address": "127.0.0.1"}
		found := map[string]bool{}
		for _, line := range lines {
			reason, _ := line["reason"].(string)
			if w, ok := want[reason]; ok && strings.Contains(fmt.Sprint(line), w) {
				found[reason] = true
			}
		}
		for reason := range want {
			if !found[reason] {
				t.Errorf("no debug line for %s naming %q in %v", reason, want[reason], lines)
			}
		}
		for _, line := range lines {
			for _, tok := range []string{reader, elsewhere, pinnedTok} {
				if strings.Contains(fmt.Sprint(line), strings.Split(tok, ".")[2]) {
					t.Errorf("a token is in the log line %v", line)
				}
			}
		}
	})
}

// errorDescription returns the error_description member of a JSON error.
func errorDescription(t *testing.T, resp apiResponse) string {
	t.Helper()
	var e struct {
		Description string `json:"error_description"`
	}
	resp.JSON(t, &e)
	return e.Description
}
