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

// Cached is a Store that keeps recently read clients, users, roles,
// sessions and consents in memory, in front of another Store. Only GetClient, GetUser,
// GetRole, GetSession and GetConsent are served from memory; every other method passes through.
// What follows is said of clients; users and sessions are kept by the
// same rules, each kind in LRUs of its own (recordCache), so a flood of
// one kind never evicts another.
//
// It also remembers, in a second LRU of the same size, client IDs the inner
// store did not know, so that an unknown ID sent again costs what a cached
// one costs rather than a read of the store: the time of a failed login
// then says nothing about whether the ID exists. A flood of made-up IDs
// (or of random session cookies) evicts only other unknown IDs, never a
// cached record. Creating a client
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
	inner    Store
	clients  *recordCache[Client]
	users    *recordCache[User]
	roles    *recordCache[Role]
	sessions *recordCache[Session]
	// consents are keyed by consentKey(user, client).
	consents *recordCache[Consent]

	// stopFollow ends following a Shared inner store; nil otherwise.
	stopFollow func()
}

// recordCache is the cache of one kind of record, keyed by ID: the one
// home of the rules Cached documents (negative caching, epochs, eviction
// after writes).
type recordCache[T any] struct {
	lru *lru.Cache[string, *T]
	// unknown holds IDs the inner store answered ErrNotFound for.
	unknown *lru.Cache[string, struct{}]
	// errUnknown answers a read of an ID remembered as unknown. It is
	// allocated once: such reads cost no more than a cache hit.
	errUnknown error
	seed       maphash.Seed

	// mu orders cache inserts after a miss against invalidations.
	mu     sync.Mutex
	epochs [epochShards]uint64
}

func newRecordCache[T any](noun string, size int) (*recordCache[T], error) {
	cache, err := lru.New[string, *T](size)
	if err != nil {
		return nil, fmt.Errorf("storage: cache of %d %ss: %w", size, noun, err)
	}
	unknown, err := lru.New[string, struct{}](size)
	if err != nil {
		return nil, fmt.Errorf("storage: cache of %d unknown %s IDs: %w", size, noun, err)
	}
	return &recordCache[T]{
		lru:        cache,
		unknown:    unknown,
		errUnknown: fmt.Errorf("storage: get %s: %w", noun, ErrNotFound),
		seed:       maphash.MakeSeed(),
	}, nil
}

// NewCached wraps s in LRU caches of at most size clients, size users,
// size roles and size sessions (size >= 1). When s is Shared, the cache follows its
// changes until Close.
func NewCached(s Store, size int) (*Cached, error) {
	if s == nil {
		return nil, errors.New("storage: cache: nil store")
	}
	clients, err := newRecordCache[Client]("client", size)
	if err != nil {
		return nil, err
	}
	users, err := newRecordCache[User]("user", size)
	if err != nil {
		return nil, err
	}
	roles, err := newRecordCache[Role]("role", size)
	if err != nil {
		return nil, err
	}
	sessions, err := newRecordCache[Session]("session", size)
	if err != nil {
		return nil, err
	}
	consents, err := newRecordCache[Consent]("consent", size)
	if err != nil {
		return nil, err
	}
	c := &Cached{inner: s, clients: clients, users: users, roles: roles, sessions: sessions, consents: consents}
	if shared, ok := s.(Shared); ok {
		c.stopFollow = shared.Follow(c.Invalidate)
	}
	return c, nil
}

// Invalidate evicts what ch says changed: a client on ClientID, a user on
// UserID, a role on Role, a session on SessionID, a consent on its pair, everything and every unknown ID on
// Reset. NewCached calls it for every change of a Shared inner store; a
// caller that wraps a Shared store in a type of its own (so that NewCached
// cannot see it is Shared) follows it and calls Invalidate itself.
func (c *Cached) Invalidate(ch Change) {
	switch {
	case ch.Reset:
		c.invalidateAll()
	case ch.ClientID != "":
		c.clients.invalidate(ch.ClientID)
	case ch.UserID != "":
		c.users.invalidate(ch.UserID)
	case ch.Role != "":
		c.roles.invalidate(ch.Role)
	case ch.SessionID != "":
		c.sessions.invalidate(ch.SessionID)
	case ch.ConsentUserID != "" || ch.ConsentClientID != "":
		c.consents.invalidate(consentKey(ch.ConsentUserID, ch.ConsentClientID))
	}
}

// Inner returns the wrapped store.
func (c *Cached) Inner() Store { return c.inner }

// Resize changes how many records of each kind, and how many unknown IDs,
// the cache holds (size >= 1), evicting the least recently used ones when
// it shrinks.
func (c *Cached) Resize(size int) error {
	if size < 1 {
		return fmt.Errorf("storage: cache size is %d, want at least 1", size)
	}
	c.clients.resize(size)
	c.users.resize(size)
	c.roles.resize(size)
	c.sessions.resize(size)
	c.consents.resize(size)
	return nil
}

// Len returns how many clients are cached now.
func (c *Cached) Len() int { return c.clients.lru.Len() }

func (rc *recordCache[T]) resize(size int) {
	rc.lru.Resize(size)
	rc.unknown.Resize(size)
}

// shard returns the epoch shard of an ID.
func (rc *recordCache[T]) shard(id string) int {
	return int(maphash.String(rc.seed, id) % epochShards)
}

// invalidate evicts a record, and forgets its ID as unknown, after a write
// and moves its shard's epoch, so that a load that started before the write
// is not cached, found or not found.
func (rc *recordCache[T]) invalidate(id string) {
	rc.mu.Lock()
	rc.epochs[rc.shard(id)]++
	rc.lru.Remove(id)
	rc.unknown.Remove(id)
	rc.mu.Unlock()
}

// invalidateAll evicts every record and unknown ID, and moves every epoch,
// so that no load in progress is cached.
func (rc *recordCache[T]) invalidateAll() {
	rc.mu.Lock()
	for i := range rc.epochs {
		rc.epochs[i]++
	}
	rc.lru.Purge()
	rc.unknown.Purge()
	rc.mu.Unlock()
}

// afterWrite updates the cache for a write of record id that returned err.
// refused reports whether err proves the inner store changed nothing.
func (rc *recordCache[T]) afterWrite(id string, err error, refused bool) {
	if err == nil || !refused {
		rc.invalidate(id)
	}
}

// cached answers from memory: the record, or errUnknown for an ID
// remembered as unknown; ok is false when the inner store must be read.
// It is separate from load so that a hit builds no closure.
func (rc *recordCache[T]) cached(id string) (rec T, ok bool, err error) {
	if hit, found := rc.lru.Get(id); found {
		return *hit, true, nil
	}
	if _, unknown := rc.unknown.Get(id); unknown {
		return rec, true, rc.errUnknown
	}
	return rec, false, nil
}

// load reads a record from the inner store (read) and caches a private
// copy of it (clone), or its ID as unknown, unless a write moved its
// shard's epoch meanwhile.
func (rc *recordCache[T]) load(ctx context.Context, id string, read func(context.Context, string) (T, error), clone func(T) T) (T, error) {
	shard := rc.shard(id)
	rc.mu.Lock()
	epoch := rc.epochs[shard]
	rc.mu.Unlock()

	loaded, err := read(ctx, id)
	if errors.Is(err, ErrNotFound) {
		rc.mu.Lock()
		// As below: a create since the load began must not be hidden.
		if rc.epochs[shard] == epoch {
			rc.unknown.Add(id, struct{}{})
		}
		rc.mu.Unlock()
	}
	if err != nil {
		var zero T
		return zero, err
	}
	private := clone(loaded)
	rc.mu.Lock()
	// A write to this shard since the load began may have committed after
	// the load read the record: then it is not cached, and the next read
	// loads again.
	if rc.epochs[shard] == epoch {
		rc.lru.Add(id, &private)
	}
	rc.mu.Unlock()
	return loaded, nil
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
	if rec, ok, err := c.clients.cached(id); ok {
		return rec, err
	}
	return c.clients.load(ctx, id, c.inner.GetClient, Client.Clone)
}

// CreateClient creates the client in the inner store, then invalidates its
// cache entry.
func (c *Cached) CreateClient(ctx context.Context, client Client, maxClients int) error {
	err := c.inner.CreateClient(ctx, client, maxClients)
	c.clients.afterWrite(client.ID, err, isRefusal(err))
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
	c.clients.afterWrite(id, err, refused)
	return updated, err
}

// DeleteClient deletes the client in the inner store, then invalidates its
// cache entry.
func (c *Cached) DeleteClient(ctx context.Context, id string) error {
	err := c.inner.DeleteClient(ctx, id)
	c.clients.afterWrite(id, err, isRefusal(err))
	if err == nil || !isRefusal(err) {
		// The consents given to it went too; which they were is the
		// store's knowledge, and client deletions are rare.
		c.consents.invalidateAll()
	}
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

// invalidateAll evicts every record and unknown ID of every kind.
func (c *Cached) invalidateAll() {
	c.clients.invalidateAll()
	c.users.invalidateAll()
	c.roles.invalidateAll()
	c.sessions.invalidateAll()
	c.consents.invalidateAll()
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

// ClientPeople passes through: it reads records the cache does not hold
// all of.
func (c *Cached) ClientPeople(ctx context.Context, now time.Time) (map[string]int, error) {
	return c.inner.ClientPeople(ctx, now)
}
