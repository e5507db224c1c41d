package authserver

import (
	"fmt"
	"slices"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/scope"
)

// DefaultRealm names the protection space of a route that sets none.
const DefaultRealm = "scopegate"

// RouteOptions are a guarded route's options as an operator writes them.
type RouteOptions struct {
	// Scopes the token must hold; Mode is "all" (or "") or "any".
	Scopes []string
	Mode   string
	// MethodScopes add scopes for some methods.
	MethodScopes []MethodScopeOptions
	// Audience, when set, must be in the token's aud.
	Audience string
	// Resource is the route's RFC 9728 resource identifier; default
	// Audience, and none publishes no metadata.
	Resource string
	// Clients, when set, are the only client IDs admitted.
	Clients []string
	// Realm names the protection space; default DefaultRealm.
	Realm string
}

// MethodScopeOptions is one method rule, as a guarded route's config
// holds it (the JSON names are the config's): scopes required for some
// HTTP methods, the methods listed in Methods, or every method except those
// in ExceptMethods. Give one of the two. Methods are compared without
// regard to case, since servers and frameworks route `delete` to their
// DELETE handler; HEAD is held to what GET needs, since it serves the same
// representation.
type MethodScopeOptions struct {
	// Methods are the HTTP methods the rule covers, such as POST, PUT,
	// DELETE. A rule that covers GET also covers HEAD.
	Methods []string `json:"methods,omitempty"`

	// ExceptMethods makes the rule cover every method except these, such as
	// GET, HEAD and OPTIONS: PATCH, PROPFIND and methods nobody listed are
	// then covered too. HEAD is excepted only when GET is.
	ExceptMethods []string `json:"except_methods,omitempty"`

	// Scopes are all required, on top of the route's Scopes.
	Scopes []string `json:"scopes"`
}

// NewPolicy checks a route's options and compiles them into the Policy the
// guard applies, publishing the route's RFC 9728 metadata when it names a
// resource. The document is returned too, for the route to serve itself.
func (s *Server) NewPolicy(o RouteOptions, logger *zap.Logger) (*Policy, Document, error) {
	p := &Policy{Scopes: o.Scopes, Audience: o.Audience, Clients: o.Clients, Realm: o.Realm, Logger: logger}
	if p.Realm == "" {
		p.Realm = DefaultRealm
	}
	if p.Logger == nil {
		p.Logger = zap.NewNop()
	}
	switch o.Mode {
	case "", "all":
		p.Mode = scope.All
	case "any":
		p.Mode = scope.Any
	default:
		return nil, Document{}, fmt.Errorf("mode %q is not all or any", o.Mode)
	}
	for _, sc := range o.Scopes {
		if err := scope.ParseToken(sc); err != nil {
			return nil, Document{}, fmt.Errorf("scopes: %w", err)
		}
	}
	all := slices.Clone(o.Scopes)
	for i, ms := range o.MethodScopes {
		rule, err := NewMethodRule(ms.Methods, ms.ExceptMethods, ms.Scopes)
		if err != nil {
			return nil, Document{}, fmt.Errorf("method_scopes[%d]: %w", i, err)
		}
		p.Methods = append(p.Methods, rule)
		for _, sc := range ms.Scopes {
			if !slices.Contains(all, sc) {
				all = append(all, sc)
			}
		}
	}
	resource := o.Resource
	if resource == "" {
		resource = o.Audience
	}
	if resource == "" {
		return p, Document{}, nil
	}
	if !oauth.ValidResource(resource) {
		return nil, Document{}, fmt.Errorf("resource %q must be an absolute URI without a fragment", resource)
	}
	var doc Document
	var err error
	if p.MetadataPath, doc, err = s.Resources().Publish(resource, s.Issuer, all); err != nil {
		return nil, Document{}, err
	}
	return p, doc, nil
}
