package storage

import (
	"context"
	"time"
)

// Refresh token families pass through the cache: each is read once per
// refresh, which rewrites it at once, and a rotation must reach the store.

// CreateRefreshFamily passes through.
func (c *Cached) CreateRefreshFamily(ctx context.Context, f RefreshFamily) error {
	return c.inner.CreateRefreshFamily(ctx, f)
}

// GetRefreshFamily passes through.
func (c *Cached) GetRefreshFamily(ctx context.Context, id string) (RefreshFamily, error) {
	return c.inner.GetRefreshFamily(ctx, id)
}

// UpdateRefreshFamily passes through.
func (c *Cached) UpdateRefreshFamily(ctx context.Context, id string, update func(RefreshFamily) (RefreshFamily, error)) (RefreshFamily, error) {
	return c.inner.UpdateRefreshFamily(ctx, id, update)
}

// DeleteRefreshFamily passes through.
func (c *Cached) DeleteRefreshFamily(ctx context.Context, id string) error {
	return c.inner.DeleteRefreshFamily(ctx, id)
}

// ListUserRefreshFamilies passes through.
func (c *Cached) ListUserRefreshFamilies(ctx context.Context, userID string) ([]RefreshFamily, error) {
	return c.inner.ListUserRefreshFamilies(ctx, userID)
}

// PruneRefreshFamilies passes through.
func (c *Cached) PruneRefreshFamilies(ctx context.Context, now time.Time) error {
	return c.inner.PruneRefreshFamilies(ctx, now)
}
