package token

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// IDClaims is the claims set of an OpenID Connect ID token (Core §2): who
// signed in, for which app, when. Its audience is the one client it was
// issued to, so azp, which Core needs only beside other audiences, is never
// written.
type IDClaims struct {
	// Issuer is "iss", the issuer's identifier.
	Issuer string
	// Subject is "sub", the person's user ID.
	Subject string
	// Audience is "aud": the client_id of the app the token is for.
	Audience string
	// ExpiresAt and IssuedAt are "exp" and "iat", in seconds since the Unix
	// epoch.
	ExpiresAt, IssuedAt int64
	// AuthTime is "auth_time", when the person signed in, in seconds since
	// the Unix epoch; zero leaves it out.
	AuthTime int64
	// Nonce is "nonce", the authorization request's, sent back unchanged;
	// "" leaves it out.
	Nonce string
}

// SignIDToken writes c as an ID token signed by the set's active key, with
// the header {"alg":…,"kid":…,"typ":"JWT"}: never at+jwt, so that the guard,
// which requires at+jwt, never takes an ID token for an access token (RFC
// 8725 §3.11). When accessToken is not empty, its hash is the "at_hash"
// claim (Core §3.1.3.6), computed for the algorithm of the key that signs.
func (ks *KeySet) SignIDToken(c *IDClaims, accessToken string) (string, error) {
	return ks.SignIDTokenWith("", c, accessToken)
}

// SignIDTokenWith is SignIDToken with the key for alg, a client's
// id_token_signed_response_alg: "" or the active key's algorithm takes the
// active key, RS256 the active ID-token key beside it. An algorithm the set
// cannot sign with is ErrUnsupportedAlgorithm.
func (ks *KeySet) SignIDTokenWith(alg string, c *IDClaims, accessToken string) (string, error) {
	if c == nil || c.Issuer == "" || c.Subject == "" || c.Audience == "" || c.ExpiresAt <= 0 || c.IssuedAt <= 0 {
		return "", fmt.Errorf("sign ID token: iss, sub, aud, exp and iat are required: %w", ErrMissingClaim)
	}
	sk := ks.idTokenKey(alg)
	if sk == nil {
		return "", fmt.Errorf("sign ID token: no active key for %q: %w", alg, ErrUnsupportedAlgorithm)
	}
	atHash := ""
	if accessToken != "" {
		var err error
		if atHash, err = AccessTokenHash(sk.m.alg, accessToken); err != nil {
			return "", fmt.Errorf("sign ID token: %w", err)
		}
	}
	var w objectWriter
	payload := append(make([]byte, 0, 512), '{')
	payload = w.text(payload, "iss", c.Issuer)
	payload = w.text(payload, "sub", c.Subject)
	payload = w.text(payload, "aud", c.Audience)
	payload = w.numericDate(payload, "exp", c.ExpiresAt)
	payload = w.numericDate(payload, "iat", c.IssuedAt)
	payload = w.numericDate(payload, "auth_time", c.AuthTime)
	payload = w.text(payload, "nonce", c.Nonce)
	payload = w.text(payload, "at_hash", atHash)
	if w.err != nil {
		return "", fmt.Errorf("sign ID token: %w", w.err)
	}
	payload = append(payload, '}')
	enc := base64.RawURLEncoding
	input := enc.AppendEncode([]byte(sk.idHeader), payload)
	sig, err := sk.m.sign(input, nil)
	if err != nil {
		return "", fmt.Errorf("sign ID token: %w", err)
	}
	var b strings.Builder
	b.Grow(len(input) + 1 + enc.EncodedLen(len(sig)))
	b.Write(input)
	b.WriteByte('.')
	b.WriteString(enc.EncodeToString(sig))
	return b.String(), nil
}

// idTokenKey returns the key that signs ID tokens of alg, or nil.
func (ks *KeySet) idTokenKey(alg string) *signingKey {
	switch {
	case alg == "" || alg == ks.signing.m.alg:
		return ks.signing
	case ks.idSigning != nil && alg == ks.idSigning.m.alg:
		return ks.idSigning
	}
	return nil
}

// IDTokenAlgorithms returns the algorithms SignIDTokenWith can sign with
// now: the active key's, then the ID-token key's when there is one.
func (ks *KeySet) IDTokenAlgorithms() []string {
	algs := []string{ks.signing.m.alg}
	if ks.idSigning != nil && ks.idSigning.m.alg != algs[0] {
		algs = append(algs, ks.idSigning.m.alg)
	}
	return algs
}

// AccessTokenHash returns the at_hash of accessToken for a token signed
// with alg (OpenID Connect Core §3.1.3.6): the left half of the hash that
// alg uses, base64url-encoded. That hash is SHA-256 for RS256 and ES256,
// and SHA-512 for EdDSA with Ed25519, as the OpenID Foundation's errata
// and go-oidc have it.
func AccessTokenHash(alg, accessToken string) (string, error) {
	var h hash.Hash
	switch alg {
	case "RS256", "ES256":
		h = sha256.New()
	case "EdDSA":
		h = sha512.New()
	default:
		return "", errors.New("no at_hash rule for algorithm " + alg)
	}
	h.Write([]byte(accessToken))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]), nil
}
