package token

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
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
	payload, err := appendClaims(make([]byte, 0, 320+len(c.Extra)), c)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	sk := ks.signing
	enc := base64.RawURLEncoding
	size := len(sk.header) + enc.EncodedLen(len(payload)) + 1 + enc.EncodedLen(sk.m.signatureSize())
	if size > MaxLength {
		return "", fmt.Errorf("sign token: %d bytes: %w", size, ErrTokenTooLarge)
	}
	buf := make([]byte, 0, size)
	buf = append(buf, sk.header...)
	buf = enc.AppendEncode(buf, payload)
	var sigBuf [64]byte
	sig, err := sk.m.sign(buf, sigBuf[:0])
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

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

// sign returns the JWS signature over input, appended to dst.
func (m *keyMaterial) sign(input, dst []byte) ([]byte, error) {
	if m.ed != nil {
		return m.signer.Sign(nil, input, crypto.Hash(0))
	}
	digest := sha256.Sum256(input)
	sig, err := m.signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	if m.ec == nil {
		return sig, nil
	}
	// crypto/ecdsa writes ASN.1 DER; JWS wants the fixed-width r||s of RFC
	// 7518 §3.4.
	raw, err := ecdsaDERToRaw(dst, sig)
	if err != nil {
		return nil, err
	}
	if s := raw[len(raw)-32:]; isHighS(s) {
		negateModOrder(s)
	}
	return raw, nil
}

// p256Order is n, the order of P-256's base point, and p256HalfOrder is
// n/2 (rounded down), both big-endian.
var (
	p256Order = [32]byte{
		0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
	}
	p256HalfOrder = [32]byte{
		0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8,
	}
)

// isHighS reports whether s, 32 big-endian bytes, is above n/2. Of the two
// valid signatures (r, s) and (r, n-s) only the low one is accepted, so that
// a token has one spelling (signature malleability).
func isHighS(s []byte) bool { return bytes.Compare(s, p256HalfOrder[:]) > 0 }

// negateModOrder replaces s, 32 big-endian bytes below n, with n - s, on the
// stack and without math/big.
func negateModOrder(s []byte) {
	var borrow uint64
	for i := 24; i >= 0; i -= 8 {
		var d uint64
		d, borrow = bits.Sub64(binary.BigEndian.Uint64(p256Order[i:]), binary.BigEndian.Uint64(s[i:]), borrow)
		binary.BigEndian.PutUint64(s[i:], d)
	}
}

var errDER = errors.New("malformed ECDSA signature")

// ecdsaDERToRaw converts an ASN.1 DER ECDSA P-256 signature to r||s, each
// left-padded to 32 bytes, appended to dst.
func ecdsaDERToRaw(dst, der []byte) ([]byte, error) {
	// A P-256 signature is at most 72 bytes, so its length is in short form.
	if len(der) < 8 || der[0] != 0x30 || int(der[1]) != len(der)-2 {
		return nil, errDER
	}
	var raw [64]byte
	rest := der[2:]
	for half := 0; half < 2; half++ {
		if len(rest) < 2 || rest[0] != 0x02 {
			return nil, errDER
		}
		n := int(rest[1])
		if n == 0 || n > 33 || len(rest) < 2+n {
			return nil, errDER
		}
		v := rest[2 : 2+n]
		rest = rest[2+n:]
		if len(v) > 1 && v[0] == 0 {
			v = v[1:]
		}
		if len(v) > 32 {
			return nil, errDER
		}
		copy(raw[half*32+32-len(v):half*32+32], v)
	}
	if len(rest) != 0 {
		return nil, errDER
	}
	return append(dst, raw[:]...), nil
}

// ecdsaRawToDER converts a 64-byte r||s signature to the ASN.1 DER form that
// crypto/ecdsa verifies, appended to dst. Integers are written minimally; a
// zero r or s becomes INTEGER 0, which verification rejects.
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
