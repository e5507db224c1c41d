package token

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
)

// wantHalfOrder is n/2 for P-256, computed independently of the package's
// constant.
var wantHalfOrder = new(big.Int).Rsh(elliptic.P256().Params().N, 1)

// signatureS returns the s half of an ES256 token's signature.
func signatureS(t *testing.T, raw string) *big.Int {
	t.Helper()
	sig, err := base64.RawURLEncoding.DecodeString(raw[strings.LastIndexByte(raw, '.')+1:])
	if err != nil || len(sig) != 64 {
		t.Fatalf("ES256 signature: %d bytes, %v", len(sig), err)
	}
	return new(big.Int).SetBytes(sig[32:])
}

// TestSignES256IsLowS signs many tokens: a random ECDSA signature has a high
// s about half the time, so without normalisation some of these would have
// one.
func TestSignES256IsLowS(t *testing.T) {
	ks, _ := keySetFor(t, AlgES256)
	for i := range 200 {
		raw, err := ks.Sign(validClaims())
		if err != nil {
			t.Fatal(err)
		}
		if s := signatureS(t, raw); s.Cmp(wantHalfOrder) > 0 {
			t.Fatalf("token %d has a high s", i)
		}
		if _, err := testVerifier().Verify(ks, raw); err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
	}
}

// TestVerifyRefusesHighS turns a token's signature (r, s) into (r, n-s),
// which is just as valid mathematically: the verifier must refuse this
// second spelling of the same token.
func TestVerifyRefusesHighS(t *testing.T) {
	ks, k := keySetFor(t, AlgES256)
	raw, err := ks.Sign(validClaims())
	if err != nil {
		t.Fatal(err)
	}
	dot := strings.LastIndexByte(raw, '.')
	sig, _ := base64.RawURLEncoding.DecodeString(raw[dot+1:])
	n := elliptic.P256().Params().N
	s := new(big.Int).SetBytes(sig[32:])
	flipped := append(bytes.Clone(sig[:32]), new(big.Int).Sub(n, s).FillBytes(make([]byte, 32))...)

	digest := sha256.Sum256([]byte(raw[:dot]))
	pub := &privateOf(t, k).(*ecdsa.PrivateKey).PublicKey
	if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(flipped[:32]), new(big.Int).SetBytes(flipped[32:])) {
		t.Fatal("the flipped signature is not valid ECDSA; the test proves nothing")
	}
	forged := raw[:dot+1] + base64.RawURLEncoding.EncodeToString(flipped)
	if _, err := testVerifier().Verify(ks, forged); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("high-s token: %v, want ErrBadSignature", err)
	}
	if _, err := testVerifier().Verify(ks, raw); err != nil {
		t.Fatalf("the low-s original: %v", err)
	}
}

// TestVerifyRequiresIat: RFC 9068 §2.2 makes iat required in an access
// token.
func TestVerifyRequiresIat(t *testing.T) {
	ks, k := keySetFor(t, AlgES256)
	hdr := headerJSON(AlgES256, k.ID, "at+jwt")
	for name, iat := range map[string]any{"absent": nil, "zero": 0} {
		t.Run(name, func(t *testing.T) {
			changes := map[string]any{"iat": iat}
			raw := forge(hdr, payloadJSON(t, changes), signWith(t, AlgES256, privateOf(t, k)))
			if _, err := testVerifier().Verify(ks, raw); !errors.Is(err, ErrMissingClaim) {
				t.Fatalf("token without iat: %v, want ErrMissingClaim", err)
			}
		})
	}
}

// TestSignRefusesTokenOverMaxLength: the issuer never mints a token the
// verifier would refuse as too long.
func TestSignRefusesTokenOverMaxLength(t *testing.T) {
	for _, alg := range []string{AlgES256, AlgRS256, AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			ks, _ := keySetFor(t, alg)
			c := validClaims()
			c.Extra = json.RawMessage(`{"note":"` + strings.Repeat("x", MaxLength) + `"}`)
			raw, err := ks.Sign(c)
			if !errors.Is(err, ErrTokenTooLarge) {
				t.Fatalf("Sign of %d bytes: %v, want ErrTokenTooLarge", len(raw), err)
			}
			if !strings.Contains(err.Error(), "8192") {
				t.Errorf("error %q does not name the limit", err)
			}
		})
	}
}

// edgeClaims returns claims whose WorstCaseLength is exactly MaxLength.
func edgeClaims(t *testing.T) *Claims {
	t.Helper()
	c := validClaims()
	c.Extra = json.RawMessage(`{"note":""}`)
	n, err := WorstCaseLength(c)
	if err != nil {
		t.Fatal(err)
	}
	// Each 3 bytes of payload take 4 characters; pad in steps until the
	// worst case sits exactly on the limit.
	pad := 0
	for n < MaxLength {
		pad++
		c.Extra = json.RawMessage(`{"note":"` + strings.Repeat("x", pad) + `"}`)
		if n, err = WorstCaseLength(c); err != nil {
			t.Fatal(err)
		}
	}
	if n != MaxLength {
		c.Extra = json.RawMessage(`{"note":"` + strings.Repeat("x", pad-1) + `"}`)
	}
	return c
}

// TestWorstCaseLengthBoundsEveryKey: claims at the edge of the worst case
// sign with every algorithm into a token the default verifier reads, and a
// byte more is refused by WorstCaseLength.
func TestWorstCaseLengthBoundsEveryKey(t *testing.T) {
	c := edgeClaims(t)
	for _, alg := range []string{AlgES256, AlgRS256, AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			ks, _ := keySetFor(t, alg)
			raw, err := ks.Sign(c)
			if err != nil {
				t.Fatal(err)
			}
			if len(raw) > MaxLength {
				t.Fatalf("token of %d bytes", len(raw))
			}
			if _, err := testVerifier().Verify(ks, raw); err != nil {
				t.Fatalf("the edge token: %v", err)
			}
		})
	}
	bigger := *c
	bigger.Extra = json.RawMessage(strings.Replace(string(c.Extra), `"note":"`, `"note":"xxx`, 1))
	if n, _ := WorstCaseLength(&bigger); n <= MaxLength {
		t.Fatalf("three more bytes: worst case %d, still within %d", n, MaxLength)
	}
}

func TestCheckExtraClaims(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		want  error // nil: accepted
	}{
		{"null", `null`, nil},
		{"empty object", `{}`, nil},
		{"strings numbers nesting", `{"tenant":"acme","n":1.5e3,"x":{"y":[1,true,null,"\ud83d\ude00"]}}`, nil},
		{"escaped ordinary name", `{"t\u0065nant":"acme"}`, nil},
		{"differently cased registered name", `{"SUB":"x"}`, nil},
		{"lone high surrogate", `{"note":"\ud800"}`, ErrInvalidExtraClaims},
		{"lone low surrogate", `{"note":"\udc00"}`, ErrInvalidExtraClaims},
		{"lone surrogate in a name", `{"\ud800":1}`, ErrInvalidExtraClaims},
		{"lone surrogate nested", `{"a":{"b":["\ud800"]}}`, ErrInvalidExtraClaims},
		{"invalid UTF-8", "{\"note\":\"\xff\"}", ErrInvalidExtraClaims},
		{"array", `[]`, ErrInvalidExtraClaims},
		{"string", `"x"`, ErrInvalidExtraClaims},
		{"trailing data", `{} {}`, ErrInvalidExtraClaims},
		{"leading zero", `{"n":01}`, ErrInvalidExtraClaims},
		{"too deep", `{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, ErrInvalidExtraClaims},
		{"repeated name", `{"a":1,"a":2}`, ErrInvalidExtraClaims},
		{"repeated name once escaped", `{"a":1,"\u0061":2}`, ErrInvalidExtraClaims},
		{"empty name", `{"":1}`, ErrInvalidExtraClaims},
		{"registered name", `{"iss":"x"}`, ErrReservedClaim},
		{"registered name escaped", `{"\u0069ss":"x"}`, ErrReservedClaim},
		{"cnf", `{"cnf":{}}`, ErrReservedClaim},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckExtraClaims(json.RawMessage(tt.extra))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				ks, _ := keySetFor(t, AlgEdDSA)
				c := validClaims()
				c.Extra = json.RawMessage(tt.extra)
				raw, err := ks.Sign(c)
				if err != nil {
					t.Fatalf("accepted but does not sign: %v", err)
				}
				if _, err := testVerifier().Verify(ks, raw); err != nil {
					t.Fatalf("accepted but does not verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			ks, _ := keySetFor(t, AlgEdDSA)
			c := validClaims()
			c.Extra = json.RawMessage(tt.extra)
			if _, err := ks.Sign(c); !errors.Is(err, tt.want) {
				t.Fatalf("Sign: %v, want the validator's %v", err, tt.want)
			}
		})
	}
}

// TestReservedClaimsAreTheRegisteredOnes pins the one list.
func TestReservedClaimsAreTheRegisteredOnes(t *testing.T) {
	want := []string{"act", "aud", "auth_time", "client_id", "cnf", "exp", "iat", "iss", "jti", "may_act", "nbf", "scope", "sub"}
	if got := ReservedClaims(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("ReservedClaims() = %v, want %v", got, want)
	}
	for _, name := range want {
		if !IsReservedClaim(name) {
			t.Errorf("IsReservedClaim(%q) = false", name)
		}
	}
}
