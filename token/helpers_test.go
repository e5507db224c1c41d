package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// t0 is the fixed "now" of the tests.
var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

const testIssuer = "https://auth.example.com"

// testKeys holds one generated key per algorithm, made once: RSA generation
// is slow, more so under the race detector.
var testKeys = sync.OnceValue(func() map[string]storage.SigningKey {
	keys := make(map[string]storage.SigningKey)
	for _, alg := range []string{AlgES256, AlgRS256, AlgEdDSA} {
		k, err := GenerateKey(alg, t0.Add(-time.Hour))
		if err != nil {
			panic(err)
		}
		keys[alg] = k
	}
	return keys
})

// foreignKeys are keys of the same types that the key sets never hold.
var foreignKeys = sync.OnceValue(func() map[string]crypto.Signer {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return map[string]crypto.Signer{AlgES256: ec, AlgRS256: rk, AlgEdDSA: ed}
})

// keySetFor returns a key set whose only key is the test key for alg.
func keySetFor(t testing.TB, alg string) (*KeySet, storage.SigningKey) {
	t.Helper()
	k := testKeys()[alg]
	ks, err := NewKeySet([]storage.SigningKey{k}, t0)
	if err != nil {
		t.Fatalf("NewKeySet: %v", err)
	}
	return ks, k
}

// privateOf parses a stored key's private half.
func privateOf(t testing.TB, k storage.SigningKey) crypto.Signer {
	t.Helper()
	priv, err := x509.ParsePKCS8PrivateKey(k.PrivateKey)
	if err != nil {
		t.Fatalf("parse key: %v", err)
	}
	return priv.(crypto.Signer)
}

func testVerifier() *Verifier {
	return &Verifier{Issuer: testIssuer, Now: func() time.Time { return t0 }}
}

// validClaims returns claims that pass Verify at t0.
func validClaims() *Claims {
	return &Claims{
		Issuer:    testIssuer,
		Subject:   "client-1",
		Audience:  Audience{"https://api.example.com/orders"},
		ExpiresAt: t0.Add(15 * time.Minute).Unix(),
		IssuedAt:  t0.Unix(),
		JWTID:     NewJTI(),
		ClientID:  "client-1",
		Scope:     "orders:read orders:write",
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// forge builds a compact JWS by hand: header and payload JSON as given,
// signature from sign over the ASCII signing input (nil sign: empty).
func forge(header, payload string, sign func(input []byte) []byte) string {
	input := b64(header) + "." + b64(payload)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// signWith returns a signer producing a JWS signature for alg with priv.
func signWith(t testing.TB, alg string, priv crypto.Signer) func([]byte) []byte {
	return func(input []byte) []byte {
		switch alg {
		case AlgEdDSA:
			return ed25519.Sign(priv.(ed25519.PrivateKey), input)
		case AlgRS256:
			d := sha256.Sum256(input)
			sig, err := rsa.SignPKCS1v15(nil, priv.(*rsa.PrivateKey), crypto.SHA256, d[:])
			if err != nil {
				t.Fatalf("rsa sign: %v", err)
			}
			return sig
		case AlgES256:
			d := sha256.Sum256(input)
			r, s, err := ecdsa.Sign(rand.Reader, priv.(*ecdsa.PrivateKey), d[:])
			if err != nil {
				t.Fatalf("ecdsa sign: %v", err)
			}
			// The low-S form, as a conforming signer writes it (Verify
			// refuses the other).
			if n := elliptic.P256().Params().N; s.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
				s.Sub(n, s)
			}
			out := make([]byte, 64)
			r.FillBytes(out[:32])
			s.FillBytes(out[32:])
			return out
		}
		t.Fatalf("signWith: unknown alg %s", alg)
		return nil
	}
}

// hmacSigner signs with HS256 using secret.
func hmacSigner(secret []byte) func([]byte) []byte {
	return func(input []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(input)
		return m.Sum(nil)
	}
}
