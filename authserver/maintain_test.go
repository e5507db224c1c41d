package authserver

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// Upkeep forgets the authorization requests and codes that have expired by
// the server's clock, used codes too, and keeps the live ones: without it
// every consent page shown and every code issued would stay in the store.
func TestMaintainPrunesAuthorizationRecords(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	s.SetClock(func() time.Time { return now })

	request := func(id string, expires time.Time) storage.AuthRequest {
		return storage.AuthRequest{ID: id, ClientID: "spa", UserID: "u1", RedirectURI: "https://app.example/cb",
			CreatedAt: expires.Add(-authRequestTTL), ExpiresAt: expires}
	}
	code := func(id string, expires time.Time) storage.AuthCode {
		return storage.AuthCode{ID: id, ClientID: "spa", UserID: "u1", RedirectURI: "https://app.example/cb",
			CreatedAt: expires.Add(-authCodeTTL), ExpiresAt: expires}
	}
	for _, r := range []storage.AuthRequest{request("req-expired", now.Add(-time.Second)), request("req-ends-now", now), request("req-live", now.Add(time.Minute))} {
		if err := s.Store.CreateAuthRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []storage.AuthCode{code("code-expired", now.Add(-time.Second)), code("code-used", now.Add(-time.Second)), code("code-live", now.Add(30*time.Second))} {
		if err := s.Store.CreateAuthCode(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Store.RedeemAuthCode(ctx, "code-used", now.Add(-30*time.Second)); err != nil {
		t.Fatal(err)
	}

	s.Maintain(ctx, 0)

	for id, kept := range map[string]bool{"req-expired": false, "req-ends-now": false, "req-live": true} {
		_, err := s.Store.GetAuthRequest(ctx, id)
		if kept && err != nil || !kept && !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("request %s after upkeep: %v (want kept: %v)", id, err, kept)
		}
	}
	// Every code still stored, expired or not, is live at the zero time.
	_, codes, err := s.Store.LiveAuthRecords(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	for _, c := range codes {
		stored = append(stored, c.ID)
	}
	if !slices.Equal(stored, []string{"code-live"}) {
		t.Fatalf("codes stored after upkeep: %q, want only code-live", stored)
	}
}

// Upkeep deletes the refresh token families past their absolute end and
// keeps the live ones.
func TestMaintainPrunesRefreshFamilies(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	s.SetClock(func() time.Time { return now })
	for id, end := range map[string]time.Time{"fam-ended": now, "fam-live": now.Add(time.Hour)} {
		f := storage.RefreshFamily{ID: id, ClientID: "spa", UserID: "u1", CreatedAt: end.Add(-time.Hour), ExpiresAt: end, Current: []string{"h-" + id}}
		if err := s.Store.CreateRefreshFamily(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	s.Maintain(ctx, 0)
	if _, err := s.Store.GetRefreshFamily(ctx, "fam-ended"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the ended family after upkeep: %v; want it gone", err)
	}
	if _, err := s.Store.GetRefreshFamily(ctx, "fam-live"); err != nil {
		t.Errorf("the live family after upkeep: %v", err)
	}
}
