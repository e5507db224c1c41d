package module

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/authserver"
	"github.com/scopegate/scopegate/ipallow"
	"github.com/scopegate/scopegate/storage"
)

func init() {
	caddy.RegisterModule(Guard{})
}

// Guard admits a request only with a valid bearer token from a client that is
// enabled, connects from an address in its allowlist, is allowed on the route
// and holds the route's scopes. It then hands the request to the next handler
// with the caller's identity in X-Client-Id and X-Scope (headers of those
// names sent by the caller are removed first) and in the placeholders
// {scopegate.client_id}, {scopegate.scope}, {scopegate.jti} and
// {http.auth.user.id}.
type Guard struct {
	// Scopes the token must hold for every request. Default: none, any valid
	// token passes.
	Scopes []string `json:"scopes,omitempty"`

	// Mode is "all" (default: every scope in Scopes) or "any" (at least one).
	Mode string `json:"mode,omitempty"`

	// MethodScopes add scopes for some HTTP methods, for example writes. A
	// request whose method a rule covers must hold that rule's scopes (all of
	// them) as well as Scopes. Prefer the except_methods form ("every method
	// except GET, HEAD and OPTIONS needs orders:write"): it cannot forget a
	// method.
	MethodScopes []MethodScopes `json:"method_scopes,omitempty"`

	// Audience, when set, is a resource identifier the token's aud must
	// contain exactly.
	Audience string `json:"audience,omitempty"`

	// Resource is this route's resource identifier in its RFC 9728 metadata.
	// Default: Audience. With neither, no metadata is published.
	Resource string `json:"resource,omitempty"`

	// Clients, when set, are the only client IDs admitted on this route.
	Clients []string `json:"clients,omitempty"`

	// StripAuthorization removes the Authorization header before the request
	// goes on, so the upstream never sees the token. Default: false, the
	// header is forwarded unchanged.
	StripAuthorization bool `json:"strip_authorization,omitempty"`

	// Realm names the protection space in WWW-Authenticate. Default: scopegate.
	Realm string `json:"realm,omitempty"`

	server   *authserver.Server
	policy   authserver.Policy
	metadata authserver.Document
	logger   *zap.Logger
}

// MethodScopes are scopes required for some HTTP methods; see
// authserver.MethodScopeOptions.
type MethodScopes = authserver.MethodScopeOptions

// CaddyModule returns the Caddy module information.
func (Guard) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.scopegate_guard",
		New: func() caddy.Module { return new(Guard) },
	}
}

// Provision checks the route's policy and publishes its metadata once.
func (g *Guard) Provision(ctx caddy.Context) error {
	app, err := scopegateApp(ctx)
	if err != nil {
		return err
	}
	g.logger = ctx.Logger()
	return g.setup(app.server)
}

// setup compiles the route's policy on s.
func (g *Guard) setup(s *authserver.Server) error {
	policy, doc, err := s.NewPolicy(authserver.RouteOptions{
		Scopes: g.Scopes, Mode: g.Mode, MethodScopes: g.MethodScopes, Audience: g.Audience,
		Resource: g.Resource, Clients: g.Clients, Realm: g.Realm,
	}, g.logger)
	if err != nil {
		return fmt.Errorf("scopegate_guard: %w", err)
	}
	g.server, g.policy, g.metadata = s, *policy, doc
	return nil
}

// ServeHTTP enforces the route's policy.
func (g *Guard) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if g.metadata.Body != nil && r.URL.Path == g.policy.MetadataPath && r.Method == http.MethodGet {
		g.metadata.ServeHTTP(w, r)
		return nil
	}
	d, err := g.server.Guard(r, &g.policy)
	if err != nil {
		return unavailable(w, err)
	}
	if d.Refusal != nil {
		return refuse(w, r, d.Refusal)
	}
	setIdentity(r, d)
	if g.StripAuthorization {
		r.Header.Del("Authorization")
	}
	return next.ServeHTTP(w, r)
}

// refuse answers a refused request. On a server with handle_errors routes,
// the refusal is returned as a caddyhttp.Error with its WWW-Authenticate
// challenge already set, as basic_auth's are, so those routes shape the
// answer ({http.error.status_code}, {http.error.message} and
// {scopegate.refusal} tell them what happened). On a server without any,
// Caddy would answer an empty body, so the guard writes the RFC 6750 JSON
// body itself, which API clients read.
func refuse(w http.ResponseWriter, r *http.Request, refusal *authserver.Refusal) error {
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Set("scopegate.refusal", refusal.Reason)
	}
	if srv, ok := r.Context().Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server); ok && srv.Errors != nil && len(srv.Errors.Routes) > 0 {
		refusal.SetChallenge(w.Header())
		return caddyhttp.Error(refusal.Status(), refusal)
	}
	refusal.Write(w)
	return nil
}

// setIdentity tells the upstream and later handlers who the caller is: the
// identity headers, and the placeholders.
func setIdentity(r *http.Request, d authserver.Decision) {
	authserver.SetIdentity(r, d.Claims.ClientID, authserver.UserID(d.Claims), d.Scope)
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		// Each string put in an interface is a copy on the heap: the client
		// ID is converted once for its two placeholders.
		var clientID any = d.Claims.ClientID
		repl.Set("scopegate.client_id", clientID)
		repl.Set("scopegate.scope", d.Scope)
		repl.Set("scopegate.jti", d.Claims.JWTID)
		repl.Set("scopegate.user_id", authserver.UserID(d.Claims))
		repl.Set("http.auth.user.id", clientID)
	}
}

// clientAddr is the request's client address as Caddy resolved it: the peer,
// or the address a trusted proxy vouched for (trusted_proxies). Headers are
// never read here.
func clientAddr(r *http.Request) netip.Addr {
	ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	addr, err := ipallow.ParseAddr(ip)
	if err != nil {
		return netip.Addr{}
	}
	return addr
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Guard)(nil)
	_ caddyhttp.MiddlewareHandler = (*Guard)(nil)
)

// unavailable answers 503 for a request the gateway cannot decide now,
// with Retry-After when it is only waiting for its store.
func unavailable(w http.ResponseWriter, err error) error {
	if errors.Is(err, storage.ErrUnavailable) {
		w.Header().Set("Retry-After", "1")
	}
	return caddyhttp.Error(http.StatusServiceUnavailable, err)
}
