package storage_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// consentCounting counts the consent reads that reach the store it wraps.
type consentCounting struct {
	storage.Store
	consents atomic.Int64
}

func (s *consentCounting) GetConsent(ctx context.Context, userID, clientID string) (storage.Consent, error) {
	s.consents.Add(1)
	return s.Store.GetConsent(ctx, userID, clientID)
}

func giveConsent(t testing.TB, s storage.Store, userID, clientID string, scopes ...string) {
	t.Helper()
	_, err := s.PutConsent(context.Background(), userID, clientID, func(c storage.Consent) (storage.Consent, error) {
		c.Scopes, c.CreatedAt, c.UpdatedAt = scopes, sessionT0, sessionT0
		return c, nil
	})
	if err != nil {
		t.Fatalf("PutConsent(%q, %q): %v", userID, clientID, err)
	}
}

// wantConsentScopes reads the consent through the cache and fails unless
// it holds want (nil: ErrNotFound).
func wantConsentScopes(t *testing.T, cache *storage.Cached, userID, clientID string, want []string) {
	t.Helper()
	got, err := cache.GetConsent(t.Context(), userID, clientID)
	if want == nil {
		if !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("GetConsent(%q, %q) = %+v, %v; want ErrNotFound", userID, clientID, got, err)
		}
		return
	}
	if err != nil || len(got.Scopes) != len(want) || (len(want) > 0 && got.Scopes[0] != want[0]) {
		t.Fatalf("GetConsent(%q, %q) = %+v, %v; want scopes %v", userID, clientID, got, err, want)
	}
}

// Cached serves consents from memory, remembers pairs without one, keeps
// pairs apart whatever bytes their IDs hold, and evicts on every write
// that goes through it and on a change another gateway made.
func TestCachedConsents(t *testing.T) {
	ctx := t.Context()
	inner := &consentCounting{Store: openTestBolt(t)}
	cache := newCached(t, inner, 10)
	giveConsent(t, cache, "u1", "spa", "openid")
	for range 3 {
		wantConsentScopes(t, cache, "u1", "spa", []string{"openid"})
		wantConsentScopes(t, cache, "u1", "other", nil)
		// "u" + "1spa" must not be taken for "u1" + "spa".
		wantConsentScopes(t, cache, "u", "1spa", nil)
	}
	wantReads(t, &inner.consents, 3, "three reads of a consent and of two pairs without one")

	giveConsent(t, cache, "u1", "other", "email")
	wantConsentScopes(t, cache, "u1", "other", []string{"email"})

	if err := cache.WithdrawConsent(ctx, "u1", "spa", sessionT0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantConsentScopes(t, cache, "u1", "spa", []string{})

	// Another gateway's write, told as a Change.
	giveConsent(t, inner.Store, "u1", "spa", "profile")
	wantConsentScopes(t, cache, "u1", "spa", []string{})
	cache.Invalidate(storage.Change{ConsentUserID: "u1", ConsentClientID: "spa"})
	wantConsentScopes(t, cache, "u1", "spa", []string{"profile"})

	if err := cache.CreateUser(ctx, storage.User{ID: "u1", Username: "ada"}, 0); err != nil {
		t.Fatal(err)
	}
	if err := cache.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	wantConsentScopes(t, cache, "u1", "spa", nil)
	wantConsentScopes(t, cache, "u1", "other", nil)

	if err := cache.CreateClient(ctx, storage.Client{ID: "spa", Name: "SPA"}, 0); err != nil {
		t.Fatal(err)
	}
	giveConsent(t, cache, "u2", "spa", "openid")
	wantConsentScopes(t, cache, "u2", "spa", []string{"openid"})
	if err := cache.DeleteClient(ctx, "spa"); err != nil {
		t.Fatal(err)
	}
	wantConsentScopes(t, cache, "u2", "spa", nil)
}

// A cached consent read, the guard's on every request with a token held
// for a person, reads nothing from the store and allocates at most the
// key of the pair.
func TestCachedConsentReadAllocs(t *testing.T) {
	ctx := t.Context()
	inner := &consentCounting{Store: openTestBolt(t)}
	cache := newCached(t, inner, 10)
	giveConsent(t, cache, "user-0001", "client-0001", "openid")
	if _, err := cache.GetConsent(ctx, "user-0001", "client-0001"); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.GetConsent(ctx, "user-0001", "client-none"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatal(err)
	}
	before := inner.consents.Load()
	for name, clientID := range map[string]string{"hit": "client-0001", "unknown": "client-none"} {
		allocs := testing.AllocsPerRun(100, func() { _, _ = cache.GetConsent(ctx, "user-0001", clientID) })
		if allocs > 1 {
			t.Errorf("a cached consent read (%s) allocates %.0f times, want at most 1", name, allocs)
		}
	}
	if n := inner.consents.Load(); n != before {
		t.Fatalf("cached consent reads reached the store %d times", n-before)
	}
}

func BenchmarkGetConsentCached(b *testing.B) {
	ctx := context.Background()
	inner := &consentCounting{Store: openTestBolt(b)}
	cache, err := storage.NewCached(inner, 10)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cache.Close() })
	giveConsent(b, cache, "user-0001", "client-0001", "openid")
	if _, err := cache.GetConsent(ctx, "user-0001", "client-0001"); err != nil {
		b.Fatal(err)
	}
	before := inner.consents.Load()
	for b.Loop() {
		if _, err := cache.GetConsent(ctx, "user-0001", "client-0001"); err != nil {
			b.Fatal(err)
		}
	}
	if n := inner.consents.Load(); n != before {
		b.Fatalf("cached consent reads reached the store %d times", n-before)
	}
}
