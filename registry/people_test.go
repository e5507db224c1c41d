package registry

import (
	"context"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// TestPeople: a client's view counts the distinct people with a standing
// consent to it or a live refresh token family of it, in Get and in List,
// where one count of the store serves the whole page.
func TestPeople(t *testing.T) {
	ctx := context.Background()
	r, store, clock := newTestRegistry(t, Limits{})
	app, _ := mustCreate(t, r, `{"client_name":"app"}`)
	other, _ := mustCreate(t, r, `{"client_name":"other"}`)
	idle, _ := mustCreate(t, r, `{"client_name":"idle"}`)
	now := clock.Now()
	consent := func(userID, clientID string) {
		t.Helper()
		if _, err := store.PutConsent(ctx, userID, clientID, func(c storage.Consent) (storage.Consent, error) {
			c.Scopes, c.CreatedAt, c.UpdatedAt = []string{"openid"}, now, now
			return c, nil
		}); err != nil {
			t.Fatalf("PutConsent: %v", err)
		}
	}
	consent("ada", app.ClientID)
	consent("grace", app.ClientID)
	consent("ada", other.ClientID)
	if err := store.CreateRefreshFamily(ctx, storage.RefreshFamily{
		ID: "fam-linus", ClientID: other.ClientID, UserID: "linus",
		CreatedAt: now, ExpiresAt: now.Add(time.Hour), Current: []string{"hash"},
	}); err != nil {
		t.Fatalf("CreateRefreshFamily: %v", err)
	}

	wantPeople := func(when string, want map[string]int) {
		t.Helper()
		for id, n := range want {
			c, err := r.Get(ctx, id)
			if err != nil || c.Usage.People != n {
				t.Fatalf("%s: Get(%s).Usage.People = %d, %v; want %d", when, id, c.Usage.People, err, n)
			}
		}
		store.peopleCounts.Store(0)
		page, err := r.List(ctx, ListQuery{})
		if err != nil {
			t.Fatalf("%s: List: %v", when, err)
		}
		for _, c := range page.Clients {
			if c.Usage.People != want[c.ClientID] {
				t.Fatalf("%s: List: %s has %d people; want %d", when, c.ClientName, c.Usage.People, want[c.ClientID])
			}
		}
		if n := store.peopleCounts.Load(); n != 1 {
			t.Fatalf("%s: List of %d clients counted people %d times; want once", when, len(page.Clients), n)
		}
	}
	wantPeople("at first", map[string]int{app.ClientID: 2, other.ClientID: 2, idle.ClientID: 0})
	clock.Add(2 * time.Hour)
	wantPeople("once the family ended", map[string]int{app.ClientID: 2, other.ClientID: 1, idle.ClientID: 0})
}
