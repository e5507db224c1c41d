package oauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// VerifyPKCE reports whether verifier answers challenge (RFC 7636 §4.6).
// method must be PKCEMethodS256, challenge 43 base64url characters
// encoding 32 bytes, and verifier 43 to 128 unreserved characters (RFC 7636
// §4.1); then base64url(SHA-256(verifier)) is compared with challenge in
// constant time. Anything else is false: there is no plain method.
func VerifyPKCE(challenge, method, verifier string) bool {
	if method != PKCEMethodS256 || !validS256Challenge(challenge) || !validVerifier(verifier) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	var encoded [s256ChallengeLen]byte
	base64.RawURLEncoding.Encode(encoded[:], sum[:])
	return subtle.ConstantTimeCompare(encoded[:], []byte(challenge)) == 1
}

// validS256Challenge reports whether s can be an S256 code challenge: the
// unpadded base64url of 32 bytes, decoded strictly, so that the challenge
// has one spelling.
func validS256Challenge(s string) bool {
	if len(s) != s256ChallengeLen {
		return false
	}
	var sum [sha256.Size + 1]byte
	n, err := base64.RawURLEncoding.Strict().Decode(sum[:], []byte(s))
	return err == nil && n == sha256.Size
}

// validVerifier reports whether s is a code_verifier (RFC 7636 §4.1): 43
// to 128 characters of ALPHA / DIGIT / "-" / "." / "_" / "~".
func validVerifier(s string) bool {
	if len(s) < MinVerifierLen || len(s) > MaxVerifierLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isUnreservedByte(s[i]) {
			return false
		}
	}
	return true
}

// isUnreservedByte reports whether b is an RFC 3986 unreserved character.
func isUnreservedByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
		b == '-' || b == '.' || b == '_' || b == '~'
}
