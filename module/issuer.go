package module

import (
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/authserver"
)

func init() {
	caddy.RegisterModule(Issuer{})
}

// Issuer serves the OAuth 2.0 endpoints of the scopegate app: the token
// endpoint (client_credentials), revocation (RFC 7009), introspection (RFC
// 7662), the JWKS, the authorization server metadata (RFC 8414) and the RFC
// 9728 metadata of the config's protected resources. Requests for other
// paths go to the next handler.
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

	server    *authserver.Server
	endpoints *authserver.Endpoints
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
	return iss.setup(app.server)
}

// setup maps the paths to the server's endpoints.
func (iss *Issuer) setup(s *authserver.Server) error {
	endpoints, err := s.NewEndpoints(authserver.EndpointPaths{
		Token: iss.TokenPath, Revocation: iss.RevokePath, Introspection: iss.IntrospectPath, JWKS: iss.JWKSPath,
	})
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
