package module

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/authserver"
	"github.com/scopegate/scopegate/registration"
	"github.com/scopegate/scopegate/signin"
)

func init() {
	caddy.RegisterModule(Issuer{})
}

// Issuer serves the OAuth 2.0 endpoints of the scopegate app: the token
// endpoint (client_credentials), revocation (RFC 7009), introspection (RFC
// 7662), the JWKS, the authorization server metadata (RFC 8414) and the RFC
// 9728 metadata of the config's protected resources; and the pages people
// use: sign-in and sign-out, consent, and the account page where a person
// withdraws what they allowed. Requests for other paths go to the next
// handler.
type Issuer struct {
	// The endpoints' paths: token_path, revoke_path, introspect_path,
	// jwks_path, authorize_path, userinfo_path, end_session_path; and
	// password_grant, off by default; self_service (authserver.EndpointPaths).
	authserver.EndpointPaths
	// SignIn configures the sign-in page, served with its defaults when absent.
	SignIn *SignInPage `json:"signin,omitempty"`
	// Registration turns on dynamic client registration (RFC 7591) under
	// this policy. Default: off.
	Registration *registration.Options `json:"registration,omitempty"`

	server    *authserver.Server
	endpoints *authserver.Endpoints
}

// SignInPage configures the page where people sign in, and sign out.
type SignInPage struct {
	signin.Options
	// FailedWindow is the window of the failed sign-in limits. Default: 5m.
	FailedWindow caddy.Duration `json:"failed_window,omitempty"`
}

// handler builds the page over s; sign-ins may also return to authorizePath
// (and, by the page's own rule, to its account page).
func (p *SignInPage) handler(s *authserver.Server, logger *zap.Logger, authorizePath string) (*signin.Handler, error) {
	if p == nil {
		p = new(SignInPage)
	}
	cfg := signin.Config{Options: p.Options, Window: time.Duration(p.FailedWindow), ClientAddr: clientAddr}
	cfg.ReturnPaths = append(slices.Clone(p.ReturnPaths), authorizePath)
	return signin.New(cfg, authserver.SignInAccounts{Server: s}, authserver.SignInSessions{Server: s}, logger)
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
	return iss.setup(app.server, ctx.Logger())
}

// setup maps the paths to the server's endpoints and pages.
func (iss *Issuer) setup(s *authserver.Server, logger *zap.Logger) error {
	paths := iss.EndpointPaths.WithDefaults()
	pages, err := iss.SignIn.handler(s, logger.Named("signin"), paths.Authorize)
	if err != nil {
		return fmt.Errorf("scopegate_issuer: %w", err)
	}
	authorize, err := s.NewAuthorizeEndpoint(paths.Authorize, pages)
	if err != nil {
		return fmt.Errorf("scopegate_issuer: %w", err)
	}
	account, err := s.NewAccountPage(pages)
	if err != nil {
		return fmt.Errorf("scopegate_issuer: %w", err)
	}
	register, err := s.NewRegistrationEndpoint(iss.Registration)
	if err != nil {
		return fmt.Errorf("scopegate_issuer: %w", err)
	}
	endpoints, err := s.NewEndpoints(paths, pages, authorize, account, register)
	if err != nil {
		return fmt.Errorf("scopegate_issuer: %w", err)
	}
	iss.server, iss.endpoints = s, endpoints
	return nil
}

// ServeHTTP serves the issuer's endpoints and passes anything else on.
func (iss *Issuer) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if err := iss.server.AwaitOpen(r.Context()); err != nil {
		return unavailable(w, err)
	}
	if h, ok := iss.endpoints.Lookup(r.URL.Path); ok {
		h.ServeHTTP(w, r)
		return nil
	}
	return next.ServeHTTP(w, r)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Issuer)(nil)
	_ caddyhttp.MiddlewareHandler = (*Issuer)(nil)
)
