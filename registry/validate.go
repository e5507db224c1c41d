package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/scopegate/scopegate/grant"
	"github.com/scopegate/scopegate/internal/strictjson"
	"github.com/scopegate/scopegate/ipallow"
	"github.com/scopegate/scopegate/oauth"
	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/token"
)

// ValidationError is a refused field. Its message names the field and the
// rule, never the offending value: values may hold secrets, control
// characters or markup.
type ValidationError struct {
	// Field is the JSON name of the field ("body" for the request as a whole).
	Field string
	// Reason says what is wrong, e.g. "must be 1 to 255 printable characters".
	Reason string
}

// Error returns "field: reason".
func (e *ValidationError) Error() string {
	return e.Field + ": " + e.Reason
}

// Bounds of the validation rules.
const (
	maxNameRunes     = 255
	maxClaimsBytes   = 4 << 10
	maxMetadataBytes = 16 << 10
	maxURIs          = 100
	// minTokenTTL is the shortest access_token_ttl a client may set: a token
	// that lives less than the verifier's clock leeway would be accepted
	// for longer than it says, and one that lives seconds is a mistake.
	minTokenTTL = time.Minute
)

// MaxRefreshTokenTTL is the longest refresh token lifetime, a client's or
// the server's: 90 days.
const MaxRefreshTokenTTL = 90 * 24 * time.Hour

// normalize validates m and returns a record holding its fields in stored
// form (parsed scopes and prefixes, defaults applied, JSON compacted).
func (r *Registry) normalize(m Metadata) (storage.Client, error) {
	var c storage.Client
	var err error
	if c.Name, err = checkName(m.ClientName); err != nil {
		return storage.Client{}, err
	}
	if c.TokenEndpointAuthMethod, err = checkAuthMethod(m.TokenEndpointAuthMethod); err != nil {
		return storage.Client{}, err
	}
	if c.GrantTypes, err = r.checkGrantTypes(m.GrantTypes, c.Public()); err != nil {
		return storage.Client{}, err
	}
	if c.Scopes, err = r.checkScope(m.Scope); err != nil {
		return storage.Client{}, err
	}
	if c.Audience, err = checkURIs("audience", m.Audience, oauth.ValidResource, resourceRule); err != nil {
		return storage.Client{}, err
	}
	if c.RedirectURIs, err = checkURIs("redirect_uris", m.RedirectURIs, oauth.ValidRedirectURI, redirectRule); err != nil {
		return storage.Client{}, err
	}
	if err := checkRedirectGrants(c.GrantTypes, c.RedirectURIs); err != nil {
		return storage.Client{}, err
	}
	if c.PostLogoutRedirectURIs, err = checkURIs("post_logout_redirect_uris", m.PostLogoutRedirectURIs, oauth.ValidRedirectURI, redirectRule); err != nil {
		return storage.Client{}, err
	}
	if c.IPAllowlist, err = checkAllowlist(m.IPAllowlist); err != nil {
		return storage.Client{}, err
	}
	if c.Features, err = checkFeatures(m.Features, r.limits.Features, c.Public()); err != nil {
		return storage.Client{}, err
	}
	if err := checkExchangeGrant(c.GrantTypes, c.Features); err != nil {
		return storage.Client{}, err
	}
	c.RequireScopeRequest = m.RequireScopeRequest == nil || *m.RequireScopeRequest
	if c.PKCEOptional, err = checkPKCEOptional(m.RequirePKCE, c.Public()); err != nil {
		return storage.Client{}, err
	}
	c.SkipConsent = m.SkipConsent
	if c.AccessTokenTTL, err = r.checkTTL(time.Duration(m.AccessTokenTTL)); err != nil {
		return storage.Client{}, err
	}
	if c.RefreshTokenTTL, err = checkRefreshTTL(time.Duration(m.RefreshTokenTTL), c.GrantTypes); err != nil {
		return storage.Client{}, err
	}
	if c.IDTokenSignedResponseAlg, err = r.checkIDTokenAlg(m.IDTokenSignedResponseAlg); err != nil {
		return storage.Client{}, err
	}
	if c.Claims, err = checkObject("claims", m.Claims, maxClaimsBytes); err != nil {
		return storage.Client{}, err
	}
	if err := checkClaims(c.Claims); err != nil {
		return storage.Client{}, err
	}
	if c.Metadata, err = checkObject("metadata", m.Metadata, maxMetadataBytes); err != nil {
		return storage.Client{}, err
	}
	c.Disabled = m.Disabled
	if err := r.checkTokenLength(c); err != nil {
		return storage.Client{}, err
	}
	return c, nil
}

// checkName enforces client_name: 1 to 255 printable Unicode characters, no
// leading or trailing space. Format characters (bidirectional overrides,
// zero-width joiners) are not printable, so names cannot be made to look
// like other names.
func checkName(name string) (string, error) {
	if name == "" {
		return "", &ValidationError{Field: "client_name", Reason: "is required"}
	}
	if err := checkText("client_name", name, maxNameRunes); err != nil {
		return "", err
	}
	return name, nil
}

// checkText enforces the rule for names and other free text: at most
// maxRunes printable Unicode characters, no leading or trailing space.
// Empty text passes; whether a field is required is the caller's rule.
func checkText(field, s string, maxRunes int) error {
	rule := "must be 1 to " + strconv.Itoa(maxRunes) + " printable characters"
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxRunes {
		return &ValidationError{Field: field, Reason: rule}
	}
	for _, c := range s {
		if !unicode.IsPrint(c) {
			return &ValidationError{Field: field, Reason: rule}
		}
	}
	if strings.TrimSpace(s) != s {
		return &ValidationError{Field: field, Reason: "must not start or end with a space"}
	}
	return nil
}

// checkClosedList checks that values are distinct members of allowed and
// returns a copy (nil when empty). A refusal lists the allowed values, which
// are the server's own names, never the caller's input.
func checkClosedList(field string, values, allowed []string, what string) ([]string, error) {
	for i, v := range values {
		if !slices.Contains(allowed, v) {
			return nil, &ValidationError{Field: field, Reason: entryLabel(i, v) + " is not a " + what + " (" + strings.Join(allowed, ", ") + ")"}
		}
		if slices.Contains(values[:i], v) {
			return nil, &ValidationError{Field: field, Reason: "entry " + strconv.Itoa(i) + " repeats an earlier entry"}
		}
	}
	return cloneOrNil(values), nil
}

// entryLabel names entry i of a list in a message: by position, and by its
// text too when that is a plain name (isPlainName), so that a typo shows
// itself while no markup, control character or long text is echoed.
func entryLabel(i int, v string) string {
	label := "entry " + strconv.Itoa(i)
	if isPlainName(v) {
		label += " (" + strconv.Quote(v) + ")"
	}
	return label
}

// checkFeatures enforces features: distinct known features (allowed);
// none for a public client, which cannot authenticate to use them; and
// FeatureLoginClient alone, since an app that acts for the signed-in
// person only must not also hold a right over every record.
func checkFeatures(features, allowed []string, public bool) ([]string, error) {
	list, err := checkClosedList("features", features, allowed, "known feature")
	switch {
	case err != nil:
		return nil, err
	case public && len(list) > 0:
		return nil, &ValidationError{Field: "features", Reason: "must be empty for a public client (token_endpoint_auth_method none), which cannot authenticate to use them"}
	case len(list) > 1 && slices.Contains(list, FeatureLoginClient):
		return nil, &ValidationError{Field: "features", Reason: "clients with the " + FeatureLoginClient + " feature cannot have any other features"}
	}
	return list, nil
}

// checkMetadataGrant refuses a change that gives a client FeatureMetadata
// (features holds it and had, the stored features, did not) unless the
// operator makes it: the feature lets a client change users without a
// trace in updated_at, so no client may hand it out, not even an owner.
func checkMetadataGrant(ctx context.Context, had, features []string) error {
	if !slices.Contains(features, FeatureMetadata) || slices.Contains(had, FeatureMetadata) || CallerFrom(ctx).Operator {
		return nil
	}
	return &ValidationError{Field: "features", Reason: "only the operator (Caddy's admin endpoint) may assign the " + FeatureMetadata + " feature"}
}

// checkAuthMethod enforces token_endpoint_auth_method: one of authMethods,
// the default stored as "".
func checkAuthMethod(method string) (string, error) {
	switch {
	case method == "" || method == storage.AuthMethodSecretBasic:
		return "", nil
	case slices.Contains(authMethods, method):
		return method, nil
	}
	return "", &ValidationError{Field: "token_endpoint_auth_method", Reason: "must be one of " + strings.Join(authMethods, ", ")}
}

// checkGrantTypes enforces grant_types: distinct grants the server
// supports, and for a public client only grant.PublicGrants. The default is
// client_credentials for a confidential client and authorization_code, RFC
// 7591 §2's default, for a public one.
func (r *Registry) checkGrantTypes(grants []string, public bool) ([]string, error) {
	list, err := checkClosedList("grant_types", grants, r.limits.GrantTypes, "supported grant type")
	if err != nil {
		return nil, err
	}
	if slices.Contains(list, grant.RefreshToken) && !slices.Contains(list, grant.AuthorizationCode) {
		// Refresh tokens are issued with authorization codes only.
		return nil, &ValidationError{Field: "grant_types", Reason: "refresh_token needs authorization_code, the grant that issues refresh tokens"}
	}
	if !public {
		if len(list) == 0 {
			list = []string{grant.ClientCredentials}
		}
		return list, nil
	}
	if len(list) == 0 {
		list = []string{grant.AuthorizationCode}
	}
	for i, g := range list {
		if !slices.Contains(grant.PublicGrants, g) {
			return nil, &ValidationError{Field: "grant_types", Reason: "entry " + strconv.Itoa(i) +
				" is not a grant a public client (token_endpoint_auth_method none) may use (" + strings.Join(grant.PublicGrants, ", ") + ")"}
		}
	}
	return list, nil
}

// checkRedirectGrants requires a redirect URI of a client using a grant
// that sends the browser back to it.
func checkRedirectGrants(grants, redirectURIs []string) error {
	if len(redirectURIs) > 0 {
		return nil
	}
	for _, g := range grants {
		if slices.Contains(grant.RedirectGrants, g) {
			return &ValidationError{Field: "redirect_uris", Reason: "must hold at least one entry for the " + g + " grant"}
		}
	}
	return nil
}

// checkExchangeGrant allows the token exchange grant only beside the
// access_issuer feature, so that grant_types never lists a grant the token
// endpoint would refuse the client, and taking the feature away (the
// whole record is checked on every change) cannot leave the grant behind.
func checkExchangeGrant(grants, features []string) error {
	if slices.Contains(grants, grant.TokenExchange) && !slices.Contains(features, FeatureAccessIssuer) {
		return &ValidationError{Field: "grant_types", Reason: grant.TokenExchange + " needs the " + FeatureAccessIssuer + " feature"}
	}
	return nil
}

// checkPKCEOptional reads require_pkce (default true) into its stored,
// negated form. A public client has no secret to bind its code to, so PKCE
// is what stops a stolen code being redeemed (RFC 9700 §2.1.1).
func checkPKCEOptional(requirePKCE *bool, public bool) (bool, error) {
	optional := requirePKCE != nil && !*requirePKCE
	if optional && public {
		return false, &ValidationError{Field: "require_pkce", Reason: "cannot be false for a public client (token_endpoint_auth_method none)"}
	}
	return optional, nil
}

// checkScope parses the space-separated scope list (scope.Parse drops
// repeats) and enforces MaxScopes. scope.Parse's errors name the token by
// position, never by its text, so they are shown as they are.
func (r *Registry) checkScope(s string) ([]string, error) {
	scopes, err := scope.Parse(s)
	if err != nil {
		return nil, &ValidationError{Field: "scope", Reason: err.Error()}
	}
	if len(scopes) > r.limits.MaxScopes {
		return nil, &ValidationError{Field: "scope", Reason: "holds more than " + strconv.Itoa(r.limits.MaxScopes) + " scopes (max_scopes)"}
	}
	if len(scopes) == 0 {
		return nil, nil
	}
	return slices.Clone(scopes), nil
}

// checkURIs enforces a list of at most maxURIs distinct URIs, each of which
// valid accepts (oauth.ValidResource for audiences, oauth.ValidRedirectURI
// for redirect URIs); rule completes "entry N must be …".
func checkURIs(field string, uris []string, valid func(string) bool, rule string) ([]string, error) {
	if len(uris) > maxURIs {
		return nil, &ValidationError{Field: field, Reason: "holds more than " + strconv.Itoa(maxURIs) + " entries"}
	}
	for i, s := range uris {
		if !valid(s) {
			return nil, &ValidationError{Field: field, Reason: "entry " + strconv.Itoa(i) + " must be " + rule}
		}
		if slices.Contains(uris[:i], s) {
			return nil, &ValidationError{Field: field, Reason: "entry " + strconv.Itoa(i) + " repeats an earlier entry"}
		}
	}
	return cloneOrNil(uris), nil
}

// The rules checkURIs names in its messages.
const (
	resourceRule = "an absolute URI (with a scheme, without a fragment or white space)"
	redirectRule = "an https URI, an http URI on a loopback IP address or a private-use scheme URI (RFC 8252), " +
		"without a fragment, user info or white space"
)

// checkAllowlist parses the allowlist into normalised prefixes.
// ipallow's errors name an entry by position, never by its text.
func checkAllowlist(entries []string) ([]netip.Prefix, error) {
	list, err := ipallow.Parse(entries)
	var ee *ipallow.EntryError
	switch {
	case errors.As(err, &ee):
		return nil, &ValidationError{Field: "ip_allowlist", Reason: "entry " + strconv.Itoa(ee.Index) + ": " + ee.Reason}
	case errors.Is(err, ipallow.ErrTooMany):
		return nil, &ValidationError{Field: "ip_allowlist", Reason: "holds more than " + strconv.Itoa(ipallow.MaxEntries) + " entries"}
	case err != nil:
		return nil, &ValidationError{Field: "ip_allowlist", Reason: "must list IP addresses and CIDR prefixes"}
	case len(list) == 0:
		return nil, nil
	}
	return list, nil
}

// checkTTL enforces access_token_ttl: 0 (the server's default) or whole
// seconds from one minute to MaxTokenTTL.
func (r *Registry) checkTTL(d time.Duration) (time.Duration, error) {
	switch {
	case d == 0:
		return 0, nil
	case d < 0:
		return 0, &ValidationError{Field: "access_token_ttl", Reason: "must not be negative"}
	case d%time.Second != 0:
		return 0, &ValidationError{Field: "access_token_ttl", Reason: "must be a whole number of seconds"}
	case d < minTokenTTL:
		return 0, &ValidationError{Field: "access_token_ttl", Reason: "must be at least " + minTokenTTL.String()}
	case d > r.limits.MaxTokenTTL:
		return 0, &ValidationError{Field: "access_token_ttl", Reason: "must be at most " + r.limits.MaxTokenTTL.String() + " (the server's maximum)"}
	}
	return d, nil
}

// checkRefreshTTL enforces refresh_token_ttl: 0 (the server's default) or
// whole seconds from one minute to MaxRefreshTokenTTL, for a client of the
// refresh_token grant only (on another it would do nothing, and say that it
// does).
func checkRefreshTTL(d time.Duration, grants []string) (time.Duration, error) {
	const field = "refresh_token_ttl"
	switch {
	case d == 0:
		return 0, nil
	case !slices.Contains(grants, grant.RefreshToken):
		return 0, &ValidationError{Field: field, Reason: "needs the refresh_token grant in grant_types"}
	case d < 0:
		return 0, &ValidationError{Field: field, Reason: "must not be negative"}
	case d%time.Second != 0:
		return 0, &ValidationError{Field: field, Reason: "must be a whole number of seconds"}
	case d < minTokenTTL:
		return 0, &ValidationError{Field: field, Reason: "must be at least " + minTokenTTL.String()}
	case d > MaxRefreshTokenTTL:
		return 0, &ValidationError{Field: field, Reason: "must be at most 2160h (90 days)"}
	}
	return d, nil
}

// checkObject enforces a JSON object of at most max bytes once compacted,
// and returns it compacted; null or {} give nil.
func checkObject(field string, raw json.RawMessage, max int) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, &ValidationError{Field: field, Reason: "must be a JSON object"}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, &ValidationError{Field: field, Reason: "must be a JSON object"}
	}
	if _, err := strictjson.Members(buf.Bytes()); err != nil {
		var se *strictjson.Error
		errors.As(err, &se)
		return nil, &ValidationError{Field: field, Reason: problemReason(se.Problem, true)}
	}
	if buf.Len() > max {
		return nil, &ValidationError{Field: field, Reason: "must be at most " + strconv.Itoa(max) + " bytes of JSON"}
	}
	if buf.String() == "{}" {
		return nil, nil
	}
	return buf.Bytes(), nil
}

// checkClaims applies the token package's rule for extra claims, the one
// Sign applies when writing them, so that claims stored here always sign
// and the verifier reads them back. Its reasons never quote a value.
func checkClaims(claims json.RawMessage) error {
	var ce *token.ClaimsError
	if err := token.CheckExtraClaims(claims); errors.As(err, &ce) {
		return &ValidationError{Field: "claims", Reason: ce.Reason}
	} else if err != nil {
		return &ValidationError{Field: "claims", Reason: "must be a JSON object"}
	}
	return nil
}

// clientIDPlaceholder stands in for a client ID when the length of its
// tokens is counted: every ID newClientID makes has its length.
var clientIDPlaceholder = strings.Repeat("a", len(newClientID()))

// tokenLengthField names what checkTokenLength refuses: the three fields
// that together make a token long.
const tokenLengthField = "scope, audience and claims"

// checkTokenLength refuses a client whose tokens could be longer than
// token.MaxLength, which the guard reads: every allowed scope, every
// audience (or the issuer, the default audience), the claims, the fixed
// claims and the largest key's signature, as token.WorstCaseLength counts
// them. Without it, such a client would be issued tokens the guard refuses,
// or none at all.
func (r *Registry) checkTokenLength(c storage.Client) error {
	aud := c.Audience
	if len(aud) == 0 && r.limits.TokenIssuer != "" {
		aud = []string{r.limits.TokenIssuer}
	}
	n, err := token.WorstCaseLength(&token.Claims{
		Issuer:   r.limits.TokenIssuer,
		Subject:  clientIDPlaceholder,
		ClientID: clientIDPlaceholder,
		Audience: aud,
		Scope:    scope.Join(c.Scopes),
		Extra:    c.Claims,
	})
	if err != nil {
		if ve := checkClaims(c.Claims); ve != nil {
			return ve
		}
		return fmt.Errorf("counting the length of the client's tokens: %w", err)
	}
	if n > token.MaxLength {
		return &ValidationError{Field: tokenLengthField, Reason: "would make access tokens of up to " + strconv.Itoa(n) +
			" bytes, over the " + strconv.Itoa(token.MaxLength) + "-byte limit on access tokens; allow fewer or shorter scopes or audiences, or smaller claims"}
	}
	return nil
}

// checkIDTokenAlg checks a client's id_token_signed_response_alg against
// the algorithms the server signs ID tokens with; "" is the operator's.
func (r *Registry) checkIDTokenAlg(alg string) (string, error) {
	if alg == "" || slices.Contains(r.limits.IDTokenAlgs, alg) {
		return alg, nil
	}
	return "", &ValidationError{Field: "id_token_signed_response_alg", Reason: "must be one of " + strings.Join(r.limits.IDTokenAlgs, ", ")}
}
