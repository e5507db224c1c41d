package storagetest

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// authRequest returns a pending request with every field set, expiring
// ten minutes after t0+offset.
func authRequest(id string, offset time.Duration) storage.AuthRequest {
	return storage.AuthRequest{
		ID:                  id,
		ClientID:            "spa",
		RedirectURI:         "https://app.example.com/callback",
		Scopes:              []string{"openid", "orders:read"},
		State:               "xyz",
		Nonce:               "n-0S6_WzA2Mj",
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		Resources:           []string{"https://api.example.com"},
		Prompt:              "consent",
		MaxAge:              -1,
		BrowserBinding:      "b1nd",
		CreatedAt:           t0.Add(offset),
		ExpiresAt:           t0.Add(offset + 10*time.Minute),
	}
}

// authCode returns a code of the user with every field set but UsedAt
// and TokenIDs, expiring a minute after t0+offset.
func authCode(id, userID string, offset time.Duration) storage.AuthCode {
	return storage.AuthCode{
		ID:                  id,
		ClientID:            "spa",
		UserID:              userID,
		SessionID:           "sess-1",
		RedirectURI:         "https://app.example.com/callback",
		Scopes:              []string{"openid", "orders:read"},
		Resources:           []string{"https://api.example.com"},
		Nonce:               "n-0S6_WzA2Mj",
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		AuthTime:            t0.Add(offset - time.Minute),
		CreatedAt:           t0.Add(offset),
		ExpiresAt:           t0.Add(offset + time.Minute),
	}
}

func mustCreateAuthRequest(t *testing.T, s storage.Store, r storage.AuthRequest) {
	t.Helper()
	if err := s.CreateAuthRequest(t.Context(), r); err != nil {
		t.Fatalf("CreateAuthRequest(%q): %v", r.ID, err)
	}
}

func mustCreateAuthCode(t *testing.T, s storage.Store, c storage.AuthCode) {
	t.Helper()
	if err := s.CreateAuthCode(t.Context(), c); err != nil {
		t.Fatalf("CreateAuthCode(%q): %v", c.ID, err)
	}
}

// grant gives the user's consent to the client for scopes at at.
func grant(t *testing.T, s storage.Store, userID, clientID string, at time.Time, scopes ...string) storage.Consent {
	t.Helper()
	got, err := s.PutConsent(t.Context(), userID, clientID, func(c storage.Consent) (storage.Consent, error) {
		if c.CreatedAt.IsZero() {
			c.CreatedAt = at
		}
		c.UpdatedAt = at
		c.Scopes = scopes
		return c, nil
	})
	if err != nil {
		t.Fatalf("PutConsent(%q, %q): %v", userID, clientID, err)
	}
	return got
}

func wantNoAuthRequest(t *testing.T, s storage.Store, id string) {
	t.Helper()
	if _, err := s.GetAuthRequest(t.Context(), id); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetAuthRequest(%q) = %v, want ErrNotFound", id, err)
	}
}

func wantNoConsent(t *testing.T, s storage.Store, userID, clientID string) {
	t.Helper()
	if _, err := s.GetConsent(t.Context(), userID, clientID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetConsent(%q, %q) = %v, want ErrNotFound", userID, clientID, err)
	}
}

// wantCodeGone fails unless redeeming the code answers ErrNotFound.
func wantCodeGone(t *testing.T, s storage.Store, id string) {
	t.Helper()
	if _, err := s.RedeemAuthCode(t.Context(), id, t0); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("RedeemAuthCode(%q) = %v, want ErrNotFound", id, err)
	}
}

// testAuthRequests: create, get back exactly, a taken ID and a record
// without identity or too large refused, update by CAS with its refusals,
// delete, and ErrNotFound for a missing request everywhere.
func testAuthRequests(t *testing.T, s storage.Store) {
	ctx := t.Context()
	r := authRequest("req-1", 0)
	mustCreateAuthRequest(t, s, r)
	if got, err := s.GetAuthRequest(ctx, r.ID); err != nil || !reflect.DeepEqual(got, r) {
		t.Fatalf("GetAuthRequest = %+v, %v; want %+v", got, err, r)
	}
	if err := s.CreateAuthRequest(ctx, authRequest("req-1", time.Hour)); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("CreateAuthRequest of a taken ID = %v, want ErrAlreadyExists", err)
	}
	for name, bad := range map[string]storage.AuthRequest{
		"no id":     {ClientID: "spa", ExpiresAt: t0},
		"no client": {ID: "req-x", ExpiresAt: t0},
		"no expiry": {ID: "req-x", ClientID: "spa"},
	} {
		if err := s.CreateAuthRequest(ctx, bad); err == nil || errors.Is(err, storage.ErrAlreadyExists) {
			t.Fatalf("CreateAuthRequest with %s = %v, want an error", name, err)
		}
	}
	huge := authRequest("req-huge", 0)
	huge.State = strings.Repeat("s", 20<<10)
	if err := s.CreateAuthRequest(ctx, huge); !errors.Is(err, storage.ErrLimitExceeded) {
		t.Fatalf("CreateAuthRequest of a 20 KiB record = %v, want ErrLimitExceeded", err)
	}
	wantNoAuthRequest(t, s, huge.ID)

	updated, err := s.UpdateAuthRequest(ctx, r.ID, func(old storage.AuthRequest) (storage.AuthRequest, error) {
		old.UserID = "user/1"
		old.Scopes[0] = "changed-in-the-copy"
		return old, nil
	})
	want := r
	want.UserID = "user/1"
	want.Scopes = []string{"changed-in-the-copy", "orders:read"}
	if err != nil || !reflect.DeepEqual(updated, want) {
		t.Fatalf("UpdateAuthRequest = %+v, %v; want %+v", updated, err, want)
	}
	if got, err := s.GetAuthRequest(ctx, r.ID); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("GetAuthRequest after update = %+v, %v; want %+v", got, err, want)
	}
	if _, err := s.UpdateAuthRequest(ctx, r.ID, func(storage.AuthRequest) (storage.AuthRequest, error) { return storage.AuthRequest{}, errAbort }); err != errAbort {
		t.Fatalf("UpdateAuthRequest whose function fails = %v, want that error as it is", err)
	}
	for name, change := range map[string]func(*storage.AuthRequest){
		"id":     func(r *storage.AuthRequest) { r.ID = "req-2" },
		"expiry": func(r *storage.AuthRequest) { r.ExpiresAt = r.ExpiresAt.Add(time.Hour) },
	} {
		_, err := s.UpdateAuthRequest(ctx, r.ID, func(old storage.AuthRequest) (storage.AuthRequest, error) {
			change(&old)
			return old, nil
		})
		if err == nil {
			t.Fatalf("UpdateAuthRequest changing the %s succeeded", name)
		}
	}
	if got, err := s.GetAuthRequest(ctx, r.ID); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("GetAuthRequest after refused updates = %+v, %v; want %+v", got, err, want)
	}

	if err := s.DeleteAuthRequest(ctx, r.ID); err != nil {
		t.Fatalf("DeleteAuthRequest: %v", err)
	}
	wantNoAuthRequest(t, s, r.ID)
	if err := s.DeleteAuthRequest(ctx, r.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("DeleteAuthRequest again = %v, want ErrNotFound", err)
	}
	if _, err := s.UpdateAuthRequest(ctx, r.ID, func(r storage.AuthRequest) (storage.AuthRequest, error) { return r, nil }); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("UpdateAuthRequest of a missing request = %v, want ErrNotFound", err)
	}
}

// testPruneAuthRequests: prune deletes exactly the requests expired at now.
func testPruneAuthRequests(t *testing.T, s storage.Store) {
	old, live := authRequest("req-old", 0), authRequest("req-live", time.Hour)
	mustCreateAuthRequest(t, s, old)
	mustCreateAuthRequest(t, s, live)
	if err := s.PruneAuthRequests(t.Context(), old.ExpiresAt); err != nil {
		t.Fatalf("PruneAuthRequests: %v", err)
	}
	wantNoAuthRequest(t, s, old.ID)
	if got, err := s.GetAuthRequest(t.Context(), live.ID); err != nil || !reflect.DeepEqual(got, live) {
		t.Fatalf("GetAuthRequest(live) after prune = %+v, %v", got, err)
	}
}

// testAuthCodes: a code redeems once, with UsedAt set and the JTIs of its
// tokens recorded; a second redemption gives the record with those JTIs and
// ErrCodeReused, recording none of its own; an
// unknown or expired code is ErrNotFound; a taken ID is refused.
func testAuthCodes(t *testing.T, s storage.Store) {
	ctx := t.Context()
	c := authCode("hash-1", "user/1", 0)
	mustCreateAuthCode(t, s, c)
	if err := s.CreateAuthCode(ctx, authCode("hash-1", "user/2", time.Hour)); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("CreateAuthCode of a taken ID = %v, want ErrAlreadyExists", err)
	}
	if err := s.CreateAuthCode(ctx, storage.AuthCode{ID: "hash-x", ClientID: "spa", ExpiresAt: t0}); err == nil {
		t.Fatal("CreateAuthCode without a user ID succeeded")
	}
	usedAt := t0.Add(10 * time.Second)
	got, err := s.RedeemAuthCode(ctx, c.ID, usedAt, "jti-1", "", "jti-2")
	want := c
	want.UsedAt = usedAt
	want.TokenIDs = []string{"jti-1", "jti-2"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("RedeemAuthCode = %+v, %v; want %+v", got, err, want)
	}
	got, err = s.RedeemAuthCode(ctx, c.ID, usedAt.Add(time.Second), "jti-3")
	if !errors.Is(err, storage.ErrCodeReused) || !reflect.DeepEqual(got, want) {
		t.Fatalf("second RedeemAuthCode = %+v, %v; want %+v, ErrCodeReused", got, err, want)
	}
	if _, err := s.RedeemAuthCode(ctx, "hash-unknown", usedAt); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("RedeemAuthCode of an unknown code = %v, want ErrNotFound", err)
	}
	late := authCode("hash-late", "user/1", 0)
	mustCreateAuthCode(t, s, late)
	if _, err := s.RedeemAuthCode(ctx, late.ID, late.ExpiresAt); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("RedeemAuthCode at its expiry = %v, want ErrNotFound", err)
	}
	huge := authCode("hash-huge", "user/1", 0)
	huge.Scopes = []string{strings.Repeat("s", 20<<10)}
	if err := s.CreateAuthCode(ctx, huge); !errors.Is(err, storage.ErrLimitExceeded) {
		t.Fatalf("CreateAuthCode of a 20 KiB record = %v, want ErrLimitExceeded", err)
	}
}

// testRedeemConcurrent: of many redemptions at once, exactly one wins and
// every other one gets ErrCodeReused.
func testRedeemConcurrent(t *testing.T, s storage.Store) {
	const racers = 8
	c := authCode("hash-race", "user/1", 0)
	mustCreateAuthCode(t, s, c)
	var (
		wg              sync.WaitGroup
		mu              sync.Mutex
		won, reused     int
		unexpectedError error
	)
	start := make(chan struct{})
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := s.RedeemAuthCode(t.Context(), c.ID, t0.Add(time.Second))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, storage.ErrCodeReused):
				reused++
			default:
				unexpectedError = err
			}
		}()
	}
	close(start)
	wg.Wait()
	if unexpectedError != nil {
		t.Fatalf("RedeemAuthCode: %v", unexpectedError)
	}
	if won != 1 || reused != racers-1 {
		t.Fatalf("%d redemptions won and %d were told of reuse; want 1 and %d", won, reused, racers-1)
	}
}

// testPruneAuthCodes: prune deletes the codes expired at now, used or not.
func testPruneAuthCodes(t *testing.T, s storage.Store) {
	used, unused, live := authCode("hash-used", "u", 0), authCode("hash-unused", "u", 0), authCode("hash-live", "u", time.Hour)
	for _, c := range []storage.AuthCode{used, unused, live} {
		mustCreateAuthCode(t, s, c)
	}
	if _, err := s.RedeemAuthCode(t.Context(), used.ID, t0); err != nil {
		t.Fatalf("RedeemAuthCode: %v", err)
	}
	if err := s.PruneAuthCodes(t.Context(), used.ExpiresAt); err != nil {
		t.Fatalf("PruneAuthCodes: %v", err)
	}
	wantCodeGone(t, s, used.ID)
	wantCodeGone(t, s, unused.ID)
	if _, err := s.RedeemAuthCode(t.Context(), live.ID, t0); err != nil {
		t.Fatalf("RedeemAuthCode of the live code after prune: %v", err)
	}
}

// testConsents: a consent is created and changed by PutConsent, read back
// exactly, withdrawn (the record and its cutoff stay, a second withdrawal
// is ErrNotFound) and given again with the cutoff kept; the pair cannot
// change; a person's consents list by client ID.
func testConsents(t *testing.T, s storage.Store) {
	ctx := t.Context()
	wantNoConsent(t, s, "user/1", "spa")
	first := grant(t, s, "user/1", "spa", t0, "openid")
	want := storage.Consent{UserID: "user/1", ClientID: "spa", Scopes: []string{"openid"}, CreatedAt: t0, UpdatedAt: t0}
	if !reflect.DeepEqual(first, want) {
		t.Fatalf("PutConsent = %+v, want %+v", first, want)
	}
	want = grant(t, s, "user/1", "spa", t0.Add(time.Minute), "openid", "orders:read")
	if got, err := s.GetConsent(ctx, "user/1", "spa"); err != nil || !reflect.DeepEqual(got, want) || !got.CreatedAt.Equal(t0) {
		t.Fatalf("GetConsent = %+v, %v; want %+v", got, err, want)
	}
	if _, err := s.PutConsent(ctx, "user/1", "spa", func(storage.Consent) (storage.Consent, error) { return storage.Consent{}, errAbort }); err != errAbort {
		t.Fatalf("PutConsent whose function fails = %v, want that error as it is", err)
	}
	if _, err := s.PutConsent(ctx, "user/1", "spa", func(c storage.Consent) (storage.Consent, error) {
		c.ClientID = "other"
		return c, nil
	}); err == nil {
		t.Fatal("PutConsent moving the consent to another client succeeded")
	}
	if _, err := s.PutConsent(ctx, "", "spa", func(c storage.Consent) (storage.Consent, error) { return c, nil }); err == nil {
		t.Fatal("PutConsent without a user ID succeeded")
	}

	withdrawn := t0.Add(time.Hour)
	if err := s.WithdrawConsent(ctx, "user/1", "spa", withdrawn); err != nil {
		t.Fatalf("WithdrawConsent: %v", err)
	}
	got, err := s.GetConsent(ctx, "user/1", "spa")
	if err != nil || got.Granted() || !got.TokensRevokedAt.Equal(withdrawn) || !got.WithdrawnAt.Equal(withdrawn) {
		t.Fatalf("GetConsent after withdrawal = %+v, %v; want no scopes and the cutoff at %v", got, err, withdrawn)
	}
	if err := s.WithdrawConsent(ctx, "user/1", "spa", withdrawn.Add(time.Minute)); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("WithdrawConsent again = %v, want ErrNotFound", err)
	}
	if err := s.WithdrawConsent(ctx, "user/1", "never", withdrawn); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("WithdrawConsent of no consent = %v, want ErrNotFound", err)
	}
	again := grant(t, s, "user/1", "spa", withdrawn.Add(time.Hour), "openid")
	if !again.Granted() || !again.TokensRevokedAt.Equal(withdrawn) {
		t.Fatalf("consent given again = %+v; want it granted with the cutoff kept", again)
	}

	grant(t, s, "user/1", "a-first", t0, "x")
	grant(t, s, "user/2", "spa", t0, "x")
	held, err := s.ListUserConsents(ctx, "user/1")
	if err != nil {
		t.Fatalf("ListUserConsents: %v", err)
	}
	var clients []string
	for _, c := range held {
		clients = append(clients, c.ClientID)
	}
	if !reflect.DeepEqual(clients, []string{"a-first", "spa"}) {
		t.Fatalf("ListUserConsents clients = %v, want [a-first spa]", clients)
	}
	if held, err := s.ListUserConsents(ctx, "nobody"); err != nil || len(held) != 0 {
		t.Fatalf("ListUserConsents(nobody) = %v, %v; want none", held, err)
	}
}

// testDeleteUserEndsAuthz: deleting a user deletes their consents, pending
// requests and codes, and nobody else's.
func testDeleteUserEndsAuthz(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, minimalUser("u1", "ada"))
	mustCreateUser(t, s, minimalUser("u2", "grace"))
	for _, u := range []string{"u1", "u2"} {
		grant(t, s, u, "spa", t0, "openid")
		grant(t, s, u, "cli", t0, "openid")
		r := authRequest("req-"+u, time.Hour)
		r.UserID = u
		mustCreateAuthRequest(t, s, r)
		mustCreateAuthCode(t, s, authCode("hash-"+u, u, time.Hour))
	}
	if err := s.DeleteUser(ctx, "u1"); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	wantNoConsent(t, s, "u1", "spa")
	wantNoConsent(t, s, "u1", "cli")
	wantNoAuthRequest(t, s, "req-u1")
	wantCodeGone(t, s, "hash-u1")
	if held, err := s.ListUserConsents(ctx, "u1"); err != nil || len(held) != 0 {
		t.Fatalf("ListUserConsents of the deleted user = %v, %v", held, err)
	}
	if held, err := s.ListUserConsents(ctx, "u2"); err != nil || len(held) != 2 {
		t.Fatalf("ListUserConsents(u2) = %v, %v; want both", held, err)
	}
	if _, err := s.GetAuthRequest(ctx, "req-u2"); err != nil {
		t.Fatalf("GetAuthRequest of the other user's: %v", err)
	}
	if _, err := s.RedeemAuthCode(ctx, "hash-u2", t0); err != nil {
		t.Fatalf("RedeemAuthCode of the other user's: %v", err)
	}
}

// testDeleteClientEndsConsents: deleting a client deletes the consents
// given to it, and no other.
func testDeleteClientEndsConsents(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustCreate(t, s, minimalClient("spa", "SPA"))
	mustCreate(t, s, minimalClient("cli", "CLI"))
	for _, u := range []string{"u1", "u2"} {
		grant(t, s, u, "spa", t0, "openid")
		grant(t, s, u, "cli", t0, "openid")
	}
	if err := s.DeleteClient(ctx, "spa"); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	for _, u := range []string{"u1", "u2"} {
		wantNoConsent(t, s, u, "spa")
		if _, err := s.GetConsent(ctx, u, "cli"); err != nil {
			t.Fatalf("GetConsent(%q, cli) after deleting spa: %v", u, err)
		}
	}
}
