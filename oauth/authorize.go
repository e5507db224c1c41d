package oauth

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error codes of the authorization endpoint: RFC 6749 §4.1.2.1 and OpenID
// Connect Core §3.1.2.6.
const (
	CodeAccessDenied            = "access_denied"
	CodeUnsupportedResponseType = "unsupported_response_type"
	CodeLoginRequired           = "login_required"
	CodeConsentRequired         = "consent_required"
	CodeRequestNotSupported     = "request_not_supported"
	CodeRequestURINotSupported  = "request_uri_not_supported"
)

// Limits on an authorization request, beyond the token request's
// (MaxClientIDLen, MaxScopeLen, MaxResources, MaxResourceLen) and
// MaxURILength for redirect_uri. Everything sent back in the redirect is
// bounded, so that the response's Location stays a sane length.
const (
	// MaxAuthorizeQueryLen is the longest query string ParseAuthorizeQuery
	// reads, in bytes: room for every bounded parameter below.
	MaxAuthorizeQueryLen = 16 << 10
	// MaxStateLen is the longest state accepted, in bytes.
	MaxStateLen = 1024
	// MaxNonceLen is the longest nonce accepted, in bytes.
	MaxNonceLen = 512
	// MaxLoginHintLen is the longest login_hint accepted, in bytes.
	MaxLoginHintLen = 256
	// MaxMaxAge is the largest max_age accepted, in seconds (68 years).
	MaxMaxAge = 1<<31 - 1
)

// PKCE (RFC 7636) as the authorization endpoint accepts it.
const (
	// PKCEMethodS256 is the one code_challenge_method accepted: "plain"
	// would let whoever sees the authorization request redeem the code.
	PKCEMethodS256 = "S256"
	// s256ChallengeLen is the length of base64url(SHA-256(verifier))
	// without padding.
	s256ChallengeLen = 43
	// MinVerifierLen and MaxVerifierLen bound a code_verifier (RFC 7636
	// §4.1).
	MinVerifierLen = 43
	MaxVerifierLen = 128
)

// Prompt values (OpenID Connect Core §3.1.2.1) the authorization endpoint
// understands.
const (
	PromptNone    = "none"
	PromptLogin   = "login"
	PromptConsent = "consent"
)

// AuthorizeRequest is a parsed authorization request (RFC 6749 §4.1.1, RFC
// 7636 §4.3, RFC 8707, OpenID Connect Core §3.1.2.1). Parameters sent with
// an empty value are treated as absent (RFC 6749 §3.1); parameters it does
// not know are ignored (RFC 6749 §3.1).
//
// ClientID and RedirectURI are only well-formed: until Trust has matched the
// redirect URI against the client's registration, no error may be sent to
// it. Whether PKCE, a scope or a resource is required, and whether the
// client may have them, is the caller's decision.
type AuthorizeRequest struct {
	// ResponseType is "code", the only one supported.
	ResponseType string
	// ClientID is the client_id parameter; never empty.
	ClientID string
	// RedirectURI is the redirect_uri parameter; never empty.
	RedirectURI string
	// State is the state parameter, returned to the client as sent; "" when
	// absent.
	State string
	// Scope is the scope parameter as sent, or "" when absent.
	Scope string
	// Scopes is Scope parsed by scope.Parse (duplicates dropped), or nil.
	Scopes []string
	// Nonce is the OpenID Connect nonce, or "".
	Nonce string
	// CodeChallenge is the PKCE challenge, 43 base64url characters, or ""
	// when the request carried none.
	CodeChallenge string
	// CodeChallengeMethod is PKCEMethodS256 when CodeChallenge is set, else
	// "".
	CodeChallengeMethod string
	// Resources are the resource parameters (RFC 8707), or nil.
	Resources []string
	// Prompt holds the prompt values without repeats, in the order sent:
	// PromptNone alone, or PromptLogin and PromptConsent; nil when absent.
	Prompt []string
	// MaxAge is max_age in seconds, or nil when absent.
	MaxAge *int
	// LoginHint is the login_hint parameter, or "".
	LoginHint string

	// problem is the first error found after client_id and redirect_uri,
	// held until Trust may send it to the client.
	problem *Error
	// trusted is set by Trust once the redirect URI matched the client's
	// registration: from then on errors are redirected.
	trusted bool
}

// AuthorizeError is an error of the authorization endpoint, together with
// where it goes. RFC 6749 §4.1.2.1: an error found before the client and
// its redirect URI are trusted (client_id or redirect_uri missing, unknown,
// unregistered) is shown to the person and never redirected, or the
// endpoint would be an open redirect; any other goes back to the client's
// redirect URI.
type AuthorizeError struct {
	// Err is the OAuth error: its code and fixed description, and for a
	// page that shows it, the HTTP status.
	Err *Error

	// redirectURI is where the error is sent; "" when it must be shown.
	redirectURI string
	// state is the request's state, returned with the error.
	state string
}

// Error returns the OAuth error's code and description.
func (e *AuthorizeError) Error() string { return e.Err.Error() }

// Unwrap returns the OAuth error.
func (e *AuthorizeError) Unwrap() error { return e.Err }

// Redirectable reports whether the error goes back to the client's redirect
// URI. When false, the caller renders a page with Err and its Status.
func (e *AuthorizeError) Redirectable() bool { return e.redirectURI != "" }

// RedirectURL returns the URL that sends the error to the client (RFC 6749
// §4.1.2.1): the redirect URI, its own query kept, with error,
// error_description, state when the request carried one, and iss (RFC
// 9207) when issuer is set, each query-encoded. It returns "" when the
// error is not Redirectable.
func (e *AuthorizeError) RedirectURL(issuer string) string {
	if !e.Redirectable() {
		return ""
	}
	return appendQuery(e.redirectURI,
		"error", e.Err.Code,
		"error_description", e.Err.Description,
		"state", e.state,
		"iss", issuer)
}

// SuccessRedirect returns the URL that sends an authorization code to the
// client (RFC 6749 §4.1.2): redirectURI, its own query kept, with code,
// state when not empty, and iss (RFC 9207) when issuer is set. redirectURI
// must be one that AuthorizeRequest.Trust accepted.
func SuccessRedirect(redirectURI, code, state, issuer string) string {
	return appendQuery(redirectURI, "code", code, "state", state, "iss", issuer)
}

// appendQuery adds the non-empty name/value pairs to uri's query. The URI is
// kept byte for byte, as the client registered it (RFC 6749 §3.1.2 keeps
// its query); a fragment, which a registered URI cannot have, is dropped
// rather than followed by parameters the browser would not send. Values
// are query-escaped, so none can add a parameter or end the query.
func appendQuery(uri string, pairs ...string) string {
	uri, _, _ = strings.Cut(uri, "#")
	var b strings.Builder
	b.WriteString(uri)
	sep := byte('?')
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		sep = '&'
		if i == len(uri)-1 || strings.HasSuffix(uri, "&") {
			sep = 0
		}
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			continue
		}
		if sep != 0 {
			b.WriteByte(sep)
		}
		sep = '&'
		b.WriteString(pairs[i])
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(pairs[i+1]))
	}
	return b.String()
}

// shown returns a 400 error with code and description that is shown,
// never redirected.
func shown(code, description string) *AuthorizeError {
	return &AuthorizeError{Err: &Error{Code: code, Description: description, Status: http.StatusBadRequest}}
}

// UnknownClient is the error for a client_id that names no client, or a
// client that may not use the authorization endpoint: shown, never
// redirected. Its code is invalid_client, as Hydra's; RFC 6749 names none
// for an error that is not sent to the client.
func UnknownClient() *AuthorizeError {
	return shown(CodeInvalidClient, "the client is unknown or may not use this endpoint")
}

// UnsupportedResponseType returns a 400 unsupported_response_type error.
func UnsupportedResponseType(description string) *Error {
	return &Error{Code: CodeUnsupportedResponseType, Description: description, Status: http.StatusBadRequest}
}

// AccessDenied returns an access_denied error: the person denied the
// request, or may not grant it.
func AccessDenied(description string) *Error {
	return &Error{Code: CodeAccessDenied, Description: description, Status: http.StatusForbidden}
}

// LoginRequired returns a login_required error: prompt=none and nobody is
// signed in (OpenID Connect Core §3.1.2.6). It is meant to be redirected;
// its status, 400, is for a page that shows it (401 would need an HTTP
// authentication challenge, which no page has).
func LoginRequired(description string) *Error {
	return &Error{Code: CodeLoginRequired, Description: description, Status: http.StatusBadRequest}
}

// ConsentRequired returns a consent_required error: prompt=none and the
// person has not approved what is asked (OpenID Connect Core §3.1.2.6).
// Like LoginRequired it is meant to be redirected.
func ConsentRequired(description string) *Error {
	return &Error{Code: CodeConsentRequired, Description: description, Status: http.StatusBadRequest}
}

// ParseAuthorizeQuery parses a raw query string strictly and then as
// ParseAuthorizeRequest does. A query over MaxAuthorizeQueryLen bytes, with
// a byte a URI carries only percent-encoded (RFC 3986 §2: anything but
// printable ASCII, and '\' and '#'), or with a malformed pair (which
// url.Values from r.URL.Query() would drop silently, hiding a repeated
// client_id or redirect_uri) is refused and shown. So an accepted query is
// the request exactly as a URL carries it, and goes through the sign-in
// page's return_to unchanged in bytes and length.
func ParseAuthorizeQuery(rawQuery string) (*AuthorizeRequest, *AuthorizeError) {
	if len(rawQuery) > MaxAuthorizeQueryLen {
		return nil, shown(CodeInvalidRequest, "the request is too long")
	}
	if !IsURIText(rawQuery) {
		return nil, shown(CodeInvalidRequest, "the query string holds characters that must be percent-encoded")
	}
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, shown(CodeInvalidRequest, "the query string is malformed")
	}
	return ParseAuthorizeRequest(query)
}

// IsURIText reports whether every byte of s is one a URI may carry as it
// is, outside a fragment: printable ASCII but '\', which browsers read as
// '/', and '#', which starts a fragment. Browsers and client libraries
// percent-encode the rest. It is the one rule for both an authorization
// request's query and the sign-in page's return_to, so that every request
// the endpoint accepts can come back through sign-in.
func IsURIText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '\\' || c == '#' {
			return false
		}
	}
	return true
}

// ParseAuthorizeRequest reads an authorization request's parameters. It
// returns:
//
//   - nil and an error to show when client_id or redirect_uri is missing,
//     repeated, too long or not printable ASCII: nothing can be sent to the
//     client before it and its redirect URI are known;
//   - the request and nil when every parameter is acceptable;
//   - the request with only ClientID, RedirectURI and State set, and an
//     error that is not yet Redirectable, when another parameter is wrong.
//     Trust returns that error again, redirectable, once the client and its
//     redirect URI are trusted.
//
// The checks: every parameter at most once but resource (RFC 6749 §3.1,
// RFC 8707); no request object, by value or by reference
// (request_not_supported, request_uri_not_supported); response_type
// exactly "code" (unsupported_response_type otherwise: the implicit grant
// is refused, RFC 9700 §2.1.2); state and
// nonce printable ASCII within MaxStateLen and MaxNonceLen; PKCE with
// S256 only, "plain" or a challenge without a method refused as a
// downgrade, the challenge 43 base64url characters (RFC 7636 §4.2); scope
// well-formed (invalid_scope); resources as ValidResource (invalid_target);
// prompt values none, login, consent, "none" alone; max_age a non-negative
// integer up to MaxMaxAge; login_hint UTF-8 text within MaxLoginHintLen.
// Error descriptions are fixed text: input is never echoed.
func ParseAuthorizeRequest(query url.Values) (*AuthorizeRequest, *AuthorizeError) {
	clientID, e := identityParam(query, "client_id", MaxClientIDLen)
	if e != nil {
		return nil, e
	}
	redirectURI, e := identityParam(query, "redirect_uri", MaxURILength)
	if e != nil {
		return nil, e
	}
	req := &AuthorizeRequest{ClientID: clientID, RedirectURI: redirectURI}
	req.State = validState(query["state"])
	full := *req
	if problem := full.parse(query); problem != nil {
		req.problem = problem
		return req, &AuthorizeError{Err: problem}
	}
	return &full, nil
}

// identityParam reads client_id or redirect_uri, whose errors are shown.
func identityParam(query url.Values, name string, maxLen int) (string, *AuthorizeError) {
	values := query[name]
	switch {
	case len(values) > 1:
		return "", shown(CodeInvalidRequest, "the "+name+" parameter is repeated")
	case len(values) == 0 || values[0] == "":
		return "", shown(CodeInvalidRequest, "missing "+name)
	case len(values[0]) > maxLen:
		return "", shown(CodeInvalidRequest, "the "+name+" parameter is too long")
	case !isVSChars(values[0]):
		return "", shown(CodeInvalidRequest, "the "+name+" parameter contains characters outside printable ASCII")
	}
	return values[0], nil
}

// validState returns the state to send back with a response: the one
// value sent, when it is printable ASCII within MaxStateLen; "" otherwise
// (parse then refuses the request, and the error goes back without it).
func validState(values []string) string {
	if len(values) != 1 || len(values[0]) > MaxStateLen || !isVSChars(values[0]) {
		return ""
	}
	return values[0]
}

// parse checks every parameter after client_id and redirect_uri, filling
// req, and returns the first problem.
func (req *AuthorizeRequest) parse(query url.Values) *Error {
	for name, values := range query {
		if len(values) > 1 && name != "resource" {
			// The name is input: never echoed.
			return InvalidRequest("a parameter is repeated")
		}
	}
	// Before any other parameter: with a request object the others may be
	// inside it, and an error about them would mislead.
	if e := refuseRequestObject(query); e != nil {
		return e
	}
	switch rt := query.Get("response_type"); rt {
	case "code":
		req.ResponseType = rt
	case "":
		return InvalidRequest("missing response_type")
	case "token":
		return UnsupportedResponseType("the implicit grant is not supported: use response_type=code with PKCE")
	default:
		return UnsupportedResponseType("response_type must be code")
	}
	if state := query.Get("state"); state != "" && req.State == "" {
		return InvalidRequest("state must be at most 1024 characters of printable ASCII")
	}
	steps := []func(url.Values) *Error{
		req.parsePKCE,
		req.parseScope,
		req.parseResources,
		req.parsePrompt,
		req.parseMaxAge,
		req.parseNonce,
		req.parseLoginHint,
	}
	for _, step := range steps {
		if e := step(query); e != nil {
			return e
		}
	}
	return nil
}

// refuseRequestObject answers a request that passes its parameters in a
// request object, by value (request) or by reference (request_uri, RFC
// 9101 §5), which the endpoint does not support: request_not_supported or
// request_uri_not_supported (OpenID Connect Core §3.1.2.6), rather than
// ignoring it and acting on parameters the app meant to be replaced or
// signed. A request_uri is never fetched.
func refuseRequestObject(query url.Values) *Error {
	switch {
	case query.Get("request") != "":
		return &Error{Code: CodeRequestNotSupported, Status: http.StatusBadRequest,
			Description: "the request parameter (a request object) is not supported: send the parameters in the query"}
	case query.Get("request_uri") != "":
		return &Error{Code: CodeRequestURINotSupported, Status: http.StatusBadRequest,
			Description: "the request_uri parameter is not supported: send the parameters in the query"}
	}
	return nil
}

// parsePKCE reads code_challenge and its method (RFC 7636 §4.3).
func (req *AuthorizeRequest) parsePKCE(query url.Values) *Error {
	challenge, method := query.Get("code_challenge"), query.Get("code_challenge_method")
	switch {
	case challenge == "" && method == "":
		return nil
	case challenge == "":
		return InvalidRequest("code_challenge_method sent without code_challenge")
	case method == "plain":
		return InvalidRequest("PKCE downgrade refused: code_challenge_method plain is not supported, use S256")
	case method == "":
		// RFC 7636 §4.3 reads a missing method as plain.
		return InvalidRequest("PKCE downgrade refused: code_challenge_method is required and must be S256")
	case method != PKCEMethodS256:
		return InvalidRequest("code_challenge_method must be S256")
	case !validS256Challenge(challenge):
		return InvalidRequest("code_challenge must be 43 characters of base64url, the SHA-256 of the verifier")
	}
	req.CodeChallenge, req.CodeChallengeMethod = challenge, method
	return nil
}

func (req *AuthorizeRequest) parseScope(query url.Values) *Error {
	s := query.Get("scope")
	scopes, e := parseScopeParam(s)
	if e != nil {
		return e
	}
	if scopes != nil {
		req.Scope, req.Scopes = s, scopes
	}
	return nil
}

func (req *AuthorizeRequest) parseResources(query url.Values) *Error {
	var values []string
	for _, v := range query["resource"] {
		if v != "" {
			values = append(values, v)
		}
	}
	if e := checkResources(values); e != nil {
		return e
	}
	req.Resources = values
	return nil
}

// parsePrompt reads the space-delimited prompt values (OpenID Connect Core
// §3.1.2.1); "none" with any other is invalid, as the spec says.
func (req *AuthorizeRequest) parsePrompt(query url.Values) *Error {
	s := query.Get("prompt")
	if s == "" {
		return nil
	}
	if len(s) > 64 {
		return InvalidRequest("the prompt parameter is too long")
	}
	var prompt []string
	for _, v := range strings.Split(s, " ") {
		switch v {
		case PromptNone, PromptLogin, PromptConsent:
			if !contains(prompt, v) {
				prompt = append(prompt, v)
			}
		default:
			return InvalidRequest("prompt values must be none, login or consent, separated by single spaces")
		}
	}
	if len(prompt) > 1 && contains(prompt, PromptNone) {
		return InvalidRequest("prompt=none cannot be combined with other values")
	}
	req.Prompt = prompt
	return nil
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// parseMaxAge reads max_age: decimal digits only, so no sign, space or
// exponent slips through strconv.
func (req *AuthorizeRequest) parseMaxAge(query url.Values) *Error {
	s := query.Get("max_age")
	if s == "" {
		return nil
	}
	const bad = "max_age must be a non-negative number of seconds, at most 2147483647"
	if len(s) > 10 || strings.TrimLeft(s, "0123456789") != "" {
		return InvalidRequest(bad)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > MaxMaxAge {
		return InvalidRequest(bad)
	}
	req.MaxAge = &n
	return nil
}

func (req *AuthorizeRequest) parseNonce(query url.Values) *Error {
	s := query.Get("nonce")
	if len(s) > MaxNonceLen || !isVSChars(s) {
		return InvalidRequest("nonce must be at most 512 characters of printable ASCII")
	}
	req.Nonce = s
	return nil
}

// parseLoginHint reads login_hint, which may be a name in any script, but
// never control characters, which would reach the sign-in page and logs.
func (req *AuthorizeRequest) parseLoginHint(query url.Values) *Error {
	s := query.Get("login_hint")
	if len(s) > MaxLoginHintLen || !utf8.ValidString(s) || strings.ContainsFunc(s, isControl) {
		return InvalidRequest("login_hint must be at most 256 bytes of text without control characters")
	}
	req.LoginHint = s
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r >= 0x7f && r <= 0x9f }

// Trust is called once the caller has found the client named by ClientID
// (else it shows UnknownClient) with its registered redirect URIs. It is
// the one place where the authorization endpoint decides that errors may
// go to the client: when RedirectURI matches a registered one
// (RedirectURIMatches), the request is trusted and Trust returns the
// parameter error ParseAuthorizeRequest found, now Redirectable, or nil;
// otherwise it returns an error to show and the request stays untrusted.
func (req *AuthorizeRequest) Trust(registered []string) *AuthorizeError {
	if !RedirectURIMatches(registered, req.RedirectURI) {
		return shown(CodeInvalidRequest, "the redirect_uri is not registered for this client")
	}
	req.trusted = true
	if req.problem != nil {
		return req.Fail(req.problem)
	}
	return nil
}

// Fail returns e as an error of this request: sent to the client's
// redirect URI with the request's state once Trust has accepted it, shown
// before. Errors found after parsing (access_denied, login_required, a
// scope the client may not have) go through Fail.
func (req *AuthorizeRequest) Fail(e *Error) *AuthorizeError {
	if !req.trusted {
		return &AuthorizeError{Err: e}
	}
	return &AuthorizeError{Err: e, redirectURI: req.RedirectURI, state: req.State}
}

// RequirePKCE returns the error for a request without a code_challenge
// from a client that must send one (every public client, and by default
// every client: RFC 9700 §2.1.1), or nil when it sent one.
func (req *AuthorizeRequest) RequirePKCE() *AuthorizeError {
	if req.CodeChallenge != "" {
		return nil
	}
	return req.Fail(InvalidRequest("PKCE is required: send code_challenge with code_challenge_method S256"))
}
