package signin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// CSRF tokens need no server-side secret, so any gateway of many can check
// a form another one served. Each is an HMAC-SHA256, keyed by a cookie value
// the browser holds, of the form's purpose:
//
//   - before sign-in, the key is a random pre-session cookie (csrfCookie);
//   - after sign-in, the key is the session cookie's value.
//
// A cross-site page can neither read those cookies nor the token in our
// page, so it cannot forge the form field; it can only make the browser send
// the cookie, which alone is not enough. SameSite=Lax on every cookie adds a
// second line.

// Purposes a token is bound to, so that one form's token is never another's.
const (
	purposeSignIn  = "signin"
	purposeSignOut = "signout"
	// purposeConsent is followed by the authorization request's ID, so
	// that a consent token answers one request only.
	purposeConsent = "consent:"
	// purposeWithdraw is followed by the client ID whose consent the
	// account page's form withdraws.
	purposeWithdraw = "withdraw:"
)

// csrfCookieName is the pre-session cookie's base name.
const csrfCookieName = "scopegate_csrf"

// randomValueLen is the length of a random cookie value: 32 bytes in
// unpadded base64url.
var randomValueLen = base64.RawURLEncoding.EncodedLen(32)

// randomValue returns 32 random bytes in unpadded base64url.
func randomValue() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics rather)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// csrfToken returns the token of purpose keyed by a cookie value.
func csrfToken(key, purpose string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(purpose))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// validCSRF reports, in constant time, whether token is the token of
// purpose keyed by key. An empty key never validates.
func validCSRF(key, purpose, token string) bool {
	if key == "" {
		return false
	}
	return hmac.Equal([]byte(csrfToken(key, purpose)), []byte(token))
}

// isRandomValue reports whether v looks like a value randomValue made, so
// that a planted short or odd pre-session cookie is replaced.
func isRandomValue(v string) bool {
	if len(v) != randomValueLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil
}
