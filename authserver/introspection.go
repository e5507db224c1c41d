package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/token"
)

// introspection is an RFC 7662 answer for an active token.
type introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	ExpiresAt int64    `json:"exp,omitempty"`
	IssuedAt  int64    `json:"iat,omitempty"`
	NotBefore int64    `json:"nbf,omitempty"`
	Subject   string   `json:"sub,omitempty"`
	Audience  []string `json:"aud,omitempty"`
	Issuer    string   `json:"iss,omitempty"`
	JWTID     string   `json:"jti,omitempty"`
}

// IntrospectionEndpoint is the token introspection endpoint (RFC 7662), for
// clients with the introspect feature. A token is active only if the guard
// would accept it as a token (route policy aside): valid, unrevoked, and its
// client present and enabled.
type IntrospectionEndpoint struct{ *Server }

// ServeHTTP answers an introspection request.
func (e IntrospectionEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := e.Server
	req, client, oerr := s.authenticate(w, r, oauth.ParseClientRequest, secretRequired)
	if oerr != nil {
		s.refuse(w, r, req, oerr)
		return
	}
	if !slices.Contains(client.Features, registry.FeatureIntrospect) {
		e := oauth.UnauthorizedClient("the client may not introspect tokens")
		e.Status = http.StatusForbidden
		s.refuse(w, r, req, e)
		return
	}
	raw := req.Form.Get("token")
	if raw == "" {
		s.refuse(w, r, req, oauth.InvalidRequest("missing token"))
		return
	}
	answer := introspection{Active: false}
	claims, held, err := s.checkAndHold(r.Context(), raw)
	var refusal *TokenRefusal
	switch {
	case errors.As(err, &refusal):
	case err != nil:
		s.Logger.Error("introspection failed", zap.Error(err))
		oauth.TemporarilyUnavailable("introspection is unavailable; retry").Write(w)
		return
	default:
		answer = introspection{
			Active:    true,
			Scope:     held.String(),
			ClientID:  claims.ClientID,
			TokenType: "Bearer",
			ExpiresAt: claims.ExpiresAt,
			IssuedAt:  claims.IssuedAt,
			NotBefore: claims.NotBefore,
			Subject:   claims.Subject,
			Audience:  claims.Audience,
			Issuer:    claims.Issuer,
			JWTID:     claims.JWTID,
		}
	}
	body, _ := json.Marshal(answer)
	h := w.Header()
	oauth.NoStore(h)
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// checkAndHold is CheckToken and HeldScopes: a token and what it admits now.
func (s *Server) checkAndHold(ctx context.Context, raw string) (*token.Claims, scope.Set, error) {
	claims, client, err := s.CheckToken(ctx, raw)
	if err != nil {
		return nil, scope.Set{}, err
	}
	held, err := s.HeldScopes(ctx, claims, client)
	return claims, held, err
}
