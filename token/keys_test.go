package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

func TestGenerateKey(t *testing.T) {
	tests := []struct {
		alg      string
		wantType string
	}{
		{AlgES256, "*ecdsa.PrivateKey"},
		{AlgRS256, "*rsa.PrivateKey"},
		{AlgEdDSA, "ed25519.PrivateKey"},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			k := testKeys()[tt.alg]
			if k.Algorithm != tt.alg {
				t.Errorf("Algorithm = %q", k.Algorithm)
			}
			if raw, err := base64.RawURLEncoding.DecodeString(k.ID); err != nil || len(raw) != 16 {
				t.Errorf("kid %q is not 16 base64url bytes (err %v)", k.ID, err)
			}
			want := t0.Add(-time.Hour)
			if !k.CreatedAt.Equal(want) || !k.ActiveAt.Equal(want) || !k.RetiredAt.IsZero() || k.Revoked {
				t.Errorf("times/revoked = %v %v %v %v", k.CreatedAt, k.ActiveAt, k.RetiredAt, k.Revoked)
			}
			priv, err := x509.ParsePKCS8PrivateKey(k.PrivateKey)
			if err != nil {
				t.Fatalf("PrivateKey is not PKCS #8: %v", err)
			}
			if got := reflect.TypeOf(priv).String(); got != tt.wantType {
				t.Errorf("key type = %s, want %s", got, tt.wantType)
			}
			switch p := priv.(type) {
			case *rsa.PrivateKey:
				if p.N.BitLen() != 3072 {
					t.Errorf("RSA key has %d bits, want 3072", p.N.BitLen())
				}
			case *ecdsa.PrivateKey:
				if p.Curve != elliptic.P256() {
					t.Errorf("curve = %s", p.Curve.Params().Name)
				}
			}
		})
	}
	t.Run("kids are unique", func(t *testing.T) {
		seen := map[string]bool{}
		for range 50 {
			k, err := GenerateKey(AlgEdDSA, t0)
			if err != nil {
				t.Fatal(err)
			}
			if seen[k.ID] {
				t.Fatalf("kid %s repeated", k.ID)
			}
			seen[k.ID] = true
		}
	})
	t.Run("unsupported algorithms", func(t *testing.T) {
		for _, alg := range []string{"", "none", "HS256", "es256", "RS512", "PS256", "ES384"} {
			if _, err := GenerateKey(alg, t0); !errors.Is(err, ErrUnsupportedAlgorithm) {
				t.Errorf("GenerateKey(%q) error = %v, want ErrUnsupportedAlgorithm", alg, err)
			}
		}
	})
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func mustPKCS8(t testing.TB, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestKeyFromPEM(t *testing.T) {
	ec := foreignKeys()[AlgES256].(*ecdsa.PrivateKey)
	rk := foreignKeys()[AlgRS256].(*rsa.PrivateKey)
	ed := foreignKeys()[AlgEdDSA].(ed25519.PrivateKey)
	ecSEC1, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ecParams := pemBlock("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07})
	encrypted := pem.EncodeToMemory(&pem.Block{
		Type:    "EC PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00000000000000000000000000000000"},
		Bytes:   ecSEC1,
	})
	cert := pemBlock("CERTIFICATE", []byte{0x30, 0x00})

	tests := []struct {
		name    string
		pem     []byte
		alg     string
		wantErr string
	}{
		{name: "PKCS #8 EC", pem: pemBlock("PRIVATE KEY", mustPKCS8(t, ec)), alg: AlgES256},
		{name: "SEC 1 EC", pem: pemBlock("EC PRIVATE KEY", ecSEC1), alg: AlgES256},
		{name: "SEC 1 EC after EC PARAMETERS, as openssl writes it", pem: append(ecParams, pemBlock("EC PRIVATE KEY", ecSEC1)...), alg: AlgES256},
		{name: "PKCS #1 RSA 2048", pem: pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rk)), alg: AlgRS256},
		{name: "PKCS #8 RSA", pem: pemBlock("PRIVATE KEY", mustPKCS8(t, rk)), alg: AlgRS256},
		{name: "PKCS #8 Ed25519", pem: pemBlock("PRIVATE KEY", mustPKCS8(t, ed)), alg: AlgEdDSA},
		{name: "key after a certificate", pem: append(cert, pemBlock("PRIVATE KEY", mustPKCS8(t, ed))...), alg: AlgEdDSA},
		{name: "EC key for RS256", pem: pemBlock("EC PRIVATE KEY", ecSEC1), alg: AlgRS256, wantErr: "an EC key cannot be used for RS256"},
		{name: "RSA key for ES256", pem: pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rk)), alg: AlgES256, wantErr: "an RSA key cannot be used for ES256"},
		{name: "Ed25519 key for ES256", pem: pemBlock("PRIVATE KEY", mustPKCS8(t, ed)), alg: AlgES256, wantErr: "an Ed25519 key cannot be used for ES256"},
		{name: "EC key for EdDSA", pem: pemBlock("PRIVATE KEY", mustPKCS8(t, ec)), alg: AlgEdDSA, wantErr: "an EC key cannot be used for EdDSA"},
		{name: "P-384 key for ES256", pem: pemBlock("PRIVATE KEY", mustPKCS8(t, p384)), alg: AlgES256, wantErr: "ES256 needs a P-256 key, not P-384"},
		{name: "RSA 1024", pem: pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small)), alg: AlgRS256, wantErr: "RSA key has 1024 bits; 2048 to 8192 are accepted"},
		{name: "encrypted PEM", pem: encrypted, alg: AlgES256, wantErr: "encrypted private keys are not supported"},
		{name: "PKCS #8 encrypted", pem: pemBlock("ENCRYPTED PRIVATE KEY", []byte{0x30, 0x00}), alg: AlgES256, wantErr: "encrypted private keys are not supported"},
		{name: "two keys", pem: append(pemBlock("EC PRIVATE KEY", ecSEC1), pemBlock("EC PRIVATE KEY", ecSEC1)...), alg: AlgES256, wantErr: "more than one private key"},
		{name: "no key", pem: cert, alg: AlgES256, wantErr: "no private key PEM block found"},
		{name: "not PEM", pem: []byte("hello"), alg: AlgES256, wantErr: "no private key PEM block found"},
		{name: "empty", pem: nil, alg: AlgES256, wantErr: "no private key PEM block found"},
		{name: "garbage in block", pem: pemBlock("PRIVATE KEY", []byte("garbage")), alg: AlgES256, wantErr: "parse PRIVATE KEY block"},
		{name: "unsupported algorithm", pem: pemBlock("PRIVATE KEY", mustPKCS8(t, ec)), alg: "HS256", wantErr: "unsupported signing algorithm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := KeyFromPEM(tt.pem, tt.alg, t0)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("KeyFromPEM: %v", err)
			}
			if k.Algorithm != tt.alg || !k.CreatedAt.Equal(t0) || !k.ActiveAt.Equal(t0) {
				t.Errorf("record = %s %v %v", k.Algorithm, k.CreatedAt, k.ActiveAt)
			}
			again, err := KeyFromPEM(tt.pem, tt.alg, t0.Add(time.Hour))
			if err != nil || again.ID != k.ID {
				t.Errorf("kid not stable across loads: %q then %q (%v)", k.ID, again.ID, err)
			}
			if raw, err := base64.RawURLEncoding.DecodeString(k.ID); err != nil || len(raw) != 32 {
				t.Errorf("kid %q is not a base64url SHA-256 thumbprint", k.ID)
			}
			ks, err := NewKeySet([]storage.SigningKey{k}, t0)
			if err != nil {
				t.Fatalf("NewKeySet with the loaded key: %v", err)
			}
			c := validClaims()
			raw, err := ks.Sign(c)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := testVerifier().Verify(ks, raw); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestThumbprintRFC7638(t *testing.T) {
	// The example of RFC 7638 §3.1.
	n, err := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	if err != nil {
		t.Fatal(err)
	}
	m := &keyMaterial{alg: AlgRS256, rsa: &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}}
	if got, err := m.thumbprint(); err != nil || got != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Errorf("thumbprint = %s, %v; want the RFC's NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", got, err)
	}
}

// jwkMembers decodes a JWKS into one member map per key.
func jwkMembers(t *testing.T, jwks []byte) []map[string]any {
	t.Helper()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	dec := json.NewDecoder(strings.NewReader(string(jwks)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&set); err != nil {
		t.Fatalf("JWKS is not valid JSON: %v\n%s", err, jwks)
	}
	return set.Keys
}

func TestNewKeySetJWKS(t *testing.T) {
	keys := testKeys()
	es, rs, ed := keys[AlgES256], keys[AlgRS256], keys[AlgEdDSA]
	next, err := GenerateKey(AlgES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	next.ActiveAt = time.Time{}
	retired := rs
	retired.RetiredAt = t0.Add(-time.Minute)
	revoked := ed
	revoked.Revoked = true
	revoked.RetiredAt = t0.Add(-time.Minute)

	ks, err := NewKeySet([]storage.SigningKey{retired, revoked, es, next}, t0)
	if err != nil {
		t.Fatalf("NewKeySet: %v", err)
	}
	if ks.SigningKeyID() != es.ID || ks.SigningAlgorithm() != AlgES256 {
		t.Errorf("signing key = %s %s, want %s ES256", ks.SigningKeyID(), ks.SigningAlgorithm(), es.ID)
	}
	for kid, want := range map[string]bool{es.ID: true, next.ID: true, retired.ID: true, revoked.ID: false, "": false, "x": false} {
		if got := ks.HasKey(kid); got != want {
			t.Errorf("HasKey(%q) = %v, want %v", kid, got, want)
		}
	}

	members := jwkMembers(t, ks.JWKS())
	var kids []string
	for _, m := range members {
		kids = append(kids, m["kid"].(string))
		if m["use"] != "sig" {
			t.Errorf("kid %s: use = %v", m["kid"], m["use"])
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"} {
			if _, ok := m[private]; ok {
				t.Errorf("kid %s publishes private member %q", m["kid"], private)
			}
		}
		var want []string
		switch m["kty"] {
		case "EC":
			want = []string{"alg", "crv", "kid", "kty", "use", "x", "y"}
			if m["alg"] != "ES256" || m["crv"] != "P-256" {
				t.Errorf("EC key alg/crv = %v/%v", m["alg"], m["crv"])
			}
			for _, c := range []string{"x", "y"} {
				if b, err := base64.RawURLEncoding.DecodeString(m[c].(string)); err != nil || len(b) != 32 {
					t.Errorf("EC %s is not 32 base64url bytes", c)
				}
			}
		case "RSA":
			want = []string{"alg", "e", "kid", "kty", "n", "use"}
			if m["alg"] != "RS256" || m["e"] != "AQAB" {
				t.Errorf("RSA key alg/e = %v/%v", m["alg"], m["e"])
			}
		default:
			t.Errorf("unexpected kty %v", m["kty"])
		}
		var got []string
		for name := range m {
			got = append(got, name)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("kid %s members = %v, want %v", m["kid"], got, want)
		}
	}
	if want := []string{retired.ID, es.ID, next.ID}; !slices.Equal(kids, want) {
		t.Errorf("published kids = %v, want %v (revoked key never)", kids, want)
	}

	wantInfo := []KeyInfo{
		{KeyID: retired.ID, Algorithm: AlgRS256, CreatedAt: rs.CreatedAt, ActiveAt: rs.ActiveAt, RetiredAt: retired.RetiredAt, Status: StatusRetired, Use: UseAll},
		{KeyID: revoked.ID, Algorithm: AlgEdDSA, CreatedAt: ed.CreatedAt, ActiveAt: ed.ActiveAt, RetiredAt: revoked.RetiredAt, Revoked: true, Status: StatusRevoked, Use: UseAll},
		{KeyID: es.ID, Algorithm: AlgES256, CreatedAt: es.CreatedAt, ActiveAt: es.ActiveAt, Status: StatusActive, Use: UseAll},
		{KeyID: next.ID, Algorithm: AlgES256, CreatedAt: next.CreatedAt, Status: StatusNext, Use: UseAll},
	}
	if got := ks.Keys(); !reflect.DeepEqual(got, wantInfo) {
		t.Errorf("Keys() =\n%+v\nwant\n%+v", got, wantInfo)
	}
	info, err := json.Marshal(ks.Keys()[3])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(info), "private") || strings.Contains(string(info), "active_at") {
		t.Errorf("next key info = %s", info)
	}

	// The caller's copy is its own.
	j := ks.JWKS()
	j[0] = 'X'
	if ks.JWKS()[0] != '{' {
		t.Error("JWKS returned the internal buffer")
	}
}

func TestNewKeySetSigningKeyChoice(t *testing.T) {
	mk := func(activeAt time.Time) storage.SigningKey {
		k, err := GenerateKey(AlgEdDSA, t0.Add(-2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		k.ActiveAt = activeAt
		return k
	}
	older, newer := mk(t0.Add(-time.Hour)), mk(t0.Add(-time.Minute))
	future, pending := mk(t0.Add(time.Hour)), mk(time.Time{})
	retiredNewest := mk(t0.Add(-time.Second))
	retiredNewest.RetiredAt = t0
	revokedNewest := mk(t0.Add(-time.Second))
	revokedNewest.Revoked = true

	ks, err := NewKeySet([]storage.SigningKey{newer, older, future, pending, retiredNewest, revokedNewest}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if ks.SigningKeyID() != newer.ID {
		t.Errorf("signing key is not the newest active one")
	}
	var statuses []string
	for _, info := range ks.Keys() {
		statuses = append(statuses, info.Status)
	}
	want := []string{StatusActive, StatusRetired, StatusNext, StatusNext, StatusRetired, StatusRevoked}
	if !slices.Equal(statuses, want) {
		t.Errorf("statuses = %v, want %v", statuses, want)
	}
	// The same set an hour and a second later signs with the scheduled key.
	later, err := NewKeySet([]storage.SigningKey{newer, older, future, pending}, t0.Add(time.Hour+time.Second))
	if err != nil || later.SigningKeyID() != future.ID {
		t.Errorf("later signing key = %v (%v), want the scheduled one", later, err)
	}
}

func TestNewKeySetFailsClosed(t *testing.T) {
	es := testKeys()[AlgES256]
	ed := testKeys()[AlgEdDSA]
	mislabelled := es
	mislabelled.Algorithm = AlgRS256
	corrupt := es
	corrupt.PrivateKey = es.PrivateKey[:len(es.PrivateKey)-3]
	badKID := ed
	badKID.ID = "../../etc/passwd"
	longKID := ed
	longKID.ID = strings.Repeat("a", 129)
	unknownAlg := es
	unknownAlg.Algorithm = "HS256"
	pending := ed
	pending.ActiveAt = time.Time{}
	revoked := ed
	revoked.Revoked = true

	tests := []struct {
		name string
		keys []storage.SigningKey
		want string
	}{
		{"no keys", nil, "no active signing key"},
		{"only a pending key", []storage.SigningKey{pending}, "no active signing key"},
		{"only a revoked key", []storage.SigningKey{revoked}, "no active signing key"},
		{"key labelled with another algorithm", []storage.SigningKey{mislabelled}, "an EC key cannot be used for RS256"},
		{"corrupt key", []storage.SigningKey{ed, corrupt}, "parse private key"},
		{"unknown algorithm", []storage.SigningKey{unknownAlg}, "unsupported signing algorithm"},
		{"repeated kid", []storage.SigningKey{ed, ed}, "appears twice"},
		{"kid with a path", []storage.SigningKey{badKID}, "malformed kid"},
		{"kid too long", []storage.SigningKey{longKID}, "malformed kid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks, err := NewKeySet(tt.keys, t0)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewKeySet error = %v, want %q", err, tt.want)
			}
			if ks != nil {
				t.Error("a key set came back with the error")
			}
		})
	}
}

func TestSignRefusesNoSigningKeyAndBadClaims(t *testing.T) {
	ks, _ := keySetFor(t, AlgES256)
	tests := []struct {
		name   string
		change func(*Claims)
		want   error
	}{
		{"no iss", func(c *Claims) { c.Issuer = "" }, ErrMissingClaim},
		{"no sub", func(c *Claims) { c.Subject = "" }, ErrMissingClaim},
		{"no client_id", func(c *Claims) { c.ClientID = "" }, ErrMissingClaim},
		{"no jti", func(c *Claims) { c.JWTID = "" }, ErrMissingClaim},
		{"no exp", func(c *Claims) { c.ExpiresAt = 0 }, ErrMissingClaim},
		{"reserved extra", func(c *Claims) { c.Extra = json.RawMessage(`{"scope":"admin"}`) }, ErrReservedClaim},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validClaims()
			tt.change(c)
			raw, err := ks.Sign(c)
			if !errors.Is(err, tt.want) || raw != "" {
				t.Fatalf("Sign = %q, %v; want %v", raw, err, tt.want)
			}
		})
	}
	if _, err := ks.Sign(nil); err == nil {
		t.Error("Sign(nil) succeeded")
	}
}

// TestJWKSVerifiesTokens checks, without this package's verifier, that the
// published public parameters are those of the signing keys: the public key
// is rebuilt from the JWKS JSON alone and the standard library checks the
// signature. (interop_jwx_test.go does the same with jwx.)
func TestJWKSVerifiesTokens(t *testing.T) {
	for _, alg := range []string{AlgES256, AlgRS256, AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			ks, k := keySetFor(t, alg)
			raw, err := ks.Sign(validClaims())
			if err != nil {
				t.Fatal(err)
			}
			members := jwkMembers(t, ks.JWKS())
			if len(members) != 1 || members[0]["kid"] != k.ID || members[0]["alg"] != alg {
				t.Fatalf("JWKS = %v", members)
			}
			m := members[0]
			param := func(name string) []byte {
				b, err := base64.RawURLEncoding.DecodeString(m[name].(string))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				return b
			}
			dot := strings.LastIndexByte(raw, '.')
			input := []byte(raw[:dot])
			sig, err := base64.RawURLEncoding.DecodeString(raw[dot+1:])
			if err != nil {
				t.Fatal(err)
			}
			digest := sha256.Sum256(input)
			var ok bool
			switch alg {
			case AlgES256:
				pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, param("x")...), param("y")...))
				if err != nil {
					t.Fatal(err)
				}
				r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
				ok = ecdsa.Verify(pub, digest[:], r, s)
			case AlgRS256:
				pub := &rsa.PublicKey{N: new(big.Int).SetBytes(param("n")), E: int(new(big.Int).SetBytes(param("e")).Int64())}
				ok = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil
			case AlgEdDSA:
				ok = ed25519.Verify(ed25519.PublicKey(param("x")), input, sig)
			}
			if !ok {
				t.Error("the JWKS key does not verify the token")
			}
		})
	}
}

func TestGeneratedKeyIDsNeverLookLikeFlags(t *testing.T) {
	for i := 0; i < 2000; i++ {
		if kid := newKeyID(); kid == "" || kid[0] == '-' {
			t.Fatalf("kid %q", kid)
		}
	}
}
