package authserver

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/grant"
	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/token"
)

// Refusals of a refresh token, invalid_grant (RFC 6749 §5.2) but for a
// wider scope. None names the token.
var (
	refreshMissing    = oauth.InvalidRequest("missing refresh_token")
	refreshUnknown    = oauth.InvalidGrant("the refresh token is unknown, expired or revoked")
	refreshOther      = oauth.InvalidGrant("the refresh token was not issued to this client")
	refreshReplayed   = oauth.InvalidGrant("the refresh token was used already; the grant and its tokens are revoked")
	refreshPersonGone = oauth.InvalidGrant("the grant ended: the person no longer exists, is disabled, withdrew consent or no longer holds a scope it gave; sign in again")
	refreshClientCut  = oauth.InvalidGrant("the grant ended: the client's tokens were revoked")
	refreshWider      = oauth.InvalidScope("a refresh may ask for the scopes first granted or fewer, never more")
)

// errUnknownRefresh aborts a family update whose token is not one of the
// family's: nothing is written.
var errUnknownRefresh = errors.New("refresh token not of the family")

// getsRefreshTokens reports whether the client gets refresh tokens with
// its authorization codes: when it is registered for the refresh_token
// grant (RFC 7591 grant_types), the one switch an operator or a client
// registering itself sets.
func getsRefreshTokens(client storage.Client) bool {
	return grant.Allowed(client, grant.RefreshToken) == nil
}

// codeFamilyID is the ID of the refresh token family an authorization code
// starts: derived from the code, so that a reuse of the code, which must
// revoke everything issued from it (RFC 6749 §4.1.2), finds the family
// without storing it with the code.
func codeFamilyID(code string) string {
	sum := sha256.Sum256([]byte("scopegate refresh family\x00" + code))
	return base64.RawURLEncoding.EncodeToString(sum[:familyIDBytes])
}

// refreshTTL is how long client's refresh token families live from their
// first token: its own lifetime or the server's, bounded by the maximum.
func (s *Server) refreshTTL(client storage.Client) time.Duration {
	ttl := time.Duration(s.Refresh.TTL)
	if client.RefreshTokenTTL > 0 {
		ttl = client.RefreshTokenTTL
	}
	return min(ttl, time.Duration(s.Refresh.MaxTTL))
}

// startFamily stores the refresh token family a redeemed code starts and
// returns its first token. The family holds what the code granted (held,
// the scopes of the access token it gives), which bounds every refresh.
func (s *Server) startFamily(ctx context.Context, code string, ac storage.AuthCode, client storage.Client, is issuance) (string, *oauth.Error) {
	now := s.Now()
	f := storage.RefreshFamily{
		ID:        codeFamilyID(code),
		ClientID:  client.ID,
		UserID:    ac.UserID,
		Scopes:    strings.Fields(is.Scope),
		Resources: ac.Resources,
		AuthTime:  ac.AuthTime,
		CreatedAt: now,
		ExpiresAt: now.Add(s.refreshTTL(client)),
	}
	raw, err := newRefreshToken(f.ID)
	if err != nil {
		s.Logger.Error("making a refresh token failed", zap.Error(err))
		return "", oauth.ServerError("the refresh token could not be issued")
	}
	f.Current = []string{CodeID(raw)}
	f.AccessTokens = []storage.FamilyToken{{JTI: is.JWTID, ExpiresAt: now.Add(s.accessTokenTTL(client))}}
	if err := s.Store.CreateRefreshFamily(ctx, f); err != nil {
		s.Logger.Error("storing a refresh token family failed", zap.String("client_id", client.ID), zap.Error(err))
		return "", oauth.TemporarilyUnavailable("the refresh token could not be stored; retry with a new code")
	}
	return raw, nil
}

// refreshToken is the refresh_token grant (RFC 6749 §6). The client
// authenticates as for any grant (a public one by its client_id); the
// token names its family, whose person must still hold what is asked for
// (personHolds, as at the code's redemption and on every guarded request);
// then the use rotates the token (storage.UseRefresh): the answer carries
// a new refresh token, and the one presented is spent. A spent token
// presented again after the grace period revokes the family and every
// access token it gave (RFC 9700 §4.14.2).
func (s *Server) refreshToken(w http.ResponseWriter, r *http.Request, req *oauth.TokenRequest, client storage.Client) {
	if oerr := grant.Allowed(client, grant.RefreshToken); oerr != nil {
		s.refuse(w, r, req, oerr)
		return
	}
	raw := req.Form.Get("refresh_token")
	if raw == "" {
		s.refuse(w, r, req, refreshMissing)
		return
	}
	f, oerr := s.refreshFamily(r.Context(), raw, client)
	if oerr != nil {
		s.refuse(w, r, req, oerr)
		return
	}
	is, oerr := s.refreshIssuance(r.Context(), f, client, req)
	if oerr != nil {
		s.refuse(w, r, req, oerr)
		return
	}
	is.RefreshToken, oerr = s.rotate(r.Context(), f, raw, client, is.JWTID)
	if oerr != nil {
		s.refuse(w, r, req, oerr)
		return
	}
	s.issue(w, r, req, client, is)
}

// refreshFamily returns the live family a presented token names, if it is
// this client's.
func (s *Server) refreshFamily(ctx context.Context, raw string, client storage.Client) (storage.RefreshFamily, *oauth.Error) {
	id, ok := RefreshFamilyID(raw)
	if !ok {
		return storage.RefreshFamily{}, refreshUnknown
	}
	f, err := s.Store.GetRefreshFamily(ctx, id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return storage.RefreshFamily{}, refreshUnknown
	case err != nil:
		s.Logger.Error("reading a refresh token family failed", zap.Error(err))
		return storage.RefreshFamily{}, oauth.TemporarilyUnavailable("the refresh token could not be checked; retry")
	case f.ClientID != client.ID:
		return storage.RefreshFamily{}, refreshOther
	case !f.Live(s.Now()):
		return storage.RefreshFamily{}, refreshUnknown
	}
	return f, nil
}

// refreshIssuance decides the access token a refresh gives: the scopes
// asked for (all the family's when the request names none), which must be
// among the family's, and which the person must still hold in full; else
// the family ends, and the app must send the person through the
// authorization endpoint again, where they see what it gets now. The
// client's revoke-all moment ends it too.
func (s *Server) refreshIssuance(ctx context.Context, f storage.RefreshFamily, client storage.Client, req *oauth.TokenRequest) (issuance, *oauth.Error) {
	wanted := f.Scopes
	if req.Scopes != nil {
		if len(scope.Subset(req.Scopes, f.Scopes)) > 0 {
			return issuance{}, refreshWider
		}
		wanted = req.Scopes
	}
	if !client.TokensRevokedAt.IsZero() && f.CreatedAt.Unix() <= client.TokensRevokedAt.Unix() {
		s.endFamily(ctx, f.ID, "the client's tokens were revoked")
		return issuance{}, refreshClientCut
	}
	wantedSet := scope.NewSet(wanted)
	held, err := s.personHolds(ctx, f.UserID, client, wantedSet.Intersect(s.ClientScopes.of(client)), f.CreatedAt.Unix())
	var tr *TokenRefusal
	switch {
	case errors.As(err, &tr):
		s.endFamily(ctx, f.ID, tr.Reason)
		return issuance{}, refreshPersonGone
	case err != nil:
		s.Logger.Error("checking a refresh token's person failed", zap.Error(err))
		return issuance{}, oauth.TemporarilyUnavailable("the refresh token could not be checked; retry")
	case held.Len() < wantedSet.Len():
		s.endFamily(ctx, f.ID, "scope_no_longer_held")
		return issuance{}, refreshPersonGone
	}
	audience, oerr := grant.Audience(f.Resources, client, s.Issuer)
	if oerr != nil {
		return issuance{}, oerr
	}
	is := issuance{Subject: f.UserID, Audience: audience, Scope: held.String(), JWTID: token.NewJTI()}
	if !f.AuthTime.IsZero() {
		is.AuthTime = f.AuthTime.Unix()
	}
	if held.Has(scope.OpenID) {
		// A fresh ID token (Core §12.2): the original auth_time, no nonce.
		is.IDToken = &idTokenRequest{}
	}
	return is, nil
}

// rotate spends the presented token and records the new one and the
// access token jti, in one write, and returns the new token. A replay
// revokes the family and its access tokens.
func (s *Server) rotate(ctx context.Context, f storage.RefreshFamily, raw string, client storage.Client, jti string) (string, *oauth.Error) {
	next, err := newRefreshToken(f.ID)
	if err != nil {
		s.Logger.Error("making a refresh token failed", zap.Error(err))
		return "", oauth.ServerError("the refresh token could not be issued")
	}
	now := s.Now()
	rotation := storage.RefreshRotation{
		Hash:        CodeID(next),
		AccessToken: storage.FamilyToken{JTI: jti, ExpiresAt: now.Add(s.accessTokenTTL(client))},
	}
	var use storage.RefreshUse
	stored, err := s.Store.UpdateRefreshFamily(ctx, f.ID, func(cur storage.RefreshFamily) (storage.RefreshFamily, error) {
		var changed storage.RefreshFamily
		changed, use = storage.UseRefresh(cur, CodeID(raw), now, s.Refresh.GraceOrDefault(), rotation)
		if use == storage.RefreshUnknown {
			return cur, errUnknownRefresh
		}
		return changed, nil
	})
	switch {
	case errors.Is(err, errUnknownRefresh), errors.Is(err, storage.ErrNotFound):
		return "", refreshUnknown
	case err != nil:
		s.Logger.Error("rotating a refresh token failed", zap.String("client_id", client.ID), zap.Error(err))
		return "", oauth.TemporarilyUnavailable("the refresh token could not be rotated; retry")
	case use == storage.RefreshReplayed:
		s.Logger.Warn("refresh token replayed: its grant and tokens are revoked", zap.String("client_id", client.ID), zap.String("user_id", f.UserID))
		s.revokeFamilyTokens(ctx, stored)
		if err := s.Store.DeleteRefreshFamily(ctx, f.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			s.Logger.Error("deleting a replayed refresh token family failed", zap.Error(err))
		}
		return "", refreshReplayed
	}
	return next, nil
}

// endFamily ends a refresh token family: marked replayed first, in one
// write, so that no rotation slips in between, then every access token it
// gave revoked, then the record deleted. why is a label for the log. A
// family already gone is no error; a failure is logged, as the family is
// refused anyway by the check that called this (personHolds, a cutoff).
func (s *Server) endFamily(ctx context.Context, familyID, why string) {
	now := s.Now()
	ended, err := s.Store.UpdateRefreshFamily(ctx, familyID, func(f storage.RefreshFamily) (storage.RefreshFamily, error) {
		f.ReplayedAt, f.Current = now, nil
		return f, nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		return
	}
	if err != nil {
		s.Logger.Error("ending a refresh token family failed", zap.String("reason", why), zap.Error(err))
		return
	}
	s.revokeFamilyTokens(ctx, ended)
	if err := s.Store.DeleteRefreshFamily(ctx, familyID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.Logger.Error("deleting an ended refresh token family failed", zap.Error(err))
	}
	s.Logger.Info("refresh token family ended", zap.String("client_id", ended.ClientID), zap.String("user_id", ended.UserID), zap.String("reason", why))
}

// revokeFamilyTokens revokes the unexpired access tokens a family gave,
// as the revocation endpoint revokes one.
func (s *Server) revokeFamilyTokens(ctx context.Context, f storage.RefreshFamily) {
	now := s.Now()
	for _, t := range f.AccessTokens {
		if !now.Before(t.ExpiresAt.Add(s.Leeway)) {
			continue
		}
		if err := s.Revoked.Add(ctx, t.JTI, f.ClientID, t.ExpiresAt.Add(s.Leeway)); err != nil {
			s.Logger.Error("revoking a refresh token family's access token failed", zap.String("client_id", f.ClientID), zap.Error(err))
		}
	}
}

// endPersonFamilies ends the person's refresh token families with the
// client: a withdrawn consent and an administrator's revocation of the
// grant come here.
func (s *Server) endPersonFamilies(ctx context.Context, userID, clientID, why string) (int, error) {
	families, err := s.Store.ListUserRefreshFamilies(ctx, userID)
	if err != nil {
		return 0, err
	}
	ended := 0
	for _, f := range families {
		if f.ClientID == clientID {
			s.endFamily(ctx, f.ID, why)
			ended++
		}
	}
	return ended, nil
}
