package module

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/token"
)

func init() {
	caddy.RegisterModule(Guard{})
}

// Identity headers the upstream receives, and the placeholders the guard sets.
const (
	headerClientID = "X-Client-Id"
	headerScope    = "X-Scope"
	// protectedResourcePath is the RFC 9728 well-known prefix.
	protectedResourcePath = "/.well-known/oauth-protected-resource"
	defaultRealm          = "scopegate"
)

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
	// request whose method is listed must hold these scopes (all of them) as
	// well as Scopes.
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

	app          *App
	mode         scope.Mode
	metadataPath string
	metadata     []byte
	logger       *zap.Logger
}

// MethodScopes are scopes required for some HTTP methods.
type MethodScopes struct {
	// Methods are upper-case HTTP methods, such as POST, PUT, DELETE.
	Methods []string `json:"methods"`
	// Scopes are all required, on top of the guard's Scopes.
	Scopes []string `json:"scopes"`
}

// CaddyModule returns the Caddy module information.
func (Guard) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.scopegate_guard",
		New: func() caddy.Module { return new(Guard) },
	}
}

// Provision checks the route's policy and renders its metadata once.
func (g *Guard) Provision(ctx caddy.Context) error {
	app, err := scopegateApp(ctx)
	if err != nil {
		return err
	}
	return g.setup(app, ctx.Logger())
}

// setup checks the policy against app and prepares what requests need.
func (g *Guard) setup(app *App, logger *zap.Logger) error {
	g.app, g.logger = app, logger
	g.Realm = cmpOr(g.Realm, defaultRealm)
	switch g.Mode {
	case "", "all":
		g.mode = scope.All
	case "any":
		g.mode = scope.Any
	default:
		return fmt.Errorf("scopegate_guard: mode %q is not all or any", g.Mode)
	}
	for _, s := range g.Scopes {
		if err := scope.ParseToken(s); err != nil {
			return fmt.Errorf("scopegate_guard: scopes: %w", err)
		}
	}
	for i, ms := range g.MethodScopes {
		if len(ms.Methods) == 0 || len(ms.Scopes) == 0 {
			return fmt.Errorf("scopegate_guard: method_scopes[%d] needs methods and scopes", i)
		}
		for j, m := range ms.Methods {
			g.MethodScopes[i].Methods[j] = strings.ToUpper(m)
		}
		for _, s := range ms.Scopes {
			if err := scope.ParseToken(s); err != nil {
				return fmt.Errorf("scopegate_guard: method_scopes[%d]: %w", i, err)
			}
		}
	}
	g.Resource = cmpOr(g.Resource, g.Audience)
	if g.Resource != "" {
		u, err := url.Parse(g.Resource)
		if err != nil || !u.IsAbs() || u.Fragment != "" {
			return fmt.Errorf("scopegate_guard: resource %q must be an absolute URI without a fragment", g.Resource)
		}
		// RFC 9728 §3.1: the well-known segment goes between host and path.
		g.metadataPath = protectedResourcePath + strings.TrimSuffix(u.Path, "/")
		g.metadata, err = json.Marshal(map[string]any{
			"resource":                 g.Resource,
			"authorization_servers":    []string{g.app.Issuer},
			"scopes_supported":         g.allScopes(),
			"bearer_methods_supported": []string{"header"},
		})
		if err != nil {
			return err
		}
		g.app.publishResourceMetadata(g.metadataPath, g.metadata)
	}
	return nil
}

// allScopes lists every scope the route may require.
func (g *Guard) allScopes() []string {
	all := slices.Clone(g.Scopes)
	for _, ms := range g.MethodScopes {
		for _, s := range ms.Scopes {
			if !slices.Contains(all, s) {
				all = append(all, s)
			}
		}
	}
	return all
}

// ServeHTTP enforces the route's policy.
func (g *Guard) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if g.metadata != nil && r.URL.Path == g.metadataPath && r.Method == http.MethodGet {
		writeJSONDocument(w, g.metadata)
		return nil
	}
	start := time.Now()
	claims, refused, err := g.check(w, r)
	if err != nil {
		return caddyhttp.Error(http.StatusServiceUnavailable, err)
	}
	if refused != "" {
		clientID := ""
		if claims != nil {
			clientID = claims.ClientID
			g.app.backend.usage.request(clientID, false, start)
		}
		g.app.metrics.guardDecided(refused, clientID, start)
		g.logger.Info("request refused",
			zap.String("reason", refused),
			zap.String("client_id", clientID),
			zap.String("method", r.Method),
			zap.String("path", r.URL.Path))
		return nil
	}
	g.app.backend.usage.request(claims.ClientID, true, start)
	g.app.metrics.guardDecided("allowed", claims.ClientID, start)
	setIdentity(r, claims)
	if g.StripAuthorization {
		r.Header.Del("Authorization")
	}
	return next.ServeHTTP(w, r)
}

// check applies the policy. On refusal it writes the answer and returns the
// reason, with the claims when the token itself was good; err is a fault of
// the gateway, not of the request.
func (g *Guard) check(w http.ResponseWriter, r *http.Request) (claims *token.Claims, refused string, err error) {
	raw, oerr := oauth.BearerToken(r.Header, g.app.verifier.MaxTokenLength)
	if oerr == oauth.ErrNoBearer || (oerr == nil && raw == "") {
		// RFC 6750 §3.1: no credentials, no error attribute.
		g.challenge(w, r, nil, "")
		return nil, "no_token", nil
	}
	if oerr != nil {
		g.challenge(w, r, oerr, "")
		return nil, "malformed_header", nil
	}
	claims, client, err := g.app.checkToken(r.Context(), raw)
	if err != nil {
		// refusal is declared here rather than before the check: errors.As
		// takes its address, which moves it to the heap, and an admitted
		// request should not pay that allocation.
		var refusal *tokenRefusal
		if errors.As(err, &refusal) {
			g.challenge(w, r, oauth.InvalidToken(refusal.description), "")
			return nil, refusal.reason, nil
		}
		return nil, "", err
	}
	if g.Audience != "" && !claims.HasAudience(g.Audience) {
		g.challenge(w, r, oauth.InvalidToken("the token is not meant for this resource"), "")
		return claims, "audience", nil
	}
	if !addrAllowed(client, clientAddr(r)) {
		deny(w, "the client may not connect from this address")
		return claims, "address", nil
	}
	if len(g.Clients) > 0 && !slices.Contains(g.Clients, claims.ClientID) {
		deny(w, "the client may not use this route")
		return claims, "route_client", nil
	}
	if missing, ok := g.checkScopes(r.Method, claims); !ok {
		g.challenge(w, r, oauth.InsufficientScope("the token lacks a scope this request needs"), missing)
		return claims, "scope", nil
	}
	return claims, "", nil
}

// checkScopes applies the route's scope policy, with the app's implication
// rules. On failure it returns the scopes to name in the challenge.
func (g *Guard) checkScopes(method string, claims *token.Claims) (string, bool) {
	granted := scope.NewSet(strings.Fields(claims.Scope))
	rules := g.app.scopeRules
	if !rules.Satisfies(granted, g.Scopes, g.mode) {
		return scope.Join(g.Scopes), false
	}
	for _, ms := range g.MethodScopes {
		if slices.Contains(ms.Methods, method) && !rules.Satisfies(granted, ms.Scopes, scope.All) {
			return scope.Join(ms.Scopes), false
		}
	}
	return "", true
}

// setIdentity removes identity headers the caller sent (in any case, with
// underscores or hyphens: some upstreams treat them alike) and sets the
// gateway's, and the placeholders.
func setIdentity(r *http.Request, claims *token.Claims) {
	for name := range r.Header {
		if isIdentityHeader(name) {
			delete(r.Header, name)
		}
	}
	r.Header[headerClientID] = []string{claims.ClientID}
	r.Header[headerScope] = []string{claims.Scope}
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Set("scopegate.client_id", claims.ClientID)
		repl.Set("scopegate.scope", claims.Scope)
		repl.Set("scopegate.jti", claims.JWTID)
		repl.Set("http.auth.user.id", claims.ClientID)
	}
}

// isIdentityHeader reports whether name is X-Client-Id or X-Scope, ignoring
// case and treating '_' as '-'.
func isIdentityHeader(name string) bool {
	return headerNameEqual(name, headerClientID) || headerNameEqual(name, headerScope)
}

func headerNameEqual(name, want string) bool {
	if len(name) != len(want) {
		return false
	}
	for i := 0; i < len(name); i++ {
		a, b := name[i], want[i]
		if a == '_' {
			a = '-'
		}
		if a|0x20 != b|0x20 {
			return false
		}
	}
	return true
}

// challenge answers 401 or 403 with an RFC 6750 WWW-Authenticate header and a
// JSON body with the same code.
func (g *Guard) challenge(w http.ResponseWriter, r *http.Request, e *oauth.Error, scopes string) {
	w.Header().Set("WWW-Authenticate", oauth.BearerChallenge(g.Realm, e, scopes, g.metadataURL(r)))
	if e == nil {
		e = &oauth.Error{Status: http.StatusUnauthorized}
	}
	e.Write(w)
}

// deny answers 403 access_denied for a client the route or its allowlist
// refuses: a new token would not help, so there is no challenge.
func deny(w http.ResponseWriter, description string) {
	(&oauth.Error{Code: "access_denied", Description: description, Status: http.StatusForbidden}).Write(w)
}

// metadataURL is where this route's RFC 9728 metadata is, on the request's
// own origin, or "" when the route publishes none.
func (g *Guard) metadataURL(r *http.Request) string {
	if g.metadata == nil {
		return ""
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + g.metadataPath
}

// writeJSONDocument answers with a public JSON document.
func writeJSONDocument(w http.ResponseWriter, doc []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=3600")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Guard)(nil)
	_ caddyhttp.MiddlewareHandler = (*Guard)(nil)
)
