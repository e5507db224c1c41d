package token

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/scopegate/scopegate/internal/strictjson"
	"github.com/scopegate/scopegate/storage"
)

// The JWS algorithms a key can be pinned to.
const (
	// AlgES256 is ECDSA on P-256 with SHA-256; the default, cheapest to sign.
	AlgES256 = "ES256"
	// AlgRS256 is RSASSA-PKCS1-v1_5 with SHA-256, for verifiers that know
	// only RSA.
	AlgRS256 = "RS256"
	// AlgEdDSA is Ed25519.
	AlgEdDSA = "EdDSA"
)

// RSA key sizes. Generated keys have 3072 bits (NIST's size for security
// beyond 2030; generation takes a fraction of a second and happens once per
// rotation). Files may hold 2048 to 8192 bits: below 2048 is too weak, and
// above 8192 every signature would cost tens of milliseconds.
const (
	rsaGenerateBits = 3072
	rsaMinBits      = 2048
	rsaMaxBits      = 8192
)

// maxKeyIDLength bounds a stored kid; generated ones have 22 characters and
// thumbprints 43.
const maxKeyIDLength = 128

// Key statuses reported by KeySet.Keys.
const (
	// StatusNext: published in the JWKS, not signing yet; the next rotation
	// makes it active.
	StatusNext = "next"
	// StatusActive: the key that signs new tokens.
	StatusActive = "active"
	// StatusRetired: no longer signing, still published and still verifying
	// the tokens it signed until they expire.
	StatusRetired = "retired"
	// StatusRevoked: retired early as compromised; neither published nor
	// accepted.
	StatusRevoked = "revoked"
)

// keyMaterial is a parsed private key pinned to one algorithm, with its
// public half in the concrete type that verification uses.
type keyMaterial struct {
	// kid is set once the key joins a KeySet.
	kid string
	// idTokenOnly marks a key of use storage.KeyUseIDToken: it signs ID
	// tokens, and Verify never accepts an access token it signed.
	idTokenOnly bool
	alg         string
	signer      crypto.Signer
	ec          *ecdsa.PublicKey
	rsa         *rsa.PublicKey
	ed          ed25519.PublicKey
}

// GenerateKey creates a new signing key for alg (ES256 on P-256, RS256 with
// 3072 bits, or EdDSA with Ed25519), created and active at now. Callers that
// want a pending key clear ActiveAt (see Rotate). The kid is 128 random bits,
// base64url-encoded: it reveals nothing and cannot be guessed or derived.
func GenerateKey(alg string, now time.Time) (storage.SigningKey, error) {
	var priv any
	var err error
	switch alg {
	case AlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgRS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaGenerateBits)
	case AlgEdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return storage.SigningKey{}, fmt.Errorf("generate key: %q: %w", alg, ErrUnsupportedAlgorithm)
	}
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("generate %s key: %w", alg, err)
	}
	return newKeyRecord(alg, priv, now)
}

// generateRSA creates an RS256 key of bits, created and active at now.
func generateRSA(bits int, now time.Time) (storage.SigningKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("generate %s key: %w", AlgRS256, err)
	}
	return newKeyRecord(AlgRS256, priv, now)
}

// newKeyRecord returns the record of a generated key: a random kid, the
// PKCS #8 encoding, created and active at now.
func newKeyRecord(alg string, priv any, now time.Time) (storage.SigningKey, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("encode %s key: %w", alg, err)
	}
	return storage.SigningKey{
		ID:         newKeyID(),
		Algorithm:  alg,
		PrivateKey: der,
		CreatedAt:  now,
		ActiveAt:   now,
	}, nil
}

// randomID returns 128 random bits, base64url-encoded without padding.
// newKeyID returns a random kid that does not begin with '-', so that an
// operator can pass it to a command line (caddy scopegate keys revoke <kid>)
// without it being read as a flag. The 1-in-64 redraw costs under one bit.
func newKeyID() string {
	for {
		if kid := randomID(); kid[0] != '-' {
			return kid
		}
	}
}

func randomID() string {
	var b [16]byte
	// crypto/rand.Read never fails: it aborts the program when the system
	// cannot supply randomness.
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// KeyFromPEM loads an operator's signing key from a PEM file: a PKCS #8
// "PRIVATE KEY", a SEC 1 "EC PRIVATE KEY" or a PKCS #1 "RSA PRIVATE KEY"
// block. Other blocks (EC PARAMETERS, certificates) are skipped; encrypted
// keys and files with more than one private key are refused. The key must
// match alg: P-256 for ES256, RSA of 2048 to 8192 bits for RS256, Ed25519 for
// EdDSA. The kid is the key's RFC 7638 JWK thumbprint, so it stays the same
// across restarts. The key is created and active at now.
func KeyFromPEM(pemBytes []byte, alg string, now time.Time) (storage.SigningKey, error) {
	if !supportedAlg(alg) {
		return storage.SigningKey{}, fmt.Errorf("load key: %q: %w", alg, ErrUnsupportedAlgorithm)
	}
	var priv any
	rest := pemBytes
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return storage.SigningKey{}, errors.New("load key: encrypted private keys are not supported")
		default:
			continue
		}
		if _, encrypted := block.Headers["Proc-Type"]; encrypted {
			return storage.SigningKey{}, errors.New("load key: encrypted private keys are not supported")
		}
		if err != nil {
			return storage.SigningKey{}, fmt.Errorf("load key: parse %s block: %w", block.Type, err)
		}
		if priv != nil {
			return storage.SigningKey{}, errors.New("load key: the file holds more than one private key")
		}
		priv = key
	}
	if priv == nil {
		return storage.SigningKey{}, errors.New("load key: no private key PEM block found")
	}
	return fileKey(priv, alg, now)
}

// KeyFromJWK loads an operator's signing key from a private JWK (RFC 7517):
// an EC P-256, RSA or Ed25519 (OKP) key with its private members. A JWK
// without them, a key set, or a JWK whose "alg" names another algorithm is
// refused. The key must match alg as for KeyFromPEM, and its kid is likewise
// its RFC 7638 thumbprint: a "kid" in the file is not used, so that the same
// key has the same kid in either form. The key is created and active at
// now. Errors never quote the file: it holds a private key.
func KeyFromJWK(data []byte, alg string, now time.Time) (storage.SigningKey, error) {
	if !supportedAlg(alg) {
		return storage.SigningKey{}, fmt.Errorf("load key: %q: %w", alg, ErrUnsupportedAlgorithm)
	}
	key, err := jwk.ParseKey(data)
	if err != nil {
		return storage.SigningKey{}, errors.New("load key: the file is not a single JWK")
	}
	if private, err := jwk.IsPrivateKey(key); err != nil || !private {
		return storage.SigningKey{}, errors.New("load key: the JWK holds no private key")
	}
	if named, ok := key.Algorithm(); ok && named.String() != alg {
		return storage.SigningKey{}, fmt.Errorf("load key: the JWK is for %s, not %s", named, alg)
	}
	var priv any
	if err := jwk.Export(key, &priv); err != nil {
		return storage.SigningKey{}, errors.New("load key: the JWK's key cannot be used")
	}
	return fileKey(priv, alg, now)
}

// KeyFromFile loads an operator's signing key from the contents of a key
// file: a JWK (KeyFromJWK) when its first character other than white space
// is '{', PEM (KeyFromPEM) otherwise.
func KeyFromFile(data []byte, alg string, now time.Time) (storage.SigningKey, error) {
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
		return KeyFromJWK(data, alg, now)
	}
	return KeyFromPEM(data, alg, now)
}

// fileKey checks a key read from a file against alg and makes its record,
// with its thumbprint as kid.
func fileKey(priv any, alg string, now time.Time) (storage.SigningKey, error) {
	m, err := newKeyMaterial(alg, priv)
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("load key: %w", err)
	}
	kid, err := m.thumbprint()
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("load key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("load key: encode: %w", err)
	}
	return storage.SigningKey{
		ID:         kid,
		Algorithm:  alg,
		PrivateKey: der,
		CreatedAt:  now,
		ActiveAt:   now,
	}, nil
}

func supportedAlg(alg string) bool {
	return alg == AlgES256 || alg == AlgRS256 || alg == AlgEdDSA
}

// parseKeyMaterial parses a stored PKCS #8 key and checks it against alg.
func parseKeyMaterial(alg string, der []byte) (*keyMaterial, error) {
	if !supportedAlg(alg) {
		return nil, fmt.Errorf("%q: %w", alg, ErrUnsupportedAlgorithm)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	return newKeyMaterial(alg, priv)
}

// newKeyMaterial checks that priv is a key alg may use and keeps its halves.
func newKeyMaterial(alg string, priv any) (*keyMaterial, error) {
	switch k := priv.(type) {
	case *ecdsa.PrivateKey:
		if alg != AlgES256 {
			return nil, fmt.Errorf("an EC key cannot be used for %s", alg)
		}
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("ES256 needs a P-256 key, not %s", k.Curve.Params().Name)
		}
		return &keyMaterial{alg: alg, signer: k, ec: &k.PublicKey}, nil
	case *rsa.PrivateKey:
		if alg != AlgRS256 {
			return nil, fmt.Errorf("an RSA key cannot be used for %s", alg)
		}
		if bits := k.N.BitLen(); bits < rsaMinBits || bits > rsaMaxBits {
			return nil, fmt.Errorf("RSA key has %d bits; %d to %d are accepted", bits, rsaMinBits, rsaMaxBits)
		}
		return &keyMaterial{alg: alg, signer: k, rsa: &k.PublicKey}, nil
	case ed25519.PrivateKey:
		if alg != AlgEdDSA {
			return nil, fmt.Errorf("an Ed25519 key cannot be used for %s", alg)
		}
		return &keyMaterial{alg: alg, signer: k, ed: k.Public().(ed25519.PublicKey)}, nil
	default:
		return nil, fmt.Errorf("key type %T is not supported", priv)
	}
}

// publicKey returns the public half in its crypto type.
func (m *keyMaterial) publicKey() crypto.PublicKey {
	switch {
	case m.ec != nil:
		return m.ec
	case m.rsa != nil:
		return m.rsa
	}
	return m.ed
}

// publicJWK returns the public half as a JWK (RFC 7517) with kid, alg and use
// "sig". jwx writes the members each key type requires (EC coordinates at
// their full 32 bytes, RFC 7518 §6.2.1.2) and never a private one.
func (m *keyMaterial) publicJWK(kid string) (jwk.Key, error) {
	key, err := jwk.Import(m.publicKey())
	if err != nil {
		return nil, fmt.Errorf("public JWK: %w", err)
	}
	alg, ok := jwa.LookupSignatureAlgorithm(m.alg)
	if !ok {
		return nil, fmt.Errorf("public JWK: %q: %w", m.alg, ErrUnsupportedAlgorithm)
	}
	for _, member := range []struct {
		name  string
		value any
	}{{jwk.KeyIDKey, kid}, {jwk.AlgorithmKey, alg}, {jwk.KeyUsageKey, jwk.ForSignature}} {
		if err := key.Set(member.name, member.value); err != nil {
			return nil, fmt.Errorf("public JWK: %s: %w", member.name, err)
		}
	}
	return key, nil
}

// thumbprint returns the key's RFC 7638 JWK thumbprint (SHA-256),
// base64url-encoded.
func (m *keyMaterial) thumbprint() (string, error) {
	key, err := jwk.Import(m.publicKey())
	if err != nil {
		return "", fmt.Errorf("thumbprint: %w", err)
	}
	sum, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// validKeyID reports whether kid is a non-empty, bounded string of base64url
// characters, the only kind this package creates. Anything else in the store
// means corruption, and the key set is refused.
func validKeyID(kid string) bool {
	if kid == "" || len(kid) > maxKeyIDLength {
		return false
	}
	for i := 0; i < len(kid); i++ {
		if !isBase64URLChar(kid[i]) {
			return false
		}
	}
	return true
}

// KeyInfo is the public description of one signing key, for the admin API.
type KeyInfo struct {
	// KeyID is the key's kid.
	KeyID string `json:"kid"`
	// Algorithm is the JWS algorithm the key is pinned to.
	Algorithm string `json:"alg"`
	// CreatedAt is when the key was made.
	CreatedAt time.Time `json:"created_at"`
	// ActiveAt is when the key started signing; zero for a next key.
	ActiveAt time.Time `json:"active_at,omitzero"`
	// RetiredAt is when the key stopped signing; zero while it signs or waits.
	RetiredAt time.Time `json:"retired_at,omitzero"`
	// Revoked is true for a key retired early as compromised.
	Revoked bool `json:"revoked"`
	// Status is "next", "active", "retired" or "revoked".
	Status string `json:"status"`
	// Use is what the key signs: UseAll (access tokens, and ID tokens in
	// its algorithm) or UseIDToken (RS256 ID tokens only).
	Use string `json:"use"`
}

// Key uses reported by KeySet.Keys.
const (
	// UseAll: the operator's signing_alg key, which signs every token.
	UseAll = "all"
	// UseIDToken: the RS256 key kept beside another algorithm's, which
	// signs ID tokens only (OpenID Connect Discovery §3 requires RS256).
	UseIDToken = storage.KeyUseIDToken
)

// KeySet is an immutable snapshot of the signing keys, parsed once: the key
// that signs, the keys that verify (each pinned to its algorithm) and the
// rendered JWKS. It is safe for concurrent use. Build a new one with
// NewKeySet after every change to the stored keys.
type KeySet struct {
	signing *signingKey
	// idSigning is the active RS256 key of use id_token, nil when there is
	// none (the operator's algorithm is RS256, or a file key stands alone).
	idSigning *signingKey
	verify    map[string]*keyMaterial
	jwks      []byte
	infos     []KeyInfo
}

// signingKey is the key that signs, with its encoded JWS header ready.
type signingKey struct {
	kid string
	m   *keyMaterial
	// header is the base64url-encoded protected header followed by '.'.
	header string
	// idHeader is the same for ID tokens, whose typ is JWT (see SignIDToken).
	idHeader string
}

// NewKeySet parses keys once and builds the snapshot for time now.
//
// The keys form two tracks by their Use: the operator's keys ("") and the
// RS256 keys that sign only ID tokens (storage.KeyUseIDToken). In each, the
// signing key is the one with the latest ActiveAt among keys that are
// active at now (ActiveAt set and not after now), not retired and not
// revoked; a key with a zero ActiveAt is the pending next key (see Rotate).
// Every key that is not revoked verifies and is published in the JWKS;
// revoked keys are neither, and are not even parsed. NewKeySet fails closed:
// a key that does not parse or does not match its algorithm, a repeated or
// malformed kid, an ID-token key that is not RS256, or the lack of a
// signing key on the operator's track is an error.
func NewKeySet(keys []storage.SigningKey, now time.Time) (*KeySet, error) {
	ks := &KeySet{verify: make(map[string]*keyMaterial, len(keys))}
	si := signingIndex(keys, "", now)
	ci := signingIndex(keys, storage.KeyUseIDToken, now)
	seen := make(map[string]struct{}, len(keys))
	jwks := jwk.NewSet()
	for i, k := range keys {
		if !validKeyID(k.ID) {
			return nil, fmt.Errorf("key set: key %d has a malformed kid", i)
		}
		if _, dup := seen[k.ID]; dup {
			return nil, fmt.Errorf("key set: kid %s appears twice", k.ID)
		}
		seen[k.ID] = struct{}{}
		if err := checkKeyUse(k); err != nil {
			return nil, fmt.Errorf("key set: key %s: %w", k.ID, err)
		}
		ks.infos = append(ks.infos, keyInfo(keys, i, si, ci, now))
		if k.Revoked {
			continue
		}
		m, err := parseKeyMaterial(k.Algorithm, k.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("key set: key %s: %w", k.ID, err)
		}
		m.kid = k.ID
		m.idTokenOnly = k.Use == storage.KeyUseIDToken
		ks.verify[k.ID] = m
		pub, err := m.publicJWK(k.ID)
		if err == nil {
			err = jwks.AddKey(pub)
		}
		if err != nil {
			return nil, fmt.Errorf("key set: key %s: %w", k.ID, err)
		}
		switch i {
		case si:
			ks.signing = newSigningKey(m)
		case ci:
			ks.idSigning = newSigningKey(m)
		}
	}
	if ks.signing == nil {
		return nil, fmt.Errorf("key set: %w", ErrNoSigningKey)
	}
	var err error
	if ks.jwks, err = json.Marshal(jwks); err != nil {
		return nil, fmt.Errorf("key set: JWKS: %w", err)
	}
	return ks, nil
}

// checkKeyUse refuses a use this package does not write, and an ID-token
// key of another algorithm than RS256, the one it exists for.
func checkKeyUse(k storage.SigningKey) error {
	switch {
	case k.Use != "" && k.Use != storage.KeyUseIDToken:
		return fmt.Errorf("unknown use %q", k.Use)
	case k.Use == storage.KeyUseIDToken && k.Algorithm != AlgRS256:
		return fmt.Errorf("an ID-token key must be %s, not %s", AlgRS256, k.Algorithm)
	}
	return nil
}

// newSigningKey encodes m's headers once: at+jwt for access tokens, JWT
// for ID tokens.
func newSigningKey(m *keyMaterial) *signingKey {
	header := append([]byte(`{"alg":`), strictjson.AppendString(nil, m.alg)...)
	header = append(header, `,"kid":`...)
	header = strictjson.AppendString(header, m.kid)
	idHeader := append(slices.Clone(header), `,"typ":"JWT"}`...)
	header = append(header, `,"typ":"at+jwt"}`...)
	return &signingKey{
		kid:      m.kid,
		m:        m,
		header:   base64.RawURLEncoding.EncodeToString(header) + ".",
		idHeader: base64.RawURLEncoding.EncodeToString(idHeader) + ".",
	}
}

// keyInfo describes keys[i]; si and ci are the signing keys' indexes on the
// operator's track and the ID-token track.
func keyInfo(keys []storage.SigningKey, i, si, ci int, now time.Time) KeyInfo {
	k := keys[i]
	use, signing := UseAll, si
	if k.Use == storage.KeyUseIDToken {
		use, signing = UseIDToken, ci
	}
	return KeyInfo{
		KeyID:     k.ID,
		Algorithm: k.Algorithm,
		CreatedAt: k.CreatedAt,
		ActiveAt:  k.ActiveAt,
		RetiredAt: k.RetiredAt,
		Revoked:   k.Revoked,
		Status:    keyStatus(keys, i, signing, now),
		Use:       use,
	}
}

// keyStatus names the state of keys[i] at now; si is the signing key's index.
func keyStatus(keys []storage.SigningKey, i, si int, now time.Time) string {
	k := keys[i]
	switch {
	case k.Revoked:
		return StatusRevoked
	case i == si:
		return StatusActive
	case !k.RetiredAt.IsZero():
		return StatusRetired
	case k.ActiveAt.IsZero() || k.ActiveAt.After(now):
		return StatusNext
	default:
		// Active but superseded by a newer active key: it no longer signs.
		return StatusRetired
	}
}

// signingIndex returns the index of the key of use that signs at now, or
// -1.
func signingIndex(keys []storage.SigningKey, use string, now time.Time) int {
	best := -1
	for i, k := range keys {
		if k.Use != use || k.Revoked || !k.RetiredAt.IsZero() || k.ActiveAt.IsZero() || k.ActiveAt.After(now) {
			continue
		}
		if best < 0 || !k.ActiveAt.Before(keys[best].ActiveAt) {
			best = i
		}
	}
	return best
}

// nextIndex returns the index of the pending next key of use at now (the
// newest one when there are several), or -1.
func nextIndex(keys []storage.SigningKey, use string, now time.Time) int {
	best := -1
	for i, k := range keys {
		if k.Use != use || k.Revoked || !k.RetiredAt.IsZero() || !(k.ActiveAt.IsZero() || k.ActiveAt.After(now)) {
			continue
		}
		if best < 0 || !k.CreatedAt.Before(keys[best].CreatedAt) {
			best = i
		}
	}
	return best
}

// JWKS returns the public JSON Web Key Set (RFC 7517 §5) to serve at
// /.well-known/jwks.json: every key that is not revoked, each with kty, use
// "sig", alg, kid and its public parameters. The bytes are rendered once; the
// caller gets its own copy.
func (ks *KeySet) JWKS() []byte {
	return append([]byte(nil), ks.jwks...)
}

// SigningKeyID returns the kid of the key that signs new tokens.
func (ks *KeySet) SigningKeyID() string { return ks.signing.kid }

// SigningAlgorithm returns the algorithm of the key that signs new tokens.
// When it differs from the configured one, the operator has yet to rotate
// (EnsureKeys never switches algorithms by itself).
func (ks *KeySet) SigningAlgorithm() string { return ks.signing.m.alg }

// Algorithms returns the algorithms of the keys that verify (not revoked),
// the signing key's first, then the ID-token key's, each once: what a
// token of this set may be signed with, as discovery's
// id_token_signing_alg_values_supported says.
func (ks *KeySet) Algorithms() []string {
	algs := ks.IDTokenAlgorithms()
	for _, info := range ks.infos {
		if !info.Revoked && !slices.Contains(algs, info.Algorithm) {
			algs = append(algs, info.Algorithm)
		}
	}
	return algs
}

// HasKey reports whether kid names a key that may verify: published and not
// revoked. A caller that takes claims from VerifiedCache checks HasKey with
// Claims.KeyID, so that revoking a key refuses its tokens at once. A nil
// KeySet has no keys.
func (ks *KeySet) HasKey(kid string) bool {
	if ks == nil {
		return false
	}
	_, ok := ks.verify[kid]
	return ok
}

// Keys describes every key in the set, revoked ones included, in stored
// order.
func (ks *KeySet) Keys() []KeyInfo {
	return append([]KeyInfo(nil), ks.infos...)
}
