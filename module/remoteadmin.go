package module

import (
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/authserver"
)

func init() {
	caddy.RegisterModule(RemoteAdmin{})
}

// RemoteAdmin serves the client-management API on a site route, for remote
// management and automation. Every request is authenticated as a client
// whose features allow its method on the route it matches (README's
// "Client features"), by HTTP Basic with the client's ID and
// secret, or by a bearer token issued to it for this API (its aud names
// Resource). The client must be enabled and connect from an address in its
// allowlist. Mount it with handle_path, which strips the route's prefix: the
// API's paths are relative (/clients, …).
type RemoteAdmin struct {
	// Resource is this API's resource identifier (RFC 8707): a bearer token
	// is accepted only if its aud is exactly this one resource, so a token
	// also minted for another API, which that API's upstream may have seen,
	// cannot be replayed here. A client gets such a token by sending resource=<Resource> to the
	// token endpoint, which requires Resource in the client's audience. An
	// absolute URI without a fragment. Default: the issuer followed by
	// /scopegate/admin, such as https://api.example.com/scopegate/admin.
	// Its RFC 9728 metadata is served by the issuer.
	Resource string `json:"resource,omitempty"`

	app    *App
	remote *authserver.RemoteAdmin
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
	remote, err := app.server.NewRemoteAdmin(ra.Resource, logger)
	if err != nil {
		return fmt.Errorf("scopegate_admin: %w", err)
	}
	ra.app, ra.remote, ra.Resource = app, remote, remote.Resource
	return nil
}

// ServeHTTP authenticates and authorises the caller, then serves the API.
func (ra *RemoteAdmin) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if err := ra.app.server.AwaitOpen(r.Context()); err != nil {
		return unavailable(w, err)
	}
	ra.remote.Serve(w, r, ra.app.admin)
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*RemoteAdmin)(nil)
	_ caddyhttp.MiddlewareHandler = (*RemoteAdmin)(nil)
)
