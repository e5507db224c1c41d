package authserver

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/scopegate/scopegate/signin"
)

// Default endpoint paths.
const (
	DefaultTokenPath         = "/oauth2/token"
	DefaultRevocationPath    = "/oauth2/revoke"
	DefaultIntrospectionPath = "/oauth2/introspect"
	DefaultJWKSPath          = "/.well-known/jwks.json"
	DefaultAuthorizePath     = "/oauth2/authorize"
	DefaultUserInfoPath      = "/oauth2/userinfo"
)

// WithDefaults returns p with every unset path at its default.
func (p EndpointPaths) WithDefaults() EndpointPaths {
	for _, f := range []struct {
		path *string
		def  string
	}{
		{&p.Token, DefaultTokenPath}, {&p.Revocation, DefaultRevocationPath},
		{&p.Introspection, DefaultIntrospectionPath}, {&p.JWKS, DefaultJWKSPath},
		{&p.Authorize, DefaultAuthorizePath}, {&p.UserInfo, DefaultUserInfoPath},
		{&p.EndSession, DefaultEndSessionPath},
	} {
		if *f.path == "" {
			*f.path = f.def
		}
	}
	if p.SelfService.Path == "" {
		p.SelfService.Path = DefaultSelfServicePath
	}
	return p
}

// Endpoints are the server's OAuth and OpenID Connect endpoints and
// documents by path: what an issuer route serves.
type Endpoints struct {
	server *Server
	byPath map[string]http.Handler
}

// Pages is a handler of pages people see (the sign-in page), served at
// the paths it names beside the endpoints.
type Pages interface {
	http.Handler
	Paths() []string
}

// NewEndpoints maps paths (defaulted) to the server's endpoints and to the
// pages, and renders the RFC 8414 metadata that lists the endpoints (the
// registration endpoint among the pages included). A nil page is left
// out; a path served twice is refused.
func (s *Server) NewEndpoints(paths EndpointPaths, pages ...Pages) (*Endpoints, error) {
	for _, p := range []string{paths.Token, paths.Revocation, paths.Introspection, paths.JWKS, paths.Authorize, paths.UserInfo, paths.EndSession} {
		if p != "" && !strings.HasPrefix(p, "/") {
			return nil, errors.New("endpoint paths must start with /")
		}
	}
	paths = paths.WithDefaults()
	pages = slices.DeleteFunc(slices.Clone(pages), func(p Pages) bool { return p == nil })
	for _, p := range pages {
		if reg, ok := p.(*RegistrationEndpoint); ok {
			paths.Registration = reg.policy.Path
		}
	}
	pages, paths, err := s.withLogout(pages, paths)
	if err != nil {
		return nil, err
	}
	metadata, err := Metadata(s.Issuer, paths)
	if err != nil {
		return nil, err
	}
	tokens, err := s.tokenEndpoint(paths, pages)
	if err != nil {
		return nil, err
	}
	e := &Endpoints{server: s, byPath: make(map[string]http.Handler)}
	served := []route{
		{paths.Token, clientCORS{tokens, "POST"}},
		{paths.Revocation, clientCORS{RevocationEndpoint{Server: s}, "POST"}},
		{paths.Introspection, IntrospectionEndpoint{Server: s}},
		{paths.JWKS, JWKSEndpoint{Server: s}},
		{MetadataPath(s.Issuer), metadata},
		{paths.UserInfo, clientCORS{s.newUserInfoEndpoint(), "GET, POST"}},
	}
	selfService, err := s.newSelfServiceEndpoint(paths.SelfService, passwordChecks(signInPage(pages)))
	if err != nil {
		return nil, err
	}
	served = append(served, selfService.routes()...)
	discovery := s.newOpenIDConfiguration(paths)
	for _, path := range OpenIDConfigurationPaths(s.Issuer) {
		served = append(served, route{path, discovery})
	}
	for _, p := range pages {
		for _, path := range p.Paths() {
			served = append(served, route{path, p})
		}
	}
	for _, sv := range served {
		if _, taken := e.byPath[sv.path]; taken {
			return nil, fmt.Errorf("the path %s is given to two endpoints or pages", sv.path)
		}
		e.byPath[sv.path] = sv.h
	}
	return e, nil
}

// withLogout adds RP-initiated logout to pages when the sign-in page, whose
// sessions it ends, is among them; without it, paths names no
// end_session_endpoint.
func (s *Server) withLogout(pages []Pages, paths EndpointPaths) ([]Pages, EndpointPaths, error) {
	page := signInPage(pages)
	if page == nil {
		paths.EndSession = ""
		return pages, paths, nil
	}
	logout, err := s.newLogoutEndpoint(paths.EndSession, page)
	if err != nil {
		return nil, paths, err
	}
	return append(pages, logout), paths, nil
}

// signInPage returns the sign-in page among pages, or nil.
func signInPage(pages []Pages) *signin.Handler {
	for _, p := range pages {
		if page, ok := p.(*signin.Handler); ok {
			return page
		}
	}
	return nil
}

// tokenEndpoint returns the token endpoint, with the password grant when
// paths turn it on: its attempts then count against the sign-in page's
// throttles, so the page must be among pages.
func (s *Server) tokenEndpoint(paths EndpointPaths, pages []Pages) (TokenEndpoint, error) {
	e := TokenEndpoint{Server: s}
	if !paths.PasswordGrant {
		return e, nil
	}
	page := signInPage(pages)
	if page == nil {
		return e, errors.New("the password grant needs the sign-in page, whose throttles it shares")
	}
	e.passwords = page
	return e, nil
}

// passwordChecks returns the sign-in page as what counts password checks,
// or nil without one (a nil page in the interface would not be nil).
func passwordChecks(page *signin.Handler) passwordAttempts {
	if page == nil {
		return nil
	}
	return page
}

// route is a path and what serves it.
type route struct {
	path string
	h    http.Handler
}

// Lookup returns the handler of path: an endpoint, the metadata, or the RFC
// 9728 document of one of the config's protected resources.
func (e *Endpoints) Lookup(path string) (http.Handler, bool) {
	if h, ok := e.byPath[path]; ok {
		return h, true
	}
	if doc, ok := e.server.Resources().Lookup(path); ok {
		return doc, true
	}
	return nil, false
}
