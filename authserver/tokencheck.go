package authserver

import (
	"context"
	"errors"

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
)

// CheckToken verifies raw (from the verified-token cache when seen before)
// and checks it against the current state: its key is still trusted, it is
// not in the revoked-token set, and its client exists, is enabled and has not
// revoked all its tokens since it was issued. Route policy (audience, scopes,
// addresses) is the caller's. A refused token is a *TokenRefusal; any other
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
	return claims, client, nil
}
