package authserver

import (
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/grant"
	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/token"
)

// clientCredentials is the client_credentials grant (RFC 6749 §4.4): the
// client asks for a token for itself. The rules (grant allowed, scopes,
// resources) are package grant's; this mints and answers. There is no
// refresh token: a client_credentials client simply asks again.
func (s *Server) clientCredentials(w http.ResponseWriter, r *http.Request, req *oauth.TokenRequest, client storage.Client) {
	decision, oerr := grant.Decide(req, client, s.Issuer)
	if oerr != nil {
		s.refuse(w, r, req, oerr)
		return
	}
	now := s.Now()
	if !client.TokensRevokedAt.IsZero() && now.Unix() <= client.TokensRevokedAt.Unix() {
		// A token issued in the second of a revoke-all would carry an iat
		// that the guard refuses; ask the client to come back a moment later.
		w.Header().Set("Retry-After", "1")
		s.refuse(w, r, req, oauth.TemporarilyUnavailable("the client's tokens were revoked just now; retry in a second"))
		return
	}
	ttl := s.accessTokenTTL(client)
	claims := &token.Claims{
		Issuer:    s.Issuer,
		Subject:   client.ID,
		Audience:  token.Audience(decision.Audience),
		ExpiresAt: now.Add(ttl).Unix(),
		IssuedAt:  now.Unix(),
		JWTID:     token.NewJTI(),
		ClientID:  client.ID,
		Scope:     scope.Join(decision.Scopes),
		Extra:     client.Claims,
	}
	signed, err := s.KeySet().Sign(claims)
	if errors.Is(err, token.ErrTokenTooLarge) {
		// Only a client stored before its metadata was bounded (or an issuer
		// renamed to a longer URL) gets here; the admin API refuses such
		// metadata. Not a server fault: the client may ask for less.
		s.refuse(w, r, req, oauth.InvalidRequest(tooLargeDescription))
		return
	}
	if err != nil {
		s.Logger.Error("signing an access token failed", zap.String("client_id", client.ID), zap.Error(err))
		oauth.ServerError("the token could not be issued").Write(w)
		return
	}
	s.writeToken(w, client, tokenResponse{
		AccessToken: signed,
		TokenType:   "Bearer",
		ExpiresIn:   int64(ttl / time.Second),
		Scope:       claims.Scope,
	}, now)
}
