package module

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/admin"
	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/storage"
)

func init() {
	caddy.RegisterModule(RemoteAdmin{})
}

// Features that grant access to the client-management API.
const (
	featureOwner      = "owner"
	featureClientRead = "client_read"
	adminRealm        = "scopegate-admin"
)

// RemoteAdmin serves the client-management API on a site route, for remote
// management and automation. Every request is authenticated, before any
// routing, as a client with the `owner` feature (full access) or
// `client_read` (GET and HEAD only): by HTTP Basic with the client's ID and
// secret, or by a bearer token issued to it. The client must be enabled and
// connect from an address in its allowlist. Mount it with handle_path, which
// strips the route's prefix: the API's paths are relative (/clients, …).
type RemoteAdmin struct {
	app    *App
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (RemoteAdmin) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.scopegate_admin",
		New: func() caddy.Module { return new(RemoteAdmin) },
	}
}

// Provision finds the app, whose API (the same handler as on Caddy's admin
// endpoint) exists once the app has started.
func (ra *RemoteAdmin) Provision(ctx caddy.Context) error {
	app, err := scopegateApp(ctx)
	if err != nil {
		return err
	}
	ra.app, ra.logger = app, ctx.Logger()
	return nil
}

// ServeHTTP authenticates and authorises the caller, then serves the API.
func (ra *RemoteAdmin) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if err := ra.app.awaitStart(r.Context()); err != nil {
		return caddyhttp.Error(http.StatusServiceUnavailable, err)
	}
	client, refusal := ra.authenticate(w, r)
	if refusal != nil {
		ra.logger.Info("admin request refused", zap.String("client_id", client.ID), zap.String("reason", refusal.Description),
			zap.String("method", r.Method))
		refusal.Write(w)
		return nil
	}
	if !ra.allowed(client, r.Method) {
		ra.logger.Info("admin request refused", zap.String("client_id", client.ID), zap.String("reason", "not permitted"),
			zap.String("method", r.Method))
		(&oauth.Error{Code: "forbidden", Description: "the client may not make this request", Status: http.StatusForbidden}).Write(w)
		return nil
	}
	ra.app.admin.ServeHTTP(w, r.WithContext(admin.WithActor(r.Context(), "client:"+client.ID)))
	return nil
}

// allowed reports whether client may use method: owners anything, readers
// only safe methods. The decision never depends on the path, so no spelling
// of a path can change it.
func (ra *RemoteAdmin) allowed(client storage.Client, method string) bool {
	if slices.Contains(client.Features, featureOwner) {
		return true
	}
	return slices.Contains(client.Features, featureClientRead) && (method == http.MethodGet || method == http.MethodHead)
}

// authenticate identifies the caller by Basic credentials or a bearer token.
// On failure it returns the error to send (401 with challenges for missing or
// wrong credentials, 403 for a client refused as such, 429 when throttled).
func (ra *RemoteAdmin) authenticate(w http.ResponseWriter, r *http.Request) (storage.Client, *oauth.Error) {
	values := r.Header.Values("Authorization")
	if len(values) != 1 {
		return storage.Client{}, ra.unauthorized(w, "credentials are required")
	}
	scheme, _, _ := strings.Cut(values[0], " ")
	var client storage.Client
	switch {
	case strings.EqualFold(scheme, "Basic"):
		id, secret, oerr := oauth.ParseBasic(values[0])
		if oerr != nil {
			return storage.Client{}, ra.unauthorized(w, "malformed Basic credentials")
		}
		c, oerr := ra.app.login(w, r, id, secret)
		if oerr != nil && oerr.Code == oauth.CodeInvalidClient {
			return storage.Client{}, ra.unauthorized(w, "authentication failed")
		}
		if oerr != nil {
			return storage.Client{}, oerr
		}
		if c.Disabled {
			return c, forbidden("the client is disabled")
		}
		client = c
	case strings.EqualFold(scheme, "Bearer"):
		raw, oerr := oauth.BearerToken(r.Header, ra.app.verifier.MaxTokenLength)
		if oerr != nil {
			return storage.Client{}, ra.unauthorized(w, "malformed bearer token")
		}
		_, c, err := ra.app.checkToken(r.Context(), raw)
		var refusal *tokenRefusal
		if errors.As(err, &refusal) {
			return storage.Client{}, ra.unauthorized(w, refusal.description)
		}
		if err != nil {
			return storage.Client{}, oauth.ServerError("authentication is unavailable")
		}
		client = c
	default:
		return storage.Client{}, ra.unauthorized(w, "credentials are required")
	}
	if !addrAllowed(client, clientAddr(r)) {
		return client, forbidden("the client may not connect from this address")
	}
	return client, nil
}

// unauthorized answers 401 with Basic and Bearer challenges.
func (ra *RemoteAdmin) unauthorized(w http.ResponseWriter, description string) *oauth.Error {
	h := w.Header()
	h.Add("WWW-Authenticate", oauth.BasicChallenge(adminRealm))
	h.Add("WWW-Authenticate", oauth.BearerChallenge(adminRealm, nil, "", ""))
	return &oauth.Error{Code: "unauthorized", Description: description, Status: http.StatusUnauthorized}
}

func forbidden(description string) *oauth.Error {
	return &oauth.Error{Code: "forbidden", Description: description, Status: http.StatusForbidden}
}

// Interface guards
var (
	_ caddy.Provisioner           = (*RemoteAdmin)(nil)
	_ caddyhttp.MiddlewareHandler = (*RemoteAdmin)(nil)
)
