package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/scopegate/scopegate/storage"
)

// privateJWK writes priv as a JWK with jwx, with extra members set.
func privateJWK(t testing.TB, priv any, members map[string]any) []byte {
	t.Helper()
	k, err := jwk.Import(priv)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range members {
		if err := k.Set(name, v); err != nil {
			t.Fatal(err)
		}
	}
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestKeyFromFileJWKAndPEMAgree: the same key read as a JWK or as PEM gives
// the same record, kid (its thumbprint) included, and the key signs tokens
// that verify.
func TestKeyFromFileJWKAndPEMAgree(t *testing.T) {
	for alg, priv := range foreignKeys() {
		t.Run(alg, func(t *testing.T) {
			fromPEM, err := KeyFromFile(pemBlock("PRIVATE KEY", mustPKCS8(t, priv)), alg, t0)
			if err != nil {
				t.Fatal(err)
			}
			file := append([]byte("\n  "), privateJWK(t, priv, map[string]any{"kid": "ignored", "alg": alg})...)
			fromJWK, err := KeyFromFile(file, alg, t0)
			if err != nil {
				t.Fatal(err)
			}
			if fromJWK.ID != fromPEM.ID || string(fromJWK.PrivateKey) != string(fromPEM.PrivateKey) || fromJWK.Algorithm != alg {
				t.Fatalf("JWK gives kid %s, PEM %s; keys equal: %v", fromJWK.ID, fromPEM.ID, string(fromJWK.PrivateKey) == string(fromPEM.PrivateKey))
			}
			ks, err := NewKeySet([]storage.SigningKey{fromJWK}, t0)
			if err != nil {
				t.Fatal(err)
			}
			v := testVerifier()
			v.Now = func() time.Time { return t0 }
			c := validClaims()
			raw, err := ks.Sign(c)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(ks, raw); err != nil {
				t.Fatalf("a token signed by the JWK file's key: %v", err)
			}
		})
	}
}

func TestKeyFromJWKRefuses(t *testing.T) {
	ec := foreignKeys()[AlgES256].(*ecdsa.PrivateKey)
	rk := foreignKeys()[AlgRS256].(*rsa.PrivateKey)
	ed := foreignKeys()[AlgEdDSA].(ed25519.PrivateKey)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecJWK := privateJWK(t, ec, nil)
	set := []byte(`{"keys":[` + string(ecJWK) + `]}`)
	for _, tt := range []struct {
		name    string
		file    []byte
		alg     string
		wantErr string
	}{
		{"public key only", privateJWK(t, &ec.PublicKey, nil), AlgES256, "the JWK holds no private key"},
		{"alg of another algorithm", privateJWK(t, ec, map[string]any{"alg": "ES384"}), AlgES256, "the JWK is for ES384, not ES256"},
		{"EC key for RS256", ecJWK, AlgRS256, "an EC key cannot be used for RS256"},
		{"RSA key for EdDSA", privateJWK(t, rk, nil), AlgEdDSA, "an RSA key cannot be used for EdDSA"},
		{"Ed25519 key for ES256", privateJWK(t, ed, nil), AlgES256, "an Ed25519 key cannot be used for ES256"},
		{"P-384 key", privateJWK(t, p384, nil), AlgES256, "ES256 needs a P-256 key, not P-384"},
		{"symmetric key", []byte(`{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0"}`), AlgES256, "the JWK holds no private key"},
		{"a key set", set, AlgES256, "the file is not a single JWK"},
		{"truncated", ecJWK[:len(ecJWK)-10], AlgES256, "the file is not a single JWK"},
		{"unsupported algorithm", ecJWK, "HS256", "unsupported signing algorithm"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := KeyFromFile(tt.file, tt.alg, t0)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
			}
			// The file holds a private key: no part of it is repeated.
			var members map[string]any
			_ = json.Unmarshal(tt.file, &members)
			for _, name := range []string{"d", "x", "n", "p", "k"} {
				if v, ok := members[name].(string); ok && len(v) > 8 && strings.Contains(err.Error(), v[:8]) {
					t.Errorf("the error repeats member %s: %v", name, err)
				}
			}
		})
	}
}

// TestJWKSCoordinatesAreFullWidth: EC coordinates are written at 32 bytes
// even when their value is shorter (RFC 7518 §6.2.1.2); about one key in
// 128 has a leading zero byte.
func TestJWKSCoordinatesAreFullWidth(t *testing.T) {
	for range 300 {
		k, err := GenerateKey(AlgES256, t0)
		if err != nil {
			t.Fatal(err)
		}
		ks, err := NewKeySet([]storage.SigningKey{k}, t0)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range jwkMembers(t, ks.JWKS()) {
			for _, c := range []string{"x", "y"} {
				b, err := base64.RawURLEncoding.DecodeString(key[c].(string))
				if err != nil || len(b) != 32 {
					t.Fatalf("%s has %d bytes (%v)", c, len(b), err)
				}
			}
		}
	}
}

// FuzzKeyFromFile: whatever a key file holds, loading it never panics, and a
// key it accepts signs tokens that verify.
func FuzzKeyFromFile(f *testing.F) {
	for alg, priv := range foreignKeys() {
		f.Add(privateJWK(f, priv, nil), alg)
		f.Add(pemBlock("PRIVATE KEY", mustPKCS8(f, priv)), alg)
	}
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"AA","y":"AA","d":"AA"}`), AlgES256)
	f.Add([]byte(`{"kty":"OKP","crv":"Ed25519","x":"AA","d":"AA"}`), AlgEdDSA)
	f.Add([]byte(`{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQAB"}`), AlgRS256)
	f.Add([]byte(`{`), AlgES256)
	f.Fuzz(func(t *testing.T, file []byte, alg string) {
		k, err := KeyFromFile(file, alg, t0)
		if err != nil {
			return
		}
		ks, err := NewKeySet([]storage.SigningKey{k}, t0)
		if err != nil {
			t.Fatalf("an accepted key makes no key set: %v", err)
		}
		v := testVerifier()
		v.Now = func() time.Time { return t0 }
		raw, err := ks.Sign(validClaims())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ks, raw); err != nil {
			t.Fatalf("an accepted key signs tokens that fail: %v", err)
		}
	})
}
