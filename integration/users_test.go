package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestFirstUserAndRoleThroughCaddy creates a role and a user with the
// README's commands, run as their own processes against a real Caddy's
// admin endpoint, sets a new password over the API as curl would, and
// checks that the user survives a restart and that no password or hash
// reaches Caddy's log.
func TestFirstUserAndRoleThroughCaddy(t *testing.T) {
	t.Parallel()
	g := startFoundation(t)
	admin := []string{"--address", fmt.Sprintf("127.0.0.1:%d", g.AdminPort)}
	api := func(p string) string { return g.AdminURL("/scopegate" + p) }

	cliOK(t, nil, append([]string{"role", "create", "support", "--scope", "tickets:read", "--scope", "tickets:write",
		"--description", "Answers customers"}, admin...)...)
	const pw = "violet-lantern-harbor"
	r := runCLIWithInput(t, nil, pw+"\n", append([]string{"user", "create", "--username", "ada", "--email", "ada@example.com",
		"--name", "Ada Lovelace", "--role", "support", "--password-stdin", "--json"}, admin...)...)
	if r.Exit != 0 {
		t.Fatalf("user create: exit %d: %s", r.Exit, r.Stderr)
	}
	var created struct {
		UserID      string   `json:"user_id"`
		Roles       []string `json:"roles"`
		HasPassword bool     `json:"has_password"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &created); err != nil || created.UserID == "" || !created.HasPassword ||
		strings.Join(created.Roles, ",") != "support" {
		t.Fatalf("user create printed %s (%v)", r.Stdout, err)
	}
	if strings.Contains(r.Stdout+r.Stderr, pw) {
		t.Errorf("the CLI printed the password")
	}

	// The curl equivalents: a weak password is refused naming the rule,
	// a good one is set.
	resp := do(t, http.MethodPut, api("/users/"+created.UserID+"/password"), `{"password":"password1"}`)
	if resp.Status != http.StatusBadRequest || resp.ErrorCode() != "invalid_request" || !strings.Contains(string(resp.Body), "password: is one of the most common passwords") {
		t.Errorf("weak password: %d %s", resp.Status, resp.Body)
	}
	const pw2 = "quiet-orchard-meteor"
	resp = do(t, http.MethodPut, api("/users/"+created.UserID+"/password"), `{"password":"`+pw2+`"}`)
	if resp.Status != http.StatusOK || strings.Contains(string(resp.Body), pw2) {
		t.Fatalf("set password: %d %s", resp.Status, resp.Body)
	}
	resp = do(t, http.MethodPost, api("/users"), `{"username":"ADA"}`)
	if resp.Status != http.StatusConflict || resp.ErrorCode() != "conflict" {
		t.Errorf("a taken username: %d %s", resp.Status, resp.Body)
	}

	// The output of this run of Caddy, before the restart starts another.
	logs := g.Logs()
	g.Stop()
	g.Start()
	resp = do(t, http.MethodGet, api("/users?username=ada"), nil)
	var page struct {
		Users []struct {
			UserID      string   `json:"user_id"`
			Roles       []string `json:"roles"`
			HasPassword bool     `json:"has_password"`
		} `json:"users"`
	}
	resp.JSON(t, &page)
	if len(page.Users) != 1 || page.Users[0].UserID != created.UserID || !page.Users[0].HasPassword {
		t.Fatalf("after a restart: %s", resp.Body)
	}
	r = cliOK(t, nil, append([]string{"role", "get", "support"}, admin...)...)
	if !strings.Contains(r.Stdout, "tickets:read tickets:write") {
		t.Errorf("role get after a restart: %s", r.Stdout)
	}

	logs += g.Logs()
	for _, s := range []string{pw, pw2, "password1", "$argon2id$"} {
		if strings.Contains(logs, s) {
			t.Errorf("Caddy's log holds %q", s)
		}
	}
	if !strings.Contains(logs, `"action":"user.create"`) || !strings.Contains(logs, `"action":"user.password"`) {
		t.Errorf("the audit lines of the user changes are missing from the log")
	}
}
