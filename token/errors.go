package token

import (
	"errors"
	"fmt"
)

// Sentinel errors for a refused token, checked with errors.Is. The guard maps
// every one of them to an RFC 6750 invalid_token answer; the error text is
// short and never contains token bytes, so it can serve as the description.
var (
	// ErrTooLong: the token is longer than Verifier.MaxTokenLength
	// (MaxLength by default).
	ErrTooLong = errors.New("token too long")
	// ErrMalformed: not a compact JWS of three base64url segments holding
	// JSON objects of the expected shape.
	ErrMalformed = errors.New("token malformed")
	// ErrUnsupported: a JWE, or a header this verifier never honours (crit,
	// b64, jwk, jku, x5u, x5c, x5t, x5t#S256).
	ErrUnsupported = errors.New("token uses an unsupported feature")
	// ErrWrongType: the header typ is not at+jwt (RFC 9068).
	ErrWrongType = errors.New("token is not an access token")
	// ErrUnknownKey: the kid is missing or names no key that may verify.
	ErrUnknownKey = errors.New("token signing key unknown")
	// ErrWrongAlgorithm: the header alg differs from the algorithm the key is
	// pinned to.
	ErrWrongAlgorithm = errors.New("token algorithm not allowed for its key")
	// ErrBadSignature: the signature does not verify.
	ErrBadSignature = errors.New("token signature invalid")
	// ErrWrongIssuer: iss is not exactly the configured issuer.
	ErrWrongIssuer = errors.New("token issuer not accepted")
	// ErrExpired: exp is in the past beyond the leeway.
	ErrExpired = errors.New("token expired")
	// ErrNotYetValid: nbf or iat is in the future beyond the leeway.
	ErrNotYetValid = errors.New("token not yet valid")
	// ErrMissingClaim: a required claim (exp, iat, jti, sub, client_id) is
	// absent.
	ErrMissingClaim = errors.New("token claim missing")
	// ErrInvalidClaim: a claim is present but not acceptable (sub differs from
	// client_id).
	ErrInvalidClaim = errors.New("token claim invalid")
)

// Sentinel errors for key and claim management.
var (
	// ErrKeyNotFound: no key in the set has that kid.
	ErrKeyNotFound = errors.New("signing key not found")
	// ErrNoSigningKey: the key set holds no key that may sign now.
	ErrNoSigningKey = errors.New("no active signing key")
	// ErrUnsupportedAlgorithm: the algorithm is not ES256, RS256 or EdDSA.
	ErrUnsupportedAlgorithm = errors.New("unsupported signing algorithm")
	// ErrReservedClaim: an extra claim uses a registered claim name (see
	// IsReservedClaim).
	ErrReservedClaim = errors.New("reserved claim name")
	// ErrInvalidExtraClaims: extra claims that are not a JSON object of
	// distinct, non-empty names and values the strict reader accepts (see
	// CheckExtraClaims).
	ErrInvalidExtraClaims = errors.New("invalid extra claims")
	// ErrTokenTooLarge: the signed token would be longer than MaxLength, so
	// Sign refuses to write it rather than mint a token the guard refuses.
	ErrTokenTooLarge = fmt.Errorf("token would be longer than the %d-byte limit on access tokens", MaxLength)
)

// reason is a refusal with a fixed, precise text that still matches its
// sentinel with errors.Is. Every reason is a package-level value, so refusing
// a token allocates nothing, however large or hostile the input.
type reason struct {
	kind error
	text string
}

func (r *reason) Error() string { return r.text }
func (r *reason) Unwrap() error { return r.kind }

func newReason(kind error, text string) error { return &reason{kind: kind, text: text} }

var (
	errEmptyToken      = newReason(ErrMalformed, "token malformed: empty")
	errBadAlphabet     = newReason(ErrMalformed, "token malformed: not base64url without padding")
	errSegmentCount    = newReason(ErrMalformed, "token malformed: not three segments")
	errEmptySegment    = newReason(ErrMalformed, "token malformed: empty segment")
	errJWE             = newReason(ErrUnsupported, "token is encrypted (JWE), not supported")
	errHeaderTooLong   = newReason(ErrMalformed, "token malformed: header too long")
	errHeaderBase64    = newReason(ErrMalformed, "token malformed: header is not base64url")
	errHeaderJSON      = newReason(ErrMalformed, "token malformed: header is not a valid JSON object")
	errHeaderField     = newReason(ErrMalformed, "token malformed: header field of the wrong type or repeated")
	errHeaderNoAlg     = newReason(ErrMalformed, "token malformed: header without alg")
	errHeaderCrit      = newReason(ErrUnsupported, "token header crit not supported")
	errHeaderKeyRef    = newReason(ErrUnsupported, "token header key reference (jwk, jku, x5u, x5c, x5t) not supported")
	errHeaderB64       = newReason(ErrUnsupported, "token header b64 not supported")
	errNoKID           = newReason(ErrUnknownKey, "token header without kid")
	errIDTokenKey      = newReason(ErrUnknownKey, "token signed by a key that signs ID tokens only")
	errPayloadBase64   = newReason(ErrMalformed, "token malformed: payload is not base64url")
	errSignatureBase64 = newReason(ErrMalformed, "token malformed: signature is not base64url")
	errSignatureLength = newReason(ErrBadSignature, "token signature has the wrong length")
	errClaimsJSON      = newReason(ErrMalformed, "token malformed: claims are not a valid JSON object")
	errClaimType       = newReason(ErrMalformed, "token malformed: claim of the wrong type or repeated")
	errNumericDate     = newReason(ErrMalformed, "token malformed: time claim is not a valid NumericDate")
	errMissingExp      = newReason(ErrMissingClaim, "token claim exp missing")
	errMissingIat      = newReason(ErrMissingClaim, "token claim iat missing")
	errMissingJTI      = newReason(ErrMissingClaim, "token claim jti missing")
	errMissingSub      = newReason(ErrMissingClaim, "token claim sub missing")
	errMissingClientID = newReason(ErrMissingClaim, "token claim client_id missing")
	errMissingAud      = newReason(ErrMissingClaim, "token claim aud missing")
	errIssuedInFuture  = newReason(ErrNotYetValid, "token issued in the future")
	errNoIssuer        = newReason(ErrWrongIssuer, "token verifier has no issuer configured")
)
