package oauth

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/scopegate/scopegate/scope"
)

// Client authentication methods, as named in RFC 7591 §2 and reported in
// TokenRequest.AuthMethod.
const (
	// AuthMethodBasic: HTTP Basic with form-urlencoded id and secret.
	AuthMethodBasic = "client_secret_basic"
	// AuthMethodPost: client_id and client_secret in the form body.
	AuthMethodPost = "client_secret_post"
	// AuthMethodNone: no client secret was presented.
	AuthMethodNone = ""
)

// Limits on a token request. Anything larger is refused with invalid_request
// before it reaches a store lookup or a hash.
const (
	// DefaultMaxBody is the body limit used when ParseTokenRequest is given
	// maxBody <= 0: room for the largest scope, credentials and resources
	// below, with margin.
	DefaultMaxBody = 64 << 10
	// MaxClientIDLen is the longest client_id accepted, in bytes.
	MaxClientIDLen = 255
	// MaxClientSecretLen is the longest client_secret accepted, in bytes.
	MaxClientSecretLen = 512
	// MaxScopeLen is the longest scope parameter accepted, in bytes.
	MaxScopeLen = 4 << 10
	// MaxResources is how many resource parameters one request may carry.
	MaxResources = 16
	// MaxResourceLen is the longest resource parameter accepted, in bytes:
	// MaxURILength, the bound of every URI.
	MaxResourceLen = MaxURILength
)

// maxBasicLen bounds the base64 credentials of a Basic header: the longest
// id and secret, every byte %-encoded (3 bytes each) plus the colon, in
// base64 (4 bytes per 3), rounded up.
const maxBasicLen = (3*(MaxClientIDLen+MaxClientSecretLen)+1+2)/3*4 + 4

// TokenRequest is a parsed token endpoint request (RFC 6749 §4.4.2, §3.2).
// Parameters sent with an empty value are treated as absent (RFC 6749 §3.2).
// Which grant types are supported, and whether the client may use them, is
// the caller's decision: GrantType is only known to be present.
type TokenRequest struct {
	// GrantType is the grant_type parameter; never empty.
	GrantType string
	// Scope is the scope parameter as sent, or "" when absent.
	Scope string
	// Scopes is Scope parsed by scope.Parse (duplicates dropped), or nil
	// when absent. A malformed scope is refused with invalid_scope.
	Scopes []string
	// Resource holds the resource parameters (RFC 8707), which may repeat:
	// each an absolute URI without a fragment. Nil when absent.
	Resource []string
	// ClientID is the client identifier from Basic credentials or the body,
	// or "" when none was sent.
	ClientID string
	// ClientSecret is the presented secret, or "" with AuthMethodNone.
	ClientSecret string
	// AuthMethod is AuthMethodBasic, AuthMethodPost or AuthMethodNone.
	AuthMethod string
	// Form holds every body parameter with a value, for grant-specific
	// parameters (code, redirect_uri, code_verifier, …). client_secret is
	// removed from it so that logging the form cannot leak the secret.
	Form url.Values
}

// String describes the request without its secret, so that a stray log of
// the request does not leak it.
func (r *TokenRequest) String() string {
	if r == nil {
		return "<nil>"
	}
	secret := "absent"
	if r.ClientSecret != "" {
		secret = "redacted"
	}
	return fmt.Sprintf("TokenRequest{grant_type=%q client_id=%q auth_method=%q client_secret=%s scope=%q}",
		r.GrantType, r.ClientID, r.AuthMethod, secret, r.Scope)
}

// GoString is String, so that %#v redacts the secret too.
func (r *TokenRequest) GoString() string { return r.String() }

// knownParams are the parameters a repetition error names; any other
// repeated parameter gets a generic description, since its name is input.
var knownParams = []string{
	"grant_type", "scope", "client_id", "client_secret", "code", "redirect_uri",
	"code_verifier", "refresh_token", "username", "password", "audience",
	"token", "token_type_hint",
	"client_assertion", "client_assertion_type",
}

// ParseTokenRequest reads and checks a token endpoint request. It enforces:
//
//   - method POST, else 405 invalid_request (Write adds `Allow: POST`);
//   - no client_id or client_secret in the query string, which is otherwise
//     ignored: credentials must never travel in a URL (RFC 6749 §2.3.1);
//   - one Content-Type, application/x-www-form-urlencoded (parameters such
//     as charset allowed, case-insensitive), no Content-Encoding;
//   - a body of at most maxBody bytes (DefaultMaxBody when maxBody <= 0),
//     else 413 invalid_request: 413 says precisely what is wrong while the
//     JSON body stays an OAuth error any client library can read;
//   - a well-formed form body, parsed here (r.ParseForm would merge the
//     query string into it), with no parameter repeated except resource;
//   - at most one Authorization header, and it must be Basic (scheme
//     case-insensitive): any other scheme is an unsupported authentication
//     method, which RFC 6749 §5.2 answers with invalid_client (401);
//   - Basic credentials in standard base64, padded or not (some clients
//     drop the padding and nothing is ambiguous without it), split at the
//     first colon, each half form-urldecoded (RFC 6749 Appendix B); bad
//     base64, no colon or bad %-encoding is invalid_request, an empty id or
//     secret invalid_client;
//   - one authentication method per request (RFC 6749 §2.3): Basic with a
//     body client_secret, or with a body client_id that differs, is
//     invalid_request; a body client_secret without client_id likewise;
//   - client_id at most MaxClientIDLen bytes and client_secret at most
//     MaxClientSecretLen, both printable ASCII (VSCHAR, RFC 6749 App. A);
//   - grant_type present;
//   - scope at most MaxScopeLen bytes (invalid_request) and well-formed
//     (invalid_scope);
//   - at most MaxResources resource values of at most MaxResourceLen bytes
//     (invalid_request), each a resource identifier as ValidResource
//     defines it (invalid_target, RFC 8707 §2).
//
// It does not authenticate the client. On error the request has not been
// used for authentication and nothing from it should be logged.
func ParseTokenRequest(r *http.Request, maxBody int64) (*TokenRequest, *Error) {
	req, e := ParseClientRequest(r, maxBody)
	if e != nil {
		return nil, e
	}
	req.GrantType = req.Form.Get("grant_type")
	if req.GrantType == "" {
		return nil, InvalidRequest("missing grant_type")
	}
	if e := req.parseScope(req.Form.Get("scope")); e != nil {
		return nil, e
	}
	if e := req.parseResource(req.Form["resource"]); e != nil {
		return nil, e
	}
	return req, nil
}

// ParseClientRequest reads and checks a form POST that a client
// authenticates like a token request: the revocation (RFC 7009) and
// introspection (RFC 7662) endpoints. It enforces every rule of
// ParseTokenRequest up to client authentication, and leaves the
// endpoint's own parameters in Form.
func ParseClientRequest(r *http.Request, maxBody int64) (*TokenRequest, *Error) {
	if r.Method != http.MethodPost {
		return nil, MethodNotAllowed("this endpoint accepts only POST")
	}
	if queryHas(r.URL, "client_id", "client_secret") {
		return nil, InvalidRequest("client credentials are not accepted in the query string")
	}
	if queryHas(r.URL, "password") {
		// A person's password (the password grant) in a URL would land in
		// access logs and proxies' caches: refused, never read.
		return nil, InvalidRequest("a password is not accepted in the query string")
	}
	if e := checkContentType(r.Header); e != nil {
		return nil, e
	}
	form, e := readForm(r, maxBody)
	if e != nil {
		return nil, e
	}
	for _, name := range knownParams {
		if len(form[name]) > 1 {
			return nil, InvalidRequest("the " + name + " parameter is repeated")
		}
	}
	for name, values := range form {
		if len(values) > 1 && name != "resource" {
			return nil, InvalidRequest("a parameter is repeated")
		}
	}
	dropEmpty(form)

	req := &TokenRequest{Form: form}
	if e := req.authenticate(r.Header, form); e != nil {
		return nil, e
	}
	delete(form, "client_secret")
	return req, nil
}

// queryHas reports whether the query string names one of names. It scans
// the raw query so that a malformed pair elsewhere cannot hide one, as
// url.ParseQuery would by skipping it.
func queryHas(u *url.URL, names ...string) bool {
	if u == nil {
		return false
	}
	for rest := u.RawQuery; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		key, _, _ := strings.Cut(pair, "=")
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
		if slices.Contains(names, key) {
			return true
		}
	}
	return false
}

// checkContentType requires one form Content-Type and no Content-Encoding.
func checkContentType(h http.Header) *Error {
	types := h.Values("Content-Type")
	if len(types) != 1 {
		return InvalidRequest("the body must be application/x-www-form-urlencoded")
	}
	// The bare media type, as nearly every client sends it, is accepted
	// without mime.ParseMediaType, which allocates a map for parameters.
	if !asciiEqualFold(types[0], formMediaType) {
		mediaType, _, err := mime.ParseMediaType(types[0])
		if err != nil || mediaType != formMediaType {
			return InvalidRequest("the body must be application/x-www-form-urlencoded")
		}
	}
	for _, enc := range h.Values("Content-Encoding") {
		if !strings.EqualFold(strings.TrimSpace(enc), "identity") {
			return InvalidRequest("content encodings are not accepted")
		}
	}
	return nil
}

const formMediaType = "application/x-www-form-urlencoded"

// readForm reads at most maxBody bytes of the body and parses it as a form.
func readForm(r *http.Request, maxBody int64) (url.Values, *Error) {
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	if r.ContentLength > maxBody {
		return nil, RequestTooLarge("the request body is too large")
	}
	var body []byte
	if r.Body != nil {
		var err error
		body, err = readBody(r.Body, r.ContentLength, maxBody+1)
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return nil, RequestTooLarge("the request body is too large")
			}
			return nil, InvalidRequest("the request body could not be read")
		}
		if int64(len(body)) > maxBody {
			return nil, RequestTooLarge("the request body is too large")
		}
	}
	form, err := parseForm(string(body))
	if err != nil {
		return nil, InvalidRequest("the form body is malformed")
	}
	return form, nil
}

// readBody reads body to its end or to limit bytes, as
// io.ReadAll(io.LimitReader(body, limit)) does, into one buffer sized from
// the declared length when there is one.
func readBody(body io.Reader, declared, limit int64) ([]byte, error) {
	size := int64(512)
	if declared >= 0 {
		// One byte more than declared, so that the end is seen without
		// growing the buffer.
		size = min(declared+1, limit)
	}
	buf := make([]byte, 0, max(size, 1))
	for int64(len(buf)) < limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		room := buf[len(buf):min(int64(cap(buf)), limit)]
		n, err := body.Read(room)
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// maxFastFormParams is how many parameters parseForm handles itself; a
// longer form goes to url.ParseQuery, whose limit on the number of
// parameters (10,000, or the urlmaxqueryparams GODEBUG setting) then
// applies as before.
const maxFastFormParams = 64

// parseForm parses a form body exactly as url.ParseQuery does (the same
// splitting, unescaping and errors), with fewer allocations: the map is
// sized up front and every parameter's value slice is cut from one shared
// array, each with its capacity capped so that an append to one (a repeated
// parameter) copies it rather than writing over the next.
func parseForm(body string) (url.Values, error) {
	count := strings.Count(body, "&") + 1
	if count > maxFastFormParams {
		return url.ParseQuery(body)
	}
	form := make(url.Values, count)
	values := make([]string, 0, count)
	var err error
	for query := body; query != ""; {
		var key string
		key, query, _ = strings.Cut(query, "&")
		if strings.Contains(key, ";") {
			err = errors.New("invalid semicolon separator in query")
			continue
		}
		if key == "" {
			continue
		}
		key, value, _ := strings.Cut(key, "=")
		key, err1 := url.QueryUnescape(key)
		if err1 != nil {
			if err == nil {
				err = err1
			}
			continue
		}
		value, err1 = url.QueryUnescape(value)
		if err1 != nil {
			if err == nil {
				err = err1
			}
			continue
		}
		if prev, ok := form[key]; ok {
			form[key] = append(prev, value)
			continue
		}
		values = append(values, value)
		n := len(values)
		form[key] = values[n-1 : n : n]
	}
	return form, err
}

// dropEmpty removes empty values, and parameters left with none: RFC 6749
// §3.2 treats a parameter without a value as omitted.
func dropEmpty(form url.Values) {
	for name, values := range form {
		kept := values[:0]
		for _, v := range values {
			if v != "" {
				kept = append(kept, v)
			}
		}
		if len(kept) == 0 {
			delete(form, name)
		} else {
			form[name] = kept
		}
	}
}

// authenticate fills the client fields from the Authorization header or the
// body, enforcing one method per request.
func (req *TokenRequest) authenticate(h http.Header, form url.Values) *Error {
	bodyID, bodySecret := form.Get("client_id"), form.Get("client_secret")
	auth := h.Values("Authorization")
	switch {
	case len(auth) > 1:
		return InvalidRequest("more than one Authorization header")
	case len(auth) == 1:
		id, secret, e := ParseBasic(auth[0])
		if e != nil {
			return e
		}
		if bodySecret != "" {
			return InvalidRequest("client credentials sent by more than one method")
		}
		if bodyID != "" && bodyID != id {
			return InvalidRequest("client_id in the body differs from the Basic credentials")
		}
		req.ClientID, req.ClientSecret, req.AuthMethod = id, secret, AuthMethodBasic
	case bodySecret != "":
		if bodyID == "" {
			return InvalidRequest("client_secret sent without client_id")
		}
		req.ClientID, req.ClientSecret, req.AuthMethod = bodyID, bodySecret, AuthMethodPost
	default:
		req.ClientID, req.AuthMethod = bodyID, AuthMethodNone
	}
	switch {
	case len(req.ClientID) > MaxClientIDLen:
		return InvalidRequest("client_id is too long")
	case !isVSChars(req.ClientID):
		return InvalidRequest("client_id contains characters outside printable ASCII")
	case len(req.ClientSecret) > MaxClientSecretLen:
		return InvalidRequest("client_secret is too long")
	case !isVSChars(req.ClientSecret):
		return InvalidRequest("client_secret contains characters outside printable ASCII")
	}
	return nil
}

// ParseBasic decodes an Authorization value `Basic <base64(urlencode(id):urlencode(secret))>`
// (RFC 6749 Appendix B), bounded in length, for every endpoint that accepts
// client credentials.
func ParseBasic(value string) (id, secret string, e *Error) {
	scheme, creds, _ := strings.Cut(value, " ")
	if !asciiEqualFold(scheme, "basic") {
		return "", "", InvalidClient("unsupported authentication scheme: use client_secret_basic or client_secret_post")
	}
	creds = strings.TrimLeft(creds, " ")
	if creds == "" {
		return "", "", InvalidRequest("malformed Basic credentials")
	}
	if len(creds) > maxBasicLen {
		return "", "", InvalidRequest("Basic credentials are too long")
	}
	decoded, ok := decodeBase64(creds)
	if !ok {
		return "", "", InvalidRequest("malformed Basic credentials")
	}
	rawID, rawSecret, found := strings.Cut(decoded, ":")
	if !found {
		return "", "", InvalidRequest("malformed Basic credentials")
	}
	id, err := url.QueryUnescape(rawID)
	if err != nil {
		return "", "", InvalidRequest("malformed percent-encoding in Basic credentials")
	}
	secret, err = url.QueryUnescape(rawSecret)
	if err != nil {
		return "", "", InvalidRequest("malformed percent-encoding in Basic credentials")
	}
	if id == "" {
		return "", "", InvalidClient("Basic credentials without a client_id")
	}
	if secret == "" {
		return "", "", InvalidClient("Basic credentials without a client_secret")
	}
	return id, secret, nil
}

// decodeBase64 decodes standard base64, with or without padding. Bytes
// outside the alphabet are refused up front because the standard decoder
// silently skips CR and LF. The bytes are decoded on the stack (s is at most
// maxBasicLen long), so the decoded string is the one allocation.
func decodeBase64(s string) (string, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return "", false
		}
	}
	enc := base64.StdEncoding
	if !strings.HasSuffix(s, "=") && len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	var buf [maxBasicLen / 4 * 3]byte
	dst := buf[:]
	if len(s) > maxBasicLen {
		dst = make([]byte, enc.DecodedLen(len(s)))
	}
	n, err := enc.Decode(dst, []byte(s))
	if err != nil {
		return "", false
	}
	return string(dst[:n]), true
}

// isVSChars reports whether s is made of VSCHAR (%x20-7E), the characters
// RFC 6749 Appendix A allows in client_id and client_secret. Refusing the
// rest also keeps control characters out of any log line that names the id.
func isVSChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// parseScope sets Scope and Scopes from the scope parameter.
func (req *TokenRequest) parseScope(s string) *Error {
	scopes, e := parseScopeParam(s)
	if e != nil {
		return e
	}
	if scopes != nil {
		req.Scope, req.Scopes = s, scopes
	}
	return nil
}

// parseScopeParam checks a scope parameter, of a token or an authorization
// request: nil for "", invalid_request when too long, invalid_scope when
// malformed.
func parseScopeParam(s string) ([]string, *Error) {
	if s == "" {
		return nil, nil
	}
	if len(s) > MaxScopeLen {
		return nil, InvalidRequest("the scope parameter is too long")
	}
	scopes, err := scope.Parse(s)
	if err != nil {
		// scope errors name a position and a rule, never the input.
		return nil, InvalidScope("malformed scope: " + err.Error())
	}
	return scopes, nil
}

// parseResource sets Resource after checking each value (RFC 8707 §2).
func (req *TokenRequest) parseResource(values []string) *Error {
	if e := checkResources(values); e != nil {
		return e
	}
	if len(values) > 0 {
		req.Resource = values
	}
	return nil
}

// checkResources checks the resource parameters of a token or an
// authorization request (RFC 8707 §2): at most MaxResources, each at most
// MaxResourceLen bytes (invalid_request) and a resource identifier as
// ValidResource defines it (invalid_target).
func checkResources(values []string) *Error {
	if len(values) > MaxResources {
		return InvalidRequest("too many resource parameters")
	}
	for _, v := range values {
		if len(v) > MaxResourceLen {
			return InvalidRequest("a resource parameter is too long")
		}
		if !ValidResource(v) {
			return InvalidTarget("resource must be an absolute URI without a fragment")
		}
	}
	return nil
}
