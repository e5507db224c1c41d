package authserver

import (
	"context"
	"errors"

	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/token"
)

// TokenRefusal says why a presented access token is not accepted. Its
// description is fixed text, safe to send and to log: it never holds token
// bytes.
type TokenRefusal struct {
	// Reason is a short label for logs and metrics.
	Reason string
	// Description is sent to the caller.
	Description string
}

func (r *TokenRefusal) Error() string { return r.Description }

// Refusals that depend on current state rather than on the token's bytes.
var (
	refusedRevoked      = &TokenRefusal{"revoked", "the token has been revoked"}
	refusedClient       = &TokenRefusal{"client_unknown", "the token's client no longer exists"}
	refusedOff          = &TokenRefusal{"client_disabled", "the token's client is disabled"}
	refusedBeforeCutoff = &TokenRefusal{"client_tokens_revoked", "the token's client has revoked its tokens"}
	refusedUser         = &TokenRefusal{"user_unknown", "the token's user no longer exists"}
	refusedUserOff      = &TokenRefusal{"user_disabled", "the token's user is disabled"}
	refusedNoConsent    = &TokenRefusal{"consent_withdrawn", "the token's user has not consented to its client, or withdrew the consent"}
	refusedConsentCut   = &TokenRefusal{"consent_tokens_revoked", "the token's user withdrew consent after it was issued"}
)

// CheckToken verifies raw (from the verified-token cache when seen before)
// and checks it against the current state: its key is still trusted, it is
// not in the revoked-token set, and its client exists, is enabled and has
// not revoked all its tokens since it was issued. A token held for a person
// is checked against the person and their consent by HeldScopes, which
// every caller that admits such a token runs next (the guard,
// introspection), so that the person's records are read once per request.
// Route policy (audience, scopes, addresses) is the caller's. A refused
// token is a *TokenRefusal; any other error is a fault of the gateway.
// Nothing here touches the disk: keys, revocations and (cached) clients
// are in memory.
func (s *Server) CheckToken(ctx context.Context, raw string) (*token.Claims, storage.Client, error) {
	if err := s.awaitFresh(ctx); err != nil {
		return nil, storage.Client{}, err
	}
	claims, err := s.verifier.VerifyCached(s.KeySet(), s.verified, raw)
	if err != nil {
		return nil, storage.Client{}, &TokenRefusal{Reason: "invalid", Description: err.Error()}
	}
	if s.Revoked.Has(claims.JWTID) {
		return nil, storage.Client{}, refusedRevoked
	}
	client, err := s.Registry.Lookup(ctx, claims.ClientID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, storage.Client{}, refusedClient
	case err != nil:
		return nil, storage.Client{}, err
	case client.Disabled:
		return nil, storage.Client{}, refusedOff
	case !client.TokensRevokedAt.IsZero() && claims.IssuedAt <= client.TokensRevokedAt.Unix():
		return nil, storage.Client{}, refusedBeforeCutoff
	}
	return claims, client, nil
}

// forUser reports whether the token is one an app holds for a person: its
// subject is the person's user ID rather than the client's own.
func forUser(claims *token.Claims) bool { return claims.Subject != claims.ClientID }

// UserID returns the user ID of the person a checked token is held for, or
// "" for a client's own token: what X-User-Id and {scopegate.user_id} say.
func UserID(claims *token.Claims) string {
	if forUser(claims) {
		return claims.Subject
	}
	return ""
}

// tokenUser returns the person a token or code was issued for, or the
// refusal that they no longer exist or are disabled. The user comes from
// the store's cache: no disk read once it was read.
func (s *Server) tokenUser(ctx context.Context, userID string) (storage.User, error) {
	u, err := s.Store.GetUser(ctx, userID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return storage.User{}, refusedUser
	case err != nil:
		return storage.User{}, err
	case u.Disabled:
		return storage.User{}, refusedUserOff
	}
	return u, nil
}

// HeldScopes returns what a checked token admits now: its scopes that its
// client still holds and, for a token held for a person, what personHolds
// leaves of them, or the refusal of a person who is gone, disabled or no
// longer consents. Narrowing a client's scopes, a role's scopes, a
// person's roles or a consent thus holds on the next request, as disabling
// does. When nothing was taken away it returns the token's own set without
// allocating.
func (s *Server) HeldScopes(ctx context.Context, claims *token.Claims, client storage.Client) (scope.Set, error) {
	held := claims.Scopes.Intersect(s.ClientScopes.of(client))
	if !forUser(claims) {
		return held, nil
	}
	return s.personHolds(ctx, claims.Subject, client, held, claims.IssuedAt)
}

// personHolds narrows wanted to what client may hold for the person now,
// for a token or code of theirs issued at issuedAt (Unix seconds): the
// person must exist and be enabled; what their roles grant (with the
// scope_implies rules) is kept, as are the identity scopes (any person may
// consent to those); and, unless the client skips consent, their consent
// must stand, must not have been withdrawn since issuedAt
// (consenting again does not revive what was issued before), and bounds
// the scopes. The one rule for a token held for a person, applied when it
// is issued and on every guarded request; every record comes from the
// store's cache.
func (s *Server) personHolds(ctx context.Context, userID string, client storage.Client, wanted scope.Set, issuedAt int64) (scope.Set, error) {
	u, err := s.tokenUser(ctx, userID)
	if err != nil {
		return scope.Set{}, err
	}
	granted, err := s.UserScopes.of(ctx, s.Store, u)
	if err != nil {
		return scope.Set{}, err
	}
	held := s.ScopeRules.PersonAllowed(granted, wanted)
	if client.SkipsConsent() {
		return held, nil
	}
	c, err := s.Store.GetConsent(ctx, userID, client.ID)
	switch {
	case errors.Is(err, storage.ErrNotFound), err == nil && !c.Granted():
		return scope.Set{}, refusedNoConsent
	case err != nil:
		return scope.Set{}, err
	case !c.TokensRevokedAt.IsZero() && issuedAt <= c.TokensRevokedAt.Unix():
		return scope.Set{}, refusedConsentCut
	}
	return held.IntersectList(c.Scopes), nil
}

// UserAllows returns the scopes of wanted that the user's roles grant now,
// with the scope_implies rules, and the identity scopes any person may
// consent to (scope.IsIdentity), in wanted's order: the rule HeldScopes
// applies on every request (scope.Rules.PersonAllowed, its one home),
// applied once to what an app asks for.
func (s *Server) UserAllows(ctx context.Context, u storage.User, wanted []string) ([]string, error) {
	granted, err := s.UserScopes.of(ctx, s.Store, u)
	if err != nil {
		return nil, err
	}
	return s.ScopeRules.PersonAllowed(granted, scope.NewSet(wanted)).Strings(), nil
}
