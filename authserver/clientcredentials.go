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
	s.issue(w, r, req, client, issuance{
		Subject:  client.ID,
		Audience: decision.Audience,
		Scope:    scope.Join(decision.Scopes),
		JWTID:    token.NewJTI(),
	})
}

// issuance is what a grant decided a token holds; issue adds the rest.
type issuance struct {
	// Subject is the client's own ID, or the person's user ID in a token an
	// app holds for them.
	Subject  string
	Audience []string
	Scope    string
	JWTID    string
	// AuthTime is when the person signed in; zero in a client's own token.
	AuthTime int64
	// IDToken, when set, asks for an ID token beside the access token.
	IDToken *idTokenRequest
	// RefreshToken is given beside the access token; empty for none.
	RefreshToken string
	// Actor is the client acting for Subject in a token from a token
	// exchange (the "act" claim); empty otherwise.
	Actor string
	// ExpiresBy caps the token's exp (Unix seconds): a token from a token
	// exchange outlives not the one it was exchanged for. Zero: no cap.
	ExpiresBy int64
	// TokenType is the response's issued_token_type (RFC 8693 §2.2.1);
	// empty outside a token exchange.
	TokenType string
}

// issue mints a token for client as every grant does (issuer, lifetime,
// the client's extra claims, the revoke-all moment) and answers the token
// request with it, or with why not.
func (s *Server) issue(w http.ResponseWriter, r *http.Request, req *oauth.TokenRequest, client storage.Client, is issuance) {
	now := s.Now()
	if !client.TokensRevokedAt.IsZero() && now.Unix() <= client.TokensRevokedAt.Unix() {
		// A token issued in the second of a revoke-all would carry an iat
		// that the guard refuses; ask the client to come back a moment later.
		w.Header().Set("Retry-After", "1")
		s.refuse(w, r, req, oauth.TemporarilyUnavailable("the client's tokens were revoked just now; retry in a second"))
		return
	}
	ttl := s.accessTokenTTL(client)
	if is.ExpiresBy > 0 {
		ttl = min(ttl, time.Unix(is.ExpiresBy, 0).Sub(now))
	}
	claims := &token.Claims{
		Issuer:    s.Issuer,
		Subject:   is.Subject,
		Audience:  token.Audience(is.Audience),
		ExpiresAt: now.Add(ttl).Unix(),
		IssuedAt:  now.Unix(),
		AuthTime:  is.AuthTime,
		JWTID:     is.JWTID,
		ClientID:  client.ID,
		Scope:     is.Scope,
		Actor:     is.Actor,
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
	idToken, err := s.idToken(client, is, claims, signed)
	if err != nil {
		s.Logger.Error("signing an ID token failed", zap.String("client_id", client.ID), zap.Error(err))
		oauth.ServerError("the token could not be issued").Write(w)
		return
	}
	s.writeToken(w, client, tokenResponse{
		AccessToken:  signed,
		TokenType:    "Bearer",
		ExpiresIn:    int64(ttl / time.Second),
		Scope:        claims.Scope,
		IDToken:      idToken,
		RefreshToken: is.RefreshToken,
		IssuedType:   is.TokenType,
	}, now)
}
