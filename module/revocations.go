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

// revokeToken records that the token jti of clientID, which expires at
// exp, is revoked: durably, then in memory. The record is kept until exp
// plus maxLeeway, the largest leeway any config may allow, rather than the
// current leeway: a reload that raises the leeway makes the verifier accept
// the token for longer, and its revocation must outlive that.
func (r *revocations) revokeToken(ctx context.Context, jti, clientID string, exp time.Time) error {
	return r.revoke(ctx, storage.Revocation{JTI: jti, ClientID: clientID, ExpiresAt: exp.Add(maxLeeway)})
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

// prune forgets revocations whose tokens no verifier accepts any more (past
// exp plus maxLeeway, see revokeToken), in memory and in the store.
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
