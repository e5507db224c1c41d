package module

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/token"
)

// keyring holds the signing keys: the stored set and the parsed snapshot that
// signs and verifies. It lives in the backend, so every config that shares a
// store signs and verifies with the same keys, and a rotation made through one
// is seen by all at once.
type keyring struct {
	store storage.Store
	now   func() time.Time

	mu      sync.Mutex // serialises changes; readers use current
	current atomic.Pointer[token.KeySet]
}

// keySet returns the snapshot to sign and verify with. It is never nil once
// the keyring is loaded.
func (k *keyring) keySet() *token.KeySet { return k.current.Load() }

// A config's keys are loaded in one of two ways. The operator's file key is
// read and checked at Provision, so a config with a bad key file fails to
// load (and `caddy validate` reports it); it stays the config's own, so a
// config that fails to load or start never touches the keys of the one that
// runs. Stored keys are shared: a config reads them (the first start makes
// them) and installs them when it starts, which is when it opens the store,
// so a rotation through one config is seen by every config on the store.

// prepareStored makes sure the store holds an active and a next key of alg
// (the first start generates them; an existing set is left as it is) and
// parses them.
func (k *keyring) prepareStored(ctx context.Context, alg string) (*token.KeySet, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	keys, err := k.store.UpdateSigningKeys(ctx, func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		ensured, _, err := token.EnsureKeys(keys, alg, k.now())
		return ensured, err
	})
	if err != nil {
		return nil, fmt.Errorf("loading signing keys: %w", err)
	}
	return token.NewKeySet(keys, k.now())
}

// prepareFile parses the operator's key, to be used alone. Stored keys stay
// untouched for a later return to managed keys.
func prepareFile(key storage.SigningKey, now time.Time) (*token.KeySet, error) {
	return token.NewKeySet([]storage.SigningKey{key}, now)
}

// install makes ks the set every config with stored keys signs and
// verifies with.
func (k *keyring) install(ks *token.KeySet) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.current.Store(ks)
}

// rotate runs one rotation to alg. When due is set, it rotates only if the
// active key is older than due, checked inside the transaction, so that two
// configs alive during a reload never rotate twice.
func (k *keyring) rotate(ctx context.Context, alg string, keep, due time.Duration) (rotated bool, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	keys, err := k.store.UpdateSigningKeys(ctx, func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
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
	return rotated, k.publish(keys)
}

// revoke retires one key at once, for a key that may be compromised.
func (k *keyring) revoke(ctx context.Context, kid string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	keys, err := k.store.UpdateSigningKeys(ctx, func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		return token.RevokeKey(keys, kid, k.now())
	})
	if err != nil {
		return fmt.Errorf("revoking signing key: %w", err)
	}
	return k.publish(keys)
}

// publish swaps in a snapshot of keys. Callers hold mu.
func (k *keyring) publish(keys []storage.SigningKey) error {
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
