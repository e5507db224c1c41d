package token

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// NewJTI returns a fresh token identifier: 128 random bits, base64url-encoded
// (22 characters).
func NewJTI() string { return randomID() }

// Sign writes c as an access token signed by the set's active key: a compact
// JWS with the header {"alg":…,"kid":…,"typ":"at+jwt"} (RFC 9068). iss, sub,
// client_id, jti and exp are required, as Verify requires them. The members
// of c.Extra follow the registered claims, checked as CheckExtraClaims
// does. A token that would be longer than MaxLength is not signed:
// ErrTokenTooLarge. ES256 signatures are written low-S, the only form Verify
// accepts.
//
// The header is encoded once per KeySet and the payload is built without
// reflection, so the cost is mostly the signature itself.
func (ks *KeySet) Sign(c *Claims) (string, error) {
	if c == nil {
		return "", errors.New("sign token: nil claims")
	}
	for _, req := range [...]struct{ name, value string }{
		{"iss", c.Issuer}, {"sub", c.Subject}, {"client_id", c.ClientID}, {"jti", c.JWTID},
	} {
		if req.value == "" {
			return "", fmt.Errorf("sign token: claim %s: %w", req.name, ErrMissingClaim)
		}
	}
	if c.ExpiresAt <= 0 {
		return "", fmt.Errorf("sign token: claim exp: %w", ErrMissingClaim)
	}
	// The payload and the signing input are built in buffers on the stack
	// (an ordinary token fits; a larger one grows them onto the heap), so
	// the token string is the one allocation of its own here.
	var payloadBuf [signScratch / 2]byte
	payload, err := appendClaims(payloadBuf[:0], c)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	sk := ks.signing
	enc := base64.RawURLEncoding
	size := len(sk.header) + enc.EncodedLen(len(payload)) + 1 + enc.EncodedLen(sk.m.signatureSize())
	if size > MaxLength {
		return "", fmt.Errorf("sign token: %d bytes: %w", size, ErrTokenTooLarge)
	}
	var inputBuf [signScratch]byte
	input := append(inputBuf[:0], sk.header...)
	input = enc.AppendEncode(input, payload)
	var sigBuf [64]byte
	sig, err := sk.m.sign(input, sigBuf[:0])
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	var sigText [128]byte
	var b strings.Builder
	b.Grow(size)
	b.Write(input)
	b.WriteByte('.')
	b.Write(enc.AppendEncode(sigText[:0], sig))
	return b.String(), nil
}

// signScratch is the size of the stack buffer Sign builds the signing input
// in: room for a token with a few scopes, audiences and extra claims.
const signScratch = 1024

// WorstCaseLength returns the length of the longest token Sign could write
// for c's issuer, subject, client_id, audience, scope and extra claims,
// whatever key signs it and whenever: the longest header (alg and a kid of
// the longest length a key set accepts), the widest exp and iat, a jti as
// long as NewJTI's, and the signature of the largest RSA key accepted. A
// client whose claims stay within MaxLength here can always be issued a
// token. c is not modified; its Extra is checked as CheckExtraClaims does.
func WorstCaseLength(c *Claims) (int, error) {
	w := *c
	w.ExpiresAt, w.IssuedAt = maxNumericDate, maxNumericDate
	if w.NotBefore != 0 {
		w.NotBefore = maxNumericDate
	}
	if w.AuthTime != 0 {
		w.AuthTime = maxNumericDate
	}
	if len(w.JWTID) < jtiLength {
		w.JWTID = jtiPlaceholder
	}
	payload, err := appendClaims(nil, &w)
	if err != nil {
		return 0, err
	}
	enc := base64.RawURLEncoding
	return enc.EncodedLen(worstHeaderLength) + 1 + enc.EncodedLen(len(payload)) + 1 + enc.EncodedLen(rsaMaxBits/8), nil
}

// jtiLength is the length of a NewJTI; jtiPlaceholder stands in for one.
const (
	jtiLength      = 22
	jtiPlaceholder = "0123456789abcdefghijkl"
)

// worstHeaderLength is the longest JWS header a KeySet writes: the longest
// alg name and a kid of maxKeyIDLength (base64url, so never escaped).
var worstHeaderLength = len(`{"alg":"EdDSA","kid":"","typ":"at+jwt"}`) + maxKeyIDLength

// signatureSize returns the length of the key's raw JWS signature.
func (m *keyMaterial) signatureSize() int {
	if m.rsa != nil {
		return m.rsa.Size()
	}
	return 64 // ES256 is r||s with 32 bytes each; Ed25519 signatures are 64 bytes.
}

// sign returns the JWS signature over input; an ES256 or EdDSA signature is
// appended to dst. The keys' own functions are called rather than the
// crypto.Signer interface, whose Sign would move input to the heap.
func (m *keyMaterial) sign(input, dst []byte) ([]byte, error) {
	switch k := m.signer.(type) {
	case ed25519.PrivateKey:
		// Copied into dst, the signature ed25519.Sign makes does not escape
		// and stays on the stack.
		return append(dst, ed25519.Sign(k, input)...), nil
	case *ecdsa.PrivateKey:
		digest := sha256.Sum256(input)
		der, err := ecdsa.SignASN1(rand.Reader, k, digest[:])
		if err != nil {
			return nil, err
		}
		// crypto/ecdsa writes ASN.1 DER; JWS wants the fixed-width r||s of
		// RFC 7518 §3.4, with s in the lower half (see isHighS).
		return ecdsaDERToRaw(dst, der)
	case *rsa.PrivateKey:
		digest := sha256.Sum256(input)
		return rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest[:])
	}
	return nil, fmt.Errorf("unsupported signing key %T", m.signer)
}

// p256Order is n, the order of P-256's base point; p256OrderBytes is n and
// p256HalfOrder n/2 (rounded down), 32 bytes big-endian, for isHighS and
// negateModOrder.
var (
	p256Order      = elliptic.P256().Params().N
	p256OrderBytes = p256Order.FillBytes(make([]byte, 32))
	p256HalfOrder  = new(big.Int).Rsh(p256Order, 1).FillBytes(make([]byte, 32))
)

// isHighS reports whether s, 32 big-endian bytes, is above n/2. Of the two
// valid signatures (r, s) and (r, n-s) only the low one is accepted, so that
// a token has one spelling (signature malleability). It compares bytes, so
// the verify path allocates nothing for it.
func isHighS(s []byte) bool { return bytes.Compare(s, p256HalfOrder) > 0 }

// negateModOrder replaces s, 32 big-endian bytes below n, with n-s: the
// other of the two valid s values of a signature. It subtracts byte by byte
// so that signing allocates nothing for it; s is public, so its timing
// reveals nothing.
func negateModOrder(s []byte) {
	borrow := 0
	for i := 31; i >= 0; i-- {
		d := int(p256OrderBytes[i]) - int(s[i]) - borrow
		borrow = 0
		if d < 0 {
			d += 256
			borrow = 1
		}
		s[i] = byte(d)
	}
}

var errDER = errors.New("malformed ECDSA signature")

// ecdsaDERToRaw converts the ASN.1 DER signature crypto/ecdsa writes to r||s,
// each left-padded to 32 bytes, with s replaced by n-s when it is high, and
// appends it to dst. cryptobyte reads the DER strictly, as crypto/ecdsa
// itself does.
func ecdsaDERToRaw(dst, der []byte) ([]byte, error) {
	var r, s []byte
	var inner cryptobyte.String
	in := cryptobyte.String(der)
	if !in.ReadASN1(&inner, asn1.SEQUENCE) || !in.Empty() ||
		!inner.ReadASN1Integer(&r) || !inner.ReadASN1Integer(&s) || !inner.Empty() ||
		len(r) > 32 || len(s) > 32 {
		return nil, errDER
	}
	var raw [64]byte
	copy(raw[32-len(r):32], r)
	copy(raw[64-len(s):], s)
	var zero [32]byte
	if bytes.Equal(raw[:32], zero[:]) || bytes.Equal(raw[32:], zero[:]) {
		return nil, errDER
	}
	if isHighS(raw[32:]) {
		negateModOrder(raw[32:])
	}
	return append(dst, raw[:]...), nil
}

// ecdsaRawToDER converts a 64-byte r||s signature to the ASN.1 DER form that
// crypto/ecdsa verifies, appended to dst. Integers are written minimally; a
// zero r or s becomes INTEGER 0, which verification rejects.
//
// It is written out rather than built with math/big or cryptobyte because it
// runs on the verify path for every new ES256 token: those allocate, and
// crypto/ecdsa offers no verification of a raw r||s signature.
func ecdsaRawToDER(dst, raw []byte) []byte {
	r, s := trimLeadingZeros(raw[:32]), trimLeadingZeros(raw[32:64])
	dst = append(dst, 0x30, byte(derIntegerLength(r)+derIntegerLength(s)))
	dst = appendDERInteger(dst, r)
	return appendDERInteger(dst, s)
}

func trimLeadingZeros(b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

// derIntegerLength is the encoded size of a non-negative INTEGER whose
// minimal big-endian magnitude is v.
func derIntegerLength(v []byte) int {
	if v[0]&0x80 != 0 {
		return 3 + len(v)
	}
	return 2 + len(v)
}

func appendDERInteger(dst, v []byte) []byte {
	if v[0]&0x80 != 0 {
		return append(append(dst, 0x02, byte(len(v)+1), 0), v...)
	}
	return append(append(dst, 0x02, byte(len(v))), v...)
}
