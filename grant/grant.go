// Package grant decides what an authenticated client may be issued: the
// OAuth 2.0 grant rules, free of transport and of Caddy. The token endpoint
// authenticates the client, asks this package what to issue, and mints.
package grant

import (
	"fmt"
	"slices"
	"strings"

	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/storage"
)

// ClientCredentials is the grant_type of RFC 6749 §4.4.
const ClientCredentials = "client_credentials"

// AuthorizationCode is the grant_type of RFC 6749 §4.1, with PKCE (RFC
// 7636): an app acting for a person who signed in and approved it.
const AuthorizationCode = "authorization_code"

// Password is the resource owner password credentials grant of RFC 6749
// §4.3: a trusted legacy app sends the person's username and password.
// RFC 9700 §2.4 says it MUST NOT be used; a token endpoint serves it only
// where the operator turned it on.
const Password = "password"

// RefreshToken is the grant_type of RFC 6749 §6: an app that holds a
// refresh token from an authorization code gets a new access token for the
// same person without them. A client lists it to get refresh tokens.
const RefreshToken = "refresh_token"

// TokenExchange is the grant_type of RFC 8693 token exchange: a client with
// the access_issuer feature trades a person's access token for one meant
// for another client's audience. A client lists it, and may list it only
// with that feature (the registry's rule).
const TokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"

// Supported lists the grants clients may be registered for.
var Supported = []string{ClientCredentials, AuthorizationCode, RefreshToken, Password, TokenExchange}

// Issued lists the grants the token endpoint issues tokens for today, the
// ones its metadata (RFC 8414 grant_types_supported) names: a subset of
// Supported. Password is not among them: it is issued, and named, only
// where the operator turned it on.
var Issued = []string{ClientCredentials, AuthorizationCode, RefreshToken, TokenExchange}

// PublicGrants lists the grants a public client (one without a secret) may
// use: only those in which a person signs in and approves the app. With
// client_credentials anyone who read the app's client ID would get its
// tokens. A refresh token is bound to the person's grant and rotates at
// every use, so that a stolen one is found out (RFC 9700 §4.14.2).
var PublicGrants = []string{AuthorizationCode, RefreshToken}

// RedirectGrants lists the grants that send the browser back to the app,
// so that a client using one must register at least one redirect URI.
var RedirectGrants = []string{AuthorizationCode}

// Allowed reports whether the client may use the grant: a public client only
// one of PublicGrants, and every client only one it lists. The refusal is
// unauthorized_client (RFC 6749 §5.2).
func Allowed(c storage.Client, grantType string) *oauth.Error {
	if c.Public() && !slices.Contains(PublicGrants, grantType) {
		return publicRefused
	}
	if !slices.Contains(c.GrantTypes, grantType) {
		return grantRefused
	}
	return nil
}

// Allowed's refusals, built once: the token endpoint asks Allowed on every
// code redemption whether the client also gets refresh tokens, and a "no"
// there must not cost an allocation.
var (
	publicRefused = oauth.UnauthorizedClient("a public client may only use the " + strings.Join(PublicGrants, ", ") + " grant")
	grantRefused  = oauth.UnauthorizedClient("the client may not use this grant type")
)

// Decision is what a token request may be issued.
type Decision struct {
	// Scopes are the granted scopes, in the order requested.
	Scopes []string
	// Audience is the token's aud.
	Audience []string
}

// Decide applies the rules of the requested grant, in order: the grant is
// supported, the client may use it, the scopes are allowed, the resources
// are in the client's audience. gatewayAudience is the aud of tokens for a
// client that names no audience: the gateway itself.
func Decide(req *oauth.TokenRequest, c storage.Client, gatewayAudience string) (Decision, *oauth.Error) {
	if !slices.Contains(Supported, req.GrantType) {
		return Decision{}, oauth.UnsupportedGrantType("the grant type is not supported")
	}
	if e := Allowed(c, req.GrantType); e != nil {
		return Decision{}, e
	}
	scopes, e := grantedScopes(req.Scopes, c)
	if e != nil {
		return Decision{}, e
	}
	audience, e := audience(req.Resource, c, gatewayAudience)
	if e != nil {
		return Decision{}, e
	}
	return Decision{Scopes: scopes, Audience: audience}, nil
}

// grantedScopes checks the requested scopes against the client's: every one
// must be allowed exactly (implication rules widen what a route accepts, never
// what a client is issued). With none requested, a client that must ask gets
// invalid_scope and any other gets all its scopes.
func grantedScopes(requested []string, c storage.Client) ([]string, *oauth.Error) {
	if len(requested) == 0 {
		if c.RequireScopeRequest {
			return nil, oauth.InvalidScope("this client must request a scope")
		}
		return c.Scopes, nil
	}
	if notAllowed := scope.Subset(requested, c.Scopes); len(notAllowed) > 0 {
		return nil, oauth.InvalidScope(notAllowedDescription(notAllowed))
	}
	return requested, nil
}

// maxNamedScopes is how many refused scopes a description names.
const maxNamedScopes = 3

// notAllowedDescription says which requested scopes the client may not have,
// so a developer sees what to fix. Scopes are the client's own input: they
// are named only when oauth.Echoable passes them, else counted.
func notAllowedDescription(notAllowed []string) string {
	named := make([]string, 0, maxNamedScopes)
	for _, s := range notAllowed {
		if !oauth.Echoable(s) {
			return "a requested scope is not allowed for this client"
		}
		if len(named) < maxNamedScopes {
			named = append(named, s)
		}
	}
	desc := "not allowed for this client: " + strings.Join(named, " ")
	if more := len(notAllowed) - len(named); more > 0 {
		desc += fmt.Sprintf(" and %d more", more)
	}
	return desc
}

// Audience is Decide's aud rule for resources named in an authorization
// request rather than in the token request: the authorization_code grant
// applies it when the code is redeemed, to the client as it is then.
func Audience(resources []string, c storage.Client, gatewayAudience string) ([]string, *oauth.Error) {
	return audience(resources, c, gatewayAudience)
}

// audience picks aud: the requested resources, which must all be in the
// client's audience (RFC 8707 §2), or else the client's whole audience, or the
// gateway's for a client with none.
func audience(resources []string, c storage.Client, gatewayAudience string) ([]string, *oauth.Error) {
	if len(resources) == 0 {
		if len(c.Audience) == 0 {
			return []string{gatewayAudience}, nil
		}
		return c.Audience, nil
	}
	for _, res := range resources {
		if !slices.Contains(c.Audience, res) {
			return nil, oauth.InvalidTarget("a requested resource is not allowed for this client")
		}
	}
	return resources, nil
}
