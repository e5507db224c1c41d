package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/scopegate/scopegate/password"
	"github.com/scopegate/scopegate/registry"
)

// cheapParams make hashing fast in tests that hash many passwords; what
// they test is the API, not the hash's cost.
var cheapParams = password.Params{Time: 1, MemoryKiB: 8, Threads: 1, KeyLen: 16, SaltLen: 8}

// cheapHasher is an apiOption that hashes with cheapParams.
func cheapHasher(l *registry.Limits, _ *Options) {
	h, err := password.NewHasher(cheapParams, 0)
	if err != nil {
		panic(err)
	}
	l.Passwords = h
}

// memSessions is a SessionAdmin over a map, as the gateway's session
// manager is adapted to it.
type memSessions struct {
	mu sync.Mutex
	// byUser maps a user ID to its sessions, in order of creation.
	byUser map[string][]SessionInfo
}

// withSessions is an apiOption that serves the sessions routes from s.
func withSessions(s *memSessions) apiOption {
	return func(_ *registry.Limits, o *Options) { o.Sessions = s }
}

// add gives the user a session of that ID.
func (s *memSessions) add(userID, sessionID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byUser == nil {
		s.byUser = map[string][]SessionInfo{}
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s.byUser[userID] = append(s.byUser[userID], SessionInfo{
		ID: sessionID, CreatedAt: at, LastSeenAt: at.Add(time.Minute), ExpiresAt: at.Add(24 * time.Hour),
		Persistent: true, Address: "192.0.2.7", UserAgent: "Mozilla/5.0 (test)",
	})
}

func (s *memSessions) ListSessions(_ context.Context, userID string) ([]SessionInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.byUser[userID]), nil
}

func (s *memSessions) EndSessions(_ context.Context, userID string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.byUser[userID])
	delete(s.byUser, userID)
	return n, nil
}

func (s *memSessions) EndSession(_ context.Context, userID, sessionID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.byUser[userID]
	i := slices.IndexFunc(list, func(si SessionInfo) bool { return si.ID == sessionID })
	if i < 0 {
		return ErrSessionNotFound
	}
	s.byUser[userID] = slices.Delete(list, i, i+1)
	return nil
}

// createUser makes a user and fails the test unless it gets 201.
func (a *testAPI) createUser(body string) registry.User {
	a.t.Helper()
	res := a.do(http.MethodPost, "/users", body)
	if res.Status != http.StatusCreated {
		a.t.Fatalf("create user %s: %d %s", body, res.Status, res.Body)
	}
	var u registry.User
	res.decode(a.t, &u)
	return u
}

// createRole makes a role and fails the test unless it gets 201.
func (a *testAPI) createRole(body string) registry.Role {
	a.t.Helper()
	res := a.do(http.MethodPost, "/roles", body)
	if res.Status != http.StatusCreated {
		a.t.Fatalf("create role %s: %d %s", body, res.Status, res.Body)
	}
	var r registry.Role
	res.decode(a.t, &r)
	return r
}

// wantError checks an error answer's status, code and description.
func wantError(t *testing.T, res response, status int, code, desc string) {
	t.Helper()
	gotCode, gotDesc := res.errorCode(t)
	if res.Status != status || gotCode != code || gotDesc != desc {
		t.Errorf("got %d %s %q, want %d %s %q", res.Status, gotCode, gotDesc, status, code, desc)
	}
}

func TestUserLifecycle(t *testing.T) {
	a := newTestAPI(t, cheapHasher)
	a.createRole(`{"name":"support","scopes":["tickets:read"]}`)
	const pw = "violet-lantern-harbor"
	res := a.do(http.MethodPost, "/users", `{"username":"ada","email":"ada@example.com","name":"Ada L","roles":["support"],"password":"`+pw+`"}`)
	if res.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	var u registry.User
	res.decode(t, &u)
	if u.UserID == "" || u.Username != "ada" || !u.HasPassword || !slices.Equal(u.Roles, []string{"support"}) {
		t.Fatalf("created %+v", u)
	}
	if got := resolve(t, "/scopegate/users", res.Header.Get("Location")); got != "/scopegate/users/"+u.UserID {
		t.Errorf("Location resolves to %s", got)
	}
	if strings.Contains(string(res.Body), pw) || strings.Contains(string(res.Body), "argon2") {
		t.Errorf("the answer holds the password or its hash: %s", res.Body)
	}
	if _, err := a.reg.SignIn(t.Context(), "ada", pw); err != nil {
		t.Fatalf("the password given at create does not sign in: %v", err)
	}

	var got registry.User
	a.do(http.MethodGet, "/users/"+u.UserID, "").decode(t, &got)
	if got.UserID != u.UserID || got.Email != "ada@example.com" {
		t.Errorf("get: %+v", got)
	}
	var page registry.UserPage
	a.do(http.MethodGet, "/users?username=ADA&limit=5", "").decode(t, &page)
	if len(page.Users) != 1 || page.Users[0].UserID != u.UserID {
		t.Errorf("list by username: %+v", page)
	}

	res = a.do(http.MethodPatch, "/users/"+u.UserID, `{"name":null,"given_name":"Ada"}`, "Content-Type", "application/merge-patch+json")
	got = registry.User{}
	res.decode(t, &got)
	if res.Status != http.StatusOK || got.Name != "" || got.GivenName != "Ada" || got.Username != "ada" {
		t.Errorf("patch: %d %s", res.Status, res.Body)
	}

	const pw2 = "quiet-orchard-meteor"
	res = a.do(http.MethodPut, "/users/"+u.UserID+"/password", `{"password":"`+pw2+`"}`)
	if res.Status != http.StatusOK || strings.Contains(string(res.Body), pw2) {
		t.Fatalf("set password: %d %s", res.Status, res.Body)
	}
	if _, err := a.reg.SignIn(t.Context(), "ada", pw2); err != nil {
		t.Errorf("the new password does not sign in: %v", err)
	}
	if _, err := a.reg.SignIn(t.Context(), "ada", pw); err == nil {
		t.Errorf("the old password still signs in")
	}

	a.do(http.MethodPost, "/users/"+u.UserID+"/disable", "").decode(t, &got)
	if !got.Disabled {
		t.Errorf("disable: %+v", got)
	}
	if _, err := a.reg.SignIn(t.Context(), "ada", pw2); err == nil {
		t.Errorf("a disabled user signs in")
	}
	a.do(http.MethodPost, "/users/"+u.UserID+"/enable", "").decode(t, &got)
	if got.Disabled {
		t.Errorf("enable: %+v", got)
	}

	if res := a.do(http.MethodDelete, "/users/"+u.UserID, ""); res.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", res.Status, res.Body)
	}
	wantError(t, a.do(http.MethodGet, "/users/"+u.UserID, ""), 404, "not_found", "no user with this ID")
	wantError(t, a.do(http.MethodDelete, "/users/"+u.UserID, ""), 404, "not_found", "no user with this ID")
}

// TestUserImportedHashes: a create or a password change may carry a hash
// from another system instead of a password; it signs in, and is never
// shown.
func TestUserImportedHashes(t *testing.T) {
	a := newTestAPI(t, cheapHasher)
	const pw = "granite-willow-copper"
	bc, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := password.NewHasher(password.Params{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 32, SaltLen: 16}, 1)
	if err != nil {
		t.Fatal(err)
	}
	argon, err := hasher.Hash(t.Context(), pw)
	if err != nil {
		t.Fatal(err)
	}

	u := a.createUser(`{"username":"bob","password_hash":"` + string(bc) + `"}`)
	if !u.HasPassword {
		t.Fatalf("imported bcrypt: %+v", u)
	}
	if _, err := a.reg.SignIn(t.Context(), "bob", pw); err != nil {
		t.Fatalf("the imported bcrypt hash does not sign in: %v", err)
	}

	v := a.createUser(`{"username":"carol"}`)
	if v.HasPassword {
		t.Fatalf("a user created without a password has one: %+v", v)
	}
	res := a.do(http.MethodPut, "/users/"+v.UserID+"/password", `{"password_hash":"`+argon+`"}`)
	if res.Status != http.StatusOK {
		t.Fatalf("import argon2id: %d %s", res.Status, res.Body)
	}
	if _, err := a.reg.SignIn(t.Context(), "carol", pw); err != nil {
		t.Fatalf("the imported argon2id hash does not sign in: %v", err)
	}
	for _, body := range []string{string(res.Body), string(a.do(http.MethodGet, "/users", "").Body)} {
		if strings.Contains(body, "$argon2id$") || strings.Contains(body, "$2a$") || strings.Contains(body, "hash") {
			t.Errorf("a hash is shown: %s", body)
		}
	}
}

// TestUserRefused sends bad user requests: each gets its exact status,
// code and description, and no user is stored or changed.
func TestUserRefused(t *testing.T) {
	const (
		badReq = "invalid_request"
		secret = "Tr0ub4dor&3-not-logged" // a value no answer may repeat
	)
	huge := `{"username":"zed","name":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`
	bc, _ := bcrypt.GenerateFromPassword([]byte(secret), bcrypt.MinCost)
	cases := []struct {
		name, method, path, body string
		header                   []string
		limits                   func(*registry.Limits)
		status                   int
		code, desc               string
	}{
		{name: "common password", method: "POST", path: "/users", body: `{"username":"zed","password":"password123"}`,
			status: 400, code: badReq, desc: "password: is one of the most common passwords"},
		{name: "short password", method: "POST", path: "/users", body: `{"username":"zed","password":"abc"}`,
			status: 400, code: badReq, desc: "password: is too short: at least 8 characters"},
		{name: "empty password", method: "POST", path: "/users", body: `{"username":"zed","password":""}`,
			status: 400, code: badReq, desc: "password: is too short: at least 8 characters"},
		{name: "password is the username", method: "POST", path: "/users", body: `{"username":"zed-the-great","password":"ZED-the-great"}`,
			status: 400, code: badReq, desc: "password: must not be the username or the email address"},
		{name: "password and hash", method: "POST", path: "/users", body: `{"username":"zed","password":"` + secret + `","password_hash":"` + string(bc) + `"}`,
			status: 400, code: badReq, desc: "password_hash: cannot be sent with password; send one or the other"},
		{name: "malformed hash", method: "POST", path: "/users", body: `{"username":"zed","password_hash":"$2b$04$` + secret + `"}`,
			status: 400, code: badReq, desc: "password_hash: must be an argon2id PHC string or a bcrypt hash within bounds (malformed password hash: a bcrypt hash is 60 characters)"},
		{name: "password not a string", method: "POST", path: "/users", body: `{"username":"zed","password":12345678}`,
			status: 400, code: badReq, desc: "password: must be a string"},
		{name: "duplicate password", method: "POST", path: "/users", body: `{"username":"zed","password":"` + secret + `","password":"other-long-one"}`,
			status: 400, code: badReq, desc: "password: appears more than once"},
		{name: "unknown field", method: "POST", path: "/users", body: `{"username":"zed","colour":"red"}`,
			status: 400, code: badReq, desc: "colour: is not a known field"},
		{name: "read-only field", method: "POST", path: "/users", body: `{"username":"zed","user_id":"mine"}`,
			status: 400, code: badReq, desc: "user_id: is read-only"},
		{name: "no username", method: "POST", path: "/users", body: `{"email":"z@example.com"}`,
			status: 400, code: badReq, desc: "username: is required"},
		{name: "unknown role", method: "POST", path: "/users", body: `{"username":"zed","roles":["nosuch"]}`,
			status: 400, code: badReq, desc: "roles: entry 0 is not an existing role"},
		{name: "username taken", method: "POST", path: "/users", body: `{"username":"EXISTING"}`,
			status: 409, code: "conflict", desc: "username: is taken by another user (usernames are compared ignoring case)"},
		{name: "max users", method: "POST", path: "/users", body: `{"username":"zed"}`, limits: func(l *registry.Limits) { l.MaxUsers = 2 },
			status: 422, code: "limit_exceeded", desc: "the registry holds the most users it may already; delete one first"},
		{name: "too large", method: "POST", path: "/users", body: huge,
			status: 413, code: "request_too_large", desc: "the request body is larger than 65536 bytes"},
		{name: "not JSON", method: "POST", path: "/users", body: `username=zed`, header: []string{"Content-Type", "application/x-www-form-urlencoded"},
			status: 415, code: "unsupported_media_type", desc: "Content-Type must be application/json (UTF-8)"},
		{name: "patch password", method: "PATCH", path: "/users/{id}", body: `{"password":"` + secret + `"}`,
			status: 400, code: badReq, desc: "password: is read-only"},
		{name: "patch username taken", method: "PATCH", path: "/users/{other}", body: `{"username":"Existing"}`,
			status: 409, code: "conflict", desc: "username: is taken by another user (usernames are compared ignoring case)"},
		{name: "patch unknown user", method: "PATCH", path: "/users/nosuch", body: `{"name":"x"}`,
			status: 404, code: "not_found", desc: "no user with this ID"},
		{name: "password of unknown user", method: "PUT", path: "/users/nosuch/password", body: `{"password":"` + secret + `"}`,
			status: 404, code: "not_found", desc: "no user with this ID"},
		{name: "weak new password", method: "PUT", path: "/users/{id}/password", body: `{"password":"qwerty123"}`,
			status: 400, code: badReq, desc: "password: is one of the most common passwords"},
		{name: "no password", method: "PUT", path: "/users/{id}/password", body: `{}`,
			status: 400, code: badReq, desc: "password: is required (or password_hash, to import a hash from another system)"},
		{name: "password with metadata", method: "PUT", path: "/users/{id}/password", body: `{"password":"` + secret + `","username":"x"}`,
			status: 400, code: badReq, desc: "username: is not a known field"},
		{name: "password body not JSON", method: "PUT", path: "/users/{id}/password", body: secret, header: []string{"Content-Type", "text/plain"},
			status: 415, code: "unsupported_media_type", desc: "Content-Type must be application/json (UTF-8)"},
		{name: "password body broken", method: "PUT", path: "/users/{id}/password", body: `{"password":"` + secret,
			status: 400, code: badReq, desc: "body: is not valid JSON"},
		{name: "disable unknown user", method: "POST", path: "/users/nosuch/disable",
			status: 404, code: "not_found", desc: "no user with this ID"},
		{name: "unknown query parameter", method: "GET", path: "/users?name=x",
			status: 400, code: badReq, desc: "the only query parameters are username, limit and cursor"},
		{name: "repeated parameter", method: "GET", path: "/users?username=a&username=b",
			status: 400, code: badReq, desc: "username: must appear at most once"},
		{name: "bad limit", method: "GET", path: "/users?limit=1001",
			status: 400, code: badReq, desc: "limit: must be a whole number from 1 to 1000"},
		{name: "forged cursor", method: "GET", path: "/users?cursor=abc",
			status: 400, code: badReq, desc: "cursor: is not a cursor this server issued, or the server restarted since; list again from the first page"},
		{name: "sessions without a session manager", method: "GET", path: "/users/{id}/sessions",
			status: 404, code: "not_found", desc: "no such endpoint"},
		{name: "non-canonical path", method: "GET", path: "/users/{id}/",
			status: 404, code: "not_found", desc: "no such endpoint"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestAPI(t, cheapHasher, func(l *registry.Limits, _ *Options) {
				if tc.limits != nil {
					tc.limits(l)
				}
			})
			existing := a.createUser(`{"username":"existing"}`)
			other := a.createUser(`{"username":"other"}`)
			before := a.userSnapshot()
			path := strings.NewReplacer("{id}", existing.UserID, "{other}", other.UserID).Replace(tc.path)
			res := a.do(tc.method, path, tc.body, tc.header...)
			wantError(t, res, tc.status, tc.code, tc.desc)
			if strings.Contains(string(res.Body), secret) {
				t.Errorf("the answer repeats the password")
			}
			if after := a.userSnapshot(); after != before {
				t.Errorf("a refused request changed the users:\n%s\n%s", before, after)
			}
			if n := a.logs.FilterMessage("admin change").Len(); n != 2 {
				t.Errorf("%d audit lines; a refusal writes none", n)
			}
		})
	}
}

// userSnapshot lists every user as JSON, to prove a refused request
// changed nothing.
func (a *testAPI) userSnapshot() string {
	a.t.Helper()
	page, err := a.reg.ListUsers(a.t.Context(), registry.UserQuery{Limit: registry.MaxListLimit})
	if err != nil {
		a.t.Fatal(err)
	}
	b, err := json.Marshal(page.Users)
	if err != nil {
		a.t.Fatal(err)
	}
	return string(b)
}

// TestPasswordsNeverLogged: passwords and hashes sent to the API, accepted
// or refused, appear in no log line and no answer; the audit lines of user
// changes hold only their known fields.
func TestPasswordsNeverLogged(t *testing.T) {
	a := newTestAPI(t, cheapHasher)
	const (
		pw1 = "saffron-glacier-tunnel"
		pw2 = "amber-thistle-parade"
		pw3 = "password" // refused: common
	)
	bc, err := bcrypt.GenerateFromPassword([]byte("cobalt-meadow-lantern"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	u := a.createUser(`{"username":"dora","password":"` + pw1 + `"}`)
	var answers []string
	for _, req := range []struct{ method, path, body string }{
		{"PUT", "/users/" + u.UserID + "/password", `{"password":"` + pw2 + `"}`},
		{"PUT", "/users/" + u.UserID + "/password", `{"password":"` + pw3 + `"}`},
		{"PUT", "/users/" + u.UserID + "/password", `{"password_hash":"` + string(bc) + `"}`},
		{"PUT", "/users/" + u.UserID + "/password", `{"password_hash":"` + string(bc[:20]) + `"}`},
		{"POST", "/users", `{"username":"eve","password_hash":"` + string(bc) + `"}`},
		{"POST", "/users", `{"username":"fay","password":"` + pw1 + `","password_hash":"` + string(bc) + `"}`},
		{"PATCH", "/users/" + u.UserID, `{"password":"` + pw2 + `"}`},
		{"GET", "/users/" + u.UserID, ""},
		{"GET", "/users", ""},
	} {
		answers = append(answers, string(a.do(req.method, req.path, req.body).Body))
	}
	logs := logText(t, a.logs)
	for _, s := range []string{pw1, pw2, `"` + pw3 + `"`, string(bc), string(bc[7:]), "$argon2id$", "$2a$"} {
		if strings.Contains(logs, s) {
			t.Errorf("the log holds %q:\n%s", s, logs)
		}
		for i, ans := range answers {
			if strings.Contains(ans, s) {
				t.Errorf("answer %d holds %q: %s", i, s, ans)
			}
		}
	}
	for _, e := range a.logs.FilterMessage("admin change").All() {
		for name := range e.ContextMap() {
			switch name {
			case "action", "user_id", "actor", "has_password", "imported_hash":
			default:
				t.Errorf("a user audit line has field %q", name)
			}
		}
	}
	if n := a.logs.FilterMessage("admin change").Len(); n != 4 {
		t.Errorf("%d audit lines, want 4 (create, password, import, create)", n)
	}
}

// TestPasswordHashingBusy: when every hashing slot and its queue are
// taken, a request that must hash answers 503 temporarily_unavailable with
// Retry-After, and changes nothing.
func TestPasswordHashingBusy(t *testing.T) {
	// One slot, held for a second or more by a costly hash (the most
	// passes the bounds allow), and every place of its queue taken by
	// callers who wait until the test ends.
	hasher, err := password.NewHasher(password.Params{Time: password.MaxTimeCost, MemoryKiB: 64 << 10, Threads: 1, KeyLen: 16, SaltLen: 8}, 1)
	if err != nil {
		t.Fatal(err)
	}
	a := newTestAPI(t, func(l *registry.Limits, _ *Options) { l.Passwords = hasher })
	u := a.createUser(`{"username":"gus"}`)

	ctx, cancel := context.WithCancel(context.Background())
	var callers sync.WaitGroup
	defer func() {
		cancel()
		callers.Wait()
	}()
	call := func() {
		callers.Add(1)
		go func() {
			defer callers.Done()
			_ = hasher.VerifyMissing(ctx, "held")
		}()
	}
	call()
	// A probe whose context is already cancelled does not wait: it is
	// ErrBusy once the queue is full, and context.Canceled while the slot
	// is taken and the queue has room, which one more caller then takes.
	probe, stop := context.WithCancel(context.Background())
	stop()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := hasher.VerifyMissing(probe, "probe")
		if errors.Is(err, password.ErrBusy) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the hasher's queue never filled")
		}
		if errors.Is(err, context.Canceled) {
			call()
		}
		runtime.Gosched()
	}

	before := a.userSnapshot()
	for _, req := range []struct{ method, path, body string }{
		{"PUT", "/users/" + u.UserID + "/password", `{"password":"harbour-violet-engine"}`},
		{"POST", "/users", `{"username":"hal","password":"harbour-violet-engine"}`},
	} {
		res := a.do(req.method, req.path, req.body)
		wantError(t, res, 503, "temporarily_unavailable", "password hashing is busy; nothing was changed; retry in a moment")
		if res.Header.Get("Retry-After") != "1" {
			t.Errorf("%s %s: Retry-After %q, want 1", req.method, req.path, res.Header.Get("Retry-After"))
		}
	}
	if after := a.userSnapshot(); after != before {
		t.Errorf("a refused request changed the users")
	}
}

func TestUserSessions(t *testing.T) {
	sessions := &memSessions{}
	a := newTestAPI(t, cheapHasher, withSessions(sessions))
	u := a.createUser(`{"username":"ivy"}`)
	v := a.createUser(`{"username":"jon"}`)
	sessions.add(u.UserID, "s1")
	sessions.add(u.UserID, "s2")
	sessions.add(v.UserID, "s3")

	var list sessionList
	res := a.do(http.MethodGet, "/users/"+u.UserID+"/sessions", "")
	res.decode(t, &list)
	if res.Status != 200 || len(list.Sessions) != 2 || list.Sessions[0].ID != "s1" || !list.Sessions[0].Persistent || list.Sessions[0].Address != "192.0.2.7" {
		t.Fatalf("list: %d %s", res.Status, res.Body)
	}
	for _, member := range []string{`"session_id"`, `"created_at"`, `"last_seen_at"`, `"expires_at"`, `"persistent"`, `"address"`, `"user_agent"`} {
		if !strings.Contains(string(res.Body), member) {
			t.Errorf("a session has no %s member: %s", member, res.Body)
		}
	}

	// Another user's session is not found through this user.
	wantError(t, a.do(http.MethodDelete, "/users/"+u.UserID+"/sessions/s3", ""), 404, "not_found", "the user has no live session with this ID")
	if res := a.do(http.MethodDelete, "/users/"+u.UserID+"/sessions/s1", ""); res.Status != http.StatusNoContent {
		t.Fatalf("end one: %d %s", res.Status, res.Body)
	}
	wantError(t, a.do(http.MethodDelete, "/users/"+u.UserID+"/sessions/s1", ""), 404, "not_found", "the user has no live session with this ID")

	var ended endedSessions
	a.do(http.MethodDelete, "/users/"+u.UserID+"/sessions", "").decode(t, &ended)
	if ended.Ended != 1 {
		t.Errorf("end all: ended %d, want 1", ended.Ended)
	}
	res = a.do(http.MethodGet, "/users/"+u.UserID+"/sessions", "")
	if strings.TrimSpace(string(res.Body)) != `{"sessions":[]}` {
		t.Errorf("after ending all: %s", res.Body)
	}
	if left, _ := sessions.ListSessions(t.Context(), v.UserID); len(left) != 1 {
		t.Errorf("the other user's sessions were touched: %v", left)
	}
	for _, req := range []struct{ method, path string }{
		{"GET", "/users/nosuch/sessions"},
		{"DELETE", "/users/nosuch/sessions"},
		{"DELETE", "/users/nosuch/sessions/s3"},
	} {
		wantError(t, a.do(req.method, req.path, ""), 404, "not_found", "no user with this ID")
	}
	var actions []string
	for _, e := range a.logs.FilterMessage("admin change").All() {
		actions = append(actions, e.ContextMap()["action"].(string))
	}
	if want := []string{"user.create", "user.create", "session.end", "sessions.end"}; !slices.Equal(actions, want) {
		t.Errorf("audit actions %v, want %v", actions, want)
	}
}

func TestRoles(t *testing.T) {
	a := newTestAPI(t, cheapHasher)
	res := a.do(http.MethodPost, "/roles", `{"name":"support","description":"Helps customers","scopes":["tickets:read","tickets:write"]}`)
	if res.Status != http.StatusCreated || resolve(t, "/scopegate/roles", res.Header.Get("Location")) != "/scopegate/roles/support" {
		t.Fatalf("create: %d %v %s", res.Status, res.Header, res.Body)
	}
	a.createRole(`{"name":"admin","scopes":["full"]}`)
	u := a.createUser(`{"username":"kim","roles":["support","admin"]}`)

	var page registry.RolePage
	a.do(http.MethodGet, "/roles?limit=1", "").decode(t, &page)
	if len(page.Roles) != 1 || page.Roles[0].Name != "admin" || page.NextCursor == "" {
		t.Fatalf("first page: %+v", page)
	}
	cursor := page.NextCursor
	page = registry.RolePage{}
	a.do(http.MethodGet, "/roles?cursor="+cursor, "").decode(t, &page)
	if len(page.Roles) != 1 || page.Roles[0].Name != "support" || page.NextCursor != "" {
		t.Fatalf("second page: %+v", page)
	}

	var role registry.Role
	res = a.do(http.MethodPatch, "/roles/support", `{"scopes":["tickets:read"]}`, "Content-Type", "application/merge-patch+json")
	res.decode(t, &role)
	if res.Status != 200 || !slices.Equal(role.Scopes, []string{"tickets:read"}) || role.Description != "Helps customers" {
		t.Fatalf("patch: %d %s", res.Status, res.Body)
	}
	a.do(http.MethodGet, "/roles/support", "").decode(t, &role)
	if !slices.Equal(role.Scopes, []string{"tickets:read"}) {
		t.Errorf("get after patch: %+v", role)
	}

	wantError(t, a.do(http.MethodPost, "/roles", `{"name":"support"}`), 409, "conflict", "name: a role of this name exists")
	wantError(t, a.do(http.MethodPost, "/roles", `{"name":"bad name"}`), 400, "invalid_request", "name: must be a scope token: byte 4: character not allowed in a scope token")
	wantError(t, a.do(http.MethodPatch, "/roles/support", `{"name":"helpdesk"}`), 400, "invalid_request", "name: cannot change; create a role of the new name instead")
	wantError(t, a.do(http.MethodPatch, "/roles/support", `{"created_at":"2020-01-01T00:00:00Z"}`), 400, "invalid_request", "created_at: is read-only")
	wantError(t, a.do(http.MethodGet, "/roles/nosuch", ""), 404, "not_found", "no role of this name")
	wantError(t, a.do(http.MethodPatch, "/roles/nosuch", `{"description":"x"}`), 404, "not_found", "no role of this name")
	wantError(t, a.do(http.MethodGet, "/roles?username=x", ""), 400, "invalid_request", "the only query parameters are limit and cursor")

	if res := a.do(http.MethodDelete, "/roles/admin", ""); res.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", res.Status, res.Body)
	}
	wantError(t, a.do(http.MethodDelete, "/roles/admin", ""), 404, "not_found", "no role of this name")
	var got registry.User
	a.do(http.MethodGet, "/users/"+u.UserID, "").decode(t, &got)
	if !slices.Equal(got.Roles, []string{"support"}) {
		t.Errorf("the deleted role is still held: %v", got.Roles)
	}
	var actions []string
	for _, e := range a.logs.FilterMessage("admin change").All() {
		f := e.ContextMap()
		if role, ok := f["role"]; ok {
			actions = append(actions, f["action"].(string)+" "+role.(string))
		}
	}
	if want := []string{"role.create support", "role.create admin", "role.update support", "role.delete admin"}; !slices.Equal(actions, want) {
		t.Errorf("audit lines %v, want %v", actions, want)
	}
}

// TestUsersInDatabaseFile: the database file holds a password only as its
// argon2id hash.
func TestUsersInDatabaseFile(t *testing.T) {
	a := newTestAPI(t, cheapHasher)
	const pw = "lilac-compass-thunder"
	a.createUser(`{"username":"lea","password":"` + pw + `"}`)
	if err := a.store.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(a.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(db), pw) || !strings.Contains(string(db), "$argon2id$") {
		t.Errorf("the database file holds the password, or no argon2id hash")
	}
}
