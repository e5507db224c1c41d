package storage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Consents are cached by (user, client) as clients are by ID (see Cached):
// the guard reads one on every request with a token held for a person, and
// a pair with no consent is remembered as unknown. Authorization requests
// and codes pass through: each is read once or twice in its short life,
// and a redemption must reach the store.

// consentKey is the cache key of a pair: the user ID's length, then both
// IDs, so that no two pairs share a key whatever bytes the IDs hold. One
// allocation, the key itself.
func consentKey(userID, clientID string) string {
	var b strings.Builder
	b.Grow(len(userID) + len(clientID) + 4)
	b.WriteString(strconv.Itoa(len(userID)))
	b.WriteByte(':')
	b.WriteString(userID)
	b.WriteString(clientID)
	return b.String()
}

// GetConsent returns the consent, from memory when it is cached, or
// ErrNotFound from memory when the pair is remembered as having none.
func (c *Cached) GetConsent(ctx context.Context, userID, clientID string) (Consent, error) {
	if err := ctx.Err(); err != nil {
		return Consent{}, fmt.Errorf("storage: get consent: %w", err)
	}
	key := consentKey(userID, clientID)
	if rec, ok, err := c.consents.cached(key); ok {
		return rec, err
	}
	return c.consents.load(ctx, key, func(ctx context.Context, _ string) (Consent, error) {
		return c.inner.GetConsent(ctx, userID, clientID)
	}, Consent.Clone)
}

// PutConsent writes through to the inner store, then evicts the pair.
func (c *Cached) PutConsent(ctx context.Context, userID, clientID string, update func(Consent) (Consent, error)) (Consent, error) {
	if update == nil {
		return Consent{}, errors.New("storage: put consent: nil update function")
	}
	var callbackErr error
	stored, err := c.inner.PutConsent(ctx, userID, clientID, func(old Consent) (Consent, error) {
		next, err := update(old.Clone())
		callbackErr = err
		return next, err
	})
	refused := isRefusal(err) || (callbackErr != nil && errors.Is(err, callbackErr))
	c.consents.afterWrite(consentKey(userID, clientID), err, refused)
	return stored, err
}

// WithdrawConsent writes through to the inner store, then evicts the pair.
func (c *Cached) WithdrawConsent(ctx context.Context, userID, clientID string, at time.Time) error {
	err := c.inner.WithdrawConsent(ctx, userID, clientID, at)
	c.consents.afterWrite(consentKey(userID, clientID), err, isRefusal(err))
	return err
}

// ListUserConsents passes through.
func (c *Cached) ListUserConsents(ctx context.Context, userID string) ([]Consent, error) {
	return c.inner.ListUserConsents(ctx, userID)
}

// CreateAuthRequest passes through.
func (c *Cached) CreateAuthRequest(ctx context.Context, r AuthRequest) error {
	return c.inner.CreateAuthRequest(ctx, r)
}

// GetAuthRequest passes through.
func (c *Cached) GetAuthRequest(ctx context.Context, id string) (AuthRequest, error) {
	return c.inner.GetAuthRequest(ctx, id)
}

// UpdateAuthRequest passes through.
func (c *Cached) UpdateAuthRequest(ctx context.Context, id string, update func(AuthRequest) (AuthRequest, error)) (AuthRequest, error) {
	return c.inner.UpdateAuthRequest(ctx, id, update)
}

// DeleteAuthRequest passes through.
func (c *Cached) DeleteAuthRequest(ctx context.Context, id string) error {
	return c.inner.DeleteAuthRequest(ctx, id)
}

// PruneAuthRequests passes through.
func (c *Cached) PruneAuthRequests(ctx context.Context, now time.Time) error {
	return c.inner.PruneAuthRequests(ctx, now)
}

// CreateAuthCode passes through.
func (c *Cached) CreateAuthCode(ctx context.Context, code AuthCode) error {
	return c.inner.CreateAuthCode(ctx, code)
}

// RedeemAuthCode passes through: the store's transaction decides the one
// winner.
func (c *Cached) RedeemAuthCode(ctx context.Context, id string, now time.Time, jtis ...string) (AuthCode, error) {
	return c.inner.RedeemAuthCode(ctx, id, now, jtis...)
}

// PruneAuthCodes passes through.
func (c *Cached) PruneAuthCodes(ctx context.Context, now time.Time) error {
	return c.inner.PruneAuthCodes(ctx, now)
}

// LiveAuthRecords passes through.
func (c *Cached) LiveAuthRecords(ctx context.Context, now time.Time) ([]AuthRequest, []AuthCode, error) {
	return c.inner.LiveAuthRecords(ctx, now)
}
