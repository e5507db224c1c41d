package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"strings"
	"testing"
	"time"
)

var algorithms = []string{AlgES256, AlgRS256, AlgEdDSA}

func BenchmarkSign(b *testing.B) {
	for _, alg := range algorithms {
		b.Run(alg, func(b *testing.B) {
			ks, _ := keySetFor(b, alg)
			c := validClaims()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ks.Sign(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSignature is the standard library's signature alone, over a
// SHA-256 digest with the key a key set signs with: the part of Sign (and of
// the token endpoint) that is not ours. ES256 allocates mostly in
// crypto/ecdsa's hedged nonce (an HMAC-DRBG over SHA-512).
func BenchmarkSignature(b *testing.B) {
	for _, alg := range algorithms {
		b.Run(alg, func(b *testing.B) {
			ks, _ := keySetFor(b, alg)
			digest := sha256.Sum256([]byte("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJjbGllbnQtMSJ9"))
			var sign func() error
			switch k := ks.signing.m.signer.(type) {
			case *ecdsa.PrivateKey:
				sign = func() error { _, err := ecdsa.SignASN1(rand.Reader, k, digest[:]); return err }
			case *rsa.PrivateKey:
				sign = func() error { _, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest[:]); return err }
			case ed25519.PrivateKey:
				sign = func() error { _ = ed25519.Sign(k, digest[:]); return nil }
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := sign(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// signedTokens returns n distinct valid tokens, so that each verification
// sees a fresh token as the guard does when nothing is cached.
func signedTokens(b *testing.B, ks *KeySet, n int) []string {
	out := make([]string, n)
	for i := range out {
		raw, err := ks.Sign(validClaims())
		if err != nil {
			b.Fatal(err)
		}
		out[i] = raw
	}
	return out
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range algorithms {
		b.Run(alg, func(b *testing.B) {
			ks, _ := keySetFor(b, alg)
			tokens := signedTokens(b, ks, 64)
			v := testVerifier()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := v.Verify(ks, tokens[i%len(tokens)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkVerifiedCacheHit(b *testing.B) {
	ks, _ := keySetFor(b, AlgES256)
	raw := signedTokens(b, ks, 1)[0]
	c, err := testVerifier().Verify(ks, raw)
	if err != nil {
		b.Fatal(err)
	}
	vc, err := NewVerifiedCache(10000)
	if err != nil {
		b.Fatal(err)
	}
	vc.Add(raw, c)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := vc.Get(raw, t0); !ok {
			b.Fatal("miss")
		}
	}
}

func BenchmarkVerifyCachedHit(b *testing.B) {
	ks, _ := keySetFor(b, AlgES256)
	raw := signedTokens(b, ks, 1)[0]
	vc, err := NewVerifiedCache(10000)
	if err != nil {
		b.Fatal(err)
	}
	v := testVerifier()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.VerifyCached(ks, vc, raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyRefused(b *testing.B) {
	ks, k := keySetFor(b, AlgES256)
	ours := signWith(b, AlgES256, privateOf(b, k))
	cases := map[string]string{
		"1MiB":        strings.Repeat("QUFB", 1<<18),
		"unknown_kid": forge(headerJSON(AlgES256, "nope", "at+jwt"), payloadJSON(b, nil), ours),
		"alg_none":    forge(headerJSON("none", k.ID, "at+jwt"), payloadJSON(b, nil), ours),
		"expired":     forge(headerJSON(AlgES256, k.ID, "at+jwt"), payloadJSON(b, map[string]any{"exp": t0.Add(-time.Hour).Unix()}), ours),
	}
	for name, tok := range cases {
		b.Run(name, func(b *testing.B) {
			v := testVerifier()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ks, tok); err == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}
