package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// cliRun is one `caddy scopegate …` process.
type cliRun struct {
	Stdout, Stderr string
	Exit           int
}

// runCLI runs `caddy scopegate <args>` as its own process, as a user would:
// the test binary acting as Caddy. env adds variables ("K=V").
func runCLI(t *testing.T, env []string, args ...string) cliRun {
	t.Helper()
	return runCLIWithInput(t, env, "", args...)
}

// runCLIWithInput runs the CLI as runCLI does, with stdin piped to its
// standard input.
func runCLIWithInput(t *testing.T, env []string, stdin string, args ...string) cliRun {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"--", "scopegate"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	dir := t.TempDir()
	cmd.Dir = dir
	cmd.Env = append(caddyEnv(dir), "SCOPEGATE_CLIENT_SECRET=")
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := cliRun{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.Exit = ee.ExitCode()
	case err != nil:
		t.Fatalf("running the CLI: %v", err)
	}
	if strings.Contains(r.Stderr, "goroutine ") || strings.Contains(r.Stderr, "panic") {
		t.Fatalf("%v: the CLI crashed:\n%s", args, r.Stderr)
	}
	return r
}

// cliOK runs a command that must succeed.
func cliOK(t *testing.T, env []string, args ...string) cliRun {
	t.Helper()
	r := runCLI(t, env, args...)
	if r.Exit != 0 {
		t.Fatalf("%v: exit %d\nstderr: %s", args, r.Exit, r.Stderr)
	}
	return r
}

// cliFails runs a command that must fail: a non-zero exit, nothing on
// stdout, and one line on stderr, which it returns.
func cliFails(t *testing.T, env []string, args ...string) string {
	t.Helper()
	r := runCLI(t, env, args...)
	if r.Exit == 0 {
		t.Fatalf("%v succeeded:\n%s", args, r.Stdout)
	}
	if r.Stdout != "" {
		t.Errorf("%v: stdout on failure: %q", args, r.Stdout)
	}
	if !strings.HasPrefix(r.Stderr, "scopegate: ") || strings.Count(r.Stderr, "\n") != 1 || !strings.HasSuffix(r.Stderr, "\n") {
		t.Errorf("%v: stderr is not one \"scopegate: \" line: %q", args, r.Stderr)
	}
	return r.Stderr
}

// cliJSON decodes a command's --json output.
func cliJSON(t *testing.T, r cliRun, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.Stdout), v); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, r.Stdout)
	}
}

// fieldLine finds "field   value" in the CLI's text output.
func fieldLine(out, field string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(field) + ` +(\S.*?)\s*$`).FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return m[1]
}

const secretWarning = "scopegate: store the client secret now: it is shown only this once and cannot be shown again\n"

func TestCLIAgainstGateway(t *testing.T) {
	t.Parallel()
	g := startIssuer(t)
	addr := fmt.Sprintf("127.0.0.1:%d", g.AdminPort)
	admin := []string{"--address", addr}
	tokenURL := g.URL("/oauth2/token")

	// Create, as JSON and as a table.
	r := cliOK(t, nil, append([]string{"client", "create", "--name", "orders-app", "--scope", "orders:read orders:write",
		"--audience", g.URL("/orders"), "--ip", "127.0.0.1", "--claims", `{"tenant":"acme"}`, "--json"}, admin...)...)
	if r.Stderr != secretWarning {
		t.Errorf("create: stderr %q, want the secret warning", r.Stderr)
	}
	var app struct {
		ClientID     string   `json:"client_id"`
		ClientSecret string   `json:"client_secret"`
		SecretID     string   `json:"secret_id"`
		IPAllowlist  []string `json:"ip_allowlist"`
	}
	cliJSON(t, r, &app)
	if !strings.HasPrefix(app.ClientSecret, "sgs_") || app.ClientID == "" || strings.Join(app.IPAllowlist, ",") != "127.0.0.1/32" {
		t.Fatalf("create --json: %s", r.Stdout)
	}
	r = cliOK(t, nil, append([]string{"client", "create", "--name", "reports", "--feature", "client_read"}, admin...)...)
	reportsID := fieldLine(r.Stdout, "client_id")
	if reportsID == "" || !strings.HasPrefix(fieldLine(r.Stdout, "client_secret"), "sgs_") || fieldLine(r.Stdout, "features") != "client_read" {
		t.Fatalf("create (table):\n%s", r.Stdout)
	}

	t.Run("list", func(t *testing.T) {
		r := cliOK(t, nil, append([]string{"client", "list"}, admin...)...)
		if !strings.Contains(r.Stdout, app.ClientID+"  orders-app") || !strings.Contains(r.Stdout, reportsID+"  reports") || strings.Contains(r.Stdout, "sgs_") {
			t.Errorf("list:\n%s", r.Stdout)
		}
		r = cliOK(t, nil, append([]string{"client", "list", "--limit", "1", "--all", "--json"}, admin...)...)
		var all struct {
			Clients []struct {
				ClientID string `json:"client_id"`
			} `json:"clients"`
		}
		cliJSON(t, r, &all)
		if len(all.Clients) != 2 {
			t.Errorf("list --all --limit 1 found %d clients, want 2", len(all.Clients))
		}
		r = cliOK(t, nil, append([]string{"client", "list", "--limit", "1"}, admin...)...)
		if !strings.HasPrefix(r.Stderr, "scopegate: more clients follow") {
			t.Errorf("list --limit 1: stderr %q, want the next-page hint", r.Stderr)
		}
	})

	t.Run("get and update", func(t *testing.T) {
		r := cliOK(t, nil, append([]string{"client", "update", app.ClientID, "--metadata", `{"team":"orders"}`, "--ttl", "5m"}, admin...)...)
		if fieldLine(r.Stdout, "metadata") != `{"team":"orders"}` || fieldLine(r.Stdout, "access_token_ttl") != "5m0s" ||
			fieldLine(r.Stdout, "scope") != "orders:read orders:write" {
			t.Errorf("update:\n%s", r.Stdout)
		}
		r = cliOK(t, nil, append([]string{"client", "get", app.ClientID, "--json"}, admin...)...)
		var c map[string]any
		cliJSON(t, r, &c)
		if c["access_token_ttl"] != "5m0s" || c["client_secret"] != nil {
			t.Errorf("get --json: %s", r.Stdout)
		}
	})

	secretEnv := func(s string) []string { return []string{"SCOPEGATE_CLIENT_SECRET=" + s} }
	t.Run("token", func(t *testing.T) {
		r := cliOK(t, secretEnv(app.ClientSecret), "token", "--client-id", app.ClientID, "--token-url", tokenURL, "--scope", "orders:read",
			"--resource", g.URL("/orders"))
		raw := strings.TrimSpace(r.Stdout)
		tok := verifyWithJWKS(t, g, raw)
		if sub, _ := tok.Subject(); sub != app.ClientID {
			t.Errorf("token sub = %q", sub)
		}
		r = cliOK(t, secretEnv(app.ClientSecret), "token", "--client-id", app.ClientID, "--issuer", g.URL(""), "--scope", "orders:write", "--json")
		var out struct {
			TokenType string         `json:"token_type"`
			ExpiresIn int            `json:"expires_in"`
			Scope     string         `json:"scope"`
			Header    map[string]any `json:"header"`
			Claims    map[string]any `json:"claims"`
		}
		cliJSON(t, r, &out)
		if out.TokenType != "Bearer" || out.ExpiresIn != 300 || out.Scope != "orders:write" || out.Header["typ"] != "at+jwt" ||
			out.Claims["client_id"] != app.ClientID || out.Claims["tenant"] != "acme" || out.Claims["iss"] != g.URL("") {
			t.Errorf("token --json: %s", r.Stdout)
		}
		stderr := cliFails(t, secretEnv("sgs_wrong"), "token", "--client-id", app.ClientID, "--token-url", tokenURL, "--scope", "orders:read")
		if !strings.HasPrefix(stderr, "scopegate: token request refused: invalid_client") || !strings.HasSuffix(stderr, "(HTTP 401)\n") {
			t.Errorf("wrong secret: %q", stderr)
		}
		stderr = cliFails(t, secretEnv(app.ClientSecret), "token", "--client-id", app.ClientID, "--token-url", tokenURL, "--scope", "admin")
		if !strings.HasPrefix(stderr, "scopegate: token request refused: invalid_scope") || !strings.HasSuffix(stderr, "(HTTP 400)\n") {
			t.Errorf("scope not allowed: %q", stderr)
		}
	})

	t.Run("rotate and retire", func(t *testing.T) {
		r := cliOK(t, nil, append([]string{"client", "rotate-secret", app.ClientID, "--grace", "1h"}, admin...)...)
		newSecret, newID := fieldLine(r.Stdout, "client_secret"), fieldLine(r.Stdout, "secret_id")
		if r.Stderr != secretWarning || !strings.HasPrefix(newSecret, "sgs_") || newID == app.SecretID {
			t.Fatalf("rotate-secret: %q\n%s", r.Stderr, r.Stdout)
		}
		// Both secrets work during the grace period.
		for _, s := range []string{app.ClientSecret, newSecret} {
			cliOK(t, secretEnv(s), "token", "--client-id", app.ClientID, "--token-url", tokenURL, "--scope", "orders:read")
		}
		r = cliOK(t, nil, append([]string{"client", "retire-secret", app.ClientID, app.SecretID, "--json"}, admin...)...)
		var c struct {
			Secrets []struct {
				ID string `json:"id"`
			} `json:"secrets"`
		}
		cliJSON(t, r, &c)
		if len(c.Secrets) != 1 || c.Secrets[0].ID != newID {
			t.Errorf("after retire-secret: %s", r.Stdout)
		}
		stderr := cliFails(t, secretEnv(app.ClientSecret), "token", "--client-id", app.ClientID, "--token-url", tokenURL, "--scope", "orders:read")
		if !strings.Contains(stderr, "invalid_client") {
			t.Errorf("the retired secret: %q", stderr)
		}
		stderr = cliFails(t, nil, append([]string{"client", "retire-secret", app.ClientID, newID}, admin...)...)
		if !strings.HasSuffix(stderr, "(HTTP 409)\n") {
			t.Errorf("retiring the last secret: %q", stderr)
		}
		app.ClientSecret = newSecret
	})

	t.Run("disable and enable", func(t *testing.T) {
		r := cliOK(t, nil, append([]string{"client", "disable", app.ClientID}, admin...)...)
		if fieldLine(r.Stdout, "disabled") != "true" {
			t.Errorf("disable:\n%s", r.Stdout)
		}
		cliFails(t, secretEnv(app.ClientSecret), "token", "--client-id", app.ClientID, "--token-url", tokenURL, "--scope", "orders:read")
		r = cliOK(t, nil, append([]string{"client", "enable", app.ClientID}, admin...)...)
		if fieldLine(r.Stdout, "disabled") != "false" {
			t.Errorf("enable:\n%s", r.Stdout)
		}
		cliOK(t, secretEnv(app.ClientSecret), "token", "--client-id", app.ClientID, "--token-url", tokenURL, "--scope", "orders:read")
	})

	t.Run("revoke", func(t *testing.T) {
		r := cliOK(t, nil, append([]string{"client", "revoke", app.ClientID, "--json"}, admin...)...)
		var c map[string]any
		cliJSON(t, r, &c)
		if s, _ := c["tokens_revoked_at"].(string); s == "" {
			t.Errorf("revoke --json: %s", r.Stdout)
		}
		if u, _ := c["usage"].(map[string]any); u == nil {
			t.Errorf("revoke --json has no usage: %s", r.Stdout)
		}
	})

	t.Run("keys", func(t *testing.T) {
		r := cliOK(t, nil, append([]string{"keys", "list"}, admin...)...)
		active := regexp.MustCompile(`(?m)^(\S+) +ES256 +active `).FindStringSubmatch(r.Stdout)
		next := regexp.MustCompile(`(?m)^(\S+) +ES256 +next `).FindStringSubmatch(r.Stdout)
		if !strings.HasPrefix(r.Stdout, "KID ") || active == nil || next == nil {
			t.Fatalf("keys list:\n%s", r.Stdout)
		}
		r = cliOK(t, nil, append([]string{"keys", "rotate", "--json"}, admin...)...)
		var set struct {
			Keys []struct {
				KID    string `json:"kid"`
				Status string `json:"status"`
			} `json:"keys"`
		}
		cliJSON(t, r, &set)
		status := map[string]string{}
		for _, k := range set.Keys {
			status[k.KID] = k.Status
		}
		if status[next[1]] != "active" || status[active[1]] != "retired" {
			t.Errorf("after keys rotate: %v (was active %s, next %s)", status, active[1], next[1])
		}
	})

	t.Run("admin address from the config", func(t *testing.T) {
		config := filepath.Join(g.Dir, "Caddyfile")
		r := cliOK(t, nil, "client", "get", reportsID, "--config", config, "--adapter", "caddyfile")
		if fieldLine(r.Stdout, "client_name") != "reports" {
			t.Errorf("get --config:\n%s", r.Stdout)
		}
	})

	t.Run("delete", func(t *testing.T) {
		r := cliOK(t, nil, append([]string{"client", "delete", reportsID}, admin...)...)
		if r.Stdout != "Deleted client "+reportsID+".\n" {
			t.Errorf("delete: %q", r.Stdout)
		}
		stderr := cliFails(t, nil, append([]string{"client", "get", reportsID}, admin...)...)
		if stderr != "scopegate: no client with this ID (HTTP 404)\n" {
			t.Errorf("get after delete: %q", stderr)
		}
	})
}

func TestCLIFailures(t *testing.T) {
	t.Parallel()
	g := startIssuer(t)
	addr := fmt.Sprintf("127.0.0.1:%d", g.AdminPort)
	dead := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	tests := []struct {
		name string
		env  []string
		args []string
		want string // the whole line, or its start when it ends in "…"
	}{
		{"unknown client id", nil, []string{"client", "get", "nosuchclient", "--address", addr},
			"scopegate: no client with this ID (HTTP 404)\n"},
		{"unknown client id as JSON", nil, []string{"client", "delete", "nosuchclient", "--address", addr, "--json"},
			"scopegate: no client with this ID (HTTP 404)\n"},
		{"bad flag value", nil, []string{"client", "create", "--name", "x", "--ttl", "abc", "--address", addr},
			"scopegate: invalid argument \"abc\" for \"--ttl\" flag: time: invalid duration \"abc\"; see 'caddy scopegate client create --help'\n"},
		{"bad value the server refuses", nil, []string{"client", "create", "--name", "x", "--ip", "300.1.1.1/8", "--address", addr},
			"scopegate: ip_allowlist: …"},
		{"bad limit", nil, []string{"client", "list", "--limit", "5000", "--address", addr},
			"scopegate: limit: must be a whole number from 1 to 1000 (HTTP 400)\n"},
		{"admin endpoint unreachable", nil, []string{"client", "list", "--address", dead},
			"scopegate: cannot reach the admin endpoint at " + dead + " (connection refused): is Caddy running? Name its admin address with --address or --config\n"},
		{"keys, unreachable", nil, []string{"keys", "list", "--address", dead},
			"scopegate: cannot reach the admin endpoint at " + dead + " (connection refused): is Caddy running? Name its admin address with --address or --config\n"},
		{"token endpoint unreachable", []string{"SCOPEGATE_CLIENT_SECRET=sgs_x"}, []string{"token", "--client-id", "x", "--token-url", "http://" + dead + "/oauth2/token"},
			"scopegate: cannot reach the token endpoint http://" + dead + "/oauth2/token (connection refused)\n"},
		{"no secret", nil, []string{"token", "--client-id", "x", "--token-url", g.URL("/oauth2/token")},
			"scopegate: no client secret: set SCOPEGATE_CLIENT_SECRET (or give --client-secret)\n"},
		{"unknown command", nil, []string{"client", "purge", "--address", addr},
			"scopegate: unknown command \"purge\" for 'caddy scopegate client'; the commands are create, delete, disable, enable, get, list, retire-secret, revoke, rotate-secret, update; see 'caddy scopegate client --help'\n"},
		{"unknown client command", nil, []string{"client", "frobnicate"},
			"scopegate: unknown command \"frobnicate\" for 'caddy scopegate client'; the commands are create, delete, disable, enable, get, list, retire-secret, revoke, rotate-secret, update; see 'caddy scopegate client --help'\n"},
		{"unknown group", nil, []string{"nope"},
			"scopegate: unknown command \"nope\" for 'caddy scopegate'; the commands are client, keys, role, store, token, user; see 'caddy scopegate --help'\n"},
		{"missing argument", nil, []string{"client", "rotate-secret", "--address", addr},
			"scopegate: missing ID; usage: caddy scopegate client rotate-secret ID [--grace 1h] [--expires-in 2160h] [flags]\n"},
		{"nothing to update", nil, []string{"client", "update", "someid", "--address", addr},
			"scopegate: nothing to change: give at least one flag, such as --scope; see 'caddy scopegate client update --help'\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stderr := cliFails(t, tt.env, tt.args...)
			if prefix, ok := strings.CutSuffix(tt.want, "…"); ok {
				if !strings.HasPrefix(stderr, prefix) {
					t.Errorf("stderr = %q, want %q…", stderr, prefix)
				}
				return
			}
			if stderr != tt.want {
				t.Errorf("stderr = %q\nwant     %q", stderr, tt.want)
			}
		})
	}
	// Nothing was created by the refused commands.
	r := cliOK(t, nil, "client", "list", "--address", addr, "--json")
	if strings.Join(strings.Fields(r.Stdout), "") != `{"clients":[]}` {
		t.Errorf("the refused commands left clients behind: %s", r.Stdout)
	}
	if r := cliOK(t, nil, "client", "--address", addr); !strings.Contains(r.Stdout, "rotate-secret") {
		t.Errorf("`caddy scopegate client` does not show the commands:\n%s", r.Stdout)
	}
}

// TestCLIExampleCaddyfile adapts examples/Caddyfile.production with
// `caddy adapt`, so that the example keeps to the directives' syntax.
func TestCLIExampleCaddyfile(t *testing.T) {
	t.Parallel()
	config, err := filepath.Abs("../examples/Caddyfile.production")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "--", "adapt", "--config", config, "--adapter", "caddyfile")
	cmd.Env = caddyEnv(t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("caddy adapt: %v\n%s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), `"level":"warn"`) {
		t.Errorf("caddy adapt warns:\n%s", stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		`"handler":"scopegate_issuer"`,
		`"handler":"scopegate_guard"`,
		`"handler":"scopegate_admin"`,
		`"audience":"https://api.example.com/orders"`,
		`"strip_path_prefix":"/manage"`,
		`"trusted_proxies_strict":1`,
		`"issuer":"https://api.example.com"`,
		`"api.example.com"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the adapted config has no %s", want)
		}
	}
	if n := strings.Count(out, `"handler":"scopegate_guard"`); n != 3 {
		t.Errorf("%d guarded routes, want 3 (orders, billing, reports)", n)
	}
}

// TestCLIWalkthrough runs examples/walkthrough.sh against a gateway
// running Caddyfile.example, moved to free ports, as a new user would run
// it against `go run ./caddy run --config Caddyfile.example`.
func TestCLIWalkthrough(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the walk-through needs %s", tool)
		}
	}
	g := startExampleGateway(t, "handle /orders/*")

	script, err := filepath.Abs("../examples/walkthrough.sh")
	if err != nil {
		t.Fatal(err)
	}
	run := func(path string) (string, error) {
		cmd := exec.Command("bash", script)
		cmd.Env = append(os.Environ(), "ADMIN="+g.AdminURL(""), "GATEWAY="+g.URL(""))
		if path != "" {
			cmd.Env = append(cmd.Env, "PATH="+path)
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("")
	if err != nil {
		t.Fatalf("walkthrough.sh: %v\n%s", err, out)
	}
	for _, want := range []string{"== 1. Create a client", "   403, WWW-Authenticate: Bearer", "old secret: invalid_client",
		"error=\"invalid_token\"", "a new token works", "its live token: 401", "== Done."} {
		if !strings.Contains(out, want) {
			t.Errorf("the walk-through's output has no %q:\n%s", want, out)
		}
	}
	resp := do(t, "GET", g.AdminURL("/scopegate/clients"), nil)
	if strings.Contains(string(resp.Body), "walkthrough-") {
		t.Errorf("the walk-through left its client behind: %s", resp.Body)
	}

	// Without jq, it stops at once and says what to install.
	bin := t.TempDir()
	for _, tool := range []string{"bash", "curl", "env", "mktemp", "tr", "head", "cut", "grep", "date", "sleep", "rm"} {
		if p, err := exec.LookPath(tool); err == nil {
			if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
				t.Fatal(err)
			}
		}
	}
	out, err = run(bin)
	if err == nil || !strings.HasPrefix(out, "walkthrough: jq is required") || strings.Count(out, "\n") != 1 {
		t.Errorf("without jq: %v\n%s", err, out)
	}
}
