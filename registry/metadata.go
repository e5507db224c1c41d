package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scopegate/scopegate/internal/strictjson"
	"github.com/scopegate/scopegate/ipallow"
	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/storage"
)

// Metadata holds a client's writable fields, as the admin API reads them
// (field names follow RFC 7591). DecodeMetadata is the strict way to read it
// from JSON; Create and Replace validate it.
type Metadata struct {
	// ClientName is required and unique ignoring case.
	ClientName string `json:"client_name"`
	// GrantTypes defaults to ["client_credentials"].
	GrantTypes []string `json:"grant_types,omitempty"`
	// Scope is the space-separated list of scopes the client may request.
	Scope string `json:"scope,omitempty"`
	// Audience lists the resources (absolute URIs, RFC 8707) the client may
	// get tokens for.
	Audience []string `json:"audience,omitempty"`
	// RedirectURIs are absolute URIs, for grants that need them.
	RedirectURIs []string `json:"redirect_uris,omitempty"`
	// IPAllowlist holds CIDR prefixes or bare addresses; empty allows any.
	IPAllowlist []string `json:"ip_allowlist,omitempty"`
	// Features are permissions beyond scopes (owner, client_read, introspect).
	Features []string `json:"features,omitempty"`
	// RequireScopeRequest defaults to true when nil.
	RequireScopeRequest *bool `json:"require_scope_request,omitempty"`
	// AccessTokenTTL overrides the server's token lifetime; 0 keeps it.
	AccessTokenTTL Duration `json:"access_token_ttl,omitzero"`
	// Claims is a JSON object of extra claims for the client's tokens.
	Claims json.RawMessage `json:"claims,omitempty"`
	// Disabled stops the client from getting or using tokens.
	Disabled bool `json:"disabled,omitempty"`
	// Metadata is a JSON object kept for the operator.
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// TokenEndpointAuthMethod is client_secret_basic (the default),
	// client_secret_post or none: a public client, which gets no secret and
	// may only use the grants in grant.PublicGrants.
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method,omitempty"`
	// SkipConsent lets the client's authorization requests go without the
	// consent page, for first-party apps. Admin-only: see StripAdminOnly.
	SkipConsent bool `json:"skip_consent,omitempty"`
	// RequirePKCE defaults to true when nil; it cannot be false for a
	// public client.
	RequirePKCE *bool `json:"require_pkce,omitempty"`
	// PostLogoutRedirectURIs are where RP-initiated logout may send the
	// browser back, under the redirect_uris rules; compared exactly.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	// RefreshTokenTTL overrides the server's refresh token lifetime for a
	// client of the refresh_token grant; 0 keeps it.
	RefreshTokenTTL Duration `json:"refresh_token_ttl,omitzero"`
	// IDTokenSignedResponseAlg is the JWS algorithm of the client's ID
	// tokens (OpenID Connect Registration §2): the operator's signing_alg
	// or RS256 (Limits.IDTokenAlgs); "" takes the operator's.
	IDTokenSignedResponseAlg string `json:"id_token_signed_response_alg,omitempty"`
}

// Client is the public view of a client: what the admin API returns. It
// never holds a secret or a secret's hash.
type Client struct {
	ClientID            string          `json:"client_id"`
	ClientName          string          `json:"client_name"`
	GrantTypes          []string        `json:"grant_types"`
	Scope               string          `json:"scope,omitempty"`
	Audience            []string        `json:"audience,omitempty"`
	RedirectURIs        []string        `json:"redirect_uris,omitempty"`
	IPAllowlist         []string        `json:"ip_allowlist,omitempty"`
	Features            []string        `json:"features,omitempty"`
	RequireScopeRequest bool            `json:"require_scope_request"`
	AccessTokenTTL      Duration        `json:"access_token_ttl,omitzero"`
	Claims              json.RawMessage `json:"claims,omitempty"`
	Disabled            bool            `json:"disabled"`
	Metadata            json.RawMessage `json:"metadata,omitempty"`
	// TokenEndpointAuthMethod is never empty: the default is named.
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method"`
	// ClientType is derived from TokenEndpointAuthMethod: "public" for none,
	// else "confidential" (RFC 6749 §2.1).
	ClientType  string `json:"client_type"`
	SkipConsent bool   `json:"skip_consent"`
	RequirePKCE bool   `json:"require_pkce"`
	// Registered is true for a client that registered itself (RFC 7591),
	// which the consent page is never skipped for.
	Registered bool      `json:"registered"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// Secrets lists the live secrets, without their hashes.
	Secrets []SecretInfo `json:"secrets"`
	// TokensRevokedAt is the last revoke-all moment, when there was one.
	TokensRevokedAt time.Time `json:"tokens_revoked_at,omitzero"`
	Usage           Usage     `json:"usage"`
	// PostLogoutRedirectURIs are where RP-initiated logout may return.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	// RefreshTokenTTL is the client's own refresh token lifetime, when set.
	RefreshTokenTTL Duration `json:"refresh_token_ttl,omitzero"`
	// IDTokenSignedResponseAlg is the algorithm of the client's ID tokens,
	// when set; unset, the operator's signing_alg.
	IDTokenSignedResponseAlg string `json:"id_token_signed_response_alg,omitempty"`
}

// Usage is a client's usage as the admin API shows it: the counters the
// store keeps, and the people who use the client.
type Usage struct {
	storage.Usage
	// People is how many distinct people hold, at the moment the view was
	// read, a standing consent to the client or a live refresh token family
	// of it (storage.PeopleTally): how many people use the app. A
	// client_credentials client has none.
	People int `json:"people"`
}

// SecretInfo describes one secret without revealing it.
type SecretInfo struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is zero (omitted) for a secret that does not expire.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// Duration is a time.Duration in JSON: written as a Go duration string
// ("15m0s"), read from such a string or from a whole number of seconds.
type Duration time.Duration

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string ("15m", "1h30m") or a whole number
// of seconds. null leaves d unchanged. Any other input is a
// *json.UnmarshalTypeError, which the JSON decoder labels with the field.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	bad := &json.UnmarshalTypeError{Value: "duration", Type: reflect.TypeFor[Duration]()}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return bad
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return bad
		}
		*d = Duration(v)
		return nil
	}
	secs, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || secs > maxSeconds || secs < -maxSeconds {
		return bad
	}
	*d = Duration(time.Duration(secs) * time.Second)
	return nil
}

// maxSeconds is the largest number of seconds a time.Duration holds.
const maxSeconds = int64(1<<63-1) / int64(time.Second)

// fieldTypes names each writable field and the JSON it takes, for messages
// about a value of the wrong type.
var fieldTypes = map[string]string{
	"client_name":                  "a string",
	"grant_types":                  "an array of strings",
	"scope":                        "a string of space-separated scope tokens",
	"audience":                     "an array of strings",
	"redirect_uris":                "an array of strings",
	"ip_allowlist":                 "an array of strings",
	"features":                     "an array of strings",
	"require_scope_request":        "a boolean",
	"access_token_ttl":             `a duration such as "15m" or a whole number of seconds`,
	"refresh_token_ttl":            `a duration such as "720h" or a whole number of seconds`,
	"claims":                       "a JSON object",
	"disabled":                     "a boolean",
	"metadata":                     "a JSON object",
	"token_endpoint_auth_method":   "a string: " + strings.Join(authMethods, ", "),
	"post_logout_redirect_uris":    "an array of strings",
	"skip_consent":                 "a boolean",
	"require_pkce":                 "a boolean",
	"id_token_signed_response_alg": "a string",
}

// authMethods are the token_endpoint_auth_method values a client may
// register, the default first.
var authMethods = []string{storage.AuthMethodSecretBasic, storage.AuthMethodSecretPost, storage.AuthMethodNone}

// Client types (RFC 6749 §2.1), as the view shows them.
const (
	ClientTypeConfidential = "confidential"
	ClientTypePublic       = "public"
)

// clientType names the type of c.
func clientType(c storage.Client) string {
	if c.Public() {
		return ClientTypePublic
	}
	return ClientTypeConfidential
}

// StripAdminOnly returns m without the fields only an administrator may
// set: skip_consent (an app that skips consent acts for people without
// their say), features (admin API and introspection rights), claims (what
// the gateway asserts in the app's tokens), metadata (the operator's
// notes) and refresh_token_ttl (how long a person's grant lasts). It is the one list of them: a registration the app makes itself
// (RFC 7591 dynamic registration) passes through it before Create, and the
// fields come back at their defaults, as RFC 7591 §3.2.1 lets a server
// replace what a client asked for.
func StripAdminOnly(m Metadata) Metadata {
	m.SkipConsent = false
	m.Features = nil
	m.Claims = nil
	m.Metadata = nil
	// How long a person's grant lasts is the operator's call, not the app's.
	m.RefreshTokenTTL = 0
	return m
}

// readOnlyFields are the fields the server sets. A request body that names
// one is refused rather than silently ignored, so nobody believes they set a
// client ID or a secret. Any name containing "hash" is read-only too.
var readOnlyFields = map[string]bool{
	"client_id":                true,
	"client_secret":            true,
	"client_secret_expires_at": true,
	"client_id_issued_at":      true,
	"created_at":               true,
	"updated_at":               true,
	"secrets":                  true,
	"secret_id":                true,
	"usage":                    true,
	"tokens_revoked_at":        true,
	"client_type":              true,
	"registered":               true,
}

// fieldSet is the writable and read-only fields of one kind of record's
// request body: clients here, users and roles in users.go and roles.go.
type fieldSet struct {
	// types names each writable field and the JSON it takes.
	types map[string]string
	// readOnly names the fields the server sets.
	readOnly map[string]bool
}

// clientFields are a client's.
var clientFields = fieldSet{types: fieldTypes, readOnly: readOnlyFields}

// decode reads a request body strictly into the struct into, as
// DecodeMetadata describes.
func (fs fieldSet) decode(data []byte, into any) error {
	raw, keys, err := decodeObject(data)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := fs.checkWritable(k); err != nil {
			return err
		}
	}
	if err := json.Unmarshal(raw, into); err != nil {
		return fs.typeError(err)
	}
	return nil
}

// DecodeMetadata reads a request body strictly: one JSON object in UTF-8,
// nothing after it, no duplicate member names at any depth, no unknown or
// read-only field, every field of its type. Every error is a
// *ValidationError naming the field; none repeats a value from the input.
// It does not validate the values: Create and Replace do.
func DecodeMetadata(data []byte) (Metadata, error) {
	var m Metadata
	if err := clientFields.decode(data, &m); err != nil {
		return Metadata{}, err
	}
	return m, nil
}

// checkWritable refuses a top-level member name that is not a writable
// field.
func (fs fieldSet) checkWritable(key string) error {
	if _, ok := fs.types[key]; ok {
		return nil
	}
	if fs.isReadOnly(key) {
		return &ValidationError{Field: fieldLabel(key), Reason: "is read-only"}
	}
	return &ValidationError{Field: fieldLabel(key), Reason: "is not a known field"}
}

// isReadOnly reports whether a member name is one the server sets.
func (fs fieldSet) isReadOnly(key string) bool {
	return fs.readOnly[key] || strings.Contains(strings.ToLower(key), "hash")
}

// fieldLabel returns key if it is safe to repeat in a message (a short
// plain name); otherwise "body", so that no control character, markup or
// long text from the input is echoed.
func fieldLabel(key string) string {
	if !isPlainName(key) {
		return "body"
	}
	return key
}

// isPlainName reports whether s is safe to repeat in a message: 1 to 64
// ASCII letters, digits, '_', '-' or '.'.
func isPlainName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

// typeError turns a json.Unmarshal error into a *ValidationError.
func (fs fieldSet) typeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if want, ok := fs.types[te.Field]; ok {
			return &ValidationError{Field: te.Field, Reason: "must be " + want}
		}
		return &ValidationError{Field: fieldLabel(te.Field), Reason: "has a value of the wrong type"}
	}
	return &ValidationError{Field: "body", Reason: "is not valid JSON"}
}

// decodeObject checks that data is exactly one JSON object (UTF-8, nothing
// but white space after it) that strictjson accepts (no duplicate member
// names at any depth, no lone surrogates, nesting within strictjson.MaxDepth)
// and returns it with its top-level member names in order. encoding/json
// reads it first only for its messages: the position of a syntax error.
func decodeObject(data []byte) (json.RawMessage, []string, error) {
	if !utf8.Valid(data) {
		return nil, nil, &ValidationError{Field: "body", Reason: "is not UTF-8 encoded"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, &ValidationError{Field: "body", Reason: "is empty; send a JSON object"}
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, nil, &ValidationError{Field: "body", Reason: "is not valid JSON (syntax error at byte " + strconv.FormatInt(se.Offset, 10) + ")"}
		}
		return nil, nil, &ValidationError{Field: "body", Reason: "is not valid JSON"}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, nil, &ValidationError{Field: "body", Reason: "must hold one JSON object and nothing after it"}
	}
	if raw[0] != '{' {
		return nil, nil, &ValidationError{Field: "body", Reason: "must be a JSON object"}
	}
	keys, err := strictjson.Members(raw)
	if err != nil {
		return nil, nil, memberError(err)
	}
	return raw, keys, nil
}

// memberError describes a request body strictjson.Members refused. The
// member is named only when fieldLabel finds it safe to repeat.
func memberError(err error) error {
	var se *strictjson.Error
	if !errors.As(err, &se) {
		return &ValidationError{Field: "body", Reason: "is not valid JSON"}
	}
	return &ValidationError{Field: fieldLabel(se.Member), Reason: problemReason(se.Problem, false)}
}

// problemReason says what a strictjson.Problem is wrong with. inObject is
// true for the claims or metadata object, whose own members are nested
// members of the body.
func problemReason(p strictjson.Problem, inObject bool) string {
	switch p {
	case strictjson.DuplicateMember:
		if !inObject {
			return "appears more than once"
		}
		return "has a member name that appears more than once"
	case strictjson.DuplicateNested:
		return "has a member name that appears more than once"
	case strictjson.TooDeep:
		return "is nested more than " + strconv.Itoa(strictjson.MaxDepth) + " levels deep"
	}
	return "must be valid JSON: " + strictjson.Rule
}

// view builds the public view of a stored client at now.
func (r *Registry) view(c storage.Client, u Usage, now time.Time) Client {
	v := Client{
		ClientID:                c.ID,
		ClientName:              c.Name,
		GrantTypes:              cloneOrEmpty(c.GrantTypes),
		Scope:                   scope.Join(c.Scopes),
		Audience:                cloneOrNil(c.Audience),
		RedirectURIs:            cloneOrNil(c.RedirectURIs),
		Features:                cloneOrNil(c.Features),
		RequireScopeRequest:     c.RequireScopeRequest,
		AccessTokenTTL:          Duration(c.AccessTokenTTL),
		Claims:                  cloneOrNil(c.Claims),
		Disabled:                c.Disabled,
		Metadata:                cloneOrNil(c.Metadata),
		TokenEndpointAuthMethod: c.AuthMethod(),
		ClientType:              clientType(c),
		SkipConsent:             c.SkipConsent,
		RequirePKCE:             !c.PKCEOptional,
		Registered:              c.Registered,
		CreatedAt:               c.CreatedAt,
		UpdatedAt:               c.UpdatedAt,
		Secrets:                 []SecretInfo{},
		TokensRevokedAt:         c.TokensRevokedAt,
		Usage:                   u,
		PostLogoutRedirectURIs:  cloneOrNil(c.PostLogoutRedirectURIs),
	}
	v.RefreshTokenTTL = Duration(c.RefreshTokenTTL)
	v.IDTokenSignedResponseAlg = c.IDTokenSignedResponseAlg
	if len(c.IPAllowlist) > 0 {
		v.IPAllowlist = ipallow.List(c.IPAllowlist).Strings()
	}
	for _, s := range liveSecrets(c.Secrets, now) {
		v.Secrets = append(v.Secrets, SecretInfo{ID: s.ID, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt})
	}
	return v
}

// metadataJSON returns the writable fields of c as the JSON a client of the
// API would send to recreate them: the document a merge patch applies to.
func metadataJSON(c storage.Client) ([]byte, error) {
	require := c.RequireScopeRequest
	requirePKCE := !c.PKCEOptional
	m := Metadata{
		TokenEndpointAuthMethod: c.AuthMethod(),
		SkipConsent:             c.SkipConsent,
		RequirePKCE:             &requirePKCE,
		ClientName:              c.Name,
		GrantTypes:              c.GrantTypes,
		Scope:                   scope.Join(c.Scopes),
		Audience:                c.Audience,
		RedirectURIs:            c.RedirectURIs,
		Features:                c.Features,
		RequireScopeRequest:     &require,
		AccessTokenTTL:          Duration(c.AccessTokenTTL),
		Claims:                  c.Claims,
		Disabled:                c.Disabled,
		Metadata:                c.Metadata,
		PostLogoutRedirectURIs:  c.PostLogoutRedirectURIs,
	}
	m.RefreshTokenTTL = Duration(c.RefreshTokenTTL)
	m.IDTokenSignedResponseAlg = c.IDTokenSignedResponseAlg
	if len(c.IPAllowlist) > 0 {
		m.IPAllowlist = ipallow.List(c.IPAllowlist).Strings()
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode current metadata: %w", err)
	}
	return b, nil
}

// setMetadata copies the writable fields of src into dst.
func setMetadata(dst *storage.Client, src storage.Client) {
	dst.Name = src.Name
	dst.GrantTypes = src.GrantTypes
	dst.Scopes = src.Scopes
	dst.Audience = src.Audience
	dst.RedirectURIs = src.RedirectURIs
	dst.IPAllowlist = src.IPAllowlist
	dst.Features = src.Features
	dst.RequireScopeRequest = src.RequireScopeRequest
	dst.AccessTokenTTL = src.AccessTokenTTL
	dst.Claims = src.Claims
	dst.Disabled = src.Disabled
	dst.Metadata = src.Metadata
	dst.TokenEndpointAuthMethod = src.TokenEndpointAuthMethod
	dst.SkipConsent = src.SkipConsent
	dst.PKCEOptional = src.PKCEOptional
	dst.PostLogoutRedirectURIs = src.PostLogoutRedirectURIs
	dst.RefreshTokenTTL = src.RefreshTokenTTL
	dst.IDTokenSignedResponseAlg = src.IDTokenSignedResponseAlg
	if dst.Public() {
		// A public client holds no secret: one kept from before it became
		// public would let whoever holds it authenticate as it.
		dst.Secrets = nil
	}
}

// cloneOrNil copies s; empty gives nil, so that JSON omits it.
func cloneOrNil[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return append(S(nil), s...)
}

// cloneOrEmpty copies s; empty gives a non-nil empty slice (JSON []).
func cloneOrEmpty[S ~[]E, E any](s S) S {
	return append(S{}, s...)
}
