package cli

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/admin"
)

// testGrants is an admin.GrantAdmin over a map.
type testGrants struct {
	mu     sync.Mutex
	byUser map[string][]admin.GrantInfo
}

func (g *testGrants) add(userID, clientID string, scopes ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.byUser == nil {
		g.byUser = map[string][]admin.GrantInfo{}
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	g.byUser[userID] = append(g.byUser[userID], admin.GrantInfo{ClientID: clientID, Scopes: scopes, CreatedAt: at, ExpiresAt: at.Add(30 * 24 * time.Hour)})
}

func (g *testGrants) ListGrants(_ context.Context, userID string) ([]admin.GrantInfo, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.byUser[userID]), nil
}

func (g *testGrants) RevokeGrants(_ context.Context, userID, clientID string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	before := len(g.byUser[userID])
	g.byUser[userID] = slices.DeleteFunc(g.byUser[userID], func(gi admin.GrantInfo) bool { return gi.ClientID == clientID })
	if len(g.byUser[userID]) == before {
		return admin.ErrGrantNotFound
	}
	return nil
}

func TestUserGrants(t *testing.T) {
	ts := newTestServer(t)
	u := createUserViaCLI(t, ts, "", "--username", "fay")
	other := createUserViaCLI(t, ts, "", "--username", "gil")

	if r := runOK(t, "user", "grants", u.UserID, "--address", ts.Addr); r.Stdout != "No refresh token grants.\n" {
		t.Errorf("grants of a user without any: %q", r.Stdout)
	}
	ts.grants.add(u.UserID, "app-1", "orders:read")
	ts.grants.add(u.UserID, "app\x1b[2J", "profile")
	ts.grants.add(other.UserID, "app-3", "orders:read")
	r := runOK(t, "user", "grants", u.UserID, "--address", ts.Addr)
	if !regexp.MustCompile(`(?m)^CLIENT ID +CREATED +LAST USED +EXPIRES +SCOPES\napp-1 +2026-03-01T12:00:00Z +\S+ +2026-03-31T12:00:00Z +orders:read\napp\?\[2J +`).MatchString(r.Stdout) {
		t.Errorf("grants printed:\n%q", r.Stdout)
	}
	r = runOK(t, "user", "grants", u.UserID, "--json", "--address", ts.Addr)
	var list struct{ Grants []admin.GrantInfo }
	if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil || len(list.Grants) != 2 || list.Grants[0].ClientID != "app-1" {
		t.Errorf("grants --json: %s %v", r.Stdout, err)
	}
	if stderr := runFail(t, nil, "user", "revoke-grants", u.UserID, "app-3", "--address", ts.Addr); stderr != "scopegate: the user has no refresh token grant to this client (HTTP 404)\n" {
		t.Errorf("revoking another user's grants: %q", stderr)
	}
	r = runOK(t, "user", "revoke-grants", u.UserID, "app-1", "--address", ts.Addr)
	if r.Stdout != "Revoked the refresh token grants of user "+u.UserID+" to client app-1.\n" {
		t.Errorf("revoke printed %q", r.Stdout)
	}
	if held, _ := ts.grants.ListGrants(context.Background(), u.UserID); len(held) != 1 {
		t.Errorf("after revoking: %v", held)
	}
}
