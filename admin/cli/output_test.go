package cli

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestClean(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"plain", "Billing Service", 0, "Billing Service"},
		{"unicode kept", "Zahlungsdienst – Größe 日本", 0, "Zahlungsdienst – Größe 日本"},
		{"escape sequence", "a\x1b]0;pwned\x07b", 0, "a?]0;pwned?b"},
		{"newlines and tabs", "a\r\nb\tc", 0, "a??b?c"},
		{"bidi override", "abc\u202Etxt.exe", 0, "abc?txt.exe"},
		{"isolate", "x\u2066y\u2069", 0, "x?y?"},
		{"invalid UTF-8", "a\xffb", 0, "a?b"},
		{"C1 control", "a\u009bb", 0, "a?b"},
		{"shortened", "abcdef", 3, "abc…"},
		{"exactly max", "abc", 3, "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clean(tt.in, tt.max); got != tt.want {
				t.Errorf("clean(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
		})
	}
}

func TestDecodeAPIError(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		wantCode string
		want     string
	}{
		{"API error", 404, `{"error":"not_found","error_description":"no client with this ID"}`, "not_found", "no client with this ID (HTTP 404)"},
		{"Caddy admin error", 403, `{"error":"host not allowed: evil"}`, "host not allowed: evil", "host not allowed: evil (HTTP 403)"},
		{"not configured", 503, `{"error":"not_configured","error_description":"the scopegate app is not configured"}`, "not_configured", "the scopegate app is not configured (HTTP 503)"},
		{"plain text", 502, "Bad Gateway\nmore detail\n", "", "Bad Gateway (HTTP 502)"},
		{"empty body", 500, "", "", "internal server error (HTTP 500)"},
		{"unknown status, empty", 599, "", "", "the admin endpoint refused the request (HTTP 599)"},
		{"hostile description", 400, `{"error":"x","error_description":"bad\r\n\u001b[31mred"}`, "x", "bad???[31mred (HTTP 400)"},
		{"long description", 400, `{"error_description":"` + strings.Repeat("a", 400) + `"}`, "", strings.Repeat("a", 300) + "… (HTTP 400)"},
		{"JSON that is not an object", 400, `[1,2]`, "", "[1,2] (HTTP 400)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := decodeAPIError(tt.status, []byte(tt.body))
			if e.Error() != tt.want || e.Code != tt.wantCode || e.Status != tt.status {
				t.Errorf("decodeAPIError = %q (code %q, status %d), want %q (code %q)", e.Error(), e.Code, e.Status, tt.want, tt.wantCode)
			}
		})
	}
}

// TestHostileServerOutput checks that text from a server that is not ours
// (or is broken) cannot reach the terminal raw, and that an answer that is
// not JSON is an error rather than garbage.
func TestHostileServerOutput(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/scopegate/clients":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"clients":[{"client_id":"id\u001b[2J","client_name":"evil\u202Eexe\ttab","scope":"a\nb","secrets":[]}]}`))
		case "/scopegate/keys":
			_, _ = w.Write([]byte("<html>not json</html>"))
		case "/scopegate/clients/big":
			_, _ = w.Write([]byte(`{"client_id":"big","client_name":"` + strings.Repeat("x", 1<<20) + `"}`))
		default:
			http.Error(w, "\x1b[2Jgone", http.StatusGone)
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	r := runOK(t, "client", "list", "--address", addr)
	want := "CLIENT ID  NAME          SCOPE  FEATURES  STATUS   SECRETS  PEOPLE  CREATED\n" +
		"id?[2J     evil?exe?tab  a?b    -         enabled  0        0       -\n"
	if r.Stdout != want {
		t.Errorf("list printed\n%q\nwant\n%q", r.Stdout, want)
	}
	stderr := runFail(t, nil, "keys", "list", "--address", addr, "--json")
	if !strings.HasPrefix(stderr, "scopegate: the admin endpoint answered with something other than JSON: ") {
		t.Errorf("non-JSON answer: %q", stderr)
	}
	stderr = runFail(t, nil, "client", "get", "other", "--address", addr)
	if stderr != "scopegate: ?[2Jgone (HTTP 410)\n" {
		t.Errorf("plain-text error: %q", stderr)
	}
	r = runOK(t, "client", "get", "big", "--address", addr)
	if !strings.Contains(r.Stdout, strings.Repeat("x", 1<<20)) {
		t.Errorf("a 1 MiB name was cut")
	}
}
