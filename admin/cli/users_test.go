package cli

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/scopegate/scopegate/admin"
	"github.com/scopegate/scopegate/registry"
)

// testSessions is an admin.SessionAdmin over a map.
type testSessions struct {
	mu     sync.Mutex
	byUser map[string][]admin.SessionInfo
}

func (s *testSessions) add(userID, sessionID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byUser == nil {
		s.byUser = map[string][]admin.SessionInfo{}
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s.byUser[userID] = append(s.byUser[userID], admin.SessionInfo{ID: sessionID, CreatedAt: at, LastSeenAt: at, ExpiresAt: at.Add(time.Hour),
		Address: "192.0.2.1", UserAgent: "Mozilla/5.0\x1b[2J"})
}

func (s *testSessions) ListSessions(_ context.Context, userID string) ([]admin.SessionInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.byUser[userID]), nil
}

func (s *testSessions) EndSessions(_ context.Context, userID string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.byUser[userID])
	delete(s.byUser, userID)
	return n, nil
}

func (s *testSessions) EndSession(_ context.Context, userID, sessionID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.byUser[userID]
	i := slices.IndexFunc(list, func(si admin.SessionInfo) bool { return si.ID == sessionID })
	if i < 0 {
		return admin.ErrSessionNotFound
	}
	s.byUser[userID] = slices.Delete(list, i, i+1)
	return nil
}

// createUserViaCLI creates a user with --json output and returns it.
func createUserViaCLI(t *testing.T, ts *testServer, stdin string, args ...string) registry.User {
	t.Helper()
	r := runWithInput(t, nil, stdin, append([]string{"user", "create", "--address", ts.Addr, "--json"}, args...)...)
	if r.Err != nil {
		t.Fatalf("user create %v: %v\n%s", args, r.Err, r.Stderr)
	}
	var u registry.User
	if err := json.Unmarshal([]byte(r.Stdout), &u); err != nil || u.UserID == "" {
		t.Fatalf("user create --json output %q: %v", r.Stdout, err)
	}
	return u
}

// TestFirstUserAndRole runs the README's commands: a role, then a user who
// holds it with a password from standard input, which then signs in.
func TestFirstUserAndRole(t *testing.T) {
	ts := newTestServer(t)
	r := runOK(t, "role", "create", "support", "--scope", "tickets:read", "--scope", "tickets:write customers:read",
		"--description", "Answers customers", "--address", ts.Addr)
	f := tableFields(r.Stdout)
	if f["name"] != "support" || f["scopes"] != "tickets:read tickets:write customers:read" || f["description"] != "Answers customers" {
		t.Fatalf("role create printed %v", f)
	}

	const pw = "violet-lantern-harbor"
	r = runWithInput(t, nil, pw+"\n", "user", "create", "--username", "ada", "--email", "ada@example.com", "--name", "Ada Lovelace",
		"--role", "support", "--password-stdin", "--address", ts.Addr)
	if r.Err != nil {
		t.Fatalf("user create: %v\n%s", r.Err, r.Stderr)
	}
	f = tableFields(r.Stdout)
	if f["username"] != "ada" || f["roles"] != "support" || f["has_password"] != "true" || f["email"] != "ada@example.com" || f["user_id"] == "" {
		t.Fatalf("user create printed %v", f)
	}
	if strings.Contains(r.Stdout+r.Stderr, pw) {
		t.Errorf("the command printed the password")
	}
	if _, err := ts.reg.SignIn(context.Background(), "ada", pw); err != nil {
		t.Fatalf("the password read from stdin does not sign in: %v", err)
	}
	// The password travelled once, in the create request's body.
	var carrying []string
	for _, req := range ts.Requests() {
		if strings.Contains(req.Body+req.Path+req.RawQuery, pw) {
			carrying = append(carrying, req.Method+" "+req.Path)
		}
	}
	if !slices.Equal(carrying, []string{"POST /scopegate/users"}) {
		t.Errorf("requests carrying the password: %v", carrying)
	}
}

// TestNoPasswordFlag: no command takes a password as a flag value, and the
// help says why.
func TestNoPasswordFlag(t *testing.T) {
	ts := newTestServer(t)
	u := createUserViaCLI(t, ts, "", "--username", "bob")
	for _, args := range [][]string{
		{"user", "create", "--username", "cat", "--password", "violet-lantern-harbor"},
		{"user", "passwd", u.UserID, "--password", "violet-lantern-harbor"},
	} {
		stderr := runFail(t, nil, append(args, "--address", ts.Addr)...)
		if !strings.Contains(stderr, "flag") || strings.Contains(stderr, "violet-lantern-harbor") {
			t.Errorf("%v: stderr %q", args, stderr)
		}
	}
	for _, cmd := range [][]string{{"user", "passwd", "--help"}, {"user", "create", "--help"}} {
		r := runOK(t, cmd...)
		if !strings.Contains(r.Stdout, "never taken as flag values") || !strings.Contains(r.Stdout, "process list") {
			t.Errorf("%v does not say why passwords are not flags:\n%s", cmd, r.Stdout)
		}
	}
	if ts.reg == nil {
		t.Fatal("no registry")
	}
	page, _ := ts.reg.ListUsers(context.Background(), registry.UserQuery{})
	if len(page.Users) != 1 {
		t.Errorf("a refused command created a user: %d users", len(page.Users))
	}
}

func TestUserPasswd(t *testing.T) {
	ts := newTestServer(t)
	u := createUserViaCLI(t, ts, "", "--username", "dan")
	if u.HasPassword {
		t.Fatalf("a user created without --password-stdin has a password")
	}
	// A line ending from Windows or a here-string is not part of it.
	r := runWithInput(t, nil, "quiet-orchard-meteor\r\nsecond line ignored\n", "user", "passwd", u.UserID, "--address", ts.Addr)
	if r.Err != nil || tableFields(r.Stdout)["has_password"] != "true" {
		t.Fatalf("passwd: %v %s %s", r.Err, r.Stdout, r.Stderr)
	}
	if _, err := ts.reg.SignIn(context.Background(), "dan", "quiet-orchard-meteor"); err != nil {
		t.Fatalf("the new password does not sign in: %v", err)
	}

	bc, err := bcrypt.GenerateFromPassword([]byte("cobalt-meadow-lantern"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	r = runWithInput(t, nil, string(bc)+"\n", "user", "passwd", u.UserID, "--hash", "--address", ts.Addr, "--json")
	if r.Err != nil || strings.Contains(r.Stdout, string(bc)) {
		t.Fatalf("passwd --hash: %v %s %s", r.Err, r.Stdout, r.Stderr)
	}
	if _, err := ts.reg.SignIn(context.Background(), "dan", "cobalt-meadow-lantern"); err != nil {
		t.Fatalf("the imported hash does not sign in: %v", err)
	}

	for _, tc := range []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"empty stdin", "", []string{"user", "passwd", u.UserID}, "scopegate: standard input holds no password: give it on the first line\n"},
		{"empty line", "\n", []string{"user", "passwd", u.UserID}, "scopegate: standard input holds no password: give it on the first line\n"},
		{"weak", "password1\n", []string{"user", "passwd", u.UserID}, "scopegate: password: is one of the most common passwords (HTTP 400)\n"},
		{"too long a line", strings.Repeat("x", 5000), []string{"user", "passwd", u.UserID}, "scopegate: reading the password from standard input: the first line is longer than 4096 bytes\n"},
		{"bad hash", "$2b$04$nothash\n", []string{"user", "passwd", u.UserID, "--hash"}, "scopegate: password_hash: must be an argon2id PHC string or a bcrypt hash within bounds (malformed password hash: a bcrypt hash is 60 characters) (HTTP 400)\n"},
		{"unknown user", "quiet-orchard-meteor\n", []string{"user", "passwd", "nosuch"}, "scopegate: no user with this ID (HTTP 404)\n"},
		{"weak at create", "password1\n", []string{"user", "create", "--username", "eve", "--password-stdin"}, "scopegate: password: is one of the most common passwords (HTTP 400)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runWithInput(t, nil, tc.stdin, append(tc.args, "--address", ts.Addr)...)
			if r.Err == nil || r.Stdout != "" || r.Stderr != tc.want {
				t.Errorf("err %v, stdout %q, stderr %q; want stderr %q", r.Err, r.Stdout, r.Stderr, tc.want)
			}
		})
	}
}

func TestUserListGetUpdateDelete(t *testing.T) {
	ts := newTestServer(t)
	runOK(t, "role", "create", "support", "--scope", "a", "--address", ts.Addr)
	runOK(t, "role", "create", "billing", "--scope", "b", "--address", ts.Addr)
	ann := createUserViaCLI(t, ts, "", "--username", "ann", "--email", "ann@example.com", "--role", "support")
	createUserViaCLI(t, ts, "", "--username", "ben", "--disabled")

	r := runOK(t, "user", "list", "--address", ts.Addr)
	if !regexp.MustCompile(`(?m)^USER ID +USERNAME +EMAIL +ROLES +STATUS +PASSWORD +LAST LOGIN$`).MatchString(r.Stdout) ||
		!regexp.MustCompile(`(?m)^`+ann.UserID+` +ann +ann@example.com +support +enabled +none +-$`).MatchString(r.Stdout) ||
		!regexp.MustCompile(`(?m) ben +- +- +disabled +none`).MatchString(r.Stdout) {
		t.Errorf("list printed:\n%s", r.Stdout)
	}
	r = runOK(t, "user", "list", "--username", "ANN", "--json", "--address", ts.Addr)
	var page registry.UserPage
	if err := json.Unmarshal([]byte(r.Stdout), &page); err != nil || len(page.Users) != 1 || page.Users[0].UserID != ann.UserID {
		t.Errorf("list --username: %s %v", r.Stdout, err)
	}
	r = runOK(t, "user", "list", "--limit", "1", "--address", ts.Addr)
	if !strings.Contains(r.Stderr, "more users follow") {
		t.Errorf("a first page of one does not say more follow: %q", r.Stderr)
	}
	r = runOK(t, "user", "list", "--limit", "1", "--all", "--json", "--address", ts.Addr)
	if err := json.Unmarshal([]byte(r.Stdout), &page); err != nil || len(page.Users) != 2 || page.NextCursor != "" {
		t.Errorf("list --all: %s %v", r.Stdout, err)
	}

	r = runOK(t, "user", "update", ann.UserID, "--role", "billing", "--role", "support", "--email", "", "--given-name", "Ann", "--address", ts.Addr)
	f := tableFields(r.Stdout)
	if f["roles"] != "billing, support" || f["email"] != "-" || f["given_name"] != "Ann" || f["username"] != "ann" {
		t.Errorf("update printed %v", f)
	}
	var sent map[string]any
	reqs := ts.Requests()
	last := reqs[len(reqs)-1]
	if err := json.Unmarshal([]byte(last.Body), &sent); err != nil || last.ContentType != "application/merge-patch+json" || len(sent) != 3 || sent["email"] != nil {
		t.Errorf("update sent %s %s", last.ContentType, last.Body)
	}
	r = runOK(t, "user", "update", ann.UserID, "--role", "", "--address", ts.Addr)
	if tableFields(r.Stdout)["roles"] != "-" {
		t.Errorf("--role \"\" did not clear the roles: %s", r.Stdout)
	}
	r = runOK(t, "user", "get", ann.UserID, "--address", ts.Addr)
	if tableFields(r.Stdout)["given_name"] != "Ann" {
		t.Errorf("get printed %s", r.Stdout)
	}

	r = runOK(t, "user", "delete", ann.UserID, "--address", ts.Addr)
	if r.Stdout != "Deleted user "+ann.UserID+".\n" {
		t.Errorf("delete printed %q", r.Stdout)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "get", ann.UserID}, "scopegate: no user with this ID (HTTP 404)\n"},
		{[]string{"user", "update", ann.UserID}, "scopegate: nothing to change: give at least one flag, such as --email; see 'caddy scopegate user update --help'\n"},
		{[]string{"user", "update", "x", "--username", ""}, "scopegate: --username must not be empty\n"},
		{[]string{"user", "create"}, "scopegate: --username is required\n"},
		{[]string{"user", "create", "--username", "BEN"}, "scopegate: username: is taken by another user (usernames are compared ignoring case) (HTTP 409)\n"},
		{[]string{"user", "create", "--username", "cy", "--role", "nosuch"}, "scopegate: username: must be 3 to 64 characters: ASCII letters, digits and . _ - @ (HTTP 400)\n"},
		{[]string{"user", "delete", ann.UserID}, "scopegate: no user with this ID (HTTP 404)\n"},
		{[]string{"user", "frob"}, "scopegate: unknown command \"frob\" for 'caddy scopegate user'; the commands are consents, create, delete, disable, enable, end-sessions, get, grants, list, passwd, revoke-grants, sessions, update, withdraw-consent; see 'caddy scopegate user --help'\n"},
	} {
		if stderr := runFail(t, nil, append(tc.args, "--address", ts.Addr)...); stderr != tc.want {
			t.Errorf("%v: stderr %q, want %q", tc.args, stderr, tc.want)
		}
	}
}

func TestUserStateAndSessions(t *testing.T) {
	ts := newTestServer(t)
	u := createUserViaCLI(t, ts, "", "--username", "fay")
	other := createUserViaCLI(t, ts, "", "--username", "gil")
	if r := runOK(t, "user", "disable", u.UserID, "--address", ts.Addr); tableFields(r.Stdout)["disabled"] != "true" {
		t.Errorf("disable printed %s", r.Stdout)
	}
	if r := runOK(t, "user", "enable", u.UserID, "--address", ts.Addr); tableFields(r.Stdout)["disabled"] != "false" {
		t.Errorf("enable printed %s", r.Stdout)
	}

	r := runOK(t, "user", "sessions", u.UserID, "--address", ts.Addr)
	if r.Stdout != "No live sessions.\n" {
		t.Errorf("sessions of a user without any: %q", r.Stdout)
	}
	ts.sessions.add(u.UserID, "s1")
	ts.sessions.add(u.UserID, "s2")
	ts.sessions.add(other.UserID, "s3")
	r = runOK(t, "user", "sessions", u.UserID, "--address", ts.Addr)
	if !regexp.MustCompile(`(?m)^s1 +2026-03-01T12:00:00Z +2026-03-01T12:00:00Z +2026-03-01T13:00:00Z +false +192.0.2.1 +Mozilla/5.0\?\[2J$`).MatchString(r.Stdout) {
		t.Errorf("sessions printed:\n%s", r.Stdout)
	}
	r = runOK(t, "user", "sessions", u.UserID, "--json", "--address", ts.Addr)
	var list struct{ Sessions []admin.SessionInfo }
	if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil || len(list.Sessions) != 2 {
		t.Errorf("sessions --json: %s %v", r.Stdout, err)
	}

	if stderr := runFail(t, nil, "user", "end-sessions", u.UserID, "s3", "--address", ts.Addr); stderr != "scopegate: the user has no live session with this ID (HTTP 404)\n" {
		t.Errorf("ending another user's session: %q", stderr)
	}
	r = runOK(t, "user", "end-sessions", u.UserID, "s1", "--address", ts.Addr)
	if r.Stdout != "Ended session s1 of user "+u.UserID+".\n" {
		t.Errorf("end one printed %q", r.Stdout)
	}
	r = runOK(t, "user", "end-sessions", u.UserID, "--address", ts.Addr)
	if r.Stdout != "Ended 1 session(s) of user "+u.UserID+".\n" {
		t.Errorf("end all printed %q", r.Stdout)
	}
	if left, _ := ts.sessions.ListSessions(context.Background(), other.UserID); len(left) != 1 {
		t.Errorf("another user's sessions ended")
	}
	if stderr := runFail(t, nil, "user", "end-sessions", u.UserID, "a", "b", "--address", ts.Addr); !strings.Contains(stderr, `unexpected argument "b"`) {
		t.Errorf("three arguments: %q", stderr)
	}
}

func TestRoleCommands(t *testing.T) {
	ts := newTestServer(t)
	runOK(t, "role", "create", "support", "--scope", "a b", "--description", "Helps", "--address", ts.Addr)
	runOK(t, "role", "create", "admin", "--scope", "full", "--address", ts.Addr)
	holder := createUserViaCLI(t, ts, "", "--username", "hal", "--role", "admin")

	r := runOK(t, "role", "list", "--address", ts.Addr)
	if !regexp.MustCompile(`(?m)^NAME +SCOPES +DESCRIPTION\nadmin +full +-\nsupport +a b +Helps\n$`).MatchString(r.Stdout) {
		t.Errorf("list printed:\n%s", r.Stdout)
	}
	r = runOK(t, "role", "list", "--limit", "1", "--all", "--json", "--address", ts.Addr)
	var page registry.RolePage
	if err := json.Unmarshal([]byte(r.Stdout), &page); err != nil || len(page.Roles) != 2 {
		t.Errorf("list --all: %s %v", r.Stdout, err)
	}
	r = runOK(t, "role", "update", "support", "--scope", "a", "--description", "", "--address", ts.Addr)
	if f := tableFields(r.Stdout); f["scopes"] != "a" || f["description"] != "-" {
		t.Errorf("update printed %v", f)
	}
	if r = runOK(t, "role", "get", "support", "--address", ts.Addr); tableFields(r.Stdout)["scopes"] != "a" {
		t.Errorf("get printed %s", r.Stdout)
	}
	if r = runOK(t, "role", "delete", "admin", "--address", ts.Addr); r.Stdout != "Deleted role admin.\n" {
		t.Errorf("delete printed %q", r.Stdout)
	}
	if u, _ := ts.reg.GetUser(context.Background(), holder.UserID); len(u.Roles) != 0 {
		t.Errorf("the deleted role is still held: %v", u.Roles)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"role", "get", "admin"}, "scopegate: no role of this name (HTTP 404)\n"},
		{[]string{"role", "create", "support"}, "scopegate: name: a role of this name exists (HTTP 409)\n"},
		{[]string{"role", "create", `a"b`}, "scopegate: name: must be a scope token: byte 2: character not allowed in a scope token (HTTP 400)\n"},
		{[]string{"role", "update", "support"}, "scopegate: nothing to change: give --scope or --description; see 'caddy scopegate role update --help'\n"},
		{[]string{"role", "create"}, "scopegate: missing NAME; usage: caddy scopegate role create NAME --scope SCOPE ... [--description TEXT] [flags]\n"},
	} {
		if stderr := runFail(t, nil, append(tc.args, "--address", ts.Addr)...); stderr != tc.want {
			t.Errorf("%v: stderr %q, want %q", tc.args, stderr, tc.want)
		}
	}
}
