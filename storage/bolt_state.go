package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SigningKeys returns every stored signing key, oldest first.
func (b *Bolt) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: signing keys: %w", err)
	}
	var keys []SigningKey
	err := b.view(func(tx *bolt.Tx) error {
		var err error
		keys, err = readKeys(tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("storage: signing keys: %w", err)
	}
	return keys, nil
}

// UpdateSigningKeys replaces the key set atomically; see Store. update gets
// a private copy of the current set, oldest first. The set it returns is
// stored ordered by CreatedAt (a stable sort, so keys created at the same
// moment keep their order); every key needs an ID, unique in the set. The
// returned set is decoded from what was written and shares no memory with
// what update returned. update runs once per call.
func (b *Bolt) UpdateSigningKeys(ctx context.Context, update func([]SigningKey) ([]SigningKey, error)) ([]SigningKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: update signing keys: %w", err)
	}
	if update == nil {
		return nil, errors.New("storage: update signing keys: nil update function")
	}
	var written []byte
	err := b.update(func(tx *bolt.Tx) error {
		current, err := readKeys(tx)
		if err != nil {
			return err
		}
		next, err := callUpdate(update, current)
		if err != nil {
			return &callbackError{err}
		}
		next, err = PrepareSigningKeys(next)
		if err != nil {
			return err
		}
		value, err := json.Marshal(next)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		written = value
		return tx.Bucket(bucketSigningKeys).Put(keySigningKeys, value)
	})
	if cerr := (*callbackError)(nil); errors.As(err, &cerr) {
		return nil, cerr.err
	}
	if err != nil {
		return nil, fmt.Errorf("storage: update signing keys: %w", err)
	}
	var stored []SigningKey
	if err := decodeJSON(written, &stored); err != nil {
		return nil, fmt.Errorf("storage: update signing keys: %w", err)
	}
	if len(stored) == 0 {
		return nil, nil
	}
	return stored, nil
}

// readKeys decodes the stored key set; nil when there is none.
func readKeys(tx *bolt.Tx) ([]SigningKey, error) {
	v := tx.Bucket(bucketSigningKeys).Get(keySigningKeys)
	if v == nil {
		return nil, nil
	}
	var keys []SigningKey
	if err := decodeJSON(v, &keys); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, nil
	}
	return keys, nil
}

// PrepareSigningKeys is what every backend does to a key set that an update
// returned, before storing it: it refuses a key with no ID or a shared one
// (ErrAlreadyExists), and returns a copy ordered by CreatedAt (a stable sort,
// so keys created at the same moment keep their order). The slice passed in
// belongs to the caller and is not changed.
func PrepareSigningKeys(keys []SigningKey) ([]SigningKey, error) {
	if err := checkKeys(keys); err != nil {
		return nil, err
	}
	out := slices.Clone(keys)
	slices.SortStableFunc(out, func(a, b SigningKey) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// checkKeys refuses a key set in which a key has no ID or shares one: the
// JWKS and token verification look keys up by ID.
func checkKeys(keys []SigningKey) error {
	seen := make(map[string]bool, len(keys))
	for i, k := range keys {
		if k.ID == "" {
			return fmt.Errorf("signing key %d has an empty id", i)
		}
		if seen[k.ID] {
			return fmt.Errorf("signing key id %q appears twice: %w", k.ID, ErrAlreadyExists)
		}
		seen[k.ID] = true
	}
	return nil
}

// Revoke records a revoked token; see Store. When the JTI is recorded
// already, the record with the later expiry is kept, so a revocation never
// ends early.
func (b *Bolt) Revoke(ctx context.Context, r Revocation) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: revoke: %w", err)
	}
	if r.JTI == "" {
		return errors.New("storage: revoke: empty jti")
	}
	value, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("storage: revoke: encode: %w", err)
	}
	key := []byte(r.JTI)
	err = b.batch(func(tx *bolt.Tx) error {
		bucket := tx.Bucket(bucketRevocations)
		if v := bucket.Get(key); v != nil {
			var old Revocation
			if err := decodeJSON(v, &old); err != nil {
				return err
			}
			if !r.ExpiresAt.After(old.ExpiresAt) {
				return nil
			}
		}
		return bucket.Put(key, value)
	})
	if err != nil {
		return fmt.Errorf("storage: revoke: %w", err)
	}
	return nil
}

// Revocations returns every revocation that expires after now, in order of
// JTI.
func (b *Bolt) Revocations(ctx context.Context, now time.Time) ([]Revocation, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: revocations: %w", err)
	}
	var live []Revocation
	err := b.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRevocations).ForEach(func(k, v []byte) error {
			var r Revocation
			if err := decodeJSON(v, &r); err != nil {
				return fmt.Errorf("revocation %s: %w", quoteClipped(k), err)
			}
			if r.ExpiresAt.After(now) {
				live = append(live, r)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("storage: revocations: %w", err)
	}
	return live, nil
}

// PruneRevocations deletes revocations that expired at or before now.
func (b *Bolt) PruneRevocations(ctx context.Context, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: prune revocations: %w", err)
	}
	err := b.update(func(tx *bolt.Tx) error {
		bucket := tx.Bucket(bucketRevocations)
		// Collect first: deleting under a live cursor makes it skip keys.
		var expired [][]byte
		err := bucket.ForEach(func(k, v []byte) error {
			var r Revocation
			if err := decodeJSON(v, &r); err != nil {
				return fmt.Errorf("revocation %s: %w", quoteClipped(k), err)
			}
			if !r.ExpiresAt.After(now) {
				expired = append(expired, slices.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range expired {
			if err := bucket.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: prune revocations: %w", err)
	}
	return nil
}

// AddUsage adds each delta to its client's counters in one transaction; see
// Store. Deltas for clients that do not exist are dropped.
func (b *Bolt) AddUsage(ctx context.Context, deltas map[string]Usage) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: add usage: %w", err)
	}
	if len(deltas) == 0 {
		return nil
	}
	err := b.batch(func(tx *bolt.Tx) error {
		clients := tx.Bucket(bucketClients)
		usage := tx.Bucket(bucketUsage)
		for id, d := range deltas {
			key := []byte(id)
			if clients.Get(key) == nil {
				continue
			}
			var u Usage
			if v := usage.Get(key); v != nil {
				if err := decodeJSON(v, &u); err != nil {
					return fmt.Errorf("usage of %q: %w", id, err)
				}
			}
			value, err := json.Marshal(u.Add(d))
			if err != nil {
				return fmt.Errorf("encode usage: %w", err)
			}
			if err := usage.Put(key, value); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: add usage: %w", err)
	}
	return nil
}

// Usage returns a client's stored counters, zero when none were recorded
// (including for a client that does not exist).
func (b *Bolt) Usage(ctx context.Context, clientID string) (Usage, error) {
	if err := ctx.Err(); err != nil {
		return Usage{}, fmt.Errorf("storage: usage: %w", err)
	}
	var u Usage
	err := b.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketUsage).Get([]byte(clientID)); v != nil {
			return decodeJSON(v, &u)
		}
		return nil
	})
	if err != nil {
		return Usage{}, fmt.Errorf("storage: usage of %q: %w", clientID, err)
	}
	return u, nil
}
