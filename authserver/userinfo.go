package authserver

import (
	"encoding/json"
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/storage"
)

// UserInfoEndpoint is OpenID Connect's UserInfo endpoint (Core §5.3): an
// app presents a person's access token and learns the claims about them
// that the token's scopes allow. The token is checked exactly as a guarded
// route checks it (Server.Guard: signature, revocation, the client's state
// and addresses, and for a person's token personHolds: the person exists
// and is enabled, their consent stands), so a disabled person or a
// withdrawn consent is refused here as on every API.
type UserInfoEndpoint struct {
	server *Server
	policy *Policy
}

// newUserInfoEndpoint returns the endpoint; its refusals are logged under
// the server's logger, at debug level as the guard's.
func (s *Server) newUserInfoEndpoint() *UserInfoEndpoint {
	return &UserInfoEndpoint{server: s, policy: &Policy{Realm: DefaultRealm, Mode: scope.All, Logger: s.Logger.Named("userinfo")}}
}

// Refusals of UserInfo once the token itself was accepted.
var (
	// userInfoNotAPerson refuses a client's own token: it speaks for no
	// person, and no scope would change that, so it is an invalid token
	// here (401) rather than a scope missing (403).
	userInfoNotAPerson = oauth.InvalidToken("the token is a client's own, not held for a person")
	// userInfoNoOpenID is Core §5.3.3's insufficient_scope: the person did
	// not grant openid to the app.
	userInfoNoOpenID = oauth.InsufficientScope("the token lacks the scope UserInfo needs: openid")
)

// ServeHTTP answers GET and POST (Core §5.3.1) with the person's claims.
// The token is read from the Authorization header only, as on guarded
// routes; a form body is not read.
func (e *UserInfoEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := e.server
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		oauth.MethodNotAllowed("UserInfo is read with GET or POST").Write(w)
		return
	}
	d, err := s.Guard(r, e.policy)
	s.exposeUserInfo(w, r, d.Claims)
	if err != nil {
		e.unavailable(w, err)
		return
	}
	if d.Refusal != nil {
		d.Refusal.Write(w)
		return
	}
	held, _ := scope.ParseSet(d.Scope) // written by the guard from a verified token
	switch {
	case !forUser(d.Claims):
		e.policy.challenge(r, "not_a_person", userInfoNotAPerson, "").Refusal.Write(w)
		return
	case !held.Has(scope.OpenID):
		e.policy.challenge(r, "scope", userInfoNoOpenID, scope.OpenID).Refusal.Write(w)
		return
	}
	u, err := s.tokenUser(r.Context(), d.Claims.Subject)
	var refusal *TokenRefusal
	switch {
	case errors.As(err, &refusal): // deleted or disabled since the guard looked
		e.policy.challenge(r, refusal.Reason, oauth.InvalidToken(refusal.Description), "").Refusal.Write(w)
		return
	case err != nil:
		e.unavailable(w, err)
		return
	}
	body, err := json.Marshal(userInfoClaims(u, held))
	if err != nil {
		e.unavailable(w, err)
		return
	}
	oauth.NoStoreJSON(w.Header())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// unavailable answers a fault of the gateway (its store), never the
// caller's: 503, to be retried.
func (e *UserInfoEndpoint) unavailable(w http.ResponseWriter, err error) {
	e.policy.Logger.Error("answering UserInfo failed", zap.Error(err))
	w.Header().Set("Retry-After", "1")
	oauth.TemporarilyUnavailable("the claims cannot be read just now; retry").Write(w)
}

// userInfoClaims returns the claims about u that the scopes held allow
// (Core §5.4): sub always; name, given_name, family_name,
// preferred_username and updated_at for profile; email and email_verified
// for email. Empty fields are left out, as Core §5.3.2 asks; the
// preferred username is the username when the person set none.
func userInfoClaims(u storage.User, held scope.Set) map[string]any {
	claims := map[string]any{"sub": u.ID}
	put := func(name, value string) {
		if value != "" {
			claims[name] = value
		}
	}
	if held.Has(scope.Profile) {
		put("name", u.Name)
		put("given_name", u.GivenName)
		put("family_name", u.FamilyName)
		preferred := u.PreferredUsername
		if preferred == "" {
			preferred = u.Username
		}
		put("preferred_username", preferred)
		if !u.UpdatedAt.IsZero() {
			claims["updated_at"] = u.UpdatedAt.Unix()
		}
	}
	if held.Has(scope.Email) && u.Email != "" {
		claims["email"] = u.Email
		claims["email_verified"] = u.EmailVerified
	}
	return claims
}
