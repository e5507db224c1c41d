package etcd

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/storage/replica"
)

// Authorization requests and codes live under a lease that lasts until
// they expire, so etcd forgets them by itself; a redemption keeps the
// lease. Consents have none: a withdrawn one keeps its cutoff.
func TestAuthKeysAreLeased(t *testing.T) {
	ctx := t.Context()
	prefix := testPrefix(t)
	s := openStore(t, prefix, "gw-a")
	now := time.Now().UTC().Truncate(time.Second)
	req := storage.AuthRequest{ID: "rid", ClientID: "spa", MaxAge: -1, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	if err := s.CreateAuthRequest(ctx, req); err != nil {
		t.Fatal(err)
	}
	code := storage.AuthCode{ID: "hash", ClientID: "spa", UserID: "a/b", CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	if err := s.CreateAuthCode(ctx, code); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RedeemAuthCode(ctx, "hash", now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutConsent(ctx, "a/b", "c/d", func(c storage.Consent) (storage.Consent, error) {
		c.Scopes = []string{"openid"}
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
	cli := rawClient(t)
	for key, leased := range map[string]bool{
		prefix + "/auth-requests/rid":    true,
		prefix + "/auth-codes/hash":      true,
		prefix + "/consents/a%2Fb/c%2Fd": false,
	} {
		resp, err := cli.Get(ctx, key)
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("Get(%s) = %v, %v", key, resp, err)
		}
		if !leased {
			if resp.Kvs[0].Lease != 0 {
				t.Fatalf("%s has a lease", key)
			}
			continue
		}
		if resp.Kvs[0].Lease == 0 {
			t.Fatalf("%s has no lease", key)
		}
		ttl, err := cli.TimeToLive(ctx, clientLeaseID(resp.Kvs[0].Lease))
		if err != nil {
			t.Fatal(err)
		}
		if left := time.Duration(ttl.TTL) * time.Second; left < time.Until(req.ExpiresAt)-5*time.Second || left > 11*time.Minute {
			t.Fatalf("%s lease ends in %v, want about its expiry (10m)", key, left)
		}
	}
}

// Two gateways redeem one code at once: exactly one wins, whichever
// replica is behind.
func TestRedeemAcrossGateways(t *testing.T) {
	ctx := t.Context()
	prefix := testPrefix(t)
	a, b := openStore(t, prefix, "gw-a"), openStore(t, prefix, "gw-b")
	now := time.Now().UTC()
	if err := a.CreateAuthCode(ctx, storage.AuthCode{ID: "h", ClientID: "spa", UserID: "u", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "gateway b's replica holds the code", func() bool {
		_, ok := b.replica.Get(b.authCodeKey("h"))
		return ok
	})
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, s := range []*Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.RedeemAuthCode(ctx, "h", now)
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, storage.ErrCodeReused):
			t.Fatalf("RedeemAuthCode: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d redemptions won, want 1: %v", won, errs)
	}
}

// A Cached over one gateway evicts a consent that another gateway
// withdraws: Follow tells the pair.
func TestCachedFollowsConsentsOfOtherGateway(t *testing.T) {
	ctx := t.Context()
	prefix := testPrefix(t)
	a, b := openStore(t, prefix, "gw-a"), openStore(t, prefix, "gw-b")
	cache, err := storage.NewCached(a, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	if _, err := b.PutConsent(ctx, "u/1", "spa", func(c storage.Consent) (storage.Consent, error) {
		c.Scopes = []string{"openid"}
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "gateway a sees the consent", func() bool {
		c, err := cache.GetConsent(ctx, "u/1", "spa")
		return err == nil && c.Granted()
	})
	at := time.Now().UTC()
	if err := b.WithdrawConsent(ctx, "u/1", "spa", at); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "gateway a's cache sees the withdrawal", func() bool {
		c, err := cache.GetConsent(ctx, "u/1", "spa")
		return err == nil && !c.Granted() && c.TokensRevokedAt.Equal(at)
	})
}

// Follow tells a consent's pair, path-escaped in the key, as it was given.
func TestConsentChange(t *testing.T) {
	s := &Store{prefix: "p/"}
	key := s.consentKey("u/1%", "c 2")
	ch, ok := s.change(replica.Applied{Key: key})
	if !ok || ch.ConsentUserID != "u/1%" || ch.ConsentClientID != "c 2" {
		t.Fatalf("change(%q) = %+v, %v", key, ch, ok)
	}
}
