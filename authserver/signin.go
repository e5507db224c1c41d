package authserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/scopegate/scopegate/password"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/session"
	"github.com/scopegate/scopegate/signin"
	"github.com/scopegate/scopegate/storage"
)

// SignInAccounts adapts the server's user registry to the sign-in page.
// It reads the registry at each call, so it may be built before the store
// is open; the page's handler is only reached after AwaitOpen.
type SignInAccounts struct{ Server *Server }

// SignIn checks the password with the registry (equal work for every kind
// of failure, see Registry.SignIn).
func (a SignInAccounts) SignIn(ctx context.Context, username, pw string) (string, string, error) {
	u, err := a.Server.Registry.SignIn(ctx, username, pw)
	if err != nil {
		return "", "", signInError(err)
	}
	return u.ID, u.DisplayName(), nil
}

// DisplayName names a signed-in user on the page.
func (a SignInAccounts) DisplayName(ctx context.Context, userID string) (string, error) {
	u, err := a.Server.Store.GetUser(ctx, userID) // the cache's copy
	if err != nil {
		return "", signInError(err)
	}
	return u.DisplayName(), nil
}

// SignInSessions adapts the server's session manager to the sign-in page.
type SignInSessions struct{ Server *Server }

// Start starts a session and says when it ends at the latest.
func (s SignInSessions) Start(ctx context.Context, userID string, persistent bool, meta signin.Meta) (string, time.Time, error) {
	value, rec, err := s.Server.Sessions.Start(ctx, userID, persistent, session.Meta{Address: meta.Address, UserAgent: meta.UserAgent})
	if err != nil {
		return "", time.Time{}, signInError(err)
	}
	return value, rec.ExpiresAt, nil
}

// Lookup returns the user of a live session.
func (s SignInSessions) Lookup(ctx context.Context, value string) (string, error) {
	rec, err := s.Server.Sessions.Lookup(ctx, value)
	if err != nil {
		return "", signInError(err)
	}
	return rec.UserID, nil
}

// End ends a session; an unknown one is already ended.
func (s SignInSessions) End(ctx context.Context, value string) error {
	return signInError(s.Server.Sessions.End(ctx, value))
}

// signInError translates the registry's and the session manager's errors
// into the page's: the same bad-credentials and no-session answers, and
// ErrUnavailable for what passes (a busy hasher, a store without a leader
// or still starting), so the person is asked to retry rather than shown a
// fault.
func signInError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, registry.ErrBadCredentials):
		return signin.ErrBadCredentials
	case errors.Is(err, session.ErrNoSession), errors.Is(err, storage.ErrNotFound):
		return signin.ErrNoSession
	case errors.Is(err, password.ErrBusy), errors.Is(err, storage.ErrUnavailable):
		return fmt.Errorf("%w: %w", signin.ErrUnavailable, err)
	}
	return err
}
