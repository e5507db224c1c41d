package admin

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/registry"
)

// memGrants is a GrantAdmin over a map, as the gateway's store is adapted
// to it.
type memGrants struct {
	mu     sync.Mutex
	byUser map[string][]GrantInfo
}

// withGrants is an apiOption that serves the grants routes from g.
func withGrants(g *memGrants) apiOption {
	return func(_ *registry.Limits, o *Options) { o.Grants = g }
}

func (g *memGrants) add(userID, clientID string, scopes ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.byUser == nil {
		g.byUser = map[string][]GrantInfo{}
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	g.byUser[userID] = append(g.byUser[userID], GrantInfo{ClientID: clientID, Scopes: scopes, CreatedAt: at, ExpiresAt: at.Add(30 * 24 * time.Hour)})
}

func (g *memGrants) ListGrants(_ context.Context, userID string) ([]GrantInfo, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.byUser[userID]), nil
}

func (g *memGrants) RevokeGrants(_ context.Context, userID, clientID string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	before := len(g.byUser[userID])
	g.byUser[userID] = slices.DeleteFunc(g.byUser[userID], func(gi GrantInfo) bool { return gi.ClientID == clientID })
	if len(g.byUser[userID]) == before {
		return ErrGrantNotFound
	}
	return nil
}

// A user's refresh token grants are listed with their members, revoked
// per app (every grant to that app at once), and 404 names what is
// missing; an unknown user is 404.
func TestUserGrants(t *testing.T) {
	grants := &memGrants{}
	a := newTestAPI(t, cheapHasher, withGrants(grants))
	u := a.createUser(`{"username":"ivy"}`)
	v := a.createUser(`{"username":"jon"}`)
	grants.add(u.UserID, "app-1", "orders:read")
	grants.add(u.UserID, "app-1", "orders:read")
	grants.add(u.UserID, "app-2", "profile")
	grants.add(v.UserID, "app-3", "orders:read")

	res := a.do(http.MethodGet, "/users/"+u.UserID+"/grants", "")
	var list grantList
	res.decode(t, &list)
	if res.Status != http.StatusOK || len(list.Grants) != 3 || list.Grants[0].ClientID != "app-1" || list.Grants[0].ExpiresAt.IsZero() {
		t.Fatalf("list: %d %s", res.Status, res.Body)
	}
	for _, member := range []string{`"client_id"`, `"scopes"`, `"created_at"`, `"expires_at"`} {
		if !strings.Contains(string(res.Body), member) {
			t.Errorf("a grant has no %s member: %s", member, res.Body)
		}
	}
	if strings.Contains(string(res.Body), `"last_used_at"`) {
		t.Errorf("a grant never used names last_used_at: %s", res.Body)
	}

	wantError(t, a.do(http.MethodDelete, "/users/"+u.UserID+"/grants/app-3", ""), 404, "not_found", ErrGrantNotFound.Error())
	if res := a.do(http.MethodDelete, "/users/"+u.UserID+"/grants/app-1", ""); res.Status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", res.Status, res.Body)
	}
	res = a.do(http.MethodGet, "/users/"+u.UserID+"/grants", "")
	res.decode(t, &list)
	if len(list.Grants) != 1 || list.Grants[0].ClientID != "app-2" {
		t.Fatalf("after revoking app-1's grants: %s", res.Body)
	}
	if res := a.do(http.MethodGet, "/users/nosuch/grants", ""); res.Status != http.StatusNotFound {
		t.Fatalf("unknown user: %d %s", res.Status, res.Body)
	}
	res = a.do(http.MethodGet, "/users/"+v.UserID+"/grants", "")
	res.decode(t, &list)
	if len(list.Grants) != 1 {
		t.Fatalf("the other user's grants changed: %s", res.Body)
	}
}
