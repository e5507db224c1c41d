package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/storage/replica"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// sealPurposeSigningKey is the purpose a signing key's private key is
// sealed for.
const sealPurposeSigningKey = "signing-key"

// storedKeySet is the value of the keys key: the whole set, replaced in one
// write, each private key sealed for its own key ID.
type storedKeySet struct {
	Keys []storedKey `json:"keys"`
}

type storedKey struct {
	ID               string    `json:"kid"`
	Algorithm        string    `json:"alg"`
	SealedPrivateKey []byte    `json:"sealed_private_key"`
	CreatedAt        time.Time `json:"created_at"`
	ActiveAt         time.Time `json:"active_at"`
	RetiredAt        time.Time `json:"retired_at,omitzero"`
	Revoked          bool      `json:"revoked,omitempty"`
	Use              string    `json:"use,omitempty"`
}

// sealKeys returns the stored form of keys.
func (s *Store) sealKeys(keys []storage.SigningKey) ([]byte, error) {
	set := storedKeySet{Keys: make([]storedKey, len(keys))}
	for i, k := range keys {
		sealed, err := s.sealer.Seal(sealPurposeSigningKey, k.ID, k.PrivateKey)
		if err != nil {
			return nil, err
		}
		set.Keys[i] = storedKey{
			ID: k.ID, Algorithm: k.Algorithm, SealedPrivateKey: sealed,
			CreatedAt: k.CreatedAt, ActiveAt: k.ActiveAt, RetiredAt: k.RetiredAt, Revoked: k.Revoked,
			Use: k.Use,
		}
	}
	return json.Marshal(set)
}

// openKeys decodes and unseals a stored key set: nil when it is empty.
func (s *Store) openKeys(value []byte) ([]storage.SigningKey, error) {
	var set storedKeySet
	if err := json.Unmarshal(value, &set); err != nil {
		return nil, fmt.Errorf("decode the signing key set: %w", err)
	}
	if len(set.Keys) == 0 {
		return nil, nil
	}
	if s.sealer == nil {
		return nil, fmt.Errorf("%d signing keys are stored sealed: %w", len(set.Keys), ErrNoSealer)
	}
	keys := make([]storage.SigningKey, len(set.Keys))
	for i, k := range set.Keys {
		private, err := s.sealer.Open(sealPurposeSigningKey, k.ID, k.SealedPrivateKey)
		if err != nil {
			return nil, fmt.Errorf("signing key %q: %w", k.ID, err)
		}
		keys[i] = storage.SigningKey{
			ID: k.ID, Algorithm: k.Algorithm, PrivateKey: private,
			CreatedAt: k.CreatedAt, ActiveAt: k.ActiveAt, RetiredAt: k.RetiredAt, Revoked: k.Revoked,
			Use: k.Use,
		}
	}
	return keys, nil
}

// SigningKeys returns every stored signing key, oldest first, from the
// replica, which unsealed them once when they arrived.
func (s *Store) SigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("storage: signing keys: %w", err)
	}
	e, ok := s.replica.Get(s.keysKey())
	if !ok {
		return nil, nil
	}
	if e.Err != nil {
		return nil, fmt.Errorf("storage: signing keys: %w", e.Err)
	}
	keys, _ := e.Decoded.([]storage.SigningKey)
	return keys, nil
}

// UpdateSigningKeys replaces the key set; see storage.Store. Each private
// key is sealed under the Store's Sealer with a fresh nonce; without a
// Sealer it fails with ErrNoSealer. update gets a private copy of the
// current set and runs again after a lost race. A stored set that does not
// unseal (another sealing key, an altered value) is never replaced: the
// gateway could be the one with the wrong key. An operator removes it.
func (s *Store) UpdateSigningKeys(ctx context.Context, update func([]storage.SigningKey) ([]storage.SigningKey, error)) ([]storage.SigningKey, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("storage: update signing keys: %w", err)
	}
	if update == nil {
		return nil, errors.New("storage: update signing keys: nil update function")
	}
	if s.sealer == nil {
		return nil, fmt.Errorf("storage: update signing keys: %w", ErrNoSealer)
	}
	key := s.keysKey()
	var written []byte
	err := s.writeCAS(ctx, func(v *view) (plan, error) {
		p := plan{keys: []string{key}}
		cur := v.get(key)
		var current []storage.SigningKey
		if cur.ok {
			var err error
			if current, err = s.openKeys(cur.kv.Value); err != nil {
				return p, err
			}
		}
		next, err := update(current)
		if err != nil {
			return p, &callbackError{err}
		}
		if next, err = storage.PrepareSigningKeys(next); err != nil {
			return p, err
		}
		if written, err = s.sealKeys(next); err != nil {
			return p, err
		}
		p.cmps = []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", cur.modRevision())}
		p.ops = []clientv3.Op{clientv3.OpPut(key, string(written))}
		return p, nil
	})
	if cerr := (*callbackError)(nil); errors.As(err, &cerr) {
		return nil, cerr.err
	}
	if err != nil {
		return nil, fmt.Errorf("storage: update signing keys: %w", err)
	}
	// Decoded from what was written: no memory shared with update's value.
	stored, err := s.openKeys(written)
	if err != nil {
		return nil, fmt.Errorf("storage: update signing keys: %w", err)
	}
	return stored, nil
}

// Revoke records a revoked token under a lease that ends when the token
// expires (at least MinRevocationTTL from now), so etcd forgets it by
// itself. When the JTI is recorded already, the later expiry is kept.
func (s *Store) Revoke(ctx context.Context, r storage.Revocation) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("storage: revoke: %w", err)
	}
	if r.JTI == "" {
		return errors.New("storage: revoke: empty jti")
	}
	value, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("storage: revoke: encode: %w", err)
	}
	key := s.revocationKey(r.JTI)
	err = s.write(ctx, func(ctx context.Context) error {
		for retried := false; ; retried = true {
			lease, err := s.leaseFor(ctx, r.ExpiresAt)
			if err != nil {
				return fmt.Errorf("lease: %w", err)
			}
			err = s.cas(ctx, func(v *view) (plan, error) {
				p := plan{keys: []string{key}}
				cur := v.get(key)
				if cur.ok && cur.err == nil && !r.ExpiresAt.After(cur.decoded.(storage.Revocation).ExpiresAt) {
					// Recorded already until then or later. Its lease ends
					// no sooner than its expiry, so nothing to write.
					return p, nil
				}
				p.cmps = []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", cur.modRevision())}
				p.ops = []clientv3.Op{clientv3.OpPut(key, string(value), clientv3.WithLease(lease))}
				return p, nil
			})
			if errors.Is(err, rpctypes.ErrLeaseNotFound) && !retried {
				// The lease ended early (a replaced cluster): take a new one.
				s.leases.forget(lease)
				continue
			}
			return err
		}
	})
	if err != nil {
		return fmt.Errorf("storage: revoke: %w", err)
	}
	return nil
}

// leaseStep is the granularity of revocation leases: revocations that end
// within the same step share one lease, so a burst of revocations costs
// one lease grant, not one each. A revocation may outlive its token by up
// to one step, never the other way round.
const leaseStep = 2 * time.Second

// leaseCache holds the leases granted for each step's end.
type leaseCache struct {
	mu    sync.Mutex
	byEnd map[int64]clientv3.LeaseID // Unix second the lease ends → lease
}

func (c *leaseCache) forget(id clientv3.LeaseID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	maps.DeleteFunc(c.byEnd, func(_ int64, l clientv3.LeaseID) bool { return l == id })
}

// leaseFor returns a lease that ends at the step after expires, and no
// sooner than MinRevocationTTL from now.
func (s *Store) leaseFor(ctx context.Context, expires time.Time) (clientv3.LeaseID, error) {
	now := s.now()
	end := expires
	if floor := now.Add(s.minRevTTL); end.Before(floor) {
		end = floor
	}
	step := int64(leaseStep / time.Second)
	endSec := (end.Unix() + step) / step * step
	c := &s.leases
	c.mu.Lock()
	defer c.mu.Unlock()
	if id, ok := c.byEnd[endSec]; ok {
		return id, nil
	}
	// Leases whose end has passed are gone from etcd; drop them here too.
	maps.DeleteFunc(c.byEnd, func(end int64, _ clientv3.LeaseID) bool { return end <= now.Unix() })
	resp, err := s.cli.Load().Grant(ctx, max(endSec-now.Unix(), 1))
	if err != nil {
		return 0, err
	}
	if c.byEnd == nil {
		c.byEnd = map[int64]clientv3.LeaseID{}
	}
	c.byEnd[endSec] = resp.ID
	return resp.ID, nil
}

// Revocations returns every revocation that expires after now (and after
// the latest PruneRevocations), from the replica.
func (s *Store) Revocations(ctx context.Context, now time.Time) ([]storage.Revocation, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("storage: revocations: %w", err)
	}
	s.prunedMu.Lock()
	after := s.pruned
	s.prunedMu.Unlock()
	if now.After(after) {
		after = now
	}
	var (
		live []storage.Revocation
		err  error
	)
	from := s.revocationKey("")
	s.replica.Range(from, replica.PrefixEnd(from), func(e *replica.Entry) bool {
		if e.Err != nil {
			err = fmt.Errorf("%s: %w", e.Key, e.Err)
			return false
		}
		if r := e.Decoded.(storage.Revocation); r.ExpiresAt.After(after) {
			live = append(live, r)
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("storage: revocations: %w", err)
	}
	return live, nil
}

// PruneRevocations forgets, in this gateway's memory, the revocations that
// expired at or before now; etcd drops them by itself when their leases
// end.
func (s *Store) PruneRevocations(ctx context.Context, now time.Time) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("storage: prune revocations: %w", err)
	}
	s.prunedMu.Lock()
	if now.After(s.pruned) {
		s.pruned = now
	}
	s.prunedMu.Unlock()
	s.replica.Forget(s.revocationKey(""), func(e *replica.Entry) bool {
		r, ok := e.Decoded.(storage.Revocation)
		return ok && !r.ExpiresAt.After(now)
	})
	return nil
}

// usageChunk bounds the clients of one usage transaction: etcd caps the
// operations of a transaction (128 by default), and each client takes two
// compares and one put.
const usageChunk = 40

// AddUsage adds each delta to this gateway's counters of its client; see
// storage.Store. Each write compares that the client is still the one seen
// (its CreateRevision) and that the counters are the ones read. Deltas of
// more than usageChunk clients are written in several transactions.
func (s *Store) AddUsage(ctx context.Context, deltas map[string]storage.Usage) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("storage: add usage: %w", err)
	}
	s.usageMu.Lock()
	defer s.usageMu.Unlock()
	ids := slices.Sorted(maps.Keys(deltas))
	// One bound for every chunk: a flush is one write to its caller.
	err := s.write(ctx, func(ctx context.Context) error {
		for len(ids) > 0 {
			chunk := ids[:min(usageChunk, len(ids))]
			ids = ids[len(chunk):]
			// A chunk committed but not yet seen by the replica is
			// written: go on, or the next chunks would be lost silently.
			if err := s.addUsage(ctx, chunk, deltas); err != nil && !errors.As(err, new(*notAppliedError)) {
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

func (s *Store) addUsage(ctx context.Context, ids []string, deltas map[string]storage.Usage) error {
	return s.cas(ctx, func(v *view) (plan, error) {
		var (
			p       plan
			unknown bool
		)
		for _, id := range ids {
			clientKey, usageKey := s.clientKey(id), s.usageKey(id)
			p.keys = append(p.keys, clientKey, usageKey)
			client := v.get(clientKey)
			if !client.ok {
				// The replica may not have it yet: ask etcd, for every
				// such client at once, before dropping its delta.
				unknown = unknown || !v.isFresh(clientKey)
				continue
			}
			cur := v.get(usageKey)
			var u storage.Usage
			if cur.ok {
				if cur.err != nil {
					return p, fmt.Errorf("usage of %q: %w", id, cur.err)
				}
				u = cur.decoded.(storage.Usage)
			}
			value, err := json.Marshal(u.Add(deltas[id]))
			if err != nil {
				return p, fmt.Errorf("encode usage: %w", err)
			}
			p.cmps = append(p.cmps,
				clientv3.Compare(clientv3.CreateRevision(clientKey), "=", client.kv.CreateRevision),
				clientv3.Compare(clientv3.ModRevision(usageKey), "=", cur.modRevision()))
			p.ops = append(p.ops, clientv3.OpPut(usageKey, string(value)))
		}
		if unknown {
			return p, errNeedFresh
		}
		return p, nil
	})
}

// Usage returns a client's counters summed over every gateway, from the
// replica.
func (s *Store) Usage(ctx context.Context, clientID string) (storage.Usage, error) {
	if err := s.usable(ctx); err != nil {
		return storage.Usage{}, fmt.Errorf("storage: usage: %w", err)
	}
	var (
		sum storage.Usage
		err error
	)
	from := s.usagePrefix(clientID)
	s.replica.Range(from, replica.PrefixEnd(from), func(e *replica.Entry) bool {
		if e.Err != nil {
			err = fmt.Errorf("%s: %w", e.Key, e.Err)
			return false
		}
		sum = sum.Add(e.Decoded.(storage.Usage))
		return true
	})
	if err != nil {
		return storage.Usage{}, fmt.Errorf("storage: usage of %q: %w", clientID, err)
	}
	return sum, nil
}
