package token

import "github.com/scopegate/scopegate/scope"

// errBadScope refuses a scope claim that is not RFC 6749 §3.3 syntax (single
// spaces between tokens of %x21 / %x23-5B / %x5D-7E). The token endpoint only
// ever issues that syntax, so anything else was not minted by it; refusing the
// whole token leaves no reading of the string (split on tabs, on runs of
// spaces) that could grant a scope.
var errBadScope = newReason(ErrInvalidClaim, "token claim scope is not RFC 6749 scope syntax")

// parseScope sets c.Scopes from c.Scope with the grammar issuance uses, once
// per verified token: a cached token's set is reused on every request.
func parseScope(c *Claims) error {
	set, err := scope.ParseSet(c.Scope)
	if err != nil {
		return errBadScope
	}
	c.Scopes = set
	return nil
}
