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
	"github.com/scopegate/scopegate/signin"
)

func init() {
	caddy.RegisterModule(Issuer{})
}

// Issuer serves the OAuth 2.0 endpoints of the scopegate app: the token
// endpoint (client_credentials), revocation (RFC 7009), introspection (RFC
// 7662), the JWKS, the authorization server metadata (RFC 8414) and the RFC
// 9728 metadata of the config's protected resources; and the pages people
// use: sign-in and sign-out. Requests for other paths go to the next
// handler.
type Issuer struct {
	// The endpoints' paths: token_path, revoke_path, introspect_path,
	// jwks_path, authorize_path.
	authserver.EndpointPaths
	// SignIn configures the sign-in page, served with its defaults when absent.
	SignIn *SignInPage `json:"signin,omitempty"`

	server    *authserver.Server
	endpoints *authserver.Endpoints
}

// SignInPage configures the page where people sign in, and sign out.
type SignInPage struct {
	// Path serves the page and takes its form. Default: /signin. Its
	// stylesheet is at Path + "/style.css".
	Path string `json:"path,omitempty"`
	// SignOutPath takes the sign-out form. Default: /signout.
	SignOutPath string `json:"signout_path,omitempty"`
	// ProductName is the page's heading and part of its title. Default:
	// Scopegate.
	ProductName string `json:"product_name,omitempty"`
	// TemplateFile is an html/template file that replaces the built-in
	// page, read when the config loads; README.md lists its data.
	TemplateFile string `json:"template_file,omitempty"`
	// ReturnPaths are the paths of this site a sign-in may go on to (its
	// return_to), compared exactly; anything else ends on the signed-in
	// page, so the page is never an open redirect.
	ReturnPaths []string `json:"return_paths,omitempty"`
	// CookieName is the session cookie's name, sent with the "__Host-"
	// prefix over TLS. Default: scopegate_session.
	CookieName string `json:"cookie_name,omitempty"`
	// TLSInFront marks every request as having come over TLS, for a
	// gateway behind a proxy that terminates it: cookies are then Secure
	// and "__Host-" prefixed.
	TLSInFront bool `json:"tls_in_front,omitempty"`
	// FailedPerSource is how many failed sign-ins one source (Caddy's
	// client IP: an IPv4 address or an IPv6 /64) may make per
	// FailedWindow, whatever usernames it tries. Default: 30.
	FailedPerSource int `json:"failed_per_source,omitempty"`
	// FailedPerUsername is how many failed sign-ins one source may make
	// for one username per FailedWindow. Failures are never counted per
	// username alone, so nobody can lock a person out from elsewhere.
	// Default: 5.
	FailedPerUsername int `json:"failed_per_username,omitempty"`
	// FailedWindow is the throttles' window. Default: 5m.
	FailedWindow caddy.Duration `json:"failed_window,omitempty"`
}

// handler builds the page over s; sign-ins may also return to authorizePath.
func (p *SignInPage) handler(s *authserver.Server, logger *zap.Logger, authorizePath string) (*signin.Handler, error) {
	if p == nil {
		p = new(SignInPage)
	}
	return signin.New(signin.Config{
		Path: p.Path, SignOutPath: p.SignOutPath, ProductName: p.ProductName, TemplateFile: p.TemplateFile,
		ReturnPaths: append(slices.Clone(p.ReturnPaths), authorizePath), CookieName: p.CookieName, TLSInFront: p.TLSInFront,
		SourceLimit: p.FailedPerSource, PairLimit: p.FailedPerUsername, Window: time.Duration(p.FailedWindow),
		ClientAddr: clientAddr,
	}, authserver.SignInAccounts{Server: s}, authserver.SignInSessions{Server: s}, logger)
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
	endpoints, err := s.NewEndpoints(paths, pages, authorize)
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
