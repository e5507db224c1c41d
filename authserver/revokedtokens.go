package authserver

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// RevokedTokens is the set of access tokens revoked one by one at the
// revocation endpoint (RFC 7009), by token ID, held in memory so the guard
// checks it without touching the store. The store keeps them across
// restarts; both forget a revocation once its token would have expired
// anyway. (A client's revoke-all is a cutoff on its record, and a retired
// signing key leaves the key set: neither is here.)
type RevokedTokens struct {
	store storage.Store

	mu      sync.RWMutex
	revoked map[string]time.Time // jti → token expiry
}

// NewRevokedTokens returns an empty set over store; Load fills it.
func NewRevokedTokens(store storage.Store) *RevokedTokens {
	return &RevokedTokens{store: store, revoked: make(map[string]time.Time)}
}

// Load adds the store's unexpired revocations to the set: at start, and
// when a shared store's copy was listed afresh.
func (r *RevokedTokens) Load(ctx context.Context, now time.Time) error {
	list, err := r.store.Revocations(ctx, now)
	if err != nil {
		return fmt.Errorf("loading revocations: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rev := range list {
		r.revoked[rev.JTI] = rev.ExpiresAt
	}
	return nil
}

// Add records that the token jti of clientID, which expires at exp, is
// revoked: durably, then in memory. The record is kept until exp plus
// MaxLeeway, the largest leeway any config may allow, rather than the
// current leeway: a reload that raises the leeway makes the verifier accept
// the token for longer, and its revocation must outlive that.
func (r *RevokedTokens) Add(ctx context.Context, jti, clientID string, exp time.Time) error {
	return r.add(ctx, storage.Revocation{JTI: jti, ClientID: clientID, ExpiresAt: exp.Add(MaxLeeway)})
}

// add records a revocation durably, then in memory.
func (r *RevokedTokens) add(ctx context.Context, rev storage.Revocation) error {
	if err := r.store.Revoke(ctx, rev); err != nil {
		return err
	}
	r.remember(rev)
	return nil
}

// remember adds a revocation to the set in memory only: one this gateway
// stored, or one another gateway stored in a shared store.
func (r *RevokedTokens) remember(rev storage.Revocation) {
	r.mu.Lock()
	r.revoked[rev.JTI] = rev.ExpiresAt
	r.mu.Unlock()
}

// Has reports whether the token with this ID was revoked.
func (r *RevokedTokens) Has(jti string) bool {
	r.mu.RLock()
	_, ok := r.revoked[jti]
	r.mu.RUnlock()
	return ok
}

// Prune forgets revocations whose tokens no verifier accepts any more (past
// exp plus MaxLeeway, see Add), in memory and in the store.
func (r *RevokedTokens) Prune(ctx context.Context, now time.Time) error {
	r.mu.Lock()
	for jti, exp := range r.revoked {
		if !exp.After(now) {
			delete(r.revoked, jti)
		}
	}
	r.mu.Unlock()
	return r.store.PruneRevocations(ctx, now)
}

// Len is how many revocations are held in memory.
func (r *RevokedTokens) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.revoked)
}
