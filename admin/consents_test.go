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

// memConsents is a ConsentAdmin over a map, as the gateway's store is
// adapted to it.
type memConsents struct {
	mu sync.Mutex
	// byUser maps a user ID to its standing consents, by client ID.
	byUser map[string][]ConsentInfo
}

// withConsents is an apiOption that serves the consents routes from c.
func withConsents(c *memConsents) apiOption {
	return func(_ *registry.Limits, o *Options) { o.Consents = c }
}

// add records the user's consent to the client.
func (c *memConsents) add(userID, clientID string, scopes ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byUser == nil {
		c.byUser = map[string][]ConsentInfo{}
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c.byUser[userID] = append(c.byUser[userID], ConsentInfo{ClientID: clientID, Scopes: scopes, GrantedAt: at})
}

func (c *memConsents) ListConsents(_ context.Context, userID string) ([]ConsentInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.byUser[userID]), nil
}

func (c *memConsents) WithdrawConsent(_ context.Context, userID, clientID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	list := c.byUser[userID]
	i := slices.IndexFunc(list, func(ci ConsentInfo) bool { return ci.ClientID == clientID })
	if i < 0 {
		return ErrConsentNotFound
	}
	c.byUser[userID] = slices.Delete(list, i, i+1)
	return nil
}

func TestUserConsents(t *testing.T) {
	consents := &memConsents{}
	a := newTestAPI(t, cheapHasher, withConsents(consents))
	u := a.createUser(`{"username":"ivy"}`)
	v := a.createUser(`{"username":"jon"}`)
	consents.add(u.UserID, "app-1", "orders:read", "orders:write")
	consents.add(u.UserID, "app-2", "profile")
	consents.add(v.UserID, "app-3", "orders:read")

	res := a.do(http.MethodGet, "/users/"+u.UserID+"/consents", "")
	var list consentList
	res.decode(t, &list)
	if res.Status != http.StatusOK || len(list.Consents) != 2 || list.Consents[0].ClientID != "app-1" ||
		!slices.Equal(list.Consents[0].Scopes, []string{"orders:read", "orders:write"}) || list.Consents[0].GrantedAt.IsZero() {
		t.Fatalf("list: %d %s", res.Status, res.Body)
	}
	for _, member := range []string{`"client_id"`, `"scopes"`, `"granted_at"`} {
		if !strings.Contains(string(res.Body), member) {
			t.Errorf("a consent has no %s member: %s", member, res.Body)
		}
	}

	// Another user's consent is not found through this user.
	wantError(t, a.do(http.MethodDelete, "/users/"+u.UserID+"/consents/app-3", ""), 404, "not_found", "the user has no standing consent to this client")
	if res := a.do(http.MethodDelete, "/users/"+u.UserID+"/consents/app-1", ""); res.Status != http.StatusNoContent || len(res.Body) != 0 {
		t.Fatalf("withdraw: %d %s", res.Status, res.Body)
	}
	wantError(t, a.do(http.MethodDelete, "/users/"+u.UserID+"/consents/app-1", ""), 404, "not_found", "the user has no standing consent to this client")
	a.do(http.MethodDelete, "/users/"+u.UserID+"/consents/app-2", "")
	if res := a.do(http.MethodGet, "/users/"+u.UserID+"/consents", ""); strings.TrimSpace(string(res.Body)) != `{"consents":[]}` {
		t.Errorf("after withdrawing all: %s", res.Body)
	}
	if left, _ := consents.ListConsents(t.Context(), v.UserID); len(left) != 1 {
		t.Errorf("the other user's consents were touched: %v", left)
	}
	for _, req := range []struct{ method, path string }{
		{"GET", "/users/nosuch/consents"},
		{"DELETE", "/users/nosuch/consents/app-3"},
	} {
		wantError(t, a.do(req.method, req.path, ""), 404, "not_found", "no user with this ID")
	}
	var actions []string
	for _, e := range a.logs.FilterMessage("admin change").All() {
		m := e.ContextMap()
		actions = append(actions, m["action"].(string))
		if m["action"] == actionConsentWithdraw && (m["user_id"] != u.UserID || m["client_id"] == nil) {
			t.Errorf("the audit line of a withdrawal: %v", m)
		}
	}
	if want := []string{"user.create", "user.create", "consent.withdraw", "consent.withdraw"}; !slices.Equal(actions, want) {
		t.Errorf("audit actions %v, want %v", actions, want)
	}
}

func TestConsentsUnroutedWithoutAConsentAdmin(t *testing.T) {
	a := newTestAPI(t, cheapHasher)
	u := a.createUser(`{"username":"ivy"}`)
	wantError(t, a.do(http.MethodGet, "/users/"+u.UserID+"/consents", ""), 404, "not_found", "no such endpoint")
}
