package authserver

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/throttle"
)

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

// RevocationEndpoint is the token revocation endpoint (RFC 7009): a client
// revokes one of its own access tokens, or a refresh token, which ends its
// family and every access token the family gave (RFC 7009 §2.1). The revocation joins the
// RevokedTokens set, survives restarts and is forgotten once the token would
// have expired anyway.
type RevocationEndpoint struct{ *Server }

// ServeHTTP answers a revocation request. A public client is identified by
// its client_id, as at the token endpoint (RFC 7009 §2.1 asks
// authentication of confidential clients only): an SPA or a native app must
// be able to revoke the refresh token it holds when the person signs out,
// and the token it sends is its proof.
func (e RevocationEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := e.Server
	req, client, oerr := s.authenticate(w, r, oauth.ParseClientRequest, publicAllowed)
	if oerr == nil {
		oerr = admitOrigin(w, r, client)
	}
	if oerr != nil {
		s.refuse(w, r, req, oerr)
		return
	}
	raw := req.Form.Get("token")
	if raw == "" {
		s.refuse(w, r, req, oauth.InvalidRequest("missing token"))
		return
	}
	oauth.NoStore(w.Header())
	if familyID, ok := RefreshFamilyID(raw); ok {
		s.revokeRefreshToken(w, r, req, client, familyID, raw)
		return
	}
	claims, err := s.verifier.Verify(s.KeySet(), raw)
	if err != nil {
		// RFC 7009 §2.2: an invalid or expired token needs no revoking, and
		// the answer is the same 200.
		w.WriteHeader(http.StatusOK)
		return
	}
	if claims.ClientID != client.ID {
		s.refuse(w, r, req, oauth.UnauthorizedClient("the token was not issued to this client"))
		return
	}
	if s.Revoked.Has(claims.JWTID) {
		// Already revoked: nothing new to store, nothing to count.
		w.WriteHeader(http.StatusOK)
		return
	}
	now := s.Now()
	// The limit is the authenticated client's own: its revocations grow the
	// store, nobody else's count against it.
	limitKey := throttle.Key{Account: client.ID}
	if wait, blocked := s.revokeLimit.Blocked(limitKey, now); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)))
		s.refuse(w, r, req, oauth.TooManyAttempts("this client has revoked "+strconv.Itoa(revocationsPerWindow)+
			" tokens in the last "+revocationWindow.String()+"; retry later"))
		return
	}
	s.revokeLimit.Fail(limitKey, now) // counts a revocation, not a failure
	err = s.Revoked.Add(r.Context(), claims.JWTID, claims.ClientID, time.Unix(claims.ExpiresAt, 0))
	if err != nil {
		s.Logger.Error("storing a revocation failed", zap.String("client_id", client.ID), zap.Error(err))
		oauth.TemporarilyUnavailable("the token could not be revoked; retry").Write(w)
		return
	}
	s.Logger.Info("token revoked", zap.String("client_id", client.ID), zap.String("jti", claims.JWTID))
	w.WriteHeader(http.StatusOK)
}

// revokeRefreshToken ends the family of a presented refresh token of the
// client's, and with it the access tokens it gave. The token must be one
// of the family's, current or rotated: the family ID alone, which is not
// secret enough, revokes nothing. An unknown token gets the same 200 as an
// invalid access token (RFC 7009 §2.2). Revoking an access token, on the
// other hand, leaves its family alone: the token carries no family, and
// RFC 7009 §2.1 leaves that choice to the server.
func (s *Server) revokeRefreshToken(w http.ResponseWriter, r *http.Request, req *oauth.TokenRequest, client storage.Client, familyID, raw string) {
	f, err := s.Store.GetRefreshFamily(r.Context(), familyID)
	switch {
	case errors.Is(err, storage.ErrNotFound) || err == nil && !f.Holds(CodeID(raw)):
		w.WriteHeader(http.StatusOK)
		return
	case err != nil:
		s.Logger.Error("reading a refresh token family failed", zap.Error(err))
		oauth.TemporarilyUnavailable("the token could not be revoked; retry").Write(w)
		return
	case f.ClientID != client.ID:
		s.refuse(w, r, req, oauth.UnauthorizedClient("the token was not issued to this client"))
		return
	}
	s.endFamily(r.Context(), familyID, "revoked by its client")
	w.WriteHeader(http.StatusOK)
}
