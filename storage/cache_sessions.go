package storage

import (
	"context"
	"fmt"
	"time"
)

// Sessions are cached by ID as clients are (see Cached): a lookup on
// every request of a signed-in person, and a cookie that names no session
// (a flood of random ones) answered from the unknown-ID LRU.

// CreateSession creates the session in the inner store, then forgets its
// ID as unknown and evicts the user's other sessions, which the create may
// have ended (maxPerUser). The user's sessions are listed first to know
// which: one read per sign-in, never per request.
func (c *Cached) CreateSession(ctx context.Context, s Session, maxPerUser int) error {
	var held []Session
	if maxPerUser > 0 {
		var err error
		if held, err = c.inner.ListUserSessions(ctx, s.UserID); err != nil {
			return err
		}
	}
	err := c.inner.CreateSession(ctx, s, maxPerUser)
	c.sessions.afterWrite(s.ID, err, isRefusal(err))
	if err == nil || !isRefusal(err) {
		// The ones the store ended, by the store's own rule. A session
		// that another writer created for the same user between the list
		// and the create could be ended instead of one of these; a shared
		// store tells that change (Follow), the embedded one has a single
		// writer per user in practice (one person signing in twice at
		// once at the limit).
		for _, old := range SessionsToEnd(held, maxPerUser) {
			c.sessions.invalidate(old.ID)
		}
	}
	return err
}

// GetSession returns the session, from memory when it is cached, or
// ErrNotFound from memory when the ID is remembered as unknown.
func (c *Cached) GetSession(ctx context.Context, id string) (Session, error) {
	if err := ctx.Err(); err != nil {
		return Session{}, fmt.Errorf("storage: get session: %w", err)
	}
	if rec, ok, err := c.sessions.cached(id); ok {
		return rec, err
	}
	return c.sessions.load(ctx, id, c.inner.GetSession, sameSession)
}

// sameSession is a Session's deep copy: it holds no slice or map.
func sameSession(s Session) Session { return s }

// TouchSession touches the session in the inner store, then evicts it.
func (c *Cached) TouchSession(ctx context.Context, id string, seen time.Time) error {
	err := c.inner.TouchSession(ctx, id, seen)
	c.sessions.afterWrite(id, err, isRefusal(err))
	return err
}

// DeleteSession deletes the session in the inner store, then evicts it.
func (c *Cached) DeleteSession(ctx context.Context, id string) error {
	err := c.inner.DeleteSession(ctx, id)
	c.sessions.afterWrite(id, err, isRefusal(err))
	return err
}

// ListUserSessions passes through.
func (c *Cached) ListUserSessions(ctx context.Context, userID string) ([]Session, error) {
	return c.inner.ListUserSessions(ctx, userID)
}

// DeleteUserSessions deletes the user's sessions in the inner store, then
// evicts every cached session, as DeleteUser does and for the same reason:
// a session created meanwhile by another writer would be missed by a list.
func (c *Cached) DeleteUserSessions(ctx context.Context, userID string) (int, error) {
	n, err := c.inner.DeleteUserSessions(ctx, userID)
	c.sessions.invalidateAll()
	return n, err
}

// PruneSessions prunes the inner store, then evicts every cached session,
// so that no pruned one is served from memory.
func (c *Cached) PruneSessions(ctx context.Context, now time.Time) error {
	err := c.inner.PruneSessions(ctx, now)
	c.sessions.invalidateAll()
	return err
}
