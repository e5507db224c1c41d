// Package registration is dynamic client registration (RFC 7591), free of
// Caddy and of transport: the operator's policy of what a client that
// registers itself may get (Options, compiled into a Policy), the reading
// of a registration request's client metadata (ParseRequest), the policy's
// decision on it (Policy.Decide, which gives the registry.Metadata to
// register) and the answer (NewResponse). The authorization server's
// endpoint (authserver.RegistrationEndpoint) puts them together.
package registration

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/scope"
)

// Defaults of the options, and the limits on what a request may hold.
const (
	// DefaultPath is where the registration endpoint is served.
	DefaultPath = "/oauth2/register"
	// DefaultPerSource is how many clients one source may register per
	// window.
	DefaultPerSource = 10
	// DefaultWindow is the window of the per-source limit.
	DefaultWindow = time.Hour
	// DefaultClientName names a client that registers without a
	// client_name (RFC 7591 makes it optional).
	DefaultClientName = "Unnamed app"
	// MaxBodyBytes bounds a registration request's body.
	MaxBodyBytes = 16 << 10
	// MaxRedirectURIs is the most redirect URIs a client may register.
	MaxRedirectURIs = 10
	// MaxRedirectURILength is the longest redirect URI a client may
	// register, in bytes: shorter than oauth.MaxURILength, which an
	// operator's own clients get.
	MaxRedirectURILength = 512
	// MaxClientNameRunes is the longest client_name a client may register.
	MaxClientNameRunes = 100
)

// Options are the operator's policy for dynamic client registration, with
// the issuer config's JSON names. Registration is off unless they are
// given.
type Options struct {
	// Path is where the registration endpoint is served, on the issuer's
	// host, and what the RFC 8414 metadata names as its
	// registration_endpoint. Default: /oauth2/register.
	Path string `json:"path,omitempty"`
	// AllowedScopes are the scopes a registered client may be allowed:
	// exact scopes, or `prefix*` patterns. A scope a client asks for that
	// none matches is refused (invalid_client_metadata); a client that
	// asks for none is allowed the exact scopes listed. Default: none, so
	// that a registered client can be granted no scope at all.
	AllowedScopes []string `json:"allowed_scopes,omitempty"`
	// Audience lists the resources (RFC 8707), such as a guarded MCP
	// server's resource, that every registered client may get tokens for.
	// Default: none: their tokens are for the gateway itself, and an
	// authorization request that names a resource is refused
	// (invalid_target).
	Audience []string `json:"audience,omitempty"`
	// AllowConfidential lets clients register with client_secret_basic or
	// client_secret_post and get a secret, shown once in the answer.
	// Default: false: only public clients (token_endpoint_auth_method
	// none) may register.
	AllowConfidential bool `json:"allow_confidential,omitempty"`
	// PrivateUseSchemes lets native apps register private-use scheme
	// redirect URIs such as com.example.app:/callback (RFC 8252 §7.1).
	// Default: false: https URIs, and http URIs on a loopback IP address
	// (127.0.0.1, [::1]) with any port (RFC 8252 §7.3), only.
	PrivateUseSchemes bool `json:"private_use_schemes,omitempty"`
	// PerSource is how many clients one source (an IPv4 address or an
	// IPv6 /64) may register per window; more are answered 429 with
	// Retry-After. Default: 10.
	PerSource int `json:"per_source,omitempty"`
	// Window is the window of PerSource, as a duration string ("1h") or
	// a whole number of seconds. Default: 1h.
	Window registry.Duration `json:"window,omitempty"`
}

// Policy is Options checked and with defaults applied.
type Policy struct {
	Options
	// IDTokenAlgs are the algorithms the server signs ID tokens with, the
	// operator's first. A request that names no id_token_signed_response_alg
	// gets RS256, OpenID Connect Registration §2's default, when it is
	// among them, else the first. Nil: the operator's algorithm (none
	// stored).
	IDTokenAlgs []string
}

// NewPolicy checks o and applies its defaults. Errors name the option.
func NewPolicy(o Options) (*Policy, error) {
	if o.Path == "" {
		o.Path = DefaultPath
	}
	if o.PerSource == 0 {
		o.PerSource = DefaultPerSource
	}
	if o.Window == 0 {
		o.Window = registry.Duration(DefaultWindow)
	}
	switch {
	case !strings.HasPrefix(o.Path, "/"):
		return nil, errors.New("registration: path must start with /")
	case o.PerSource < 0 || o.Window < 0:
		return nil, errors.New("registration: per_source and window must not be negative")
	}
	for i, p := range o.AllowedScopes {
		if err := scope.CheckPattern(p); err != nil {
			return nil, fmt.Errorf("registration: allowed_scopes entry %d: %w", i, err)
		}
	}
	for i, res := range o.Audience {
		if !oauth.ValidResource(res) {
			return nil, fmt.Errorf("registration: audience entry %d must be an absolute URI without a fragment", i)
		}
	}
	return &Policy{Options: o}, nil
}
