package storage

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// epochShards is how many write epochs Cached keeps. A write bumps the
// epoch of its client's shard; a read that missed only caches what it loaded
// if its shard's epoch did not move meanwhile. More shards mean fewer
// loads left uncached because an unrelated client was written at the same
// moment.
const epochShards = 256

// Cached is a Store that keeps recently read clients in memory, in front of
// another Store. Only GetClient is served from memory; every other method
// passes through.
//
// It also remembers, in a second LRU of the same size, client IDs the inner
// store did not know, so that an unknown ID sent again costs what a cached
// one costs rather than a read of the store: the time of a failed login
// then says nothing about whether the ID exists. A flood of made-up IDs
// evicts only other unknown IDs, never a cached client. Creating a client
// forgets its ID as unknown before the create returns, with the same epoch
// rule as below, so no read that starts after a create returns answers
// ErrNotFound for it.
//
// A cached client is served without touching the inner store and without
// copying: callers share the cached record read-only, as the package
// documentation says. What is cached is a private deep copy of what the inner
// store returned. After a client write (create, update, delete) has
// committed, its entry is evicted before the write returns, so no read that
// starts after a write returns sees the record from before it; the next read
// loads the committed record. A write the inner store refused (not found,
// already exists, limit exceeded, the update function's error) leaves the
// cache unchanged; after any other failure the entry is
// evicted too, since the inner store may or may not have committed.
//
// When the inner store is Shared, other gateways write to it too: Cached
// follows it (Invalidate) and evicts a client when its change arrives, and
// everything, unknown IDs included, on a Reset. Both move the epochs as a
// write does, so a load that read the record before the change arrived is
// not cached. A change is told after the inner store applied it, so a
// record cached before that is evicted, at the latest, when it is told.
type Cached struct {
	inner Store
	lru   *lru.Cache[string, *Client]
	// unknown holds IDs the inner store answered ErrNotFound for.
	unknown *lru.Cache[string, struct{}]
	seed    maphash.Seed

	// mu orders cache inserts after a miss against invalidations.
	mu     sync.Mutex
	epochs [epochShards]uint64

	// stopFollow ends following a Shared inner store; nil otherwise.
	stopFollow func()
}

// NewCached wraps s in an LRU cache of at most size clients (size >= 1).
// When s is Shared, the cache follows its changes until Close.
func NewCached(s Store, size int) (*Cached, error) {
	if s == nil {
		return nil, errors.New("storage: cache: nil store")
	}
	cache, err := lru.New[string, *Client](size)
	if err != nil {
		return nil, fmt.Errorf("storage: cache of %d clients: %w", size, err)
	}
	unknown, err := lru.New[string, struct{}](size)
	if err != nil {
		return nil, fmt.Errorf("storage: cache of %d unknown client IDs: %w", size, err)
	}
	c := &Cached{inner: s, lru: cache, unknown: unknown, seed: maphash.MakeSeed()}
	if shared, ok := s.(Shared); ok {
		c.stopFollow = shared.Follow(c.Invalidate)
	}
	return c, nil
}

// Invalidate evicts what ch says changed: a client on ClientID, every
// client and every unknown ID on Reset. NewCached calls it for every
// change of a Shared inner store; a caller that wraps a Shared store in a
// type of its own (so that NewCached cannot see it is Shared) follows it
// and calls Invalidate itself.
func (c *Cached) Invalidate(ch Change) {
	switch {
	case ch.Reset:
		c.invalidateAll()
	case ch.ClientID != "":
		c.invalidate(ch.ClientID)
	}
}

// errUnknownClient answers a read of an ID remembered as unknown. It is
// allocated once: such reads cost no more than a cache hit.
var errUnknownClient = fmt.Errorf("storage: get client: %w", ErrNotFound)

// Inner returns the wrapped store.
func (c *Cached) Inner() Store { return c.inner }

// Resize changes how many clients, and how many unknown IDs, the cache holds
// (size >= 1), evicting the least recently used ones when it shrinks.
func (c *Cached) Resize(size int) error {
	if size < 1 {
		return fmt.Errorf("storage: cache size is %d, want at least 1", size)
	}
	c.lru.Resize(size)
	c.unknown.Resize(size)
	return nil
}

// Len returns how many clients are cached now.
func (c *Cached) Len() int { return c.lru.Len() }

// shard returns the epoch shard of a client ID.
func (c *Cached) shard(id string) int {
	return int(maphash.String(c.seed, id) % epochShards)
}

// invalidate evicts a client, and forgets its ID as unknown, after a write
// and moves its shard's epoch, so that a load that started before the write
// is not cached, found or not found.
func (c *Cached) invalidate(id string) {
	c.mu.Lock()
	c.epochs[c.shard(id)]++
	c.lru.Remove(id)
	c.unknown.Remove(id)
	c.mu.Unlock()
}

// afterWrite updates the cache for a write of client id that returned err.
// refused reports whether err proves the inner store changed nothing.
func (c *Cached) afterWrite(id string, err error, refused bool) {
	if err == nil || !refused {
		c.invalidate(id)
	}
}

// isRefusal reports whether err is one with which a Store turns a write down
// before changing anything. A cancelled context is not among them: a store
// may notice the cancellation only after it committed.
func isRefusal(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrAlreadyExists) ||
		errors.Is(err, ErrLimitExceeded)
}

// GetClient returns the client, from memory when it is cached, or
// ErrNotFound from memory when the ID is remembered as unknown. The returned
// record is shared: callers must not change its slices.
func (c *Cached) GetClient(ctx context.Context, id string) (Client, error) {
	if err := ctx.Err(); err != nil {
		return Client{}, fmt.Errorf("storage: get client: %w", err)
	}
	if cached, ok := c.lru.Get(id); ok {
		return *cached, nil
	}
	if _, unknown := c.unknown.Get(id); unknown {
		return Client{}, errUnknownClient
	}
	shard := c.shard(id)
	c.mu.Lock()
	epoch := c.epochs[shard]
	c.mu.Unlock()

	loaded, err := c.inner.GetClient(ctx, id)
	if errors.Is(err, ErrNotFound) {
		c.mu.Lock()
		// As below: a create since the load began must not be hidden.
		if c.epochs[shard] == epoch {
			c.unknown.Add(id, struct{}{})
		}
		c.mu.Unlock()
	}
	if err != nil {
		return Client{}, err
	}
	private := loaded.Clone()
	c.mu.Lock()
	// A write to this shard since the load began may have committed after
	// the load read the record: then it is not cached, and the next read
	// loads again.
	if c.epochs[shard] == epoch {
		c.lru.Add(id, &private)
	}
	c.mu.Unlock()
	return loaded, nil
}

// CreateClient creates the client in the inner store, then invalidates its
// cache entry.
func (c *Cached) CreateClient(ctx context.Context, client Client, maxClients int) error {
	err := c.inner.CreateClient(ctx, client, maxClients)
	c.afterWrite(client.ID, err, isRefusal(err))
	return err
}

// UpdateClient updates the client in the inner store, then invalidates its
// cache entry. As Store says, update may run more than once and must be pure;
// each run gets its own deep copy of the client.
func (c *Cached) UpdateClient(ctx context.Context, id string, update func(Client) (Client, error)) (Client, error) {
	if update == nil {
		return Client{}, errors.New("storage: update client: nil update function")
	}
	// Remember the update function's last error: the inner store returns it
	// as it is, and it means nothing was written.
	var callbackErr error
	updated, err := c.inner.UpdateClient(ctx, id, func(old Client) (Client, error) {
		// The inner store should hand over a private copy already; cloning
		// again keeps that promise whatever the inner store is, at a cost
		// only admin writes pay.
		next, err := update(old.Clone())
		callbackErr = err
		return next, err
	})
	refused := isRefusal(err) || (callbackErr != nil && errors.Is(err, callbackErr))
	c.afterWrite(id, err, refused)
	return updated, err
}

// DeleteClient deletes the client in the inner store, then invalidates its
// cache entry.
func (c *Cached) DeleteClient(ctx context.Context, id string) error {
	err := c.inner.DeleteClient(ctx, id)
	c.afterWrite(id, err, isRefusal(err))
	return err
}

// ListClients passes through: pages are not cached.
func (c *Cached) ListClients(ctx context.Context, opts ListOptions) ([]Client, bool, error) {
	return c.inner.ListClients(ctx, opts)
}

// CountClients passes through.
func (c *Cached) CountClients(ctx context.Context) (int, error) {
	return c.inner.CountClients(ctx)
}

// SigningKeys passes through.
func (c *Cached) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	return c.inner.SigningKeys(ctx)
}

// UpdateSigningKeys passes through.
func (c *Cached) UpdateSigningKeys(ctx context.Context, update func([]SigningKey) ([]SigningKey, error)) ([]SigningKey, error) {
	return c.inner.UpdateSigningKeys(ctx, update)
}

// Revoke passes through.
func (c *Cached) Revoke(ctx context.Context, r Revocation) error {
	return c.inner.Revoke(ctx, r)
}

// Revocations passes through.
func (c *Cached) Revocations(ctx context.Context, now time.Time) ([]Revocation, error) {
	return c.inner.Revocations(ctx, now)
}

// PruneRevocations passes through.
func (c *Cached) PruneRevocations(ctx context.Context, now time.Time) error {
	return c.inner.PruneRevocations(ctx, now)
}

// AddUsage passes through.
func (c *Cached) AddUsage(ctx context.Context, deltas map[string]Usage) error {
	return c.inner.AddUsage(ctx, deltas)
}

// Usage passes through.
func (c *Cached) Usage(ctx context.Context, clientID string) (Usage, error) {
	return c.inner.Usage(ctx, clientID)
}

// invalidateAll evicts every client and unknown ID, and moves every epoch,
// so that no load in progress is cached.
func (c *Cached) invalidateAll() {
	c.mu.Lock()
	for i := range c.epochs {
		c.epochs[i]++
	}
	c.lru.Purge()
	c.unknown.Purge()
	c.mu.Unlock()
}

// Close stops following the inner store, empties the cache and closes the
// inner store.
func (c *Cached) Close() error {
	if c.stopFollow != nil {
		c.stopFollow()
	}
	c.invalidateAll()
	return c.inner.Close()
}

var _ Store = (*Cached)(nil)
