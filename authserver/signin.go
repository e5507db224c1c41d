package authserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/admin"
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

// SessionAdmin gives the admin API the sessions of users: their public
// facts (never a cookie's value), and ending them.
type SessionAdmin struct{ Sessions *session.Manager }

// ListSessions describes the user's live sessions.
func (a SessionAdmin) ListSessions(ctx context.Context, userID string) ([]admin.SessionInfo, error) {
	list, err := a.Sessions.List(ctx, userID)
	if err != nil {
		return nil, err
	}
	infos := make([]admin.SessionInfo, len(list))
	for i, s := range list {
		infos[i] = admin.SessionInfo{
			ID: s.ID, CreatedAt: s.CreatedAt, LastSeenAt: s.LastSeenAt, ExpiresAt: s.ExpiresAt,
			Persistent: s.Persistent, Address: s.Address, UserAgent: s.UserAgent,
		}
	}
	return infos, nil
}

// EndSessions signs the user out everywhere.
func (a SessionAdmin) EndSessions(ctx context.Context, userID string) (int, error) {
	return a.Sessions.EndUser(ctx, userID)
}

// EndSession ends one of the user's sessions.
func (a SessionAdmin) EndSession(ctx context.Context, userID, sessionID string) error {
	err := a.Sessions.EndByID(ctx, userID, sessionID)
	if errors.Is(err, storage.ErrNotFound) {
		return admin.ErrSessionNotFound
	}
	return err
}

// AdminOptions are the admin API's options over this server's keys,
// sessions, consents and refresh token grants.
func (s *Server) AdminOptions(logger *zap.Logger, sessions *session.Manager) admin.Options {
	return admin.Options{
		Logger: logger, Keys: KeyAdmin{Source: s.Keys}, Sessions: SessionAdmin{Sessions: sessions},
		Consents: ConsentAdmin{Server: s}, Grants: GrantAdmin{Server: s},
	}
}
