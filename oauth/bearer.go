package oauth

import (
	"net/http"

	"github.com/scopegate/scopegate/token"
)

// DefaultMaxBearerLen is the token length limit BearerToken applies when
// given maxLen <= 0: token.MaxLength, the one limit on Scopegate's access
// tokens, which the issuer never exceeds, so the guard never refuses a
// token the issuer minted for being long.
const DefaultMaxBearerLen = token.MaxLength

// maxExtraSpaces is how many spaces beyond the one RFC 6750 shows may
// separate "Bearer" from the token before a long value is refused on its
// length alone.
const maxExtraSpaces = 8

// ErrNoBearer is returned by BearerToken when the Authorization header uses
// another scheme (Basic, Digest, …): the request carries no bearer token, so
// RFC 6750 §3.1 wants a 401 with a bare challenge, without an error code.
// Compare with ==. It is shared: do not modify it.
var ErrNoBearer = &Error{Status: http.StatusUnauthorized}

// b64tokenChar marks the RFC 6750 §2.1 b64token characters other than the
// trailing "=": ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/".
var b64tokenChar = func() (t [256]bool) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c], t[c+'a'-'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-._~+/" {
		t[c] = true
	}
	return t
}()

// BearerToken extracts the bearer token from the Authorization header of h
// (canonical keys, as net/http builds them). Only the header is read: a
// token in the query string or the body is never looked at.
//
//   - no Authorization header: ("", nil), for a bare challenge;
//   - more than one: 400 invalid_request;
//   - a scheme other than Bearer (matched case-insensitively): ErrNoBearer;
//   - "Bearer" then one or more spaces then a b64token (RFC 6750 §2.1):
//     the token; an empty token, a second word ("Bearer a b") or any other
//     character is 400 invalid_request;
//   - a token longer than maxLen (DefaultMaxBearerLen when maxLen <= 0) is
//     401 invalid_token. The header's total length is checked before the
//     token is scanned, so a huge value is refused in constant time; a value
//     padded with more than a few spaces may thus be refused as too long.
//
// The token is a substring of the header value: nothing is allocated when
// the token is well-formed.
func BearerToken(h http.Header, maxLen int) (token string, err *Error) {
	values := h["Authorization"]
	switch len(values) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", InvalidRequest("more than one Authorization header")
	}
	if maxLen <= 0 {
		maxLen = DefaultMaxBearerLen
	}
	v := values[0]
	const scheme = "bearer"
	if len(v) < len(scheme) || !asciiEqualFold(v[:len(scheme)], scheme) {
		return "", ErrNoBearer
	}
	if len(v) == len(scheme) {
		return "", InvalidRequest("empty bearer token")
	}
	if v[len(scheme)] != ' ' {
		// "Bearerx" is another scheme's name.
		return "", ErrNoBearer
	}
	if len(v) > len(scheme)+1+maxExtraSpaces+maxLen {
		return "", InvalidToken("the bearer token is too long")
	}
	token = v[len(scheme)+1:]
	for len(token) > 0 && token[0] == ' ' {
		token = token[1:]
	}
	switch {
	case token == "":
		return "", InvalidRequest("empty bearer token")
	case len(token) > maxLen:
		return "", InvalidToken("the bearer token is too long")
	case !isB64token(token):
		return "", InvalidRequest("malformed bearer token")
	}
	return token, nil
}

// isB64token reports whether s is 1*b64token-char *"=".
func isB64token(s string) bool {
	end := len(s)
	for end > 0 && s[end-1] == '=' {
		end--
	}
	if end == 0 {
		return false
	}
	for i := 0; i < end; i++ {
		if !b64tokenChar[s[i]] {
			return false
		}
	}
	return true
}

// asciiEqualFold reports whether s equals lower, a lower-case ASCII word,
// ignoring ASCII case only. strings.EqualFold would also accept Unicode
// look-alikes such as "ſ" (U+017F) for "s".
func asciiEqualFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i]|0x20 != lower[i] {
			return false
		}
	}
	return true
}
