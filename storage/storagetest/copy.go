package storagetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// RunCopy tests storage.Copy from a store that open gives to one that
// openDst gives (both new and empty): that it copies every record as
// stored, leaves what the destination holds, counts what it did, copies
// nothing twice when run again, and stops at a client whose name (or a
// user whose username) the destination gives to another.
func RunCopy(t *testing.T, openDst, open func(t *testing.T) storage.Store) {
	ctx := t.Context()
	var src, dst storage.Store
	// Registered before open's own cleanups, so it runs after them.
	t.Cleanup(func() {
		for _, s := range []storage.Store{src, dst} {
			if s == nil {
				continue
			}
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
	})
	src, dst = open(t), openDst(t)

	// More clients than Copy reads at once, one with every field set.
	full := fullClient("client-full", "Full")
	clients := []storage.Client{full}
	for i := range 120 {
		clients = append(clients, minimalClient(fmt.Sprintf("client-%03d", i), fmt.Sprintf("Client %03d", i)))
	}
	for _, c := range clients {
		mustCreate(t, src, c)
	}
	srcKeys := []storage.SigningKey{signingKey("kid-a", t0), signingKey("kid-b", t0.Add(time.Hour))}
	if _, err := src.UpdateSigningKeys(ctx, func([]storage.SigningKey) ([]storage.SigningKey, error) { return srcKeys, nil }); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	live := storage.Revocation{JTI: "jti-live", ClientID: full.ID, ExpiresAt: now.Add(time.Hour)}
	expired := storage.Revocation{JTI: "jti-expired", ClientID: full.ID, ExpiresAt: now.Add(-time.Hour)}
	for _, r := range []storage.Revocation{live, expired} {
		if err := src.Revoke(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	usage := storage.Usage{TokensIssued: 3, LastTokenAt: t0, RequestsAllowed: 5, RequestsDenied: 1, LastSeenAt: t0.Add(time.Minute)}
	if err := src.AddUsage(ctx, map[string]storage.Usage{full.ID: usage}); err != nil {
		t.Fatal(err)
	}

	// The destination has a key of its own, and a client under one of the
	// IDs with other content and counters of its own.
	dstKey := signingKey("kid-dst", t0.Add(-time.Hour))
	if _, err := dst.UpdateSigningKeys(ctx, func([]storage.SigningKey) ([]storage.SigningKey, error) {
		return []storage.SigningKey{dstKey}, nil
	}); err != nil {
		t.Fatal(err)
	}
	own := minimalClient("client-000", "Own 000")
	own.Disabled = true
	mustCreate(t, dst, own)
	ownUsage := storage.Usage{TokensIssued: 7}
	if err := dst.AddUsage(ctx, map[string]storage.Usage{own.ID: ownUsage}); err != nil {
		t.Fatal(err)
	}

	// Roles and users: one of each is in dst already, with other content.
	srcRoles := []storage.Role{
		{Name: "admin", Scopes: []string{"full"}, CreatedAt: t0, UpdatedAt: t0},
		{Name: "viewer", Description: "Reads", Scopes: []string{"read"}, CreatedAt: t0, UpdatedAt: t0},
	}
	for _, r := range srcRoles {
		if err := src.CreateRole(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	ownRole := storage.Role{Name: "admin", Description: "dst's own", CreatedAt: t0, UpdatedAt: t0}
	if err := dst.CreateRole(ctx, ownRole); err != nil {
		t.Fatal(err)
	}
	fullU := fullUser("user-full", "Ada")
	mustCreateUser(t, src, fullU)
	mustCreateUser(t, src, minimalUser("user-own", "Src Own"))
	ownUser := minimalUser("user-own", "Dst Own")
	mustCreateUser(t, dst, ownUser)
	// Copy keeps live sessions by the real clock; an ended one stays behind.
	liveSession := storage.Session{ID: "session-live", UserID: fullU.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), IdleTimeout: time.Hour, UserAgent: "Mozilla/5.0"}
	endedSession := storage.Session{ID: "session-ended", UserID: fullU.ID, CreatedAt: now.Add(-2 * time.Hour), LastSeenAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}
	mustCreateSession(t, src, liveSession, 0)
	mustCreateSession(t, src, endedSession, 0)
	// Consents, a withdrawn one too (its cutoff must survive the move), and
	// one that dst holds already; live requests and codes (a used one
	// stays used), and expired ones that stay behind.
	grant(t, src, fullU.ID, "client-000", t0, "openid")
	grant(t, src, fullU.ID, "client-001", t0, "openid")
	if err := src.WithdrawConsent(ctx, fullU.ID, "client-001", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	grant(t, src, ownUser.ID, "client-002", t0, "src")
	ownConsent := grant(t, dst, ownUser.ID, "client-002", t0, "dst")
	liveRequest := authRequest("request-live", 0)
	liveRequest.CreatedAt, liveRequest.ExpiresAt = now, now.Add(time.Hour)
	expiredRequest := authRequest("request-expired", 0)
	expiredRequest.ExpiresAt = now.Add(-time.Hour)
	liveCode := authCode("code-live", fullU.ID, 0)
	liveCode.CreatedAt, liveCode.ExpiresAt = now, now.Add(time.Hour)
	expiredCode := authCode("code-expired", fullU.ID, 0)
	expiredCode.ExpiresAt = now.Add(-time.Hour)
	mustCreateAuthRequest(t, src, liveRequest)
	mustCreateAuthRequest(t, src, expiredRequest)
	mustCreateAuthCode(t, src, liveCode)
	mustCreateAuthCode(t, src, expiredCode)
	usedCode, err := src.RedeemAuthCode(ctx, liveCode.ID, now, "jti-from-code")
	if err != nil {
		t.Fatal(err)
	}
	liveFamily := family("family-live", fullU.ID, "client-000", now.Sub(t0))
	liveFamily, _ = storage.UseRefresh(liveFamily, liveFamily.Current[0], now, time.Second, storage.RefreshRotation{
		Hash: "hash-next", AccessToken: storage.FamilyToken{JTI: "jti-from-refresh", ExpiresAt: now.Add(time.Hour)},
	})
	mustCreateFamily(t, src, liveFamily)
	endedFamily := family("family-ended", fullU.ID, "client-000", -31*24*time.Hour)
	mustCreateFamily(t, src, endedFamily)
	srcConsents, err := src.ListUserConsents(ctx, fullU.ID)
	if err != nil {
		t.Fatal(err)
	}

	stats, err := storage.Copy(ctx, dst, src)
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	want := storage.CopyStats{
		Clients: len(clients) - 1, ClientsSkipped: 1, SigningKeys: 2, Revocations: 1, Usage: 1,
		Roles: 1, RolesSkipped: 1, Users: 1, UsersSkipped: 1, Sessions: 1,
		Consents: 2, ConsentsSkipped: 1, AuthRequests: 1, AuthCodes: 1, RefreshFamilies: 1,
	}
	if stats != want {
		t.Fatalf("Copy stats = %+v, want %+v", stats, want)
	}
	check := func(t *testing.T) {
		t.Helper()
		for _, c := range clients {
			if c.ID == own.ID {
				c = own
			}
			wantClient(t, dst, c)
		}
		wantCount(t, dst, len(clients))
		wantUser(t, dst, fullU)
		wantUser(t, dst, ownUser)
		wantUserCount(t, dst, 2)
		if got, err := dst.GetSession(ctx, liveSession.ID); err != nil || !reflect.DeepEqual(got, liveSession) {
			t.Fatalf("live session after Copy = %+v, %v; want %+v", got, err, liveSession)
		}
		wantNoSession(t, dst, endedSession.ID)
		if got, err := dst.ListUserConsents(ctx, fullU.ID); err != nil || !reflect.DeepEqual(got, srcConsents) {
			t.Fatalf("consents after Copy = %+v, %v; want %+v", got, err, srcConsents)
		}
		if got, err := dst.GetConsent(ctx, ownUser.ID, "client-002"); err != nil || !reflect.DeepEqual(got, ownConsent) {
			t.Fatalf("dst's own consent after Copy = %+v, %v; want %+v", got, err, ownConsent)
		}
		if got, err := dst.GetAuthRequest(ctx, liveRequest.ID); err != nil || !reflect.DeepEqual(got, liveRequest) {
			t.Fatalf("live request after Copy = %+v, %v; want %+v", got, err, liveRequest)
		}
		wantNoAuthRequest(t, dst, expiredRequest.ID)
		if got, err := dst.RedeemAuthCode(ctx, liveCode.ID, now); !errors.Is(err, storage.ErrCodeReused) || !reflect.DeepEqual(got, usedCode) {
			t.Fatalf("used code after Copy = %+v, %v; want %+v, ErrCodeReused", got, err, usedCode)
		}
		wantCodeGone(t, dst, expiredCode.ID)
		if got, err := dst.GetRefreshFamily(ctx, liveFamily.ID); err != nil || !reflect.DeepEqual(got, liveFamily) {
			t.Fatalf("live refresh token family after Copy = %+v, %v; want %+v", got, err, liveFamily)
		}
		wantNoFamily(t, dst, endedFamily.ID)
		for _, r := range []storage.Role{ownRole, srcRoles[1]} {
			if got, err := dst.GetRole(ctx, r.Name); err != nil || !reflect.DeepEqual(got, r) {
				t.Fatalf("role %s after Copy = %+v, %v; want %+v", r.Name, got, err, r)
			}
		}
		keys, err := dst.SigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if wantKeys := append([]storage.SigningKey{dstKey}, srcKeys...); !reflect.DeepEqual(keys, wantKeys) {
			t.Fatalf("keys after Copy:\n got %+v\nwant %+v", keys, wantKeys)
		}
		revs, err := dst.Revocations(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(revs, []storage.Revocation{live}) {
			t.Fatalf("revocations after Copy = %+v, want only %+v", revs, live)
		}
		for id, want := range map[string]storage.Usage{full.ID: usage, own.ID: ownUsage, "client-001": {}} {
			if got, err := dst.Usage(ctx, id); err != nil || got != want {
				t.Fatalf("usage of %s after Copy = %+v, %v; want %+v", id, got, err, want)
			}
		}
	}
	check(t)

	t.Run("again", func(t *testing.T) {
		stats, err := storage.Copy(ctx, dst, src)
		if err != nil {
			t.Fatalf("Copy again: %v", err)
		}
		want := storage.CopyStats{
			ClientsSkipped: len(clients), SigningKeysSkipped: 2, Revocations: 1, RolesSkipped: 2, UsersSkipped: 2, SessionsSkipped: 1,
			ConsentsSkipped: 3, AuthRequestsSkipped: 1, AuthCodesSkipped: 1, RefreshFamiliesSkipped: 1,
		}
		if stats != want {
			t.Fatalf("Copy again: stats = %+v, want %+v", stats, want)
		}
		check(t)
	})

	t.Run("name taken by another client", func(t *testing.T) {
		mustCreate(t, dst, minimalClient("client-dst-only", "Taken"))
		mustCreate(t, src, minimalClient("client-src-only", "TAKEN"))
		_, err := storage.Copy(ctx, dst, src)
		if !errors.Is(err, storage.ErrAlreadyExists) {
			t.Fatalf("Copy with a name taken in the destination: %v, want ErrAlreadyExists", err)
		}
		wantMissing(t, dst, "client-src-only")
	})

	t.Run("username taken by another user", func(t *testing.T) {
		if err := dst.DeleteClient(ctx, "client-dst-only"); err != nil {
			t.Fatal(err)
		}
		if err := src.DeleteClient(ctx, "client-src-only"); err != nil {
			t.Fatal(err)
		}
		mustCreateUser(t, dst, minimalUser("user-dst-only", "Taken"))
		mustCreateUser(t, src, minimalUser("user-src-only", "TAKEN"))
		_, err := storage.Copy(ctx, dst, src)
		if !errors.Is(err, storage.ErrAlreadyExists) {
			t.Fatalf("Copy with a username taken in the destination: %v, want ErrAlreadyExists", err)
		}
		if _, err := dst.GetUser(ctx, "user-src-only"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("GetUser(user-src-only) in dst: %v, want ErrNotFound", err)
		}
	})
}
