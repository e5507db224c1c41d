package authserver

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/grant"
	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/token"
)

// Refusals of a code, all invalid_grant (RFC 6749 §5.2). Each says which
// check failed, never the code or the verifier.
var (
	codeMissing      = oauth.InvalidRequest("missing code")
	codeUnknown      = oauth.InvalidGrant("the code is unknown or expired")
	codeReused       = oauth.InvalidGrant("the code was used already; the tokens issued from it are revoked")
	codeOtherClient  = oauth.InvalidGrant("the code was not issued to this client")
	codeRedirect     = oauth.InvalidGrant("redirect_uri does not match the authorization request")
	codeVerifier     = oauth.InvalidGrant("code_verifier does not match the code_challenge")
	codeNoVerifier   = oauth.InvalidGrant("code_verifier is required: the authorization request sent a code_challenge")
	codeNoChallenge  = oauth.InvalidGrant("code_verifier was sent but the authorization request had no code_challenge")
	codeWithoutPKCE  = oauth.InvalidGrant("the client must use PKCE and the code was issued without a code_challenge")
	codeUser         = oauth.InvalidGrant("the person the code was issued for no longer exists or is disabled")
	codeNoConsent    = oauth.InvalidGrant("the person's consent to this client was withdrawn")
	codeNoScopesLeft = oauth.InvalidGrant("none of the scopes the code grants are held by the person and the client any more")
)

// authorizationCode is the authorization_code grant (RFC 6749 §4.1.3, PKCE
// RFC 7636 §4.6): the client exchanges the code the authorization endpoint
// gave the person's browser for a token held for that person. The code is
// redeemed (marked used) before anything else is checked, so that a code
// presented with a wrong client, redirect_uri or verifier is spent too
// (RFC 9700 §4.5). Whether the person's session is still live is not
// asked: the code itself is the proof that they signed in and approved,
// issued under 60 seconds ago; auth_time says when.
func (s *Server) authorizationCode(w http.ResponseWriter, r *http.Request, req *oauth.TokenRequest, client storage.Client) {
	if oerr := grant.Allowed(client, grant.AuthorizationCode); oerr != nil {
		s.refuse(w, r, req, oerr)
		return
	}
	code := req.Form.Get("code")
	if code == "" {
		s.refuse(w, r, req, codeMissing)
		return
	}
	// The token's JTI is recorded with the redemption, in one write, so
	// that a reuse finds it to revoke however soon it comes, even before
	// the token is written.
	jti := token.NewJTI()
	ac, oerr := s.redeemCode(r.Context(), code, jti)
	if oerr == nil {
		oerr = codeBinding(ac, client, req)
	}
	if oerr != nil {
		s.refuse(w, r, req, oerr)
		return
	}
	is, oerr := s.codeIssuance(r.Context(), ac, client, req, jti)
	if oerr == nil && getsRefreshTokens(client) {
		is.RefreshToken, oerr = s.startFamily(r.Context(), code, ac, client, is)
	}
	if oerr != nil {
		s.refuse(w, r, req, oerr)
		return
	}
	s.issue(w, r, req, client, is)
}

// redeemCode marks the code used, recording jti as the token it gives, and
// returns its record. A code used before is refused, and every token issued
// from it revoked (RFC 6749 §4.1.2), the refresh token family it started
// with its tokens: whoever presents it twice, one of the two is not the
// client.
func (s *Server) redeemCode(ctx context.Context, code, jti string) (storage.AuthCode, *oauth.Error) {
	now := s.Now()
	ac, err := s.Store.RedeemAuthCode(ctx, CodeID(code), now, jti)
	switch {
	case errors.Is(err, storage.ErrCodeReused):
		s.revokeCodeTokens(ctx, ac)
		s.endFamily(ctx, codeFamilyID(code), "its authorization code was used again")
		return storage.AuthCode{}, codeReused
	case errors.Is(err, storage.ErrNotFound):
		return storage.AuthCode{}, codeUnknown
	case err != nil:
		s.Logger.Error("redeeming an authorization code failed", zap.Error(err))
		return storage.AuthCode{}, oauth.TemporarilyUnavailable("the code could not be redeemed; retry")
	}
	return ac, nil
}

// revokeCodeTokens revokes the tokens issued from a reused code, as the
// revocation endpoint revokes one. Their exp is not stored with the code;
// none outlives the longest lifetime from now, so the revocation is kept
// that long.
func (s *Server) revokeCodeTokens(ctx context.Context, ac storage.AuthCode) {
	until := s.Now().Add(s.MaxAccessTokenTTL)
	for _, jti := range ac.TokenIDs {
		if err := s.Revoked.Add(ctx, jti, ac.ClientID, until); err != nil {
			s.Logger.Error("revoking a reused code's token failed", zap.String("client_id", ac.ClientID), zap.Error(err))
			continue
		}
		s.Logger.Info("token revoked: its authorization code was used again", zap.String("client_id", ac.ClientID), zap.String("jti", jti))
	}
}

// codeBinding checks that the code is this client's, for this
// redirect_uri, and that the verifier answers its challenge (RFC 7636
// §4.6). A verifier without a challenge is refused too: the client believes
// it used PKCE and the code was issued without (RFC 9700 §4.8.2).
func codeBinding(ac storage.AuthCode, client storage.Client, req *oauth.TokenRequest) *oauth.Error {
	verifier := req.Form.Get("code_verifier")
	switch {
	case ac.ClientID != client.ID:
		return codeOtherClient
	case req.Form.Get("redirect_uri") != ac.RedirectURI:
		return codeRedirect
	case ac.CodeChallenge == "" && verifier != "":
		return codeNoChallenge
	case ac.CodeChallenge == "" && (client.Public() || !client.PKCEOptional):
		return codeWithoutPKCE
	case ac.CodeChallenge == "":
		return nil
	case verifier == "":
		return codeNoVerifier
	case !oauth.VerifyPKCE(ac.CodeChallenge, ac.CodeChallengeMethod, verifier):
		return codeVerifier
	}
	return nil
}

// codeIssuance decides the token a redeemed code gives: held for its
// person, who must still exist and be enabled, with the code's scopes
// narrowed to what the client, the person's roles and their consent hold
// now, and an aud from the code's resources checked against the client's
// audience now. Its JTI is jti, recorded at redemption.
func (s *Server) codeIssuance(ctx context.Context, ac storage.AuthCode, client storage.Client, req *oauth.TokenRequest, jti string) (issuance, *oauth.Error) {
	wanted := scope.NewSet(ac.Scopes).Intersect(s.ClientScopes.of(client))
	held, err := s.personHolds(ctx, ac.UserID, client, wanted, ac.CreatedAt.Unix())
	switch {
	case err == refusedUser || err == refusedUserOff:
		return issuance{}, codeUser
	case err != nil:
		return issuance{}, s.codeRefusal(err, codeNoConsent)
	}
	if held.Len() == 0 && len(ac.Scopes) > 0 {
		return issuance{}, codeNoScopesLeft
	}
	resources, oerr := codeResources(ac, req)
	if oerr != nil {
		return issuance{}, oerr
	}
	audience, oerr := grant.Audience(resources, client, s.Issuer)
	if oerr != nil {
		return issuance{}, oerr
	}
	is := issuance{Subject: ac.UserID, Audience: audience, Scope: held.String(), JWTID: jti}
	if !ac.AuthTime.IsZero() {
		is.AuthTime = ac.AuthTime.Unix()
	}
	if held.Has(scope.OpenID) {
		is.IDToken = &idTokenRequest{Nonce: ac.Nonce}
	}
	return is, nil
}

// codeResources returns the resources the token is for: those of the
// token request when it names any (RFC 8707 §2.2), which must be among the
// code's when the authorization request named some, or else the code's.
func codeResources(ac storage.AuthCode, req *oauth.TokenRequest) ([]string, *oauth.Error) {
	if len(req.Resource) == 0 {
		return ac.Resources, nil
	}
	if len(ac.Resources) > 0 {
		for _, res := range req.Resource {
			if !slices.Contains(ac.Resources, res) {
				return nil, oauth.InvalidTarget("a requested resource was not in the authorization request")
			}
		}
	}
	return req.Resource, nil
}

// codeRefusal answers err from a check of the code's person: refusal for
// a *TokenRefusal (the person or their consent is gone), a retryable error
// for a fault of the store.
func (s *Server) codeRefusal(err error, refusal *oauth.Error) *oauth.Error {
	var tr *TokenRefusal
	if errors.As(err, &tr) {
		return refusal
	}
	s.Logger.Error("checking an authorization code's person failed", zap.Error(err))
	return oauth.TemporarilyUnavailable("the code could not be checked; retry")
}
