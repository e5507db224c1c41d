package storage

import "context"

// Users and roles pass through Cached to the inner store: sign-ins are rare
// next to token requests, so nothing is cached for them yet. Caching them
// (and following their Change) comes with sessions, whose lookup on every
// request is what needs it.

// CreateUser passes through to the inner store.
func (c *Cached) CreateUser(ctx context.Context, u User, maxUsers int) error {
	return c.inner.CreateUser(ctx, u, maxUsers)
}

// GetUser passes through to the inner store.
func (c *Cached) GetUser(ctx context.Context, id string) (User, error) {
	return c.inner.GetUser(ctx, id)
}

// GetUserByUsername passes through to the inner store.
func (c *Cached) GetUserByUsername(ctx context.Context, username string) (User, error) {
	return c.inner.GetUserByUsername(ctx, username)
}

// ListUsers passes through to the inner store.
func (c *Cached) ListUsers(ctx context.Context, opts ListOptions) ([]User, bool, error) {
	return c.inner.ListUsers(ctx, opts)
}

// UpdateUser passes through to the inner store.
func (c *Cached) UpdateUser(ctx context.Context, id string, update func(User) (User, error)) (User, error) {
	return c.inner.UpdateUser(ctx, id, update)
}

// DeleteUser passes through to the inner store.
func (c *Cached) DeleteUser(ctx context.Context, id string) error {
	return c.inner.DeleteUser(ctx, id)
}

// CountUsers passes through to the inner store.
func (c *Cached) CountUsers(ctx context.Context) (int, error) {
	return c.inner.CountUsers(ctx)
}

// CreateRole passes through to the inner store.
func (c *Cached) CreateRole(ctx context.Context, r Role) error {
	return c.inner.CreateRole(ctx, r)
}

// GetRole passes through to the inner store.
func (c *Cached) GetRole(ctx context.Context, name string) (Role, error) {
	return c.inner.GetRole(ctx, name)
}

// ListRoles passes through to the inner store.
func (c *Cached) ListRoles(ctx context.Context, opts ListOptions) ([]Role, bool, error) {
	return c.inner.ListRoles(ctx, opts)
}

// UpdateRole passes through to the inner store.
func (c *Cached) UpdateRole(ctx context.Context, name string, update func(Role) (Role, error)) (Role, error) {
	return c.inner.UpdateRole(ctx, name, update)
}

// DeleteRole passes through to the inner store.
func (c *Cached) DeleteRole(ctx context.Context, name string) error {
	return c.inner.DeleteRole(ctx, name)
}
