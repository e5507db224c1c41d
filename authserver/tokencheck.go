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
// not in the revoked-token set, its client exists, is enabled and has not
// revoked all its tokens since it was issued, and, for a token an app holds
// for a person (sub is not the client), that person exists and is enabled
// and their consent to the client stands and was not withdrawn since the
// token was issued (unless the client skips consent).
// Route policy (audience, scopes, addresses) is the caller's. A refused token is a *TokenRefusal; any other
// error is a fault of the gateway. Nothing here touches the disk: keys,
// revocations and (cached) clients are in memory.
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
	if forUser(claims) {
		if _, err := s.tokenUser(ctx, claims.Subject); err != nil {
			return nil, storage.Client{}, err
		}
		if err := s.consentCovers(ctx, claims, client); err != nil {
			return nil, storage.Client{}, err
		}
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
// client still holds and, for a token held for a person, that the person's
// roles still grant (with the scope_implies rules, so a role granting a
// scope that implies "*" grants everything) and that they consented to
// (see personScopes). Narrowing a client's scopes, a role's scopes, a
// person's roles or a consent thus holds on the next request, as disabling
// does. When nothing was taken away it returns the token's own
// set without allocating.
func (s *Server) HeldScopes(ctx context.Context, claims *token.Claims, client storage.Client) (scope.Set, error) {
	held := claims.Scopes.Intersect(s.ClientScopes.of(client))
	if !forUser(claims) {
		return held, nil
	}
	u, err := s.tokenUser(ctx, claims.Subject)
	if err != nil {
		return scope.Set{}, err
	}
	return s.personScopes(ctx, u, client, held)
}

// personScopes narrows wanted to what client may hold for person u now:
// what u's roles grant (with the scope_implies rules) and, unless the
// client skips consent, what u consented to. The one rule for a token held
// for a person, applied when it is issued and on every guarded request.
func (s *Server) personScopes(ctx context.Context, u storage.User, client storage.Client, wanted scope.Set) (scope.Set, error) {
	granted, err := s.UserScopes.of(ctx, s.Store, u)
	if err != nil {
		return scope.Set{}, err
	}
	held := s.ScopeRules.Allowed(granted, wanted)
	consent, required, err := s.standingConsent(ctx, u.ID, client)
	if err != nil || !required {
		return held, err
	}
	return held.IntersectList(consent.Scopes), nil
}

// standingConsent returns u's consent to client, or refusedNoConsent when
// there is none or it was withdrawn. required is false, and nothing is
// read, for a client that skips consent. The consent comes from the
// store's cache.
func (s *Server) standingConsent(ctx context.Context, userID string, client storage.Client) (c storage.Consent, required bool, err error) {
	if client.SkipConsent {
		return storage.Consent{}, false, nil
	}
	c, err = s.Store.GetConsent(ctx, userID, client.ID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return storage.Consent{}, true, refusedNoConsent
	case err != nil:
		return storage.Consent{}, true, err
	case !c.Granted():
		return storage.Consent{}, true, refusedNoConsent
	}
	return c, true, nil
}

// consentCovers checks that the consent a token held for a person rests
// on stands and was not withdrawn since the token was issued: withdrawing
// sets TokensRevokedAt, and consenting again later does not revive the
// tokens issued before.
func (s *Server) consentCovers(ctx context.Context, claims *token.Claims, client storage.Client) error {
	c, required, err := s.standingConsent(ctx, claims.Subject, client)
	if err != nil || !required {
		return err
	}
	if !c.TokensRevokedAt.IsZero() && claims.IssuedAt <= c.TokensRevokedAt.Unix() {
		return refusedConsentCut
	}
	return nil
}

// UserAllows returns the scopes of wanted that the user's roles grant now,
// with the scope_implies rules, in wanted's order: the rule HeldScopes
// applies on every request, applied once to what an app asks for.
func (s *Server) UserAllows(ctx context.Context, u storage.User, wanted []string) ([]string, error) {
	granted, err := s.UserScopes.of(ctx, s.Store, u)
	if err != nil {
		return nil, err
	}
	return s.ScopeRules.Allowed(granted, scope.NewSet(wanted)).Strings(), nil
}
