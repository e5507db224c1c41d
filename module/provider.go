package module

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
)

func init() {
	caddy.RegisterModule(AuthProvider{})
}

// AuthProvider lets Caddy's `authentication` handler accept Scopegate bearer
// tokens, beside other providers such as http_basic. It applies the same
// policy as scopegate_guard, with the same options (JSON only: Caddy's
// Caddyfile has no directive for the authentication handler's providers).
// An admitted request carries X-Client-Id and X-Scope, the scopegate
// placeholders, and {http.auth.user.id} set to the client ID. A refused one
// gets the guard's WWW-Authenticate challenge; the authentication handler
// then answers 401 (it knows no other status), which handle_errors can
// shape, with {scopegate.refusal} naming the reason.
type AuthProvider struct {
	Guard
}

// CaddyModule returns the Caddy module information.
func (AuthProvider) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.authentication.providers.scopegate",
		New: func() caddy.Module { return new(AuthProvider) },
	}
}

// Authenticate applies the policy to the request's bearer token. A fault of
// the gateway is an error; a refusal is not.
func (p *AuthProvider) Authenticate(w http.ResponseWriter, r *http.Request) (caddyauth.User, bool, error) {
	d, err := p.server.Guard(r, &p.policy)
	if err != nil {
		return caddyauth.User{}, false, err
	}
	if d.Refusal != nil {
		if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
			repl.Set("scopegate.refusal", d.Refusal.Reason)
		}
		d.Refusal.SetChallenge(w.Header())
		return caddyauth.User{}, false, nil
	}
	setIdentity(r, d)
	if p.StripAuthorization {
		r.Header.Del("Authorization")
	}
	return caddyauth.User{ID: d.Claims.ClientID, Metadata: map[string]string{"scope": d.Scope}}, true, nil
}

// Interface guards
var (
	_ caddy.Provisioner       = (*AuthProvider)(nil)
	_ caddyauth.Authenticator = (*AuthProvider)(nil)
)
