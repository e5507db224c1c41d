package authserver

import (
	"errors"
	"net/http"
	"strings"
)

// Default endpoint paths.
const (
	DefaultTokenPath         = "/oauth2/token"
	DefaultRevocationPath    = "/oauth2/revoke"
	DefaultIntrospectionPath = "/oauth2/introspect"
	DefaultJWKSPath          = "/.well-known/jwks.json"
)

// WithDefaults returns p with every unset path at its default.
func (p EndpointPaths) WithDefaults() EndpointPaths {
	for _, f := range []struct {
		path *string
		def  string
	}{
		{&p.Token, DefaultTokenPath}, {&p.Revocation, DefaultRevocationPath},
		{&p.Introspection, DefaultIntrospectionPath}, {&p.JWKS, DefaultJWKSPath},
	} {
		if *f.path == "" {
			*f.path = f.def
		}
	}
	return p
}

// Endpoints are the server's OAuth endpoints and documents by path: what an
// issuer route serves.
type Endpoints struct {
	server *Server
	byPath map[string]http.Handler
}

// NewEndpoints maps paths (defaulted) to the server's endpoints, and renders
// the RFC 8414 metadata that lists them.
func (s *Server) NewEndpoints(paths EndpointPaths) (*Endpoints, error) {
	for _, p := range []string{paths.Token, paths.Revocation, paths.Introspection, paths.JWKS} {
		if p != "" && !strings.HasPrefix(p, "/") {
			return nil, errors.New("endpoint paths must start with /")
		}
	}
	paths = paths.WithDefaults()
	metadata, err := Metadata(s.Issuer, paths)
	if err != nil {
		return nil, err
	}
	return &Endpoints{server: s, byPath: map[string]http.Handler{
		paths.Token:            TokenEndpoint{Server: s},
		paths.Revocation:       RevocationEndpoint{Server: s},
		paths.Introspection:    IntrospectionEndpoint{Server: s},
		paths.JWKS:             JWKSEndpoint{Server: s},
		MetadataPath(s.Issuer): metadata,
	}}, nil
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
