package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/admin"
)

// testConsents is an admin.ConsentAdmin over a map.
type testConsents struct {
	mu     sync.Mutex
	byUser map[string][]admin.ConsentInfo
}

func (c *testConsents) add(userID, clientID string, scopes ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byUser == nil {
		c.byUser = map[string][]admin.ConsentInfo{}
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c.byUser[userID] = append(c.byUser[userID], admin.ConsentInfo{ClientID: clientID, Scopes: scopes, GrantedAt: at})
}

func (c *testConsents) ListConsents(_ context.Context, userID string) ([]admin.ConsentInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.byUser[userID]), nil
}

func (c *testConsents) WithdrawConsent(_ context.Context, userID, clientID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	list := c.byUser[userID]
	i := slices.IndexFunc(list, func(ci admin.ConsentInfo) bool { return ci.ClientID == clientID })
	if i < 0 {
		return admin.ErrConsentNotFound
	}
	c.byUser[userID] = slices.Delete(list, i, i+1)
	return nil
}

func TestUserConsents(t *testing.T) {
	ts := newTestServer(t)
	u := createUserViaCLI(t, ts, "", "--username", "fay")
	other := createUserViaCLI(t, ts, "", "--username", "gil")

	if r := runOK(t, "user", "consents", u.UserID, "--address", ts.Addr); r.Stdout != "No apps allowed.\n" {
		t.Errorf("consents of a user without any: %q", r.Stdout)
	}
	ts.consents.add(u.UserID, "app-1", "orders:read", "orders:write")
	ts.consents.add(u.UserID, "app\x1b[2J", "profile")
	ts.consents.add(other.UserID, "app-3", "orders:read")
	r := runOK(t, "user", "consents", u.UserID, "--address", ts.Addr)
	if !regexp.MustCompile(`(?m)^CLIENT ID +GRANTED +SCOPES\napp-1 +2026-03-01T12:00:00Z +orders:read orders:write\napp\?\[2J +2026-03-01T12:00:00Z +profile\n$`).MatchString(r.Stdout) {
		t.Errorf("consents printed:\n%q", r.Stdout)
	}
	r = runOK(t, "user", "consents", u.UserID, "--json", "--address", ts.Addr)
	var list struct{ Consents []admin.ConsentInfo }
	if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil || len(list.Consents) != 2 || list.Consents[0].ClientID != "app-1" {
		t.Errorf("consents --json: %s %v", r.Stdout, err)
	}

	if stderr := runFail(t, nil, "user", "withdraw-consent", u.UserID, "app-3", "--address", ts.Addr); stderr != "scopegate: the user has no standing consent to this client (HTTP 404)\n" {
		t.Errorf("withdrawing another user's consent: %q", stderr)
	}
	r = runOK(t, "user", "withdraw-consent", u.UserID, "app-1", "--address", ts.Addr)
	if r.Stdout != "Withdrew the consent of user "+u.UserID+" to client app-1.\n" {
		t.Errorf("withdraw printed %q", r.Stdout)
	}
	r = runOK(t, "user", "withdraw-consent", u.UserID, "app\x1b[2J", "--json", "--address", ts.Addr)
	var done map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &done); err != nil || done["withdrawn"] != true || done["client_id"] != "app\x1b[2J" {
		t.Errorf("withdraw --json: %s %v", r.Stdout, err)
	}
	if left, _ := ts.consents.ListConsents(t.Context(), u.UserID); len(left) != 0 {
		t.Errorf("consents left: %v", left)
	}
	if left, _ := ts.consents.ListConsents(t.Context(), other.UserID); len(left) != 1 {
		t.Errorf("the other user's consents were touched: %v", left)
	}
	if stderr := runFail(t, nil, "user", "consents", "nosuch", "--address", ts.Addr); stderr != "scopegate: no user with this ID (HTTP 404)\n" {
		t.Errorf("consents of an unknown user: %q", stderr)
	}
	if stderr := runFail(t, nil, "user", "withdraw-consent", u.UserID, "--address", ts.Addr); stderr == "" {
		t.Error("withdraw-consent without a client ID ran")
	}
	var methods []string
	for _, req := range ts.Requests() {
		if req.Path == "/scopegate/users/"+u.UserID+"/consents/app-1" {
			methods = append(methods, req.Method)
		}
	}
	if !slices.Equal(methods, []string{http.MethodDelete}) {
		t.Errorf("requests to withdraw app-1: %v", methods)
	}
}
