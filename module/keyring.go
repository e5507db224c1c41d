package module

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/token"
)

// errKeysFromFile refuses rotation when the operator supplies the key.
var errKeysFromFile = errors.New("the signing key comes from signing_key_file; replace the file and reload to rotate")

// keyring holds the signing keys: the stored set and the parsed snapshot that
// signs and verifies. It lives in the backend, so every config that shares a
// store signs and verifies with the same keys, and a rotation made through one
// is seen by all at once.
type keyring struct {
	store storage.Store
	now   func() time.Time

	mu       sync.Mutex // serialises changes; readers use current
	current  atomic.Pointer[token.KeySet]
	fromFile bool
}

// keySet returns the snapshot to sign and verify with. It is never nil once
// the keyring is loaded.
func (k *keyring) keySet() *token.KeySet { return k.current.Load() }

// loadStored makes sure the store holds an active and a next key of alg (the
// first start generates them) and builds the snapshot.
func (k *keyring) loadStored(ctx context.Context, alg string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	keys, err := k.store.UpdateSigningKeys(ctx, func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		ensured, _, err := token.EnsureKeys(keys, alg, k.now())
		return ensured, err
	})
	if err != nil {
		return fmt.Errorf("loading signing keys: %w", err)
	}
	k.fromFile = false
	return k.publish(keys)
}

// loadFile uses the operator's key alone. Stored keys stay untouched for a
// later return to managed keys.
func (k *keyring) loadFile(key storage.SigningKey) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fromFile = true
	return k.publish([]storage.SigningKey{key})
}

// rotate runs one rotation to alg. When due is set, it rotates only if the
// active key is older than due, checked inside the transaction, so that two
// configs alive during a reload never rotate twice.
func (k *keyring) rotate(ctx context.Context, alg string, keep, due time.Duration) (rotated bool, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fromFile {
		return false, errKeysFromFile
	}
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
	if k.fromFile {
		return errKeysFromFile
	}
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
