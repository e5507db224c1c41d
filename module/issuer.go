package module

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/grant"
	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/throttle"
	"github.com/scopegate/scopegate/token"
)

func init() {
	caddy.RegisterModule(Issuer{})
}

// Default endpoint paths.
const (
	defaultTokenPath      = "/oauth2/token"
	defaultRevokePath     = "/oauth2/revoke"
	defaultIntrospectPath = "/oauth2/introspect"
	defaultJWKSPath       = "/.well-known/jwks.json"
	metadataPathPrefix    = "/.well-known/oauth-authorization-server"
	// jwksMaxAge lets verifiers cache the key set briefly. Rotation publishes
	// a key a whole rotation period before it signs, so caching never makes a
	// verifier miss a new key; a revoked key vanishes within this time.
	jwksMaxAge = "public, max-age=300"
	// basicRealm names the protection space in Basic challenges.
	basicRealm = "scopegate"
)

// Issuer serves the OAuth 2.0 endpoints of the scopegate app: the token
// endpoint (client_credentials), revocation (RFC 7009), introspection (RFC
// 7662), the JWKS and the authorization server metadata (RFC 8414). Requests
// for other paths go to the next handler.
type Issuer struct {
	// TokenPath is where the token endpoint is served. Default: /oauth2/token.
	TokenPath string `json:"token_path,omitempty"`
	// RevokePath is where token revocation is served. Default: /oauth2/revoke.
	RevokePath string `json:"revoke_path,omitempty"`
	// IntrospectPath is where token introspection is served. Default:
	// /oauth2/introspect.
	IntrospectPath string `json:"introspect_path,omitempty"`
	// JWKSPath is where the public signing keys are served. Default:
	// /.well-known/jwks.json.
	JWKSPath string `json:"jwks_path,omitempty"`

	app          *App
	metadataPath string
	metadata     []byte
	logger       *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Issuer) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.scopegate_issuer",
		New: func() caddy.Module { return new(Issuer) },
	}
}

// Provision applies defaults, finds the app and renders the metadata once.
func (iss *Issuer) Provision(ctx caddy.Context) error {
	app, err := scopegateApp(ctx)
	if err != nil {
		return err
	}
	return iss.setup(app, ctx.Logger())
}

// setup applies defaults and renders the metadata for app.
func (iss *Issuer) setup(app *App, logger *zap.Logger) error {
	iss.app, iss.logger = app, logger
	for _, p := range []*string{&iss.TokenPath, &iss.RevokePath, &iss.IntrospectPath, &iss.JWKSPath} {
		if *p != "" && !strings.HasPrefix(*p, "/") {
			return errors.New("scopegate_issuer: endpoint paths must start with /")
		}
	}
	iss.TokenPath = cmpOr(iss.TokenPath, defaultTokenPath)
	iss.RevokePath = cmpOr(iss.RevokePath, defaultRevokePath)
	iss.IntrospectPath = cmpOr(iss.IntrospectPath, defaultIntrospectPath)
	iss.JWKSPath = cmpOr(iss.JWKSPath, defaultJWKSPath)

	// RFC 8414 §3: the metadata of issuer https://host/path lives at
	// /.well-known/oauth-authorization-server/path.
	issuerURL, _ := url.Parse(iss.app.Issuer) // validated by the app
	iss.metadataPath = metadataPathPrefix + strings.TrimSuffix(issuerURL.Path, "/")
	var err error
	iss.metadata, err = iss.renderMetadata()
	return err
}

// cmpOr returns v, or def when v is empty.
func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// renderMetadata builds the RFC 8414 document: exactly what this handler
// serves. There is no authorization endpoint yet, so neither it nor
// response_types_supported (the response types that endpoint accepts) is
// published: RFC 8414 lets authorization_endpoint go when no grant uses it,
// and an empty response_types_supported, the only true value, is refused by
// clients that validate metadata. Both arrive with the authorization code
// grant.
func (iss *Issuer) renderMetadata() ([]byte, error) {
	base := strings.TrimSuffix(iss.app.Issuer, "/")
	issuerURL, _ := url.Parse(iss.app.Issuer)
	if issuerURL.Path != "" && issuerURL.Path != "/" {
		// Endpoints are served on the issuer's host at their own paths.
		base = issuerURL.Scheme + "://" + issuerURL.Host
	}
	authMethods := []string{oauth.AuthMethodBasic, oauth.AuthMethodPost}
	return json.Marshal(map[string]any{
		"issuer":                                        iss.app.Issuer,
		"token_endpoint":                                base + iss.TokenPath,
		"jwks_uri":                                      base + iss.JWKSPath,
		"revocation_endpoint":                           base + iss.RevokePath,
		"introspection_endpoint":                        base + iss.IntrospectPath,
		"grant_types_supported":                         grant.Supported,
		"token_endpoint_auth_methods_supported":         authMethods,
		"revocation_endpoint_auth_methods_supported":    authMethods,
		"introspection_endpoint_auth_methods_supported": authMethods,
	})
}

// ServeHTTP serves the issuer's endpoints and passes anything else on.
func (iss *Issuer) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if err := iss.app.awaitStart(r.Context()); err != nil {
		return caddyhttp.Error(http.StatusServiceUnavailable, err)
	}
	switch r.URL.Path {
	case iss.TokenPath:
		iss.serveToken(w, r)
	case iss.RevokePath:
		iss.serveRevoke(w, r)
	case iss.IntrospectPath:
		iss.serveIntrospect(w, r)
	case iss.JWKSPath:
		iss.serveDocument(w, r, iss.app.keySet().JWKS(), jwksMaxAge)
	case iss.metadataPath:
		iss.serveDocument(w, r, iss.metadata, "public, max-age=3600")
	default:
		if strings.HasPrefix(r.URL.Path, protectedResourcePath) {
			if doc, ok := iss.app.resourceMetadataAt(r.URL.Path); ok {
				iss.serveDocument(w, r, doc, "public, max-age=3600")
				return nil
			}
		}
		return next.ServeHTTP(w, r)
	}
	return nil
}

// serveDocument answers GET and HEAD with a public JSON document.
func (iss *Issuer) serveDocument(w http.ResponseWriter, r *http.Request, doc []byte, cacheControl string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		oauth.MethodNotAllowed("this document is read with GET").Write(w)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", cacheControl)
	h.Set("Content-Length", strconv.Itoa(len(doc)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(doc)
	}
}

// tooLargeDescription answers a token request whose token would be longer
// than the guard reads.
var tooLargeDescription = "the access token would be longer than the " + strconv.Itoa(token.MaxLength) +
	"-byte limit on access tokens; request fewer scopes or resources, or ask the operator to shorten the client's scope, audience or claims"

// tokenResponse is the successful token response (RFC 6749 §5.1). There is
// no refresh token: a client_credentials client simply asks again.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope,omitempty"`
}

// serveToken is the token endpoint. Checks run in the documented order:
// request syntax, client authentication, client enabled, client address
// (authenticate), then grant, scopes and resources (grant.Decide).
func (iss *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() { iss.app.metrics.tokenLatency.Observe(time.Since(start).Seconds()) }()
	req, client, oerr := iss.authenticate(w, r, oauth.ParseTokenRequest)
	if oerr != nil {
		iss.refuse(w, r, req, oerr)
		return
	}
	decision, oerr := grant.Decide(req, client, iss.app.Issuer)
	if oerr != nil {
		iss.refuse(w, r, req, oerr)
		return
	}

	now := iss.app.now()
	if !client.TokensRevokedAt.IsZero() && now.Unix() <= client.TokensRevokedAt.Unix() {
		// A token issued in the second of a revoke-all would carry an iat
		// that the guard refuses; ask the client to come back a moment later.
		w.Header().Set("Retry-After", "1")
		iss.refuse(w, r, req, oauth.TemporarilyUnavailable("the client's tokens were revoked just now; retry in a second"))
		return
	}
	ttl := time.Duration(iss.app.AccessTokenTTL)
	if client.AccessTokenTTL > 0 {
		ttl = min(client.AccessTokenTTL, time.Duration(iss.app.MaxAccessTokenTTL))
	}
	claims := &token.Claims{
		Issuer:    iss.app.Issuer,
		Subject:   client.ID,
		Audience:  token.Audience(decision.Audience),
		ExpiresAt: now.Add(ttl).Unix(),
		IssuedAt:  now.Unix(),
		JWTID:     token.NewJTI(),
		ClientID:  client.ID,
		Scope:     scope.Join(decision.Scopes),
		Extra:     client.Claims,
	}
	signed, err := iss.app.keySet().Sign(claims)
	if errors.Is(err, token.ErrTokenTooLarge) {
		// Only a client stored before its metadata was bounded (or an issuer
		// renamed to a longer URL) gets here; the admin API refuses such
		// metadata. Not a server fault: the client may ask for less.
		iss.refuse(w, r, req, oauth.InvalidRequest(tooLargeDescription))
		return
	}
	if err != nil {
		iss.logger.Error("signing an access token failed", zap.String("client_id", client.ID), zap.Error(err))
		oauth.ServerError("the token could not be issued").Write(w)
		return
	}
	body, _ := json.Marshal(tokenResponse{
		AccessToken: signed,
		TokenType:   "Bearer",
		ExpiresIn:   int64(ttl / time.Second),
		Scope:       claims.Scope,
	})
	iss.app.backend.usage.tokenIssued(client.ID, now)
	iss.app.metrics.tokenIssued(client.ID)
	h := w.Header()
	oauth.NoStore(h)
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// login checks a client's secret, throttled by the source of the attempt
// (Caddy's resolved client IP; an IPv6 source by its /64) and never by the
// client ID, which is public: failures with a client's ID from elsewhere
// never refuse the right secret from the client's own address. A throttled
// source is answered before its credentials are checked. A success does not
// clear the source's count: a source holding one valid secret could
// otherwise clear it between guesses at others.
//
// On failure it returns the token endpoint's answer: 429
// temporarily_unavailable (with Retry-After set on w), invalid_client, or
// server_error for a fault of the store. Whether the client is enabled and
// where it connects from is the caller's to check: endpoints answer those
// differently.
func (a *App) login(w http.ResponseWriter, r *http.Request, clientID, secret string) (storage.Client, *oauth.Error) {
	now := a.now()
	source := throttle.SourceOf(clientAddr(r))
	if wait, blocked := a.logins.Blocked(source, now); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)))
		return storage.Client{}, oauth.TooManyAttempts("too many failed logins from this address; retry later")
	}
	client, err := a.registry.Authenticate(r.Context(), clientID, secret)
	switch {
	case errors.Is(err, registry.ErrInvalidCredentials):
		a.logins.Fail(source, now)
		return storage.Client{}, oauth.InvalidClient("client authentication failed")
	case err != nil:
		a.logger.Error("client authentication failed", zap.Error(err))
		return storage.Client{}, oauth.ServerError("client authentication is unavailable")
	}
	return client, nil
}

// parseFunc reads a request a client authenticates to.
type parseFunc func(*http.Request, int64) (*oauth.TokenRequest, *oauth.Error)

// authenticate parses the request with parse and authenticates its client:
// throttled after repeated failures, a secret that matches in constant time,
// an enabled client, a request from an address in the client's allowlist.
// Every endpoint a client authenticates to goes through here. A throttled
// login gets its Retry-After header on w.
func (iss *Issuer) authenticate(w http.ResponseWriter, r *http.Request, parse parseFunc) (*oauth.TokenRequest, storage.Client, *oauth.Error) {
	req, oerr := parse(r, oauth.DefaultMaxBody)
	if oerr != nil {
		return req, storage.Client{}, oerr
	}
	if req.AuthMethod == oauth.AuthMethodNone {
		return req, storage.Client{}, oauth.InvalidClient("client authentication is required")
	}
	client, oerr := iss.app.login(w, r, req.ClientID, req.ClientSecret)
	if oerr != nil {
		return req, storage.Client{}, oerr
	}
	if client.Disabled {
		return req, storage.Client{}, oauth.InvalidClient("the client is disabled")
	}
	if oerr := addrUnproven(client, r); oerr != nil {
		return req, storage.Client{}, oerr
	}
	if !addrAllowed(client, clientAddr(r)) {
		return req, storage.Client{}, oauth.UnauthorizedClient("the client may not connect from this address")
	}
	return req, client, nil
}

// refuse writes an OAuth error and logs the refusal without any secret: the
// client ID (when syntactically valid) and the error code only. The line is
// at debug level, so a flood of bad requests is not a flood of log lines;
// scopegate_token_requests_refused_total counts every refusal.
func (iss *Issuer) refuse(w http.ResponseWriter, r *http.Request, req *oauth.TokenRequest, e *oauth.Error) {
	if e.Status == http.StatusUnauthorized && (req == nil || req.AuthMethod != oauth.AuthMethodPost) {
		// RFC 6749 §5.2: a failed Basic login (or none) is answered with a
		// Basic challenge.
		w.Header().Set("WWW-Authenticate", oauth.BasicChallenge(basicRealm))
	}
	clientID := ""
	if req != nil {
		clientID = req.ClientID
	}
	iss.app.metrics.tokenRefused(e.Code)
	iss.logger.Debug("token request refused",
		zap.String("endpoint", r.URL.Path),
		zap.String("client_id", clientID),
		zap.String("error", e.Code),
		zap.String("reason", e.Description))
	e.Write(w)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Issuer)(nil)
	_ caddyhttp.MiddlewareHandler = (*Issuer)(nil)
)
