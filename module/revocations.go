package module

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// revocations is the set of revoked token IDs, held in memory so the guard
// checks it without touching the store. The store keeps them across restarts;
// both forget a revocation once its token would have expired anyway.
type revocations struct {
	store storage.Store

	mu      sync.RWMutex
	revoked map[string]time.Time // jti → token expiry
}

// loadRevocations reads the unexpired revocations from the store.
func loadRevocations(ctx context.Context, store storage.Store, now time.Time) (*revocations, error) {
	list, err := store.Revocations(ctx, now)
	if err != nil {
		return nil, fmt.Errorf("loading revocations: %w", err)
	}
	r := &revocations{store: store, revoked: make(map[string]time.Time, len(list))}
	for _, rev := range list {
		r.revoked[rev.JTI] = rev.ExpiresAt
	}
	return r, nil
}

// revoke records a revocation durably, then in memory.
func (r *revocations) revoke(ctx context.Context, rev storage.Revocation) error {
	if err := r.store.Revoke(ctx, rev); err != nil {
		return err
	}
	r.mu.Lock()
	r.revoked[rev.JTI] = rev.ExpiresAt
	r.mu.Unlock()
	return nil
}

// isRevoked reports whether the token with this ID was revoked.
func (r *revocations) isRevoked(jti string) bool {
	r.mu.RLock()
	_, ok := r.revoked[jti]
	r.mu.RUnlock()
	return ok
}

// prune forgets revocations of tokens that have expired, in memory and in the
// store.
func (r *revocations) prune(ctx context.Context, now time.Time) error {
	r.mu.Lock()
	for jti, exp := range r.revoked {
		if !exp.After(now) {
			delete(r.revoked, jti)
		}
	}
	r.mu.Unlock()
	return r.store.PruneRevocations(ctx, now)
}
