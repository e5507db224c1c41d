package registration

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/scopegate/scopegate/grant"
	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/token"
)

// ResponseTypeCode is the one response type a registered client may use.
const ResponseTypeCode = "code"

// Decide applies the policy to a registration request and returns the
// metadata to register, which the registry then checks by its own rules
// (registry.Registry.Register). Where RFC 7591 §3.2.1 lets the server
// replace a value, Decide does so only to give what the server can serve
// (the default auth method, no refresh_token): anything the policy
// forbids is refused, so that a developer learns at once what to change
// rather than from a failing authorization later.
func (p *Policy) Decide(req Request) (registry.Metadata, *oauth.Error) {
	method, oerr := p.authMethod(req.TokenEndpointAuthMethod)
	if oerr != nil {
		return registry.Metadata{}, oerr
	}
	grants, oerr := grantTypes(req.GrantTypes)
	if oerr != nil {
		return registry.Metadata{}, oerr
	}
	if oerr := responseTypes(req.ResponseTypes); oerr != nil {
		return registry.Metadata{}, oerr
	}
	if oerr := p.redirectURIs(req.RedirectURIs); oerr != nil {
		return registry.Metadata{}, oerr
	}
	if oerr := p.uris("post_logout_redirect_uris", req.PostLogoutRedirectURIs); oerr != nil {
		return registry.Metadata{}, oerr
	}
	scopes, oerr := p.scopes(req.Scope)
	if oerr != nil {
		return registry.Metadata{}, oerr
	}
	name, oerr := clientName(req.ClientName)
	if oerr != nil {
		return registry.Metadata{}, oerr
	}
	// A registered client may omit scope at the authorization endpoint (an
	// MCP client often does) and is then offered all it may have, which
	// the person sees on the consent page, which is never skipped for it.
	noScopeRequest := false
	return registry.Metadata{
		ClientName: name, TokenEndpointAuthMethod: method, GrantTypes: grants,
		RedirectURIs: slices.Clone(req.RedirectURIs), Scope: scope.Join(scopes),
		Audience: slices.Clone(p.Audience), RequireScopeRequest: &noScopeRequest,
		PostLogoutRedirectURIs:   slices.Clone(req.PostLogoutRedirectURIs),
		IDTokenSignedResponseAlg: p.idTokenAlg(req.IDTokenSignedResponseAlg),
	}, nil
}

// idTokenAlg returns the id_token_signed_response_alg to register: the
// request's, or RS256 (Registration §2's default) when the server signs
// with it, else the operator's algorithm. It is stored either way, so the
// response echoes what the client's ID tokens will use.
func (p *Policy) idTokenAlg(alg string) string {
	switch {
	case alg != "" || len(p.IDTokenAlgs) == 0:
		return alg
	case slices.Contains(p.IDTokenAlgs, token.AlgRS256):
		return token.AlgRS256
	}
	return p.IDTokenAlgs[0]
}

// authMethod returns the token endpoint auth method to register: none
// unless the policy allows confidential clients; when it does, RFC 7591
// §2's default, client_secret_basic, for a request that names none.
func (p *Policy) authMethod(method string) (string, *oauth.Error) {
	switch method {
	case "":
		if p.AllowConfidential {
			return storage.AuthMethodSecretBasic, nil
		}
		return storage.AuthMethodNone, nil
	case storage.AuthMethodNone:
		return method, nil
	case storage.AuthMethodSecretBasic, storage.AuthMethodSecretPost:
		if p.AllowConfidential {
			return method, nil
		}
		return "", InvalidClientMetadata("this server registers public clients only: token_endpoint_auth_method must be none")
	}
	return "", InvalidClientMetadata("token_endpoint_auth_method must be none, client_secret_basic or client_secret_post")
}

// grantTypes returns the grants to register: authorization_code, the only
// one a registered client may have (client_credentials would give anyone
// who registers tokens without a person's approval), with refresh_token
// when asked for, which gives the app refresh tokens for the people who
// approve it (each family bound to that approval, and rotated at every
// use); any other grant is refused.
func grantTypes(requested []string) ([]string, *oauth.Error) {
	if len(requested) == 0 {
		return []string{grant.AuthorizationCode}, nil
	}
	var kept []string
	for _, g := range requested {
		switch {
		case g == grant.AuthorizationCode || g == grant.RefreshToken:
			if !slices.Contains(kept, g) {
				kept = append(kept, g)
			}
		default:
			return nil, InvalidClientMetadata("grant_types may hold only authorization_code and refresh_token")
		}
	}
	if !slices.Contains(kept, grant.AuthorizationCode) {
		return nil, InvalidClientMetadata("grant_types must include authorization_code")
	}
	return kept, nil
}

// responseTypes checks response_types: code only, RFC 7591's default.
func responseTypes(requested []string) *oauth.Error {
	for _, t := range requested {
		if t != ResponseTypeCode {
			return InvalidClientMetadata("response_types may hold only code")
		}
	}
	return nil
}

// redirectURIs checks the redirect URIs against oauth.ValidRedirectURI,
// the one rule of what any client may register (https; http on a loopback
// IP; a private-use scheme; never a fragment or user info), then narrows
// it: at most MaxRedirectURIs of at most MaxRedirectURILength bytes, and
// private-use schemes only when the policy allows them.
func (p *Policy) redirectURIs(uris []string) *oauth.Error {
	if len(uris) == 0 {
		return InvalidRedirectURI("redirect_uris must hold at least one URI")
	}
	return p.uris("redirect_uris", uris)
}

// uris checks a list of URIs the browser may be sent back to (redirect_uris,
// post_logout_redirect_uris): at most MaxRedirectURIs, each by the one rule.
func (p *Policy) uris(field string, uris []string) *oauth.Error {
	if len(uris) > MaxRedirectURIs {
		return InvalidRedirectURI(field + " may hold at most " + strconv.Itoa(MaxRedirectURIs) + " URIs")
	}
	for i, u := range uris {
		entry := field + " entry " + strconv.Itoa(i)
		switch {
		case len(u) > MaxRedirectURILength:
			return InvalidRedirectURI(entry + " is longer than " + strconv.Itoa(MaxRedirectURILength) + " bytes")
		case !oauth.ValidRedirectURI(u):
			return InvalidRedirectURI(entry + " must be an https URI or an http URI on a loopback IP address (RFC 8252), without a fragment or user info")
		case !p.PrivateUseSchemes && !strings.HasPrefix(u, "https:") && !strings.HasPrefix(u, "http:"):
			return InvalidRedirectURI(entry + " uses a private-use scheme, which this server does not register")
		}
	}
	return nil
}

// scopes returns the scopes to allow the client: those it asked for, each
// of which an allowed pattern must match, or the policy's exact scopes when
// it asked for none.
func (p *Policy) scopes(requested string) ([]string, *oauth.Error) {
	asked, err := scope.Parse(requested)
	if err != nil {
		// scope.Parse names the token by position, never by its text.
		return nil, InvalidClientMetadata("scope: " + err.Error())
	}
	if len(asked) == 0 {
		return slices.DeleteFunc(slices.Clone(p.AllowedScopes), func(s string) bool {
			return strings.HasSuffix(s, string(scope.Wildcard))
		}), nil
	}
	for i, s := range asked {
		// A literal "*" in a client's scope grants nothing more (rules are
		// the operator's), but it reads like a wildcard on pages and in
		// the admin API, so a registered client never gets one.
		allowed := strings.IndexByte(s, scope.Wildcard) < 0 &&
			slices.ContainsFunc(p.AllowedScopes, func(pattern string) bool { return scope.MatchesPattern(pattern, s) })
		if !allowed {
			return nil, InvalidClientMetadata("scope: token " + strconv.Itoa(i+1) + " is not one this server lets a registered client have")
		}
	}
	return asked, nil
}

// clientName returns the name to register: DefaultClientName when none is
// given, else at most MaxClientNameRunes characters (the registry checks
// they are printable).
func clientName(name string) (string, *oauth.Error) {
	if name == "" {
		return DefaultClientName, nil
	}
	if utf8.RuneCountInString(name) > MaxClientNameRunes {
		return "", InvalidClientMetadata("client_name may be at most " + strconv.Itoa(MaxClientNameRunes) + " characters")
	}
	return name, nil
}
