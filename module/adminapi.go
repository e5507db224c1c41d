package module

import (
	"errors"
	"net/http"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/admin"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/storage"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// adminPathPrefix is where the client-management API lives on Caddy's admin
// endpoint.
const adminPathPrefix = "/scopegate"

// AdminAPI serves the client-management API on Caddy's admin endpoint, under
// /scopegate/. It is trusted like the rest of Caddy's admin API: whoever can
// reach the admin endpoint manages clients.
type AdminAPI struct {
	// own is this config's app, served until a config is running.
	own    *App
	logger *zap.Logger

	current *currentAPI
}

// currentAPI is the API over the app being served, rebuilt when that app
// changes.
type currentAPI struct {
	mu      sync.Mutex
	app     *App
	handler http.Handler
}

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.scopegate",
		New: func() caddy.Module { return new(AdminAPI) },
	}
}

// Provision finds the scopegate app. Admin modules are loaded for every config,
// so a config without the app is not an error: the routes then answer 503.
func (a *AdminAPI) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.current = new(currentAPI)
	if appModule, err := ctx.AppIfConfigured("scopegate"); err == nil {
		a.own = appModule.(*App)
	}
	return nil
}

// Routes returns the admin routes.
func (a *AdminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{
		Pattern: adminPathPrefix + "/",
		Handler: caddy.AdminHandlerFunc(a.serve),
	}}
}

// serve writes every answer itself, so that errors keep the API's JSON shape
// rather than Caddy's admin error format.
func (a *AdminAPI) serve(w http.ResponseWriter, r *http.Request) error {
	app := a.servedApp()
	if app == nil {
		admin.WriteError(w, http.StatusServiceUnavailable, "not_configured", "the scopegate app is not configured")
		return nil
	}
	if r.URL.Path == adminPathPrefix+"/health" {
		// Answered before the app opens: "starting" is a health answer too.
		app.server.ServeHealth(w, r)
		return nil
	}
	if err := app.server.AwaitOpen(r.Context()); err != nil {
		if errors.Is(err, storage.ErrUnavailable) {
			w.Header().Set("Retry-After", "1")
		}
		admin.WriteError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the scopegate app has not started: "+err.Error())
		return nil
	}
	// Caddy's admin endpoint is the operator, trusted like the rest of it.
	a.handlerFor(app).ServeHTTP(w, r.WithContext(registry.WithCaller(r.Context(), registry.Caller{Operator: true})))
	return nil
}

// servedApp returns the running config's scopegate app, or nil when there is
// none. Caddy replaces its admin endpoint, with the new config's admin
// modules, before it provisions the new config's apps, and keeps that
// endpoint when the new config then fails to load: this module may belong to
// a config that never ran, whose app failed or was cleaned up. So it serves
// whichever app is running, and its own only until one is.
func (a *AdminAPI) servedApp() *App {
	if running, err := caddy.ActiveContext().AppIfConfigured("scopegate"); err == nil {
		if running, ok := running.(*App); ok {
			return running
		}
	}
	return a.own
}

// handlerFor returns the API over app, a started app, under /scopegate.
func (a *AdminAPI) handlerFor(app *App) http.Handler {
	c := a.current
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.app != app {
		c.app, c.handler = app, http.StripPrefix(adminPathPrefix, app.admin)
	}
	return c.handler
}

// Interface guards
var (
	_ caddy.Provisioner = (*AdminAPI)(nil)
	_ caddy.AdminRouter = (*AdminAPI)(nil)
)
