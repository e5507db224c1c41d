package storage

import (
	"context"
	"errors"
	"fmt"
)

// Users are cached by ID, as clients are (see Cached), because a session
// lookup on every request reads its user (disabled? deleted?); roles by
// name, because a guarded request with a token issued for a user reads
// the user's roles (what do they still allow?). Lookups by username and
// pages pass through: sign-ins and admin calls are rare next to requests.

// CreateUser creates the user in the inner store, then forgets its ID as
// unknown.
func (c *Cached) CreateUser(ctx context.Context, u User, maxUsers int) error {
	err := c.inner.CreateUser(ctx, u, maxUsers)
	c.users.afterWrite(u.ID, err, isRefusal(err))
	return err
}

// GetUser returns the user, from memory when it is cached, or ErrNotFound
// from memory when the ID is remembered as unknown. The returned record is
// shared: callers must not change its slices.
func (c *Cached) GetUser(ctx context.Context, id string) (User, error) {
	if err := ctx.Err(); err != nil {
		return User{}, fmt.Errorf("storage: get user: %w", err)
	}
	if rec, ok, err := c.users.cached(id); ok {
		return rec, err
	}
	return c.users.load(ctx, id, c.inner.GetUser, User.Clone)
}

// GetUserByUsername passes through to the inner store.
func (c *Cached) GetUserByUsername(ctx context.Context, username string) (User, error) {
	return c.inner.GetUserByUsername(ctx, username)
}

// ListUsers passes through to the inner store.
func (c *Cached) ListUsers(ctx context.Context, opts ListOptions) ([]User, bool, error) {
	return c.inner.ListUsers(ctx, opts)
}

// UpdateUser updates the user in the inner store, then evicts it, by the
// rules of UpdateClient.
func (c *Cached) UpdateUser(ctx context.Context, id string, update func(User) (User, error)) (User, error) {
	if update == nil {
		return User{}, errors.New("storage: update user: nil update function")
	}
	var callbackErr error
	updated, err := c.inner.UpdateUser(ctx, id, func(old User) (User, error) {
		next, err := update(old.Clone())
		callbackErr = err
		return next, err
	})
	refused := isRefusal(err) || (callbackErr != nil && errors.Is(err, callbackErr))
	c.users.afterWrite(id, err, refused)
	return updated, err
}

// DeleteUser deletes the user, and with it the user's sessions, in the
// inner store, then evicts the user and every cached session: which
// sessions were the user's is the inner store's knowledge, and deleting a
// user is rare enough that reloading the others costs nothing that
// matters.
func (c *Cached) DeleteUser(ctx context.Context, id string) error {
	err := c.inner.DeleteUser(ctx, id)
	c.users.afterWrite(id, err, isRefusal(err))
	if err == nil || !isRefusal(err) {
		c.sessions.invalidateAll()
		c.consents.invalidateAll()
	}
	return err
}

// CountUsers passes through to the inner store.
func (c *Cached) CountUsers(ctx context.Context) (int, error) {
	return c.inner.CountUsers(ctx)
}

// CreateRole creates the role in the inner store, then forgets its name as
// unknown.
func (c *Cached) CreateRole(ctx context.Context, r Role) error {
	err := c.inner.CreateRole(ctx, r)
	c.roles.afterWrite(r.Name, err, isRefusal(err))
	return err
}

// GetRole returns the role, from memory when it is cached, or ErrNotFound
// from memory when the name is remembered as unknown. The returned record
// is shared: callers must not change its slices.
func (c *Cached) GetRole(ctx context.Context, name string) (Role, error) {
	if err := ctx.Err(); err != nil {
		return Role{}, fmt.Errorf("storage: get role: %w", err)
	}
	if rec, ok, err := c.roles.cached(name); ok {
		return rec, err
	}
	return c.roles.load(ctx, name, c.inner.GetRole, Role.Clone)
}

// ListRoles passes through to the inner store.
func (c *Cached) ListRoles(ctx context.Context, opts ListOptions) ([]Role, bool, error) {
	return c.inner.ListRoles(ctx, opts)
}

// UpdateRole updates the role in the inner store, then evicts it, by the
// rules of UpdateClient.
func (c *Cached) UpdateRole(ctx context.Context, name string, update func(Role) (Role, error)) (Role, error) {
	if update == nil {
		return Role{}, errors.New("storage: update role: nil update function")
	}
	var callbackErr error
	updated, err := c.inner.UpdateRole(ctx, name, func(old Role) (Role, error) {
		next, err := update(old.Clone())
		callbackErr = err
		return next, err
	})
	refused := isRefusal(err) || (callbackErr != nil && errors.Is(err, callbackErr))
	c.roles.afterWrite(name, err, refused)
	return updated, err
}

// DeleteRole deletes the role in the inner store, then evicts it.
func (c *Cached) DeleteRole(ctx context.Context, name string) error {
	err := c.inner.DeleteRole(ctx, name)
	c.roles.afterWrite(name, err, isRefusal(err))
	return err
}
