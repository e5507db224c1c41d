package module

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

	app          *App
	mode         scope.Mode
	methodRules  []methodRule
	metadataPath string
	metadata     []byte
	logger       *zap.Logger
}

// MethodScopes are scopes required for some HTTP methods: the methods listed
// in Methods, or every method except those in ExceptMethods. Give one of the
// two. Methods are compared without regard to case, since servers and
// frameworks route `delete` to their DELETE handler; HEAD is held to what GET
// needs, since it serves the same representation.
type MethodScopes struct {
	// Methods are the HTTP methods the rule covers, such as POST, PUT,
	// DELETE. A rule that covers GET also covers HEAD.
	Methods []string `json:"methods,omitempty"`

	// ExceptMethods makes the rule cover every method except these, such as
	// GET, HEAD and OPTIONS: PATCH, PROPFIND and methods nobody listed are
	// then covered too. HEAD is excepted only when GET is.
	ExceptMethods []string `json:"except_methods,omitempty"`

	// Scopes are all required, on top of the guard's Scopes.
	Scopes []string `json:"scopes"`
}

// methodRule is a MethodScopes ready for requests: methods in upper case,
// HEAD already tied to GET.
type methodRule struct {
	methods []string
	except  bool
	scopes  []string
}

// covers reports whether the rule applies to a request with this method,
// in any ASCII case. It does not allocate.
func (m methodRule) covers(method string) bool {
	listed := false
	for _, x := range m.methods {
		if methodIs(method, x) {
			listed = true
			break
		}
	}
	return listed != m.except
}

// methodIs reports whether method is want (upper case) in any ASCII case.
func methodIs(method, want string) bool {
	if len(method) != len(want) {
		return false
	}
	for i := 0; i < len(method); i++ {
		c := method[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}

// newMethodRule checks ms and prepares it. HEAD answers what GET answers
// without the body, so it needs what GET needs: a rule covering GET covers
// HEAD, and HEAD is excepted only along with GET.
func newMethodRule(ms MethodScopes) (methodRule, error) {
	switch {
	case len(ms.Methods) > 0 && len(ms.ExceptMethods) > 0:
		return methodRule{}, errors.New("give methods or except_methods, not both")
	case len(ms.Methods) == 0 && len(ms.ExceptMethods) == 0:
		return methodRule{}, errors.New("needs methods or except_methods")
	case len(ms.Scopes) == 0:
		return methodRule{}, errors.New("needs scopes")
	}
	rule := methodRule{except: len(ms.ExceptMethods) > 0, scopes: ms.Scopes}
	for _, m := range append(slices.Clone(ms.Methods), ms.ExceptMethods...) {
		if !isMethodToken(m) {
			return methodRule{}, fmt.Errorf("%q is not an HTTP method name", m)
		}
		if up := strings.ToUpper(m); !slices.Contains(rule.methods, up) {
			rule.methods = append(rule.methods, up)
		}
	}
	for _, s := range ms.Scopes {
		if err := scope.ParseToken(s); err != nil {
			return methodRule{}, err
		}
	}
	hasGet, hasHead := slices.Contains(rule.methods, http.MethodGet), slices.Contains(rule.methods, http.MethodHead)
	switch {
	case !rule.except && hasGet && !hasHead:
		rule.methods = append(rule.methods, http.MethodHead)
	case rule.except && hasHead && !hasGet:
		rule.methods = slices.DeleteFunc(rule.methods, func(m string) bool { return m == http.MethodHead })
	}
	return rule, nil
}

// isMethodToken reports whether m is an RFC 9110 method name: a token of
// ASCII letters, digits and !#$%&'*+-.^_`|~.
func isMethodToken(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
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
	g.methodRules = nil
	for i, ms := range g.MethodScopes {
		rule, err := newMethodRule(ms)
		if err != nil {
			return fmt.Errorf("scopegate_guard: method_scopes[%d]: %w", i, err)
		}
		g.methodRules = append(g.methodRules, rule)
	}
	g.Resource = cmpOr(g.Resource, g.Audience)
	if g.Resource != "" {
		u, err := url.Parse(g.Resource)
		if err != nil || !oauth.ValidResource(g.Resource) {
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
	d, err := g.check(w, r)
	if err != nil {
		return caddyhttp.Error(http.StatusServiceUnavailable, err)
	}
	if d.refused != "" {
		g.refused(r, d, start)
		return nil
	}
	g.app.backend.usage.request(d.claims.ClientID, true, start)
	g.app.metrics.guardDecided("allowed", d.claims.ClientID, start)
	setIdentity(r, d.claims, d.scope)
	if g.StripAuthorization {
		r.Header.Del("Authorization")
	}
	return next.ServeHTTP(w, r)
}

// decision is the outcome of check.
type decision struct {
	// claims are the token's, when the token itself was good.
	claims *token.Claims
	// scope is what the upstream is told the token grants: its scopes that
	// its client still holds.
	scope string
	// refused is the reason of a refusal, for logs and metrics; "" admits.
	refused string
	// detail names what did not match, for the log line.
	detail zap.Field
}

// refused counts and logs a refusal. The log line is Debug: a flood of
// refused requests must not become a flood of log lines, and
// scopegate_guard_decisions_total keeps the counts.
func (g *Guard) refused(r *http.Request, d decision, start time.Time) {
	clientID := ""
	if d.claims != nil {
		clientID = d.claims.ClientID
		g.app.backend.usage.request(clientID, false, start)
	}
	g.app.metrics.guardDecided(d.refused, clientID, start)
	if ce := g.logger.Check(zap.DebugLevel, "request refused"); ce != nil {
		fields := []zap.Field{
			zap.String("reason", d.refused),
			zap.String("client_id", clientID),
			zap.String("method", r.Method),
			zap.String("path", r.URL.Path),
		}
		if d.detail.Key != "" {
			fields = append(fields, d.detail)
		}
		ce.Write(fields...)
	}
}

// check applies the policy. On refusal it writes the answer and returns the
// reason, with the claims when the token itself was good; err is a fault of
// the gateway, not of the request.
func (g *Guard) check(w http.ResponseWriter, r *http.Request) (decision, error) {
	raw, oerr := oauth.BearerToken(r.Header, g.app.verifier.MaxTokenLength)
	if oerr == oauth.ErrNoBearer || (oerr == nil && raw == "") {
		// RFC 6750 §3.1: no credentials, no error attribute.
		g.challenge(w, r, nil, "")
		return decision{refused: "no_token"}, nil
	}
	if oerr != nil {
		g.challenge(w, r, oerr, "")
		return decision{refused: "malformed_header"}, nil
	}
	claims, client, err := g.app.checkToken(r.Context(), raw)
	if err != nil {
		// refusal is declared here rather than before the check: errors.As
		// takes its address, which moves it to the heap, and an admitted
		// request should not pay that allocation.
		var refusal *tokenRefusal
		if errors.As(err, &refusal) {
			g.challenge(w, r, oauth.InvalidToken(refusal.description), "")
			return decision{refused: refusal.reason}, nil
		}
		return decision{}, err
	}
	if g.Audience != "" && !claims.HasAudience(g.Audience) {
		g.challenge(w, r, oauth.InvalidToken("the token is not meant for this resource: its aud does not name "+g.Audience), "")
		return decision{claims: claims, refused: "audience", detail: zap.String("audience_expected", g.Audience)}, nil
	}
	if e := addrUnproven(client, r); e != nil {
		e.Write(w)
		return decision{claims: claims, refused: "early_data"}, nil
	}
	if addr := clientAddr(r); !addrAllowed(client, addr) {
		seen := "an address it could not read"
		if addr.IsValid() {
			seen = addr.String()
		}
		deny(w, "the client may not connect from "+seen)
		return decision{claims: claims, refused: "address", detail: zap.String("client_ip", seen)}, nil
	}
	if len(g.Clients) > 0 && !slices.Contains(g.Clients, claims.ClientID) {
		deny(w, "the client may not use this route")
		return decision{claims: claims, refused: "route_client"}, nil
	}
	// The token admits only what its client still holds: narrowing a
	// client's scopes holds on its next request, as disabling it does.
	held := claims.Scopes.Intersect(g.app.backend.clientScopes.of(client))
	if required, missing := g.checkScopes(r.Method, held); required != nil {
		g.challenge(w, r, oauth.InsufficientScope(missing), scope.Join(required))
		return decision{claims: claims, refused: "scope", detail: zap.String("scope_needed", scope.Join(required))}, nil
	}
	text := claims.Scope
	if held.Len() != claims.Scopes.Len() {
		text = held.String()
	}
	return decision{claims: claims, scope: text}, nil
}

// checkScopes applies the route's scope policy to the granted scopes, with
// the app's implication rules. On failure it returns the scopes of the rule
// that failed (for the challenge's scope attribute) and a description that
// names the missing ones; nil when every rule is satisfied.
func (g *Guard) checkScopes(method string, granted scope.Set) (required []string, description string) {
	rules := g.app.scopeRules
	if !rules.Satisfies(granted, g.Scopes, g.mode) {
		if g.mode == scope.Any {
			return g.Scopes, "the token holds none of the scopes this route accepts: " + scope.Join(g.Scopes)
		}
		return g.Scopes, "the token lacks the scope this request needs: " + scope.Join(rules.Missing(granted, g.Scopes))
	}
	for _, mr := range g.methodRules {
		if mr.covers(method) && !rules.Satisfies(granted, mr.scopes, scope.All) {
			return mr.scopes, "the token lacks the scope this request needs: " + scope.Join(rules.Missing(granted, mr.scopes))
		}
	}
	return nil, ""
}

// setIdentity removes identity headers the caller sent (in any case, with
// underscores or hyphens: some upstreams treat them alike) and sets the
// gateway's, and the placeholders. The caller may not remove the gateway's
// headers either: identity names are dropped from Connection (a proxy drops
// the headers it names) and from request trailers (which arrive after the
// guard has run).
func setIdentity(r *http.Request, claims *token.Claims, scopes string) {
	for name, values := range r.Header {
		switch {
		case isIdentityHeader(name):
			delete(r.Header, name)
		case name == "Connection" || name == "Trailer":
			dropIdentityTokens(r.Header, name, values)
		}
	}
	if r.Trailer != nil && r.Body != nil && r.Body != http.NoBody {
		deleteIdentityNames(r.Trailer)
		r.Body = &trailerGuard{ReadCloser: r.Body, trailer: r.Trailer}
	}
	r.Header[headerClientID] = []string{claims.ClientID}
	r.Header[headerScope] = []string{scopes}
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Set("scopegate.client_id", claims.ClientID)
		repl.Set("scopegate.scope", scopes)
		repl.Set("scopegate.jti", claims.JWTID)
		repl.Set("http.auth.user.id", claims.ClientID)
	}
}

// trailerGuard removes identity names from the request's trailers when the
// body has been read to its end. Go's server merges the trailers it receives
// (declared or not) into the request's Trailer map only then, and
// reverse_proxy sends that same map to the upstream after the body. The map
// is non-nil only when the caller declared trailers, so only such requests
// are wrapped.
type trailerGuard struct {
	io.ReadCloser
	trailer http.Header
}

func (t *trailerGuard) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if err == io.EOF {
		deleteIdentityNames(t.trailer)
	}
	return n, err
}

// deleteIdentityNames deletes every identity header from h.
func deleteIdentityNames(h http.Header) {
	for name := range h {
		if isIdentityHeader(name) {
			delete(h, name)
		}
	}
}

// dropIdentityTokens removes identity names from the comma-separated lists
// of the header name (Connection or Trailer), deleting the header when
// nothing else is left. Lists without an identity name are left alone and
// cost no allocation.
func dropIdentityTokens(h http.Header, name string, values []string) {
	if !slices.ContainsFunc(values, listsIdentityName) {
		return
	}
	var kept []string
	for _, v := range values {
		var rest []string
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.Trim(item, " \t"); item != "" && !isIdentityHeader(item) {
				rest = append(rest, item)
			}
		}
		if len(rest) > 0 {
			kept = append(kept, strings.Join(rest, ", "))
		}
	}
	if len(kept) == 0 {
		delete(h, name)
		return
	}
	h[name] = kept
}

// listsIdentityName reports whether a comma-separated header value names an
// identity header.
func listsIdentityName(v string) bool {
	for item := range strings.SplitSeq(v, ",") {
		if isIdentityHeader(strings.Trim(item, " \t")) {
			return true
		}
	}
	return false
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
