package authserver

import (
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/grant"
	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/password"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/signin"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/token"
)

// Refusals of the password grant. One answer for an unknown username, a
// wrong password and a disabled person, so that the endpoint cannot be
// asked who has an account.
var (
	passwordOff         = oauth.UnsupportedGrantType("the password grant is not enabled on this server")
	passwordMissing     = oauth.InvalidRequest("the password grant needs username and password")
	passwordBad         = oauth.InvalidGrant("the username or password is incorrect")
	passwordNoScopeLeft = oauth.InvalidScope("none of the requested scopes may be delegated by this person")
)

// passwordAttempts is what the password grant counts its attempts with:
// the sign-in page's throttles (signin.Handler.Attempt), so that guessing
// a password here is guessing it there.
type passwordAttempts interface {
	Attempt(addr netip.Addr, username string) signin.Attempt
}

// passwordGrant is the resource owner password credentials grant (RFC 6749
// §4.3), for trusted legacy apps only: RFC 9700 §2.4 forbids it for new
// ones. It is served only where the operator turned it on (attempts is
// nil otherwise: unsupported_grant_type) and only for a confidential client
// that lists it. The password is checked by the registry's SignIn, the
// sign-in page's own check (bounded hashing, equal work for an unknown
// user), under the page's throttles per source and per (username,
// source); every attempt is logged, never with the password. The token is
// held for the person, with the requested scopes the client may have and
// the person's roles grant. The operator who lets an app take passwords
// trusts it as a first-party app: its tokens need no consent record
// (storage.Client.SkipsConsent), and disabling the person ends them.
func (s *Server) passwordGrant(attempts passwordAttempts, w http.ResponseWriter, r *http.Request, req *oauth.TokenRequest, client storage.Client) {
	if attempts == nil {
		s.refuse(w, r, req, passwordOff)
		return
	}
	username, pw := req.Form.Get("username"), req.Form.Get("password")
	req.Form.Del("password") // never logged with the form
	decision, oerr := grant.Decide(req, client, s.Issuer)
	if oerr == nil && (username == "" || pw == "") {
		oerr = passwordMissing
	}
	if oerr != nil {
		s.refuse(w, r, req, oerr)
		return
	}
	now := s.Now()
	attempt := attempts.Attempt(s.ClientAddr(r), username)
	audit := s.Logger.With(zap.String("grant_type", grant.Password), zap.String("client_id", client.ID), zap.String("source", attempt.Source()))
	if wait, blocked := attempt.Blocked(now); blocked {
		audit.Info("password grant throttled", zap.String("username_ref", attempt.UsernameRef()))
		w.Header().Set("Retry-After", strconv.Itoa(max(int(wait/time.Second), 1)))
		s.refuse(w, r, req, oauth.TooManyAttempts("too many failed passwords from this address, or for this username from it; retry later"))
		return
	}
	u, err := s.Registry.SignIn(r.Context(), username, pw)
	switch {
	case errors.Is(err, registry.ErrBadCredentials):
		attempt.Failed(now)
		audit.Info("password grant refused: bad credentials", zap.String("username_ref", attempt.UsernameRef()))
		s.refuse(w, r, req, passwordBad)
		return
	case errors.Is(err, password.ErrBusy), errors.Is(err, storage.ErrUnavailable):
		audit.Warn("password grant unavailable", zap.Error(err))
		w.Header().Set("Retry-After", "2")
		s.refuse(w, r, req, oauth.TemporarilyUnavailable("the password cannot be checked just now; retry"))
		return
	case err != nil:
		audit.Error("password grant failed", zap.Error(err))
		oauth.ServerError("the password could not be checked").Write(w)
		return
	}
	attempt.Succeeded()
	is, oerr := s.passwordIssuance(r, u, decision, now)
	if oerr != nil {
		audit.Info("password grant refused: "+oerr.Description, zap.String("user_id", u.ID))
		s.refuse(w, r, req, oerr)
		return
	}
	audit.Info("password grant issued", zap.String("user_id", u.ID), zap.String("username", u.Username), zap.String("scope", is.Scope))
	s.issue(w, r, req, client, is)
}

// passwordIssuance narrows what the client may have to what the person's
// roles grant, by the authorization code grant's rule (UserAllows). A
// request that asked for scopes and keeps none is invalid_scope (RFC 6749
// §5.2: it exceeds what the resource owner granted).
func (s *Server) passwordIssuance(r *http.Request, u storage.User, decision grant.Decision, now time.Time) (issuance, *oauth.Error) {
	allowed, err := s.UserAllows(r.Context(), u, decision.Scopes)
	if err != nil {
		s.Logger.Error("reading a person's roles failed", zap.String("user_id", u.ID), zap.Error(err))
		return issuance{}, oauth.TemporarilyUnavailable("the request cannot be decided now; retry")
	}
	if len(allowed) == 0 && len(decision.Scopes) > 0 {
		return issuance{}, passwordNoScopeLeft
	}
	return issuance{
		Subject: u.ID, Audience: decision.Audience, Scope: scope.Join(allowed),
		JWTID: token.NewJTI(), AuthTime: now.Unix(),
	}, nil
}
