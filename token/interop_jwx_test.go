// This file proves interoperability with an independent implementation:
// github.com/lestrrat-go/jwx/v3 reads our JWKS and verifies our tokens, and
// we verify tokens that jwx signs with our key.

package token

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/scopegate/scopegate/storage"
)

func TestJWXVerifiesOurTokens(t *testing.T) {
	for _, alg := range []string{AlgES256, AlgRS256, AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			active := testKeys()[alg]
			retired, err := GenerateKey(AlgEdDSA, t0.Add(-2*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			retired.RetiredAt = t0.Add(-time.Hour)
			next, err := GenerateKey(AlgES256, t0)
			if err != nil {
				t.Fatal(err)
			}
			next.ActiveAt = time.Time{}
			ks, err := NewKeySet([]storage.SigningKey{retired, active, next}, t0)
			if err != nil {
				t.Fatal(err)
			}
			set, err := jwk.Parse(ks.JWKS())
			if err != nil {
				t.Fatalf("jwk.Parse of our JWKS: %v\n%s", err, ks.JWKS())
			}
			if set.Len() != 3 {
				t.Fatalf("jwx sees %d keys, want 3", set.Len())
			}
			for i := range set.Len() {
				k, _ := set.Key(i)
				if private, err := jwk.IsPrivateKey(k); err != nil || private {
					t.Errorf("key %d private=%v (%v)", i, private, err)
				}
			}

			c := validClaims()
			c.Extra = []byte(`{"tenant":"acme"}`)
			raw, err := ks.Sign(c)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := jwt.Parse([]byte(raw),
				jwt.WithKeySet(set),
				jwt.WithIssuer(testIssuer),
				jwt.WithAudience(c.Audience[0]),
				jwt.WithClock(jwt.ClockFunc(func() time.Time { return t0 })),
			)
			if err != nil {
				t.Fatalf("jwt.Parse: %v", err)
			}
			if sub, _ := tok.Subject(); sub != c.Subject {
				t.Errorf("sub = %q", sub)
			}
			var clientID, tenant string
			if err := tok.Get("client_id", &clientID); err != nil || clientID != c.ClientID {
				t.Errorf("client_id = %q (%v)", clientID, err)
			}
			if err := tok.Get("tenant", &tenant); err != nil || tenant != "acme" {
				t.Errorf("tenant = %q (%v)", tenant, err)
			}
			msg, err := jws.Parse([]byte(raw))
			if err != nil {
				t.Fatal(err)
			}
			h := msg.Signatures()[0].ProtectedHeaders()
			if typ, _ := h.Type(); typ != "at+jwt" {
				t.Errorf("typ = %q", typ)
			}
			if kid, _ := h.KeyID(); kid != active.ID {
				t.Errorf("kid = %q", kid)
			}
		})
	}
}

func TestJWXThumbprintMatchesFileKeyID(t *testing.T) {
	for _, alg := range []string{AlgES256, AlgRS256, AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			priv := foreignKeys()[alg]
			der, err := x509.MarshalPKCS8PrivateKey(priv)
			if err != nil {
				t.Fatal(err)
			}
			k, err := KeyFromPEM(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), alg, t0)
			if err != nil {
				t.Fatal(err)
			}
			jk, err := jwk.Import(priv.Public())
			if err != nil {
				t.Fatal(err)
			}
			sum, err := jk.Thumbprint(crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if want := base64.RawURLEncoding.EncodeToString(sum); k.ID != want {
				t.Errorf("kid = %s, jwx thumbprint = %s", k.ID, want)
			}
		})
	}
}

func TestJWXSignedTokensVerify(t *testing.T) {
	algs := map[string]jwa.SignatureAlgorithm{AlgES256: jwa.ES256(), AlgRS256: jwa.RS256(), AlgEdDSA: jwa.EdDSA()}
	for alg, jwaAlg := range algs {
		t.Run(alg, func(t *testing.T) {
			ks, k := keySetFor(t, alg)
			key, err := jwk.Import(privateOf(t, k))
			if err != nil {
				t.Fatal(err)
			}
			if err := key.Set(jwk.KeyIDKey, k.ID); err != nil {
				t.Fatal(err)
			}
			c := validClaims()
			tok, err := jwt.NewBuilder().
				Issuer(c.Issuer).Subject(c.Subject).Audience(c.Audience).
				Expiration(time.Unix(c.ExpiresAt, 0)).IssuedAt(time.Unix(c.IssuedAt, 0)).
				JwtID(c.JWTID).Claim("client_id", c.ClientID).Claim("scope", c.Scope).
				Build()
			if err != nil {
				t.Fatal(err)
			}
			hdr := jws.NewHeaders()
			if err := hdr.Set(jws.TypeKey, "at+jwt"); err != nil {
				t.Fatal(err)
			}
			raw, err := jwt.Sign(tok, jwt.WithKey(jwaAlg, key, jws.WithProtectedHeaders(hdr)))
			if err != nil {
				t.Fatal(err)
			}
			if alg == AlgES256 {
				raw = []byte(lowS(t, ks, string(raw)))
			}
			got, err := testVerifier().Verify(ks, string(raw))
			if err != nil {
				t.Fatalf("Verify of a jwx token: %v", err)
			}
			if got.JWTID != c.JWTID || got.ClientID != c.ClientID || got.Scope != c.Scope || !got.HasAudience(c.Audience[0]) {
				t.Errorf("claims = %+v", got)
			}
		})
	}
}

// lowS returns an ES256 token from another signer in the low-S form Verify
// accepts. jwx picks either form at random; when it picked the high one,
// Verify must refuse it as it is.
func lowS(t *testing.T, ks *KeySet, raw string) string {
	t.Helper()
	dot := strings.LastIndexByte(raw, '.')
	sig, err := base64.RawURLEncoding.DecodeString(raw[dot+1:])
	if err != nil || len(sig) != 64 {
		t.Fatalf("ES256 signature: %d bytes, %v", len(sig), err)
	}
	if !isHighS(sig[32:]) {
		return raw
	}
	if _, err := testVerifier().Verify(ks, raw); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("high-S jwx token: %v, want ErrBadSignature", err)
	}
	negateModOrder(sig[32:])
	return raw[:dot+1] + base64.RawURLEncoding.EncodeToString(sig)
}

// TestJWXVerifiesOurLowSTokens: low-S normalisation keeps our ES256 tokens
// standard; jwx, which accepts either form, verifies every one of many.
func TestJWXVerifiesOurLowSTokens(t *testing.T) {
	ks, k := keySetFor(t, AlgES256)
	pub, err := jwk.Import(privateOf(t, k).Public())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 64 {
		raw, err := ks.Sign(validClaims())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := jws.Verify([]byte(raw), jws.WithKey(jwa.ES256(), pub)); err != nil {
			t.Fatalf("token %d: jwx: %v", i, err)
		}
	}
}
