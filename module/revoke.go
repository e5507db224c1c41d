package module

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/throttle"
)

// featureIntrospect lets a client call the introspection endpoint.
const featureIntrospect = registry.FeatureIntrospect

// Each client may store at most revocationsPerWindow revocations per
// revocationWindow. Every revocation is kept until its token expires (up to
// max_access_token_ttl plus the 5m leeway bound), so without a rate a
// client could mint and revoke tokens until the store and the in-memory set
// the guard reads are full. With it, one client holds at most 10 per minute
// times 95 minutes (950) live revocations at the default maximum lifetime.
// Revoking one's own tokens is rare; a client that needs more can ask the
// operator to revoke all its tokens at once through the admin API.
const (
	revocationsPerWindow = 10
	revocationWindow     = time.Minute
)

// serveRevoke is the revocation endpoint (RFC 7009): a client revokes one of
// its own access tokens. The revocation is stored, survives restarts and is
// forgotten once the token would have expired anyway.
func (iss *Issuer) serveRevoke(w http.ResponseWriter, r *http.Request) {
	req, client, oerr := iss.authenticate(w, r, oauth.ParseClientRequest)
	if oerr != nil {
		iss.refuse(w, r, req, oerr)
		return
	}
	raw := req.Form.Get("token")
	if raw == "" {
		iss.refuse(w, r, req, oauth.InvalidRequest("missing token"))
		return
	}
	oauth.NoStore(w.Header())
	claims, err := iss.app.verifier.Verify(iss.app.keySet(), raw)
	if err != nil {
		// RFC 7009 §2.2: an invalid or expired token needs no revoking, and
		// the answer is the same 200.
		w.WriteHeader(http.StatusOK)
		return
	}
	if claims.ClientID != client.ID {
		iss.refuse(w, r, req, oauth.UnauthorizedClient("the token was not issued to this client"))
		return
	}
	if iss.app.backend.revocations.isRevoked(claims.JWTID) {
		// Already revoked: nothing new to store, nothing to count.
		w.WriteHeader(http.StatusOK)
		return
	}
	now := iss.app.now()
	// The limit is the authenticated client's own: its revocations grow the
	// store, nobody else's count against it.
	limitKey := throttle.Key{Account: client.ID}
	if wait, blocked := iss.app.revokeLimit.Blocked(limitKey, now); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)))
		iss.refuse(w, r, req, oauth.TooManyAttempts("this client has revoked "+strconv.Itoa(revocationsPerWindow)+
			" tokens in the last "+revocationWindow.String()+"; retry later"))
		return
	}
	iss.app.revokeLimit.Fail(limitKey, now) // counts a revocation, not a failure
	err = iss.app.backend.revocations.revokeToken(r.Context(), claims.JWTID, claims.ClientID, time.Unix(claims.ExpiresAt, 0))
	if err != nil {
		iss.logger.Error("storing a revocation failed", zap.String("client_id", client.ID), zap.Error(err))
		oauth.TemporarilyUnavailable("the token could not be revoked; retry").Write(w)
		return
	}
	iss.logger.Info("token revoked", zap.String("client_id", client.ID), zap.String("jti", claims.JWTID))
	w.WriteHeader(http.StatusOK)
}

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

// serveIntrospect is the introspection endpoint (RFC 7662), for clients with
// the introspect feature. A token is active only if the guard would accept
// it as a token (route policy aside): valid, unrevoked, and its client
// present and enabled.
func (iss *Issuer) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	req, client, oerr := iss.authenticate(w, r, oauth.ParseClientRequest)
	if oerr != nil {
		iss.refuse(w, r, req, oerr)
		return
	}
	if !slices.Contains(client.Features, featureIntrospect) {
		e := oauth.UnauthorizedClient("the client may not introspect tokens")
		e.Status = http.StatusForbidden
		iss.refuse(w, r, req, e)
		return
	}
	raw := req.Form.Get("token")
	if raw == "" {
		iss.refuse(w, r, req, oauth.InvalidRequest("missing token"))
		return
	}
	answer := introspection{Active: false}
	claims, _, err := iss.app.checkToken(r.Context(), raw)
	var refusal *tokenRefusal
	switch {
	case errors.As(err, &refusal):
	case err != nil:
		iss.logger.Error("introspection failed", zap.Error(err))
		oauth.TemporarilyUnavailable("introspection is unavailable; retry").Write(w)
		return
	default:
		answer = introspection{
			Active:    true,
			Scope:     claims.Scope,
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
