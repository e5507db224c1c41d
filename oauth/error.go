// Package oauth holds the OAuth 2.0 protocol pieces shared by Scopegate's
// token endpoint and its guard: the error type and its JSON response
// (RFC 6749 §5.2, RFC 6750 §3.1), token request parsing and client
// authentication (RFC 6749 §2.3, §3.2, Appendix B; RFC 8707), bearer token
// extraction (RFC 6750 §2.1) and WWW-Authenticate challenges (RFC 6750,
// RFC 7617, RFC 9728).
//
// Nothing here imports Caddy. Every error description is a fixed string
// written here: request input is never echoed back to the client.
package oauth

import (
	"encoding/json"
	"net/http"
)

// Error codes from RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1 and RFC 8707 §2.
const (
	CodeInvalidRequest         = "invalid_request"
	CodeInvalidClient          = "invalid_client"
	CodeInvalidGrant           = "invalid_grant"
	CodeUnauthorizedClient     = "unauthorized_client"
	CodeUnsupportedGrantType   = "unsupported_grant_type"
	CodeInvalidScope           = "invalid_scope"
	CodeInvalidTarget          = "invalid_target"
	CodeServerError            = "server_error"
	CodeTemporarilyUnavailable = "temporarily_unavailable"
	CodeInvalidToken           = "invalid_token"
	CodeInsufficientScope      = "insufficient_scope"
)

// Error is an OAuth 2.0 error response: a code, a human-readable description
// and the HTTP status it is sent with. Descriptions must be fixed text
// written by us, never request input. Values returned by this package are
// fresh and may be changed by the caller, except ErrNoBearer.
type Error struct {
	// Code is the `error` value, one of the Code constants. It is empty only
	// for ErrNoBearer, which carries no error attribute.
	Code string
	// Description is the `error_description` value; empty omits it.
	Description string
	// Status is the HTTP status code.
	Status int
}

// Error returns the code and description, as in
// "invalid_request: missing grant_type".
func (e *Error) Error() string {
	code := e.Code
	if code == "" {
		code = "authentication required"
	}
	if e.Description == "" {
		return code
	}
	return code + ": " + e.Description
}

// InvalidRequest returns a 400 invalid_request error.
func InvalidRequest(description string) *Error {
	return &Error{Code: CodeInvalidRequest, Description: description, Status: http.StatusBadRequest}
}

// MethodNotAllowed returns an invalid_request error with status 405; Write
// adds `Allow: POST` unless the caller has set an Allow header already.
func MethodNotAllowed(description string) *Error {
	return &Error{Code: CodeInvalidRequest, Description: description, Status: http.StatusMethodNotAllowed}
}

// RequestTooLarge returns an invalid_request error with status 413, for a
// body over the endpoint's limit.
func RequestTooLarge(description string) *Error {
	return &Error{Code: CodeInvalidRequest, Description: description, Status: http.StatusRequestEntityTooLarge}
}

// InvalidClient returns a 401 invalid_client error. The caller adds a
// WWW-Authenticate header (BasicChallenge) before writing it, as RFC 6749
// §5.2 requires when the client tried the Authorization header.
func InvalidClient(description string) *Error {
	return &Error{Code: CodeInvalidClient, Description: description, Status: http.StatusUnauthorized}
}

// InvalidGrant returns a 400 invalid_grant error.
func InvalidGrant(description string) *Error {
	return &Error{Code: CodeInvalidGrant, Description: description, Status: http.StatusBadRequest}
}

// UnauthorizedClient returns a 400 unauthorized_client error: the client may
// not use this grant type.
func UnauthorizedClient(description string) *Error {
	return &Error{Code: CodeUnauthorizedClient, Description: description, Status: http.StatusBadRequest}
}

// UnsupportedGrantType returns a 400 unsupported_grant_type error.
func UnsupportedGrantType(description string) *Error {
	return &Error{Code: CodeUnsupportedGrantType, Description: description, Status: http.StatusBadRequest}
}

// InvalidScope returns a 400 invalid_scope error.
func InvalidScope(description string) *Error {
	return &Error{Code: CodeInvalidScope, Description: description, Status: http.StatusBadRequest}
}

// InvalidTarget returns a 400 invalid_target error (RFC 8707): a resource
// that is malformed or that the client may not get a token for.
func InvalidTarget(description string) *Error {
	return &Error{Code: CodeInvalidTarget, Description: description, Status: http.StatusBadRequest}
}

// ServerError returns a 500 server_error error.
func ServerError(description string) *Error {
	return &Error{Code: CodeServerError, Description: description, Status: http.StatusInternalServerError}
}

// TemporarilyUnavailable returns a 503 temporarily_unavailable error.
func TemporarilyUnavailable(description string) *Error {
	return &Error{Code: CodeTemporarilyUnavailable, Description: description, Status: http.StatusServiceUnavailable}
}

// TooManyAttempts returns a 429 temporarily_unavailable error for a source
// throttled after failed logins; the caller sets Retry-After before writing
// it. temporarily_unavailable is OAuth's "try again later" (RFC 6749
// §4.1.2.1, in IANA's OAuth Extensions Error registry); slow_down (RFC 8628)
// is the device flow's polling signal and means nothing to other grants.
func TooManyAttempts(description string) *Error {
	return &Error{Code: CodeTemporarilyUnavailable, Description: description, Status: http.StatusTooManyRequests}
}

// InvalidToken returns a 401 invalid_token error (RFC 6750 §3.1).
func InvalidToken(description string) *Error {
	return &Error{Code: CodeInvalidToken, Description: description, Status: http.StatusUnauthorized}
}

// InsufficientScope returns a 403 insufficient_scope error (RFC 6750 §3.1).
func InsufficientScope(description string) *Error {
	return &Error{Code: CodeInsufficientScope, Description: description, Status: http.StatusForbidden}
}

// NoStore sets `Cache-Control: no-store` and `Pragma: no-cache`, which
// RFC 6749 §5.1 requires on every token endpoint response, success or not.
func NoStore(h http.Header) {
	// One array for both values (Set would allocate one each); each slice's
	// capacity is capped so that an append to one copies it.
	v := []string{"no-store", "no-cache"}
	h["Cache-Control"] = v[0:1:1]
	h["Pragma"] = v[1:2:2]
}

// NoStoreJSON sets the NoStore headers and `Content-Type: application/json`,
// the headers of every JSON answer of the token endpoint, with one
// allocation for the three.
func NoStoreJSON(h http.Header) {
	v := []string{"no-store", "no-cache", "application/json"}
	h["Cache-Control"] = v[0:1:1]
	h["Pragma"] = v[1:2:2]
	h["Content-Type"] = v[2:3:3]
}

// errorBody is the JSON shape of an error response.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// Write sends e as the response: the status, `Content-Type:
// application/json`, the NoStore headers, `X-Content-Type-Options: nosniff`
// and the body {"error":…,"error_description":…} (description omitted when
// empty). For status 405 it sets `Allow: POST` unless an Allow header is
// already set. An Error without a code (ErrNoBearer) is sent with its status
// and no body, as RFC 6750 §3.1 asks for a request that carried no
// credentials. A status outside 400–599 is sent as 500, and a nil e as a
// server_error, so a programming slip never turns into a success.
func (e *Error) Write(w http.ResponseWriter) {
	if e == nil {
		e = ServerError("")
	}
	status := e.Status
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	h := w.Header()
	NoStore(h)
	if status == http.StatusMethodNotAllowed && h.Get("Allow") == "" {
		h.Set("Allow", http.MethodPost)
	}
	if e.Code == "" {
		w.WriteHeader(status)
		return
	}
	body, err := json.Marshal(errorBody{Error: e.Code, Description: e.Description})
	if err != nil {
		// Marshalling two strings cannot fail; keep a valid body regardless.
		body = []byte(`{"error":"server_error"}`)
	}
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
