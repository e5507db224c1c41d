package authserver

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/token"
)

// KeyRing holds the signing keys kept in the store: the stored set and the
// parsed snapshot that signs and verifies. One ring serves every config on a
// store, so they all sign and verify with the same keys, and a rotation made
// through one is seen by all at once.
type KeyRing struct {
	store storage.Store
	now   func() time.Time

	mu sync.Mutex // serialises changes; readers use current
	// publishMu serialises publishing. It is never held while waiting on
	// the store's writes, so a shared store's change feed may publish while
	// a rotation waits for its own write to come back.
	publishMu sync.Mutex
	current   atomic.Pointer[token.KeySet]
}

// NewKeyRing returns the ring of the keys in store. It holds no keys until
// a config loads them (see StoredKeys).
func NewKeyRing(store storage.Store) *KeyRing {
	return &KeyRing{store: store, now: time.Now}
}

// keySet returns the snapshot to sign and verify with. It is never nil once
// the ring is loaded.
func (k *KeyRing) keySet() *token.KeySet { return k.current.Load() }

// prepareStored makes sure the store holds an active and a next key of alg
// (the first start generates them; an existing set is left as it is), then
// publishes what the store holds.
func (k *KeyRing) prepareStored(ctx context.Context, alg string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, err := k.store.UpdateSigningKeys(ctx, func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		ensured, _, err := token.EnsureKeys(keys, alg, k.now())
		return ensured, err
	})
	if err != nil {
		return fmt.Errorf("loading signing keys: %w", err)
	}
	return k.publish(ctx, false)
}

// rotate runs one rotation to alg. When due is set, it rotates only if the
// active key is older than due, checked inside the transaction, so that two
// configs alive during a reload never rotate twice.
func (k *KeyRing) rotate(ctx context.Context, alg string, keep, due time.Duration) (rotated bool, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, err = k.store.UpdateSigningKeys(ctx, func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		now := k.now()
		if due > 0 && !activeKeyOlderThan(keys, due, now) {
			rotated = false
			return keys, nil
		}
		rotated = true
		return token.Rotate(keys, alg, now, keep)
	})
	if err != nil {
		return false, fmt.Errorf("rotating signing keys: %w", err)
	}
	return rotated, k.publish(ctx, false)
}

// retire retires one key at once, for a key that may be compromised.
func (k *KeyRing) retire(ctx context.Context, kid string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, err := k.store.UpdateSigningKeys(ctx, func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		return token.RevokeKey(keys, kid, k.now())
	})
	if err != nil {
		return fmt.Errorf("retiring signing key: %w", err)
	}
	return k.publish(ctx, false)
}

// Refresh publishes the stored key set again, for a shared store whose
// keys another gateway changed. A ring that no config has loaded stays
// empty.
func (k *KeyRing) Refresh(ctx context.Context) error { return k.publish(ctx, true) }

// publish reads the stored key set and swaps in its snapshot. Reading the
// store, rather than publishing what one write returned, keeps two
// publishers (a local rotation and a shared store's change feed) from
// leaving an older set in place: each reads under publishMu, and the
// store's content only moves forward.
func (k *KeyRing) publish(ctx context.Context, onlyIfLoaded bool) error {
	k.publishMu.Lock()
	defer k.publishMu.Unlock()
	if onlyIfLoaded && k.current.Load() == nil {
		return nil
	}
	keys, err := k.store.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("reading signing keys: %w", err)
	}
	ks, err := token.NewKeySet(keys, k.now())
	if err != nil {
		return err
	}
	k.current.Store(ks)
	return nil
}

// activeKeyOlderThan reports whether the newest signing key became active more
// than age ago.
func activeKeyOlderThan(keys []storage.SigningKey, age time.Duration, now time.Time) bool {
	var newest time.Time
	for _, key := range keys {
		if key.Revoked || !key.RetiredAt.IsZero() || key.ActiveAt.IsZero() || key.ActiveAt.After(now) {
			continue
		}
		if key.ActiveAt.After(newest) {
			newest = key.ActiveAt
		}
	}
	return newest.IsZero() || now.Sub(newest) >= age
}
