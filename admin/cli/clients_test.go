package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	// The Caddyfile adapter, for --config with --adapter caddyfile.
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/storage"
)

// createViaCLI creates a client with the CLI's --json output and returns
// the decoded answer.
func createViaCLI(t *testing.T, ts *testServer, args ...string) secretAnswer {
	t.Helper()
	r := runOK(t, append([]string{"client", "create", "--address", ts.Addr, "--json"}, args...)...)
	var s secretAnswer
	if err := json.Unmarshal([]byte(r.Stdout), &s); err != nil {
		t.Fatalf("create --json output does not parse: %v\n%s", err, r.Stdout)
	}
	if !strings.HasPrefix(s.ClientSecret, registry.SecretPrefix) || s.ClientID == "" {
		t.Fatalf("create --json: no client id or secret: %s", r.Stdout)
	}
	return s
}

func TestCreateSendsEveryFlag(t *testing.T) {
	ts := newTestServer(t)
	r := runOK(t, "client", "create", "--address", ts.Addr,
		"--name", "Billing Service",
		"--scope", "orders:read orders:write",
		"--audience", "https://api.example.com/orders", "--audience", "https://api.example.com/a,b",
		"--ip", "10.0.0.0/8,2001:db8::1", "--ip", "192.168.1.7",
		"--feature", "introspect",
		"--grant", "client_credentials",
		"--ttl", "10m",
		"--no-require-scope",
		"--claims", `{"tenant": "acme"}`,
		"--metadata", `{"team":"billing","tier":2}`,
		"--id-token-alg", "RS256",
	)
	if r.Stderr != secretWarning+"\n" {
		t.Errorf("stderr = %q, want the secret warning alone", r.Stderr)
	}
	fields := tableFields(r.Stdout)
	id := fields["client_id"]
	c, err := ts.reg.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("the created client %q is not in the registry: %v", id, err)
	}
	want := map[string]string{
		"client_name":                  "Billing Service",
		"scope":                        "orders:read orders:write",
		"grant_types":                  "client_credentials",
		"audience":                     "https://api.example.com/orders, https://api.example.com/a,b",
		"ip_allowlist":                 strings.Join(c.IPAllowlist, ", "),
		"features":                     "introspect",
		"require_scope_request":        "false",
		"access_token_ttl":             "10m0s",
		"disabled":                     "false",
		"claims":                       `{"tenant":"acme"}`,
		"metadata":                     `{"team":"billing","tier":2}`,
		"secret_id":                    c.Secrets[0].ID,
		"tokens_issued":                "0",
		"tokens_revoked_at":            "-",
		"id_token_signed_response_alg": "RS256",
	}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("output %s = %q, want %q", k, fields[k], v)
		}
	}
	if !strings.HasPrefix(fields["client_secret"], registry.SecretPrefix) {
		t.Errorf("output client_secret = %q, want a secret", fields["client_secret"])
	}
	if got := strings.Join(c.IPAllowlist, " "); got != "10.0.0.0/8 2001:db8::1/128 192.168.1.7/32" {
		t.Errorf("stored ip_allowlist = %q", got)
	}
	if got := strings.Join(c.Audience, " "); got != "https://api.example.com/orders https://api.example.com/a,b" {
		t.Errorf("stored audience = %q (a comma inside a URI must not split it)", got)
	}
	if c.RequireScopeRequest || time.Duration(c.AccessTokenTTL) != 10*time.Minute || string(c.Claims) != `{"tenant":"acme"}` {
		t.Errorf("stored client = %+v", c)
	}
	reqs := ts.Requests()
	if len(reqs) != 1 || reqs[0].Method != http.MethodPost || reqs[0].Path != "/scopegate/clients" || reqs[0].ContentType != "application/json" {
		t.Fatalf("requests = %+v, want one POST /scopegate/clients as JSON", reqs)
	}
	if reqs[0].Origin != "http://"+ts.Addr {
		t.Errorf("Origin = %q, want http://%s as caddy's own commands send it", reqs[0].Origin, ts.Addr)
	}
}

// tableFields reads the field/value lines of printClient.
func tableFields(out string) map[string]string {
	fields := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, "  ")
		if ok && k != "" && !strings.Contains(k, " ") {
			fields[k] = strings.TrimSpace(v)
		}
	}
	return fields
}

func TestCreateJSONAndDefaults(t *testing.T) {
	ts := newTestServer(t)
	s := createViaCLI(t, ts, "--name", "minimal")
	if s.ClientName != "minimal" || !s.RequireScopeRequest || !slices.Equal(s.GrantTypes, []string{"client_credentials"}) {
		t.Errorf("created %+v, want the defaults", s.Client)
	}
	if len(s.Secrets) != 1 || s.Secrets[0].ID != s.SecretID {
		t.Errorf("secrets = %+v, secret_id %q", s.Secrets, s.SecretID)
	}
	body := ts.Requests()[0].Body
	if body != `{"client_name":"minimal"}` {
		t.Errorf("request body = %s, want only the name", body)
	}
}

func TestCreateRefusals(t *testing.T) {
	ts := newTestServer(t)
	createViaCLI(t, ts, "--name", "taken")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no name", []string{}, "scopegate: --name is required\n"},
		{"blank name", []string{"--name", "  "}, "scopegate: --name is required\n"},
		{"claims not JSON", []string{"--name", "x", "--claims", "tenant=acme"}, `scopegate: --claims: must be a JSON object, such as '{"team":"billing"}'` + "\n"},
		{"metadata an array", []string{"--name", "x", "--metadata", "[1]"}, `scopegate: --metadata: must be a JSON object, such as '{"team":"billing"}'` + "\n"},
		{"bad duration", []string{"--name", "x", "--ttl", "soon"}, `scopegate: invalid argument "soon" for "--ttl" flag: time: invalid duration "soon"; see 'caddy scopegate client create --help'` + "\n"},
		{"unknown flag", []string{"--name", "x", "--colour", "red"}, "scopegate: unknown flag: --colour; see 'caddy scopegate client create --help'\n"},
		{"argument", []string{"billing"}, `scopegate: unexpected argument "billing"; usage: caddy scopegate client create --name NAME [flags]` + "\n"},
		{"server: bad CIDR", []string{"--name", "x", "--ip", "10.0.0.0/33"}, "scopegate: ip_allowlist: "},
		{"server: unknown feature", []string{"--name", "x", "--feature", "root"}, "scopegate: features: "},
		{"server: name taken", []string{"--name", "TAKEN"}, "scopegate: client_name: is taken by another client (names are compared ignoring case) (HTTP 409)\n"},
		{"server: TTL too long", []string{"--name", "x", "--ttl", "100h"}, "scopegate: access_token_ttl: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(ts.Requests())
			stderr := runFail(t, nil, append([]string{"client", "create", "--address", ts.Addr}, tt.args...)...)
			if strings.HasSuffix(tt.want, "\n") {
				if stderr != tt.want {
					t.Errorf("stderr = %q, want %q", stderr, tt.want)
				}
			} else if !strings.HasPrefix(stderr, tt.want) || !strings.HasSuffix(stderr, "(HTTP 400)\n") {
				t.Errorf("stderr = %q, want %q… (HTTP 400)", stderr, tt.want)
			}
			sent := len(ts.Requests()) - before
			if server := strings.HasPrefix(tt.name, "server:"); server != (sent == 1) {
				t.Errorf("%d requests sent; a local refusal sends none, a server one sends one", sent)
			}
		})
	}
	page, err := ts.reg.List(context.Background(), registry.ListQuery{})
	if err != nil || len(page.Clients) != 1 {
		t.Errorf("registry holds %d clients (%v), want only the first", len(page.Clients), err)
	}
}

func TestListPagesAndAll(t *testing.T) {
	ts := newTestServer(t)
	var ids []string
	for i := range 5 {
		ids = append(ids, createViaCLI(t, ts, "--name", fmt.Sprintf("client-%d", i), "--scope", "s"+fmt.Sprint(i)).ClientID)
	}
	slices.Sort(ids)

	t.Run("one page with a hint", func(t *testing.T) {
		r := runOK(t, "client", "list", "--address", ts.Addr, "--limit", "2")
		lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
		if len(lines) != 3 || !regexp.MustCompile(`^CLIENT ID +NAME +SCOPE +FEATURES +STATUS +SECRETS +PEOPLE +CREATED$`).MatchString(lines[0]) {
			t.Fatalf("stdout = %q, want a header and two rows", r.Stdout)
		}
		for i, line := range lines[1:] {
			if !strings.HasPrefix(line, ids[i]+"  ") || !strings.Contains(line, " enabled ") {
				t.Errorf("row %d = %q, want client %s, enabled", i, line, ids[i])
			}
		}
		if !regexp.MustCompile(`^scopegate: more clients follow: list them with --all, or with --cursor \S+\n$`).MatchString(r.Stderr) {
			t.Errorf("stderr = %q, want the next-page hint", r.Stderr)
		}
		cursor := strings.TrimSpace(strings.TrimPrefix(r.Stderr, "scopegate: more clients follow: list them with --all, or with --cursor "))
		r = runOK(t, "client", "list", "--address", ts.Addr, "--limit", "2", "--cursor", cursor, "--json")
		var page listPage
		if err := json.Unmarshal([]byte(r.Stdout), &page); err != nil || len(page.Clients) != 2 || page.NextCursor == "" {
			t.Fatalf("second page: %v %s", err, r.Stdout)
		}
		var c registry.Client
		_ = json.Unmarshal(page.Clients[0], &c)
		if c.ClientID != ids[2] {
			t.Errorf("second page starts at %s, want %s", c.ClientID, ids[2])
		}
	})
	t.Run("all as JSON", func(t *testing.T) {
		before := len(ts.Requests())
		r := runOK(t, "client", "list", "--address", ts.Addr, "--limit", "2", "--all", "--json")
		var all struct {
			Clients    []registry.Client `json:"clients"`
			NextCursor *string           `json:"next_cursor"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &all); err != nil {
			t.Fatalf("--all --json does not parse: %v", err)
		}
		var got []string
		for _, c := range all.Clients {
			got = append(got, c.ClientID)
		}
		if !slices.Equal(got, ids) || all.NextCursor != nil {
			t.Errorf("--all listed %v (next_cursor %v), want %v and no cursor", got, all.NextCursor, ids)
		}
		if sent := len(ts.Requests()) - before; sent != 3 {
			t.Errorf("--all with pages of 2 sent %d requests for 5 clients, want 3", sent)
		}
		if r.Stderr != "" {
			t.Errorf("stderr = %q", r.Stderr)
		}
	})
	t.Run("all as a table", func(t *testing.T) {
		r := runOK(t, "client", "list", "--address", ts.Addr, "--limit", "3", "--all")
		if n := strings.Count(r.Stdout, "\n"); n != 6 || r.Stderr != "" {
			t.Errorf("stdout has %d lines (want header + 5), stderr %q", n, r.Stderr)
		}
	})
	t.Run("by name", func(t *testing.T) {
		r := runOK(t, "client", "list", "--address", ts.Addr, "--name", "CLIENT-3")
		if lines := strings.Split(strings.TrimSpace(r.Stdout), "\n"); len(lines) != 2 || !strings.Contains(lines[1], "client-3") {
			t.Errorf("stdout = %q, want client-3 alone", r.Stdout)
		}
		if q := ts.Requests()[len(ts.Requests())-1].RawQuery; q != "name=CLIENT-3" {
			t.Errorf("query = %q", q)
		}
	})
	t.Run("no match", func(t *testing.T) {
		r := runOK(t, "client", "list", "--address", ts.Addr, "--name", "nobody")
		if r.Stdout != "No clients.\n" {
			t.Errorf("stdout = %q", r.Stdout)
		}
		r = runOK(t, "client", "list", "--address", ts.Addr, "--name", "nobody", "--all", "--json")
		if strings.Join(strings.Fields(r.Stdout), "") != `{"clients":[]}` {
			t.Errorf("--all --json with no clients = %q", r.Stdout)
		}
	})
	t.Run("bad limit", func(t *testing.T) {
		stderr := runFail(t, nil, "client", "list", "--address", ts.Addr, "--limit", "0")
		if stderr != "scopegate: limit: must be a whole number from 1 to 1000 (HTTP 400)\n" {
			t.Errorf("stderr = %q", stderr)
		}
		stderr = runFail(t, nil, "client", "list", "--address", ts.Addr, "--limit", "many")
		if !strings.HasPrefix(stderr, `scopegate: invalid argument "many" for "--limit" flag`) {
			t.Errorf("stderr = %q", stderr)
		}
	})
	t.Run("forged cursor", func(t *testing.T) {
		stderr := runFail(t, nil, "client", "list", "--address", ts.Addr, "--cursor", "forged")
		if !strings.HasPrefix(stderr, "scopegate: cursor: ") || !strings.HasSuffix(stderr, "(HTTP 400)\n") {
			t.Errorf("stderr = %q", stderr)
		}
	})
}

// --registered lists only the clients that registered themselves, and
// --registered=false only the operator's, following pages with --all.
func TestListRegisteredFlag(t *testing.T) {
	ts := newTestServer(t)
	var registered, made []string
	for i := range 3 {
		c, _, err := ts.reg.Register(context.Background(), registry.Metadata{
			ClientName: "mcp", TokenEndpointAuthMethod: "none", GrantTypes: []string{"authorization_code"},
			RedirectURIs: []string{"http://127.0.0.1/cb"},
		})
		if err != nil {
			t.Fatal(err)
		}
		registered = append(registered, c.ClientID)
		made = append(made, createViaCLI(t, ts, "--name", fmt.Sprintf("svc-%d", i)).ClientID)
	}
	slices.Sort(registered)
	slices.Sort(made)
	for _, tt := range []struct {
		flag, query string
		want        []string
	}{
		{"--registered", "limit=2&registered=true", registered},
		{"--registered=true", "limit=2&registered=true", registered},
		{"--registered=false", "limit=2&registered=false", made},
	} {
		t.Run(tt.flag, func(t *testing.T) {
			before := len(ts.Requests())
			r := runOK(t, "client", "list", "--address", ts.Addr, tt.flag, "--limit", "2", "--all", "--json")
			var all struct {
				Clients []registry.Client `json:"clients"`
			}
			if err := json.Unmarshal([]byte(r.Stdout), &all); err != nil {
				t.Fatalf("stdout does not parse: %v", err)
			}
			var got []string
			for _, c := range all.Clients {
				got = append(got, c.ClientID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("listed %v, want %v", got, tt.want)
			}
			sent := ts.Requests()[before:]
			if len(sent) != 2 || sent[0].RawQuery != tt.query || !strings.HasPrefix(sent[1].RawQuery, "cursor=") ||
				!strings.HasSuffix(sent[1].RawQuery, "&"+tt.query) {
				t.Errorf("queries sent = %v, want %q and then a cursor with it", sent, tt.query)
			}
		})
	}
	t.Run("absent", func(t *testing.T) {
		r := runOK(t, "client", "list", "--address", ts.Addr)
		if n := strings.Count(r.Stdout, "\n"); n != 7 {
			t.Errorf("stdout has %d lines, want a header and 6 clients", n)
		}
		if q := ts.Requests()[len(ts.Requests())-1].RawQuery; q != "" {
			t.Errorf("query = %q, want none", q)
		}
	})
	t.Run("not a boolean", func(t *testing.T) {
		stderr := runFail(t, nil, "client", "list", "--address", ts.Addr, "--registered=maybe")
		if !strings.HasPrefix(stderr, `scopegate: invalid argument "maybe" for "--registered" flag`) {
			t.Errorf("stderr = %q", stderr)
		}
	})
}

func TestGetAndUnknownClient(t *testing.T) {
	ts := newTestServer(t)
	s := createViaCLI(t, ts, "--name", "reader", "--scope", "a b")
	r := runOK(t, "client", "get", s.ClientID, "--address", ts.Addr)
	f := tableFields(r.Stdout)
	if f["client_id"] != s.ClientID || f["scope"] != "a b" || f["client_secret"] != "" || r.Stderr != "" {
		t.Errorf("get printed %v, stderr %q", f, r.Stderr)
	}
	// The auth method's value, client_secret_basic, names no secret.
	if strings.Contains(r.Stdout, s.ClientSecret) || regexp.MustCompile(`(?m)^client_secret\s`).MatchString(r.Stdout) {
		t.Errorf("get printed the secret")
	}
	if !regexp.MustCompile(`(?m)^SECRET ID +CREATED +EXPIRES\n` + s.SecretID + ` +\S+ +never$`).MatchString(r.Stdout) {
		t.Errorf("secrets table missing:\n%s", r.Stdout)
	}
	r = runOK(t, "client", "get", s.ClientID, "--address", ts.Addr, "--json")
	var c map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &c); err != nil || c["client_id"] != s.ClientID {
		t.Errorf("get --json = %s (%v)", r.Stdout, err)
	}
	if _, ok := c["client_secret"]; ok {
		t.Errorf("get --json holds client_secret")
	}

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"get", []string{"client", "get", "nosuchclient"}, "scopegate: no client with this ID (HTTP 404)\n"},
		{"update", []string{"client", "update", "nosuchclient", "--scope", "x"}, "scopegate: no client with this ID (HTTP 404)\n"},
		{"delete", []string{"client", "delete", "nosuchclient"}, "scopegate: no client with this ID (HTTP 404)\n"},
		{"rotate", []string{"client", "rotate-secret", "nosuchclient"}, "scopegate: no client with this ID (HTTP 404)\n"},
		{"retire", []string{"client", "retire-secret", "nosuchclient", "s1"}, "scopegate: no client with this ID (HTTP 404)\n"},
		{"revoke", []string{"client", "revoke", "nosuchclient"}, "scopegate: no client with this ID (HTTP 404)\n"},
		{"disable", []string{"client", "disable", "nosuchclient"}, "scopegate: no client with this ID (HTTP 404)\n"},
		{"enable", []string{"client", "enable", "nosuchclient"}, "scopegate: no client with this ID (HTTP 404)\n"},
		{"json", []string{"client", "get", "nosuchclient", "--json"}, "scopegate: no client with this ID (HTTP 404)\n"},
		{"slash in id", []string{"client", "get", "a/../../config"}, "scopegate: no client with this ID (HTTP 404)\n"},
		{"dot dot", []string{"client", "get", ".."}, "scopegate: \"..\" is not a valid ID\n"},
		{"missing id", []string{"client", "get"}, "scopegate: missing ID; usage: caddy scopegate client get ID [flags]\n"},
		{"missing secret id", []string{"client", "retire-secret", "x"}, "scopegate: missing SECRET_ID; usage: caddy scopegate client retire-secret ID SECRET_ID [flags]\n"},
		{"two ids", []string{"client", "get", "a", "b"}, "scopegate: unexpected argument \"b\"; usage: caddy scopegate client get ID [flags]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stderr := runFail(t, nil, append(tt.args, "--address", ts.Addr)...)
			if stderr != tt.want {
				t.Errorf("stderr = %q, want %q", stderr, tt.want)
			}
		})
	}
}

func TestUpdateSendsOnlyGivenFields(t *testing.T) {
	ts := newTestServer(t)
	s := createViaCLI(t, ts, "--name", "svc", "--scope", "a b", "--ip", "10.0.0.0/8", "--feature", "introspect",
		"--ttl", "20m", "--metadata", `{"team":"x","owner":"ann"}`, "--claims", `{"tenant":"acme"}`)
	tests := []struct {
		name  string
		args  []string
		patch string
		check func(c registry.Client) string
	}{
		{"scope only", []string{"--scope", "a"}, `{"scope":"a"}`, func(c registry.Client) string {
			if c.Scope != "a" || len(c.IPAllowlist) != 1 || c.ClientName != "svc" {
				return "scope not changed alone"
			}
			return ""
		}},
		{"replace a list", []string{"--ip", "192.168.0.0/16", "--ip", "::1"}, `{"ip_allowlist":["192.168.0.0/16","::1"]}`, func(c registry.Client) string {
			if strings.Join(c.IPAllowlist, " ") != "192.168.0.0/16 ::1/128" {
				return "ip_allowlist " + strings.Join(c.IPAllowlist, " ")
			}
			return ""
		}},
		{"clear a list", []string{"--ip", ""}, `{"ip_allowlist":null}`, func(c registry.Client) string {
			if len(c.IPAllowlist) != 0 {
				return "ip_allowlist not cleared"
			}
			return ""
		}},
		{"merge metadata", []string{"--metadata", `{"owner":null,"tier":1}`}, `{"metadata":{"owner":null,"tier":1}}`, func(c registry.Client) string {
			if jsonCell(c.Metadata) != `{"team":"x","tier":1}` {
				return "metadata " + jsonCell(c.Metadata)
			}
			return ""
		}},
		{"remove claims", []string{"--claims", "null"}, `{"claims":null}`, func(c registry.Client) string {
			if len(c.Claims) != 0 {
				return "claims " + string(c.Claims)
			}
			return ""
		}},
		{"ID token algorithm", []string{"--id-token-alg", "RS256"}, `{"id_token_signed_response_alg":"RS256"}`, func(c registry.Client) string {
			if c.IDTokenSignedResponseAlg != "RS256" {
				return "id_token_signed_response_alg " + c.IDTokenSignedResponseAlg
			}
			return ""
		}},
		{"the server's ID token algorithm", []string{"--id-token-alg", ""}, `{"id_token_signed_response_alg":null}`, func(c registry.Client) string {
			if c.IDTokenSignedResponseAlg != "" {
				return "id_token_signed_response_alg " + c.IDTokenSignedResponseAlg
			}
			return ""
		}},
		{"default TTL", []string{"--ttl", "0"}, `{"access_token_ttl":null}`, func(c registry.Client) string {
			if c.AccessTokenTTL != 0 {
				return "ttl kept"
			}
			return ""
		}},
		{"set TTL", []string{"--ttl", "1h"}, `{"access_token_ttl":"1h0m0s"}`, func(c registry.Client) string {
			if time.Duration(c.AccessTokenTTL) != time.Hour {
				return "ttl not set"
			}
			return ""
		}},
		{"no scope request", []string{"--no-require-scope"}, `{"require_scope_request":false}`, func(c registry.Client) string {
			if c.RequireScopeRequest {
				return "still requires a scope request"
			}
			return ""
		}},
		{"scope request again", []string{"--no-require-scope=false"}, `{"require_scope_request":true}`, func(c registry.Client) string {
			if !c.RequireScopeRequest {
				return "no longer requires a scope request"
			}
			return ""
		}},
		{"rename and clear scope", []string{"--name", "svc2", "--scope", ""}, `{"client_name":"svc2","scope":null}`, func(c registry.Client) string {
			if c.ClientName != "svc2" || c.Scope != "" {
				return "name " + c.ClientName + " scope " + c.Scope
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runOK(t, append([]string{"client", "update", s.ClientID, "--address", ts.Addr, "--json"}, tt.args...)...)
			req := ts.Requests()[len(ts.Requests())-1]
			if req.Method != http.MethodPatch || req.ContentType != "application/merge-patch+json" || req.Body != tt.patch {
				t.Errorf("sent %s %s %q, want PATCH merge-patch %s", req.Method, req.ContentType, req.Body, tt.patch)
			}
			var c registry.Client
			if err := json.Unmarshal([]byte(r.Stdout), &c); err != nil {
				t.Fatalf("update --json: %v", err)
			}
			stored, _ := ts.reg.Get(context.Background(), s.ClientID)
			if msg := tt.check(stored); msg != "" {
				t.Errorf("stored: %s", msg)
			}
			if msg := tt.check(c); msg != "" {
				t.Errorf("printed: %s", msg)
			}
		})
	}
	t.Run("refusals", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{nil, "scopegate: nothing to change: give at least one flag, such as --scope; see 'caddy scopegate client update --help'\n"},
			{[]string{"--name", ""}, "scopegate: --name must not be empty\n"},
			{[]string{"--metadata", "x"}, `scopegate: --metadata: must be a JSON object, such as '{"team":"billing"}'` + "\n"},
			{[]string{"--feature", "root"}, "scopegate: features: "},
		} {
			stderr := runFail(t, nil, append([]string{"client", "update", s.ClientID, "--address", ts.Addr}, tc.args...)...)
			if !strings.HasPrefix(stderr, tc.want) {
				t.Errorf("%v: stderr = %q, want %q", tc.args, stderr, tc.want)
			}
		}
	})
}

func TestSecretLifecycle(t *testing.T) {
	ts := newTestServer(t)
	s := createViaCLI(t, ts, "--name", "rotating")

	before := time.Now()
	r := runOK(t, "client", "rotate-secret", s.ClientID, "--grace", "1h", "--address", ts.Addr)
	if r.Stderr != secretWarning+"\n" {
		t.Errorf("stderr = %q, want the warning", r.Stderr)
	}
	f := tableFields(r.Stdout)
	newSecret, newID := f["client_secret"], f["secret_id"]
	if !strings.HasPrefix(newSecret, registry.SecretPrefix) || newSecret == s.ClientSecret || newID == s.SecretID {
		t.Fatalf("rotate printed secret %q id %q", newSecret, newID)
	}
	if body := ts.Requests()[len(ts.Requests())-1].Body; body != `{"grace_period":"1h0m0s"}` {
		t.Errorf("rotate body = %s", body)
	}
	c, _ := ts.reg.Get(context.Background(), s.ClientID)
	if len(c.Secrets) != 2 {
		t.Fatalf("%d live secrets after rotating with grace, want 2", len(c.Secrets))
	}
	if exp := c.Secrets[0].ExpiresAt; exp.Before(before.Add(time.Hour-time.Minute)) || exp.After(time.Now().Add(time.Hour)) {
		t.Errorf("old secret expires %v, want in an hour", exp)
	}
	if _, err := ts.reg.Authenticate(context.Background(), s.ClientID, newSecret); err != nil {
		t.Errorf("the printed secret does not authenticate: %v", err)
	}

	r = runOK(t, "client", "retire-secret", s.ClientID, s.SecretID, "--address", ts.Addr)
	if strings.Contains(r.Stdout, s.SecretID) || !strings.Contains(r.Stdout, newID) {
		t.Errorf("after retiring, the table still lists the old secret or lost the new:\n%s", r.Stdout)
	}
	stderr := runFail(t, nil, "client", "retire-secret", s.ClientID, newID, "--address", ts.Addr)
	if stderr != "scopegate: this is the client's last live secret; rotate the secret first, or disable the client instead (HTTP 409)\n" {
		t.Errorf("retiring the last secret: %q", stderr)
	}

	r = runOK(t, "client", "rotate-secret", s.ClientID, "--address", ts.Addr, "--json")
	var rotated secretAnswer
	if err := json.Unmarshal([]byte(r.Stdout), &rotated); err != nil || len(rotated.Secrets) != 1 {
		t.Errorf("rotate without grace: %v, %d secrets, want 1", err, len(rotated.Secrets))
	}
	if req := ts.Requests()[len(ts.Requests())-1]; req.Body != "" || req.ContentType != "" {
		t.Errorf("rotate without flags sent a body %q (%s)", req.Body, req.ContentType)
	}
	stderr = runFail(t, nil, "client", "rotate-secret", s.ClientID, "--grace", "-1h", "--address", ts.Addr)
	if stderr != "scopegate: --grace and --expires-in must not be negative\n" {
		t.Errorf("negative grace: %q", stderr)
	}
}

func TestStateCommands(t *testing.T) {
	ts := newTestServer(t)
	s := createViaCLI(t, ts, "--name", "stateful")
	tests := []struct {
		cmd   string
		check func(c registry.Client) bool
	}{
		{"disable", func(c registry.Client) bool { return c.Disabled }},
		{"enable", func(c registry.Client) bool { return !c.Disabled }},
		{"revoke", func(c registry.Client) bool { return !c.TokensRevokedAt.IsZero() }},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			r := runOK(t, "client", tt.cmd, s.ClientID, "--address", ts.Addr)
			req := ts.Requests()[len(ts.Requests())-1]
			if req.Method != http.MethodPost || req.Path != "/scopegate/clients/"+s.ClientID+"/"+tt.cmd {
				t.Errorf("sent %s %s", req.Method, req.Path)
			}
			stored, _ := ts.reg.Get(context.Background(), s.ClientID)
			if !tt.check(stored) {
				t.Errorf("stored client after %s: %+v", tt.cmd, stored)
			}
			f := tableFields(r.Stdout)
			if f["disabled"] != fmt.Sprint(stored.Disabled) || f["client_id"] != s.ClientID {
				t.Errorf("printed %v", f)
			}
		})
	}
	if f := tableFields(runOK(t, "client", "get", s.ClientID, "--address", ts.Addr).Stdout); f["tokens_revoked_at"] == "-" {
		t.Errorf("tokens_revoked_at not shown after revoke")
	}
}

func TestDelete(t *testing.T) {
	ts := newTestServer(t)
	a := createViaCLI(t, ts, "--name", "a")
	b := createViaCLI(t, ts, "--name", "b")
	r := runOK(t, "client", "delete", a.ClientID, "--address", ts.Addr)
	if r.Stdout != "Deleted client "+a.ClientID+".\n" || r.Stderr != "" {
		t.Errorf("delete printed %q, %q", r.Stdout, r.Stderr)
	}
	r = runOK(t, "client", "delete", b.ClientID, "--address", ts.Addr, "--json")
	var out struct {
		ClientID string `json:"client_id"`
		Deleted  bool   `json:"deleted"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || out.ClientID != b.ClientID || !out.Deleted {
		t.Errorf("delete --json = %q (%v)", r.Stdout, err)
	}
	for _, id := range []string{a.ClientID, b.ClientID} {
		if _, err := ts.reg.Get(context.Background(), id); err == nil {
			t.Errorf("client %s still exists", id)
		}
	}
}

func TestKeys(t *testing.T) {
	ts := newTestServer(t)
	r := runOK(t, "keys", "list", "--address", ts.Addr)
	want := regexp.MustCompile(`^KID +ALG +STATUS +USE +CREATED +ACTIVE +RETIRED\n` +
		`k1 +ES256 +active +all +2026-03-01T12:00:00Z +2026-03-01T12:00:00Z +-\n` +
		`k2 +ES256 +next +all +2026-03-01T12:00:00Z +- +-\n$`)
	if !want.MatchString(r.Stdout) {
		t.Errorf("keys list:\n%s", r.Stdout)
	}
	r = runOK(t, "keys", "rotate", "--address", ts.Addr, "--json")
	var set struct {
		Keys []struct {
			KeyID  string `json:"kid"`
			Status string `json:"status"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &set); err != nil || len(set.Keys) != 2 || set.Keys[0].Status != "retired" || set.Keys[1].Status != "active" {
		t.Errorf("keys rotate --json = %s (%v)", r.Stdout, err)
	}
	if req := ts.Requests()[len(ts.Requests())-1]; req.Method != http.MethodPost || req.Path != "/scopegate/keys/rotate" {
		t.Errorf("rotate sent %s %s", req.Method, req.Path)
	}
	r = runOK(t, "keys", "revoke", "k1", "--address", ts.Addr)
	if !regexp.MustCompile(`(?m)^k1 +ES256 +revoked `).MatchString(r.Stdout) || !regexp.MustCompile(`(?m)^k2 +ES256 +active `).MatchString(r.Stdout) {
		t.Errorf("keys revoke:\n%s", r.Stdout)
	}
	if req := ts.Requests()[len(ts.Requests())-1]; req.Method != http.MethodPost || req.Path != "/scopegate/keys/k1/revoke" {
		t.Errorf("revoke sent %s %s", req.Method, req.Path)
	}
	for _, tt := range []struct{ kid, want string }{
		{"nosuch", "scopegate: no signing key with this kid (HTTP 404)\n"},
		{"k2", "scopegate: this key comes from signing_key_file; replace the file and reload (HTTP 409)\n"},
		{"a/../../clients", "scopegate: no signing key with this kid (HTTP 404)\n"},
	} {
		if stderr := runFail(t, nil, "keys", "revoke", tt.kid, "--address", ts.Addr); stderr != tt.want {
			t.Errorf("keys revoke %s: %q, want %q", tt.kid, stderr, tt.want)
		}
	}
	if stderr := runFail(t, nil, "keys", "revoke", "--address", ts.Addr); !strings.HasPrefix(stderr, "scopegate: missing KID; usage: ") {
		t.Errorf("keys revoke without a kid: %q", stderr)
	}
	ts.keys.mu.Lock()
	ts.keys.failWith = fmt.Errorf("disk on fire")
	ts.keys.mu.Unlock()
	stderr := runFail(t, nil, "keys", "list", "--address", ts.Addr)
	if stderr != "scopegate: internal server error; the cause is in the server's log (HTTP 500)\n" {
		t.Errorf("server fault: %q", stderr)
	}
}

func TestAdminAddress(t *testing.T) {
	ts := newTestServer(t)
	createViaCLI(t, ts, "--name", "x")
	dir := t.TempDir()
	jsonConfig := filepath.Join(dir, "caddy.json")
	if err := os.WriteFile(jsonConfig, []byte(`{"admin":{"listen":"`+ts.Addr+`"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	caddyfile := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(caddyfile, []byte("{\n\tadmin "+ts.Addr+"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dead := closedAddr(t)

	t.Run("from a JSON config", func(t *testing.T) {
		r := runOK(t, "client", "list", "--config", jsonConfig)
		if !strings.Contains(r.Stdout, " x ") {
			t.Errorf("stdout = %q", r.Stdout)
		}
	})
	t.Run("from a Caddyfile", func(t *testing.T) {
		r := runOK(t, "keys", "list", "--config", caddyfile, "--adapter", "caddyfile")
		if !strings.HasPrefix(r.Stdout, "KID") {
			t.Errorf("stdout = %q", r.Stdout)
		}
	})
	t.Run("with http:// in front", func(t *testing.T) {
		runOK(t, "keys", "list", "--address", "http://"+ts.Addr+"/")
	})

	failures := []struct {
		name string
		args []string
		want string
	}{
		{"nothing listening", []string{"--address", dead},
			"scopegate: cannot reach the admin endpoint at " + dead + " (connection refused): is Caddy running? Name its admin address with --address or --config\n"},
		{"no socket", []string{"--address", "unix/" + filepath.Join(dir, "none.sock")},
			"scopegate: cannot reach the admin endpoint at unix/" + filepath.Join(dir, "none.sock") + " (no such socket): is Caddy running? Name its admin address with --address or --config\n"},
		{"https", []string{"--address", "https://" + ts.Addr}, "scopegate: admin address \"https://" + ts.Addr + "\": use host:port or unix//path (the admin endpoint speaks plain HTTP)\n"},
		{"port range", []string{"--address", "127.0.0.1:2019-2020"}, "scopegate: admin address \"127.0.0.1:2019-2020\": a port range is not an address\n"},
		{"adapter alone", []string{"--adapter", "caddyfile"}, "scopegate: --adapter needs --config\n"},
		{"missing config", []string{"--config", filepath.Join(dir, "nope.json")}, "scopegate: finding the admin address in " + filepath.Join(dir, "nope.json") + ": "},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			stderr := runFail(t, nil, append([]string{"client", "list"}, tt.args...)...)
			if !strings.HasPrefix(stderr, tt.want) {
				t.Errorf("stderr = %q, want %q", stderr, tt.want)
			}
		})
	}
}

func TestUnixSocket(t *testing.T) {
	ts := newTestServer(t)
	sock := filepath.Join(t.TempDir(), "admin.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Skipf("no unix sockets here: %v", err)
	}
	srv := &http.Server{Handler: ts.srv.Config.Handler}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })

	s := createViaCLI(t, ts, "--name", "over-tcp")
	r := runOK(t, "client", "get", s.ClientID, "--address", "unix/"+sock+"|0222")
	if tableFields(r.Stdout)["client_name"] != "over-tcp" {
		t.Errorf("get over the socket printed %q", r.Stdout)
	}
	if origin := ts.Requests()[len(ts.Requests())-1].Origin; origin != "" {
		t.Errorf("Origin = %q over a unix socket, want none (as caddy sends)", origin)
	}
}

func TestCommandTree(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown client command", []string{"client", "frob"}, "scopegate: unknown command \"frob\" for 'caddy scopegate client'; the commands are create, delete, disable, enable, get, list, retire-secret, revoke, rotate-secret, update; see 'caddy scopegate client --help'\n"},
		{"unknown keys command", []string{"keys", "burn"}, "scopegate: unknown command \"burn\" for 'caddy scopegate keys'; the commands are list, revoke, rotate; see 'caddy scopegate keys --help'\n"},
		{"unknown group", []string{"clients"}, "scopegate: unknown command \"clients\" for 'caddy scopegate'; the commands are client, keys, role, store, token, user; see 'caddy scopegate --help'\n"},
		{"unknown command with flags", []string{"client", "frobnicate", "--json"}, "scopegate: unknown command \"frobnicate\" for 'caddy scopegate client'; the commands are create, delete, disable, enable, get, list, retire-secret, revoke, rotate-secret, update; see 'caddy scopegate client --help'\n"},
		{"unknown persistent flag", []string{"client", "list", "--adress", "x"}, "scopegate: unknown flag: --adress; see 'caddy scopegate client list --help'\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if stderr := runFail(t, nil, tt.args...); stderr != tt.want {
				t.Errorf("stderr = %q, want %q", stderr, tt.want)
			}
		})
	}
	t.Run("group help", func(t *testing.T) {
		r := runOK(t, "client")
		for _, sub := range []string{"create", "list", "get", "update", "delete", "rotate-secret", "retire-secret", "revoke", "disable", "enable"} {
			if !regexp.MustCompile(`(?m)^  ` + sub + ` `).MatchString(r.Stdout) {
				t.Errorf("client help does not list %s:\n%s", sub, r.Stdout)
			}
		}
	})
	t.Run("token help names the environment variable", func(t *testing.T) {
		r := runOK(t, "token", "--help")
		if !strings.Contains(r.Stdout, "SCOPEGATE_CLIENT_SECRET") {
			t.Errorf("token --help does not mention SCOPEGATE_CLIENT_SECRET")
		}
	})
}

// TestClientPeople: client get and client list show how many people use
// each app, as the admin API counts them.
func TestClientPeople(t *testing.T) {
	ts := newTestServer(t)
	app := createViaCLI(t, ts, "--name", "app", "--scope", "orders:read").ClientID
	idle := createViaCLI(t, ts, "--name", "idle", "--scope", "orders:read").ClientID
	for _, userID := range []string{"ivy", "jon"} {
		if _, err := ts.store.PutConsent(context.Background(), userID, app, func(c storage.Consent) (storage.Consent, error) {
			c.Scopes = []string{"orders:read"}
			return c, nil
		}); err != nil {
			t.Fatal(err)
		}
	}

	r := runOK(t, "client", "get", app, "--address", ts.Addr)
	if got := tableFields(r.Stdout)["people"]; got != "2" {
		t.Errorf("client get: people = %q, want 2\n%s", got, r.Stdout)
	}
	r = runOK(t, "client", "list", "--address", ts.Addr)
	rows := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n")[1:] {
		cols := strings.Fields(line)
		rows[cols[0]] = cols[len(cols)-2]
	}
	if rows[app] != "2" || rows[idle] != "0" {
		t.Errorf("client list: PEOPLE column = %v, want 2 for the app and 0 for the other\n%s", rows, r.Stdout)
	}
}
