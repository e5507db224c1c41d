package storagetest

import (
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// family returns a refresh token family of the user and client with every
// field set but the lists a use fills, ending 30 days after t0+offset.
func family(id, userID, clientID string, offset time.Duration) storage.RefreshFamily {
	return storage.RefreshFamily{
		ID:        id,
		ClientID:  clientID,
		UserID:    userID,
		Scopes:    []string{"openid", "orders:read"},
		Resources: []string{"https://api.example.com"},
		AuthTime:  t0.Add(offset - time.Minute),
		CreatedAt: t0.Add(offset),
		ExpiresAt: t0.Add(offset + 30*24*time.Hour),
		Current:   []string{"hash-" + id + "-0"},
	}
}

func mustCreateFamily(t *testing.T, s storage.Store, f storage.RefreshFamily) {
	t.Helper()
	if err := s.CreateRefreshFamily(t.Context(), f); err != nil {
		t.Fatalf("CreateRefreshFamily(%q): %v", f.ID, err)
	}
}

func wantNoFamily(t *testing.T, s storage.Store, id string) {
	t.Helper()
	if _, err := s.GetRefreshFamily(t.Context(), id); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetRefreshFamily(%q) = %v; want ErrNotFound", id, err)
	}
}

// testRefreshFamilies: a family is created once, read back exactly,
// updated by CAS (its identity and end cannot change, an update's own error
// writes nothing), listed per user by client, and deleted.
func testRefreshFamilies(t *testing.T, s storage.Store) {
	ctx := t.Context()
	f := family("fam-1", "user/1", "spa", 0)
	mustCreateFamily(t, s, f)
	if err := s.CreateRefreshFamily(ctx, f); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("second CreateRefreshFamily = %v; want ErrAlreadyExists", err)
	}
	if err := s.CreateRefreshFamily(ctx, storage.RefreshFamily{ID: "x", ClientID: "spa"}); err == nil {
		t.Fatal("CreateRefreshFamily of a family without a user and an end succeeded")
	}
	got, err := s.GetRefreshFamily(ctx, f.ID)
	if err != nil || !reflect.DeepEqual(got, f) {
		t.Fatalf("GetRefreshFamily = %+v, %v; want %+v", got, err, f)
	}
	wantNoFamily(t, s, "fam-unknown")

	rotated, use := storage.UseRefresh(f, "hash-fam-1-0", t0.Add(time.Hour), 10*time.Second, storage.RefreshRotation{
		Hash:        "hash-fam-1-1",
		AccessToken: storage.FamilyToken{JTI: "jti-1", ExpiresAt: t0.Add(time.Hour + 15*time.Minute)},
	})
	if use != storage.RefreshRotated {
		t.Fatalf("UseRefresh = %v; want RefreshRotated", use)
	}
	stored, err := s.UpdateRefreshFamily(ctx, f.ID, func(storage.RefreshFamily) (storage.RefreshFamily, error) { return rotated, nil })
	if err != nil || !reflect.DeepEqual(stored, rotated) {
		t.Fatalf("UpdateRefreshFamily = %+v, %v; want %+v", stored, err, rotated)
	}
	if got, _ := s.GetRefreshFamily(ctx, f.ID); !reflect.DeepEqual(got, rotated) {
		t.Fatalf("after the update, GetRefreshFamily = %+v; want %+v", got, rotated)
	}

	refused := errors.New("refused by the caller")
	if _, err := s.UpdateRefreshFamily(ctx, f.ID, func(storage.RefreshFamily) (storage.RefreshFamily, error) { return f, refused }); !errors.Is(err, refused) {
		t.Fatalf("UpdateRefreshFamily whose function fails = %v; want its error", err)
	}
	for name, change := range map[string]func(*storage.RefreshFamily){
		"id":     func(g *storage.RefreshFamily) { g.ID = "fam-2" },
		"user":   func(g *storage.RefreshFamily) { g.UserID = "user/2" },
		"client": func(g *storage.RefreshFamily) { g.ClientID = "cli" },
		"expiry": func(g *storage.RefreshFamily) { g.ExpiresAt = g.ExpiresAt.Add(time.Hour) },
	} {
		_, err := s.UpdateRefreshFamily(ctx, f.ID, func(g storage.RefreshFamily) (storage.RefreshFamily, error) {
			change(&g)
			return g, nil
		})
		if err == nil {
			t.Errorf("UpdateRefreshFamily changing the %s succeeded", name)
		}
	}
	if got, _ := s.GetRefreshFamily(ctx, f.ID); !reflect.DeepEqual(got, rotated) {
		t.Fatalf("refused updates changed the family: %+v", got)
	}
	if _, err := s.UpdateRefreshFamily(ctx, "fam-unknown", func(g storage.RefreshFamily) (storage.RefreshFamily, error) { return g, nil }); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("UpdateRefreshFamily of an unknown family = %v; want ErrNotFound", err)
	}

	mustCreateFamily(t, s, family("fam-0", "user/1", "zed", time.Minute))
	mustCreateFamily(t, s, family("fam-3", "user/1", "spa", time.Minute))
	mustCreateFamily(t, s, family("fam-other", "user/2", "spa", 0))
	held, err := s.ListUserRefreshFamilies(ctx, "user/1")
	if err != nil {
		t.Fatalf("ListUserRefreshFamilies: %v", err)
	}
	var ids []string
	for _, g := range held {
		ids = append(ids, g.ID)
	}
	if want := []string{"fam-1", "fam-3", "fam-0"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("ListUserRefreshFamilies = %v; want %v (by client, then age)", ids, want)
	}

	if err := s.DeleteRefreshFamily(ctx, f.ID); err != nil {
		t.Fatalf("DeleteRefreshFamily: %v", err)
	}
	wantNoFamily(t, s, f.ID)
	if err := s.DeleteRefreshFamily(ctx, f.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("second DeleteRefreshFamily = %v; want ErrNotFound", err)
	}
}

// testRotateRefreshConcurrent: of many concurrent uses of one current
// token through UpdateRefreshFamily, exactly one rotates it; the others see
// the rotation and, within the grace period, are retries that each get a
// sibling token, up to MaxLiveRefresh current ones.
func testRotateRefreshConcurrent(t *testing.T, s storage.Store) {
	const racers = 8
	f := family("fam-race", "u", "spa", 0)
	mustCreateFamily(t, s, f)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		uses     = map[storage.RefreshUse]int{}
		failures []error
	)
	start := make(chan struct{})
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var use storage.RefreshUse
			_, err := s.UpdateRefreshFamily(t.Context(), f.ID, func(g storage.RefreshFamily) (storage.RefreshFamily, error) {
				var next storage.RefreshFamily
				next, use = storage.UseRefresh(g, f.Current[0], t0.Add(time.Second), 10*time.Second, storage.RefreshRotation{
					Hash: "hash-new-" + string(rune('a'+i)),
				})
				return next, nil
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures = append(failures, err)
				return
			}
			uses[use]++
		}()
	}
	close(start)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("UpdateRefreshFamily: %v", failures)
	}
	want := map[storage.RefreshUse]int{
		storage.RefreshRotated: 1,
		storage.RefreshRetried: storage.MaxLiveRefresh - 1,
		storage.RefreshUnknown: racers - storage.MaxLiveRefresh,
	}
	if !reflect.DeepEqual(uses, want) {
		t.Fatalf("uses = %v; want %v", uses, want)
	}
	got, err := s.GetRefreshFamily(t.Context(), f.ID)
	if err != nil || len(got.Current) != storage.MaxLiveRefresh || !got.ReplayedAt.IsZero() {
		t.Fatalf("after the race, family = %+v, %v; want %d current tokens and no replay", got, err, storage.MaxLiveRefresh)
	}
}

// testPruneRefreshFamilies: prune deletes the families past their end.
func testPruneRefreshFamilies(t *testing.T, s storage.Store) {
	ended, live := family("fam-ended", "u", "spa", 0), family("fam-live", "u", "spa", time.Hour)
	mustCreateFamily(t, s, ended)
	mustCreateFamily(t, s, live)
	if err := s.PruneRefreshFamilies(t.Context(), ended.ExpiresAt); err != nil {
		t.Fatalf("PruneRefreshFamilies: %v", err)
	}
	wantNoFamily(t, s, ended.ID)
	if _, err := s.GetRefreshFamily(t.Context(), live.ID); err != nil {
		t.Fatalf("GetRefreshFamily of the live family after prune: %v", err)
	}
}

// testDeleteEndsRefreshFamilies: deleting a user deletes their families,
// and deleting a client the families issued to it, and no others.
func testDeleteEndsRefreshFamilies(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, minimalUser("u1", "ada"))
	mustCreateUser(t, s, minimalUser("u2", "grace"))
	mustCreate(t, s, minimalClient("spa", "SPA"))
	mustCreate(t, s, minimalClient("cli", "CLI"))
	for _, u := range []string{"u1", "u2"} {
		for _, c := range []string{"spa", "cli"} {
			mustCreateFamily(t, s, family(u+"-"+c, u, c, 0))
		}
	}
	if err := s.DeleteUser(ctx, "u1"); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	wantNoFamily(t, s, "u1-spa")
	wantNoFamily(t, s, "u1-cli")
	if err := s.DeleteClient(ctx, "spa"); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	wantNoFamily(t, s, "u2-spa")
	if _, err := s.GetRefreshFamily(ctx, "u2-cli"); err != nil {
		t.Fatalf("GetRefreshFamily of another user's family with another client: %v", err)
	}
}

// testClientPeople: ClientPeople counts, per client, the distinct people
// holding a standing consent or a live family: a withdrawn consent, an
// expired family and a replayed one count for nothing, a person with a
// consent and two families counts once, and clients are counted apart.
func testClientPeople(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := t0.Add(time.Hour)
	wantPeople(t, s, now, map[string]int{})

	grant(t, s, "u1", "spa", t0, "openid")
	mustCreateFamily(t, s, family("u1-spa-a", "u1", "spa", 0))
	mustCreateFamily(t, s, family("u1-spa-b", "u1", "spa", time.Minute))
	mustCreateFamily(t, s, family("u5-spa", "u5", "spa", 0))
	grant(t, s, "u2", "spa", t0, "openid")
	if err := s.WithdrawConsent(ctx, "u2", "spa", t0.Add(time.Minute)); err != nil {
		t.Fatalf("WithdrawConsent: %v", err)
	}
	mustCreateFamily(t, s, family("u4-spa-expired", "u4", "spa", -31*24*time.Hour))
	replayed := family("u6-spa-replayed", "u6", "spa", 0)
	mustCreateFamily(t, s, replayed)
	if _, err := s.UpdateRefreshFamily(ctx, replayed.ID, func(f storage.RefreshFamily) (storage.RefreshFamily, error) {
		f.ReplayedAt = t0.Add(time.Minute)
		return f, nil
	}); err != nil {
		t.Fatalf("UpdateRefreshFamily: %v", err)
	}

	grant(t, s, "u1", "cli", t0, "openid")
	grant(t, s, "u2", "cli", t0, "openid")
	mustCreateFamily(t, s, family("u3-cli", "u3", "cli", 0))

	wantPeople(t, s, now, map[string]int{"spa": 2, "cli": 3})
	// Once every family has ended, only the standing consents count.
	wantPeople(t, s, t0.Add(365*24*time.Hour), map[string]int{"spa": 1, "cli": 2})
}

func wantPeople(t *testing.T, s storage.Store, now time.Time, want map[string]int) {
	t.Helper()
	got, err := s.ClientPeople(t.Context(), now)
	if err != nil || got == nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ClientPeople(%v) = %v, %v; want %v", now, got, err, want)
	}
}
