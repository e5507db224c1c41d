package storagetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// signingKey returns a key whose private bytes are derived from its id.
func signingKey(id string, created time.Time) storage.SigningKey {
	return storage.SigningKey{
		ID:         id,
		Algorithm:  "ES256",
		PrivateKey: []byte("pkcs8:" + id),
		CreatedAt:  created,
		ActiveAt:   created.Add(time.Hour),
	}
}

func testSigningKeys(t *testing.T, s storage.Store) {
	ctx := t.Context()
	older := signingKey("kid-older", t0)
	newer := signingKey("kid-newer", t0.Add(24*time.Hour))
	// An ID-token key's use survives every backend (etcd seals its private
	// key like any other).
	newer.Algorithm, newer.Use = "RS256", storage.KeyUseIDToken
	wantKeys := func(t *testing.T, want []storage.SigningKey) {
		t.Helper()
		got, err := s.SigningKeys(ctx)
		if err != nil {
			t.Fatalf("SigningKeys: %v", err)
		}
		if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
			t.Fatalf("SigningKeys =\n %+v\nwant\n %+v", got, want)
		}
	}

	t.Run("empty at first", func(t *testing.T) {
		wantKeys(t, nil)
	})
	t.Run("stored oldest first", func(t *testing.T) {
		got, err := s.UpdateSigningKeys(ctx, func(current []storage.SigningKey) ([]storage.SigningKey, error) {
			if len(current) != 0 {
				return nil, fmt.Errorf("update got %d keys from an empty store", len(current))
			}
			return []storage.SigningKey{newer, older}, nil
		})
		if err != nil {
			t.Fatalf("UpdateSigningKeys: %v", err)
		}
		want := []storage.SigningKey{older, newer}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("UpdateSigningKeys result =\n %+v\nwant\n %+v", got, want)
		}
		wantKeys(t, want)
	})
	t.Run("rotation", func(t *testing.T) {
		next := signingKey("kid-next", t0.Add(48*time.Hour))
		retired := older
		retired.RetiredAt = t0.Add(30 * time.Hour)
		revoked := newer
		revoked.Revoked = true
		revoked.RetiredAt = t0.Add(31 * time.Hour)
		_, err := s.UpdateSigningKeys(ctx, func(current []storage.SigningKey) ([]storage.SigningKey, error) {
			if want := []storage.SigningKey{older, newer}; !reflect.DeepEqual(current, want) {
				return nil, fmt.Errorf("update got %+v, want %+v", current, want)
			}
			return []storage.SigningKey{retired, revoked, next}, nil
		})
		if err != nil {
			t.Fatalf("UpdateSigningKeys: %v", err)
		}
		wantKeys(t, []storage.SigningKey{retired, revoked, next})
	})
	current := func(t *testing.T) []storage.SigningKey {
		t.Helper()
		keys, err := s.SigningKeys(ctx)
		if err != nil {
			t.Fatalf("SigningKeys: %v", err)
		}
		return keys
	}
	t.Run("update error aborts", func(t *testing.T) {
		before := current(t)
		_, err := s.UpdateSigningKeys(ctx, func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
			keys[0].PrivateKey[0] ^= 0xff
			keys[0].Revoked = true
			return nil, errAbort
		})
		if err != errAbort {
			t.Fatalf("UpdateSigningKeys error = %v, want the update function's error as it is", err)
		}
		wantKeys(t, before)
	})
	t.Run("duplicate or empty kid refused", func(t *testing.T) {
		before := current(t)
		for _, bad := range [][]storage.SigningKey{
			{signingKey("kid-a", t0), signingKey("kid-a", t0.Add(time.Hour))},
			{signingKey("", t0)},
		} {
			if _, err := s.UpdateSigningKeys(ctx, func([]storage.SigningKey) ([]storage.SigningKey, error) {
				return bad, nil
			}); err == nil {
				t.Fatalf("UpdateSigningKeys(%+v) succeeded, want an error", bad)
			}
		}
		wantKeys(t, before)
	})
	t.Run("emptied", func(t *testing.T) {
		if _, err := s.UpdateSigningKeys(ctx, func([]storage.SigningKey) ([]storage.SigningKey, error) {
			return nil, nil
		}); err != nil {
			t.Fatalf("UpdateSigningKeys to none: %v", err)
		}
		wantKeys(t, nil)
	})
}

func testRevocations(t *testing.T, s storage.Store) {
	ctx := t.Context()
	now := t0
	revocation := func(jti string, expires time.Time) storage.Revocation {
		return storage.Revocation{JTI: jti, ClientID: "client-" + jti, ExpiresAt: expires}
	}
	expiredLongAgo := revocation("jti-1", now.Add(-time.Hour))
	expiresNow := revocation("jti-2", now)
	soon := revocation("jti-3", now.Add(time.Minute))
	later := revocation("jti-4", now.Add(time.Hour))
	all := []storage.Revocation{expiredLongAgo, expiresNow, soon, later}
	for _, r := range all {
		if err := s.Revoke(ctx, r); err != nil {
			t.Fatalf("Revoke(%s): %v", r.JTI, err)
		}
	}
	wantLive := func(t *testing.T, at time.Time, want []storage.Revocation) {
		t.Helper()
		got, err := s.Revocations(ctx, at)
		if err != nil {
			t.Fatalf("Revocations(%v): %v", at, err)
		}
		slices.SortFunc(got, func(a, b storage.Revocation) int { return strings.Compare(a.JTI, b.JTI) })
		if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
			t.Fatalf("Revocations(%v) =\n %+v\nwant\n %+v", at, got, want)
		}
	}

	t.Run("only unexpired listed", func(t *testing.T) {
		wantLive(t, now, []storage.Revocation{soon, later})
		wantLive(t, now.Add(-2*time.Hour), all)
		wantLive(t, now.Add(2*time.Hour), nil)
	})
	t.Run("revoking again is not an error", func(t *testing.T) {
		for range 2 {
			if err := s.Revoke(ctx, soon); err != nil {
				t.Fatalf("Revoke(%s) again: %v", soon.JTI, err)
			}
		}
		wantLive(t, now, []storage.Revocation{soon, later})
	})
	t.Run("prune", func(t *testing.T) {
		if err := s.PruneRevocations(ctx, now); err != nil {
			t.Fatalf("PruneRevocations: %v", err)
		}
		// What expired at or before now is gone even for an earlier clock.
		wantLive(t, now.Add(-2*time.Hour), []storage.Revocation{soon, later})
		if err := s.PruneRevocations(ctx, now); err != nil {
			t.Fatalf("PruneRevocations again: %v", err)
		}
		wantLive(t, now.Add(-2*time.Hour), []storage.Revocation{soon, later})
		if err := s.PruneRevocations(ctx, now.Add(24*time.Hour)); err != nil {
			t.Fatalf("PruneRevocations of everything: %v", err)
		}
		wantLive(t, now.Add(-2*time.Hour), nil)
	})
	t.Run("empty jti refused", func(t *testing.T) {
		if err := s.Revoke(ctx, revocation("", later.ExpiresAt)); err == nil {
			t.Fatal("Revoke with an empty jti succeeded")
		}
		wantLive(t, now.Add(-2*time.Hour), nil)
	})
}

func testUsage(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a := minimalClient("client-a", "A")
	b := minimalClient("client-b", "B")
	mustCreate(t, s, a)
	mustCreate(t, s, b)
	wantUsage := func(t *testing.T, id string, want storage.Usage) {
		t.Helper()
		got, err := s.Usage(ctx, id)
		if err != nil {
			t.Fatalf("Usage(%q): %v", id, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Usage(%q) = %+v, want %+v", id, got, want)
		}
	}
	first := storage.Usage{TokensIssued: 2, LastTokenAt: t0.Add(time.Minute), RequestsAllowed: 5, RequestsDenied: 1, LastSeenAt: t0.Add(2 * time.Minute)}
	// An older delta: its counts add up, its times are not kept.
	second := storage.Usage{TokensIssued: 1, LastTokenAt: t0, RequestsAllowed: 10, LastSeenAt: t0.Add(3 * time.Minute)}

	t.Run("none recorded", func(t *testing.T) {
		wantUsage(t, a.ID, storage.Usage{})
	})
	t.Run("add and read", func(t *testing.T) {
		err := s.AddUsage(ctx, map[string]storage.Usage{a.ID: first, b.ID: second, "client-ghost": first})
		if err != nil {
			t.Fatalf("AddUsage: %v", err)
		}
		wantUsage(t, a.ID, first)
		wantUsage(t, b.ID, second)
	})
	t.Run("sums and later times", func(t *testing.T) {
		if err := s.AddUsage(ctx, map[string]storage.Usage{a.ID: second}); err != nil {
			t.Fatalf("AddUsage: %v", err)
		}
		wantUsage(t, a.ID, storage.Usage{
			TokensIssued:    3,
			LastTokenAt:     t0.Add(time.Minute),
			RequestsAllowed: 15,
			RequestsDenied:  1,
			LastSeenAt:      t0.Add(3 * time.Minute),
		})
		wantUsage(t, b.ID, second)
	})
	t.Run("unknown client dropped", func(t *testing.T) {
		wantUsage(t, "client-ghost", storage.Usage{})
		mustCreate(t, s, minimalClient("client-ghost", "Ghost"))
		wantUsage(t, "client-ghost", storage.Usage{})
	})
	t.Run("nothing to add", func(t *testing.T) {
		for _, deltas := range []map[string]storage.Usage{nil, {}} {
			if err := s.AddUsage(ctx, deltas); err != nil {
				t.Fatalf("AddUsage(%v): %v", deltas, err)
			}
		}
		wantUsage(t, b.ID, second)
	})
}

func testConcurrent(t *testing.T, s storage.Store) {
	const (
		stable  = 8
		rounds  = 20
		workers = 4
	)
	ctx := t.Context()
	for i := range stable {
		mustCreate(t, s, minimalClient(fmt.Sprintf("client-%d", i), fmt.Sprintf("Stable %d", i)))
	}
	var (
		wg      sync.WaitGroup
		errMu   sync.Mutex
		errs    []error
		writing sync.WaitGroup
		done    = make(chan struct{})
	)
	fail := func(err error) {
		errMu.Lock()
		errs = append(errs, err)
		errMu.Unlock()
	}
	// Writers: each updates its own client, adds usage, and creates and
	// deletes a client of its own.
	for w := range workers {
		writing.Go(func() {
			id := fmt.Sprintf("client-%d", w)
			for r := range rounds {
				if _, err := s.UpdateClient(ctx, id, func(c storage.Client) (storage.Client, error) {
					c.Scopes = []string{fmt.Sprintf("round-%d", r)}
					return c, nil
				}); err != nil {
					fail(fmt.Errorf("update %s: %w", id, err))
				}
				if err := s.AddUsage(ctx, map[string]storage.Usage{"client-7": {TokensIssued: 1}}); err != nil {
					fail(fmt.Errorf("add usage: %w", err))
				}
				temp := minimalClient(fmt.Sprintf("temp-%d-%d", w, r), fmt.Sprintf("Temp %d %d", w, r))
				if err := s.CreateClient(ctx, temp, 0); err != nil {
					fail(fmt.Errorf("create %s: %w", temp.ID, err))
				} else if err := s.DeleteClient(ctx, temp.ID); err != nil {
					fail(fmt.Errorf("delete %s: %w", temp.ID, err))
				}
			}
		})
	}
	// Readers: every stable client is always there, with its own name.
	for range workers {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				for i := range stable {
					id := fmt.Sprintf("client-%d", i)
					c, err := s.GetClient(ctx, id)
					if err != nil {
						fail(fmt.Errorf("get %s: %w", id, err))
					} else if c.ID != id || c.Name != fmt.Sprintf("Stable %d", i) {
						fail(fmt.Errorf("get %s returned %q named %q", id, c.ID, c.Name))
					}
				}
				page, _, err := s.ListClients(ctx, storage.ListOptions{Limit: 50})
				if err != nil {
					fail(fmt.Errorf("list: %w", err))
				} else if len(page) < stable {
					fail(fmt.Errorf("list returned %d clients, want at least %d", len(page), stable))
				}
				if n, err := s.CountClients(ctx); err != nil || n < stable || n > stable+workers {
					fail(fmt.Errorf("count = %d, %v; want %d to %d", n, err, stable, stable+workers))
				}
			}
		})
	}
	writing.Wait()
	close(done)
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	for w := range workers {
		id := fmt.Sprintf("client-%d", w)
		if got, want := mustGet(t, s, id).Scopes, []string{fmt.Sprintf("round-%d", rounds-1)}; !slices.Equal(got, want) {
			t.Errorf("%s scopes = %v, want %v", id, got, want)
		}
	}
	if u, err := s.Usage(ctx, "client-7"); err != nil || u.TokensIssued != workers*rounds {
		t.Errorf("Usage(client-7) = %+v, %v; want %d tokens issued", u, err, workers*rounds)
	}
	wantCount(t, s, stable)
}

func testCanceledContext(t *testing.T, s storage.Store) {
	existing := fullClient("client-existing", "Existing")
	mustCreate(t, s, existing)
	ctx := ctxCanceled(t)
	noop := func(c storage.Client) (storage.Client, error) {
		c.Scopes = []string{"changed"}
		return c, nil
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"CreateClient", func() error { return s.CreateClient(ctx, minimalClient("client-new", "New"), 0) }},
		{"GetClient", func() error { _, err := s.GetClient(ctx, existing.ID); return err }},
		{"ListClients", func() error { _, _, err := s.ListClients(ctx, storage.ListOptions{Limit: 1}); return err }},
		{"UpdateClient", func() error { _, err := s.UpdateClient(ctx, existing.ID, noop); return err }},
		{"DeleteClient", func() error { return s.DeleteClient(ctx, existing.ID) }},
		{"CountClients", func() error { _, err := s.CountClients(ctx); return err }},
		{"SigningKeys", func() error { _, err := s.SigningKeys(ctx); return err }},
		{"UpdateSigningKeys", func() error {
			_, err := s.UpdateSigningKeys(ctx, func([]storage.SigningKey) ([]storage.SigningKey, error) {
				return []storage.SigningKey{signingKey("kid", t0)}, nil
			})
			return err
		}},
		{"Revoke", func() error { return s.Revoke(ctx, storage.Revocation{JTI: "jti", ExpiresAt: t0}) }},
		{"Revocations", func() error { _, err := s.Revocations(ctx, t0); return err }},
		{"PruneRevocations", func() error { return s.PruneRevocations(ctx, t0) }},
		{"AddUsage", func() error {
			return s.AddUsage(ctx, map[string]storage.Usage{existing.ID: {TokensIssued: 1}})
		}},
		{"Usage", func() error { _, err := s.Usage(ctx, existing.ID); return err }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); !errors.Is(err, context.Canceled) {
				t.Fatalf("%s with a cancelled context: error = %v, want context.Canceled", c.name, err)
			}
		})
	}
	wantClient(t, s, existing)
	wantMissing(t, s, "client-new")
	wantCount(t, s, 1)
	if keys, err := s.SigningKeys(t.Context()); err != nil || len(keys) != 0 {
		t.Fatalf("SigningKeys = %v, %v; want none", keys, err)
	}
	if u, err := s.Usage(t.Context(), existing.ID); err != nil || u != (storage.Usage{}) {
		t.Fatalf("Usage = %+v, %v; want zero", u, err)
	}
}

func testClose(t *testing.T, s storage.Store) {
	c := minimalClient("client-a", "A")
	mustCreate(t, s, c)
	for i := range 2 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	// A closed store fails; it does not panic or hang.
	if err := s.CreateClient(t.Context(), minimalClient("client-b", "B"), 0); err == nil {
		t.Error("CreateClient after Close succeeded")
	}
	if _, err := s.GetClient(t.Context(), c.ID); err == nil {
		t.Error("GetClient after Close succeeded")
	}
	if _, _, err := s.ListClients(t.Context(), storage.ListOptions{Limit: 1}); err == nil {
		t.Error("ListClients after Close succeeded")
	}
	if _, err := s.CountClients(t.Context()); err == nil {
		t.Error("CountClients after Close succeeded")
	}
}
