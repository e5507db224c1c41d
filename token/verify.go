package token

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"sync"
	"time"

	"github.com/scopegate/scopegate/internal/strictjson"
)

// DefaultLeeway is the clock skew a Verifier allows on exp, nbf and iat when
// its Leeway is zero.
const DefaultLeeway = 30 * time.Second

// MaxLength is the longest access token, in bytes: the one size limit of
// Scopegate's tokens. Sign never writes a longer one (ErrTokenTooLarge), a
// Verifier with a zero MaxTokenLength refuses a longer one before any work,
// the guard's bearer parser and the verified-token cache use it, and the
// registry refuses client metadata whose tokens could exceed it
// (WorstCaseLength).
const MaxLength = 8 << 10

// maxHeaderLength caps the encoded JWS header. Ours is about 80 characters;
// the cap keeps the header on the stack and a huge kid out of the key map.
const maxHeaderLength = 1024

// Verifier checks access tokens strictly. Its zero fields take defaults; set
// the fields before first use and do not change them afterwards. A Verifier
// is safe for concurrent use.
type Verifier struct {
	// Issuer is the exact "iss" every token must carry. Verify refuses
	// every token while it is empty.
	Issuer string
	// Leeway is the clock skew allowed on exp, nbf and iat, in whole seconds.
	// Zero means DefaultLeeway (30s); a negative value means none.
	Leeway time.Duration
	// MaxTokenLength is the longest token looked at, in bytes. Zero means
	// MaxLength (8 KiB), the length Sign never exceeds.
	MaxTokenLength int
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
}

func (v *Verifier) maxLength() int {
	if v.MaxTokenLength > 0 {
		return v.MaxTokenLength
	}
	return MaxLength
}

func (v *Verifier) leewaySeconds() int64 {
	switch {
	case v.Leeway == 0:
		return int64(DefaultLeeway / time.Second)
	case v.Leeway < 0:
		return 0
	}
	return int64(v.Leeway / time.Second)
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// scratch is a reusable buffer for the signing input and the decoded
// payload after it, so that a verification allocates only what it returns.
type scratch struct {
	buf [MaxLength + MaxLength*3/4]byte
}

// maxSegmentLength is the longest header or signature segment Verify
// decodes: the header's bound, or an RSA signature of rsaMaxBits.
const maxSegmentLength = max(maxHeaderLength, (rsaMaxBits/8*4+2)/3)

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// Verify checks raw, a compact JWS access token, against the keys in ks and
// returns its claims. The checks run in this order and stop at the first
// failure, so the cheap ones shield the expensive ones:
//
//  1. length at most MaxTokenLength;
//  2. exactly three non-empty dot-separated segments (a five-part JWE is
//     ErrUnsupported at once);
//  3. only base64url characters without padding (no '=', '+', '/' or
//     whitespace), canonically encoded (the payload's encoding is checked
//     when it is decoded, after step 7);
//  4. a bounded header that is one strict JSON object; crit, b64, jwk, jku,
//     x5u, x5c and x5t are refused, never followed;
//  5. typ "at+jwt" or "application/at+jwt", ignoring case;
//  6. a kid naming a key in ks (a plain map lookup), and alg equal to that
//     key's pinned algorithm, so "none", HS256 or a foreign algorithm fail;
//  7. the signature over the ASCII header.payload, with the pinned key;
//  8. only then the claims: iss equal to Issuer; exp present and after now
//     minus the leeway; iat present (RFC 9068 §2.2); nbf and iat not after
//     now plus the leeway; jti, sub and client_id present, with sub equal
//     to client_id.
//
// Signatures are checked with crypto/ecdsa, crypto/rsa and crypto/ed25519
// directly: with the key and algorithm already pinned there is nothing left
// for a general JOSE library to select, and the direct calls skip its key
// conversions and option handling. An ES256 signature must be exactly 64
// bytes (r||s) with s in the lower half of the group order (low-S): (r, n-s)
// is just as valid mathematically, and refusing it leaves each token one
// spelling, so a token's hash (the verified cache's key, a revocation list's
// entry elsewhere) cannot be dodged by re-encoding its signature.
//
// Errors match the package's sentinels with errors.Is and never contain
// token bytes. Refusals before the signature check allocate nothing.
func (v *Verifier) Verify(ks *KeySet, raw string) (*Claims, error) {
	c, err := v.verifySigned(ks, raw, accessToken)
	if err != nil {
		return nil, err
	}
	if err := v.checkClaims(c); err != nil {
		return nil, err
	}
	if err := parseScope(c); err != nil {
		return nil, err
	}
	return c, nil
}

// tokenKind is what a JWS must be, by its typ header.
type tokenKind int

const (
	// accessToken: typ "at+jwt" or "application/at+jwt" (RFC 9068).
	accessToken tokenKind = iota
	// idToken: typ absent or "JWT" (OpenID Connect Core §2 sets none);
	// never an access token's.
	idToken
)

// typeMatches reports whether a header's typ is kind's.
func (k tokenKind) typeMatches(typ []byte) bool {
	if k == idToken {
		return len(typ) == 0 || bytes.EqualFold(typ, []byte("JWT"))
	}
	return bytes.EqualFold(typ, []byte("at+jwt")) || bytes.EqualFold(typ, []byte("application/at+jwt"))
}

// VerifyIDTokenHint checks raw as an ID token this issuer signed, as an
// id_token_hint (OpenID Connect Core §3.1.2.1, RP-Initiated Logout 1.0 §2)
// names the person and the app: steps 1 to 4, 6 and 7 of Verify, a typ
// that is absent or "JWT" (an access token is not an ID token), then iss
// equal to Issuer and sub, aud and iat present. exp must be present but
// may be past: a hint names who signed in, and an app that logs a person
// out often holds an expired ID token. It grants nothing; callers must
// never treat it as proof of a live sign-in.
func (v *Verifier) VerifyIDTokenHint(ks *KeySet, raw string) (*Claims, error) {
	c, err := v.verifySigned(ks, raw, idToken)
	if err != nil {
		return nil, err
	}
	switch {
	case c.Issuer != v.Issuer:
		return nil, ErrWrongIssuer
	case c.ExpiresAt == 0:
		return nil, errMissingExp
	case c.IssuedAt == 0:
		return nil, errMissingIat
	case c.Subject == "":
		return nil, errMissingSub
	case len(c.Audience) == 0:
		return nil, errMissingAud
	}
	return c, nil
}

// verifySigned runs steps 1 to 7 of Verify, with kind's typ rule, and
// returns the parsed claims, not yet checked.
func (v *Verifier) verifySigned(ks *KeySet, raw string, kind tokenKind) (*Claims, error) {
	if len(raw) > v.maxLength() {
		return nil, ErrTooLong
	}
	if v.Issuer == "" {
		return nil, errNoIssuer
	}
	if ks == nil {
		return nil, ErrUnknownKey
	}
	if raw == "" {
		return nil, errEmptyToken
	}
	switch strings.Count(raw, ".") {
	case 2:
	case 4:
		return nil, errJWE
	default:
		return nil, errSegmentCount
	}
	dot1 := strings.IndexByte(raw, '.')
	dot2 := dot1 + 1 + strings.IndexByte(raw[dot1+1:], '.')
	if dot1 == 0 || dot2 == dot1+1 || dot2 == len(raw)-1 {
		return nil, errEmptySegment
	}
	for i := 0; i < len(raw); i++ {
		if !isBase64URLChar(raw[i]) && i != dot1 && i != dot2 {
			return nil, errBadAlphabet
		}
	}

	headerSeg := raw[:dot1]
	if len(headerSeg) > maxHeaderLength {
		return nil, errHeaderTooLong
	}
	var headerBuf [maxHeaderLength * 3 / 4]byte
	n, ok := decodeSmallSegment(headerBuf[:], headerSeg)
	if !ok {
		return nil, errHeaderBase64
	}
	h, err := parseHeader(headerBuf[:n])
	if err != nil {
		return nil, err
	}
	if !kind.typeMatches(h.typ) {
		return nil, ErrWrongType
	}
	if len(h.kid) == 0 {
		return nil, errNoKID
	}
	key, ok := ks.verify[string(h.kid)]
	if !ok {
		return nil, ErrUnknownKey
	}
	if key.idTokenOnly && kind == accessToken {
		// Beside the typ rule: whatever its header says, a token of this
		// key was never minted as an access token.
		return nil, errIDTokenKey
	}
	if string(h.alg) != key.alg {
		return nil, ErrWrongAlgorithm
	}

	sigSeg := raw[dot2+1:]
	sigSize := key.signatureSize()
	if len(sigSeg) != (sigSize*8+5)/6 {
		return nil, errSignatureLength
	}
	var sigBuf [rsaMaxBits / 8]byte
	if _, ok := decodeSmallSegment(sigBuf[:sigSize], sigSeg); !ok {
		return nil, errSignatureBase64
	}

	// The signing input is copied into pooled scratch space, and the
	// payload is decoded from it into the space after it.
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	var work []byte
	if need := dot2 + base64.RawURLEncoding.DecodedLen(dot2-dot1-1); need <= len(sc.buf) {
		work = sc.buf[:]
	} else {
		work = make([]byte, need)
	}
	input := work[:copy(work, raw[:dot2])]
	if !key.verifySignature(input, sigBuf[:sigSize]) {
		return nil, ErrBadSignature
	}

	n, ok = decodeSegment(work[dot2:], input[dot1+1:])
	if !ok {
		return nil, errPayloadBase64
	}
	payload := work[dot2 : dot2+n]
	c, err := parseClaims(payload, string(payload))
	if err != nil {
		return nil, err
	}
	c.KeyID = key.kid
	return c, nil
}

// checkClaims applies the claim rules of step 8 of Verify.
func (v *Verifier) checkClaims(c *Claims) error {
	if c.Issuer != v.Issuer {
		return ErrWrongIssuer
	}
	now := v.now().Unix()
	leeway := v.leewaySeconds()
	if c.ExpiresAt == 0 {
		return errMissingExp
	}
	if c.IssuedAt == 0 {
		// RFC 9068 §2.2 requires iat; the per-client revoke-all compares it.
		return errMissingIat
	}
	if c.ExpiresAt <= now-leeway {
		return ErrExpired
	}
	if c.NotBefore > now+leeway {
		return ErrNotYetValid
	}
	if c.IssuedAt > now+leeway {
		return errIssuedInFuture
	}
	switch {
	case c.JWTID == "":
		return errMissingJTI
	case c.Subject == "":
		return errMissingSub
	case c.ClientID == "":
		return errMissingClientID
	}
	return nil
}

// verifySignature checks sig over input with the pinned key.
func (m *keyMaterial) verifySignature(input, sig []byte) bool {
	if m.ed != nil {
		return ed25519.Verify(m.ed, input, sig)
	}
	digest := sha256.Sum256(input)
	if m.rsa != nil {
		return rsa.VerifyPKCS1v15(m.rsa, crypto.SHA256, digest[:], sig) == nil
	}
	if isHighS(sig[32:64]) {
		return false
	}
	var der [72]byte
	return ecdsa.VerifyASN1(m.ec, digest[:], ecdsaRawToDER(der[:0], sig))
}

// jwsHeader holds the header members Verify reads, as slices of the decoded
// header.
type jwsHeader struct {
	alg, kid, typ []byte
}

// parseHeader reads a JWS protected header strictly. Members that would make
// the verifier fetch or trust a key from the token (jwk, jku, x5u, x5c, x5t,
// x5t#S256) or process an extension (crit, b64) are refused as soon as their
// name is read.
func parseHeader(b []byte) (jwsHeader, error) {
	var h jwsHeader
	r, err := strictjson.OpenObject(b)
	if err != nil {
		return h, errHeaderJSON
	}
	var seen [3]bool // alg, kid, typ
	for {
		key, _, done, err := r.Next()
		if err != nil {
			return h, errHeaderJSON
		}
		if done {
			break
		}
		field := -1
		switch string(key) {
		case "alg":
			field = 0
		case "kid":
			field = 1
		case "typ":
			field = 2
		case "crit":
			return h, errHeaderCrit
		case "b64":
			return h, errHeaderB64
		case "jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256":
			return h, errHeaderKeyRef
		default:
			if err := r.Skip(); err != nil {
				return h, errHeaderJSON
			}
			continue
		}
		if seen[field] {
			return h, errHeaderField
		}
		seen[field] = true
		start, end, escaped, err := r.StringValue()
		if err != nil {
			return h, errHeaderField
		}
		value := b[start:end]
		if escaped {
			value = strictjson.Unescape(value)
		}
		switch field {
		case 0:
			h.alg = value
		case 1:
			h.kid = value
		default:
			h.typ = value
		}
	}
	if !seen[0] {
		return h, errHeaderNoAlg
	}
	return h, nil
}

// base64URLChars marks the characters of unpadded base64url (RFC 4648 §5).
// Verify checks every byte of a token against it before decoding anything:
// the standard decoder, even in strict mode, skips CR and LF, which must
// not give a token a second spelling.
var base64URLChars = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = true
	}
	return t
}()

func isBase64URLChar(c byte) bool { return base64URLChars[c] }

// strictBase64URL refuses non-zero trailing bits, so each value has one
// accepted encoding.
var strictBase64URL = base64.RawURLEncoding.Strict()

// decodeSmallSegment decodes a header or signature segment, as
// decodeSegment does. The standard decoder reads bytes, not strings: the
// segment is copied to the stack first rather than converted, which would
// allocate. Its own frame keeps that buffer off Verify's early refusals.
func decodeSmallSegment(dst []byte, s string) (int, bool) {
	var buf [maxSegmentLength]byte
	if len(s) > len(buf) {
		return 0, false
	}
	return decodeSegment(dst, buf[:copy(buf[:], s)])
}

// decodeSegment decodes src, unpadded base64url whose characters the caller
// has checked with isBase64URLChar, into dst and returns the number of bytes
// written. It refuses a length no encoding has, non-canonical trailing bits
// and a dst too small.
func decodeSegment(dst, src []byte) (int, bool) {
	if strictBase64URL.DecodedLen(len(src)) > len(dst) {
		return 0, false
	}
	n, err := strictBase64URL.Decode(dst, src)
	return n, err == nil
}
