package module

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/admin"
	"github.com/scopegate/scopegate/authserver"
	"github.com/scopegate/scopegate/oauth"
)

func init() {
	caddy.RegisterModule(RemoteAdmin{})
}

// defaultAdminResourcePath is appended to the issuer to make remote admin's
// default resource identifier.
const defaultAdminResourcePath = "/scopegate/admin"

// RemoteAdmin serves the client-management API on a site route, for remote
// management and automation. Every request is authenticated, before any
// routing, as a client with the `owner` feature (full access) or
// `client_read` (GET and HEAD only): by HTTP Basic with the client's ID and
// secret, or by a bearer token issued to it for this API (its aud names
// Resource). The client must be enabled and connect from an address in its
// allowlist. Mount it with handle_path, which strips the route's prefix: the
// API's paths are relative (/clients, …).
type RemoteAdmin struct {
	// Resource is this API's resource identifier (RFC 8707): a bearer token
	// is accepted only if its aud contains it exactly, so a token minted for
	// another API, which that API's upstream has seen, cannot be replayed
	// here. A client gets such a token by sending resource=<Resource> to the
	// token endpoint, which requires Resource in the client's audience. An
	// absolute URI without a fragment. Default: the issuer followed by
	// /scopegate/admin, such as https://api.example.com/scopegate/admin.
	// Its RFC 9728 metadata is served by the issuer.
	Resource string `json:"resource,omitempty"`

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
	return ra.setup(app, ctx.Logger())
}

// setup applies the default resource, checks it and publishes its metadata.
func (ra *RemoteAdmin) setup(app *App, logger *zap.Logger) error {
	ra.app, ra.logger = app, logger
	ra.Resource = cmpOr(ra.Resource, strings.TrimSuffix(app.Issuer, "/")+defaultAdminResourcePath)
	if !oauth.ValidResource(ra.Resource) {
		return fmt.Errorf("scopegate_admin: resource %q must be an absolute URI without a fragment, of at most %d bytes",
			ra.Resource, oauth.MaxResourceLen)
	}
	if ra.Resource == app.Issuer {
		// A client without an audience gets tokens for the issuer: they
		// would all be admin tokens.
		return fmt.Errorf("scopegate_admin: resource must not be the issuer %q, which is the audience of every token of a client without one", app.Issuer)
	}
	_, _, err := app.server.Resources().Publish(ra.Resource, app.Issuer, nil)
	return err
}

// ServeHTTP authenticates and authorises the caller, then serves the API.
func (ra *RemoteAdmin) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if err := ra.app.server.AwaitOpen(r.Context()); err != nil {
		return caddyhttp.Error(http.StatusServiceUnavailable, err)
	}
	client, refusal := ra.app.server.AuthenticateAdmin(w, r, ra.Resource)
	reason := ""
	if refusal != nil {
		reason = refusal.Description
	} else if !authserver.AdminPermits(client, r.Method) {
		reason, refusal = "not permitted", authserver.AdminForbidden("the client may not make this request")
	}
	if refusal != nil {
		// Debug level: a flood of bad requests is not a flood of log lines.
		ra.logger.Debug("admin request refused", zap.String("client_id", client.ID), zap.String("reason", reason),
			zap.String("method", r.Method))
		refusal.Write(w)
		return nil
	}
	ra.app.admin.ServeHTTP(w, r.WithContext(admin.WithActor(r.Context(), "client:"+client.ID)))
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*RemoteAdmin)(nil)
	_ caddyhttp.MiddlewareHandler = (*RemoteAdmin)(nil)
)
