package token

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"
)

func TestSignHeader(t *testing.T) {
	for _, alg := range []string{AlgES256, AlgRS256, AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			ks, k := keySetFor(t, alg)
			raw, err := ks.Sign(validClaims())
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(raw, ".")
			if len(parts) != 3 {
				t.Fatalf("%d segments", len(parts))
			}
			header, err := base64.RawURLEncoding.DecodeString(parts[0])
			if err != nil {
				t.Fatal(err)
			}
			if want := `{"alg":"` + alg + `","kid":"` + k.ID + `","typ":"at+jwt"}`; string(header) != want {
				t.Errorf("header = %s, want %s", header, want)
			}
			sig, err := base64.RawURLEncoding.DecodeString(parts[2])
			if err != nil {
				t.Fatal(err)
			}
			want := 64
			if alg == AlgRS256 {
				want = 384
			}
			if len(sig) != want {
				t.Errorf("signature is %d bytes, want %d", len(sig), want)
			}
		})
	}
}

func TestJTIUniqueOverManyTokens(t *testing.T) {
	ks, _ := keySetFor(t, AlgEdDSA)
	seen := make(map[string]struct{}, 10000)
	for range 10000 {
		c := validClaims() // a fresh NewJTI each time
		raw, err := ks.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseClaims(decodePayload(t, raw), string(decodePayload(t, raw)))
		if err != nil {
			t.Fatal(err)
		}
		if len(got.JWTID) != 22 {
			t.Fatalf("jti %q is not 22 characters", got.JWTID)
		}
		if _, dup := seen[got.JWTID]; dup {
			t.Fatalf("jti %q repeated after %d tokens", got.JWTID, len(seen))
		}
		seen[got.JWTID] = struct{}{}
	}
}

func TestECDSASignatureConversion(t *testing.T) {
	priv := foreignKeys()[AlgES256].(*ecdsa.PrivateKey)
	digest := sha256.Sum256([]byte("input"))
	// Many signatures cover short r and s and ones with the high bit set.
	for i := range 300 {
		der, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		raw, err := ecdsaDERToRaw(nil, der)
		if err != nil || len(raw) != 64 {
			t.Fatalf("signature %d: %v, %d bytes", i, err, len(raw))
		}
		var parsed struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(der, &parsed); err != nil {
			t.Fatal(err)
		}
		// s is normalised to the lower half: n-s when the DER's is high.
		lowS := parsed.S
		if high := new(big.Int).Sub(p256Order, parsed.S); high.Cmp(parsed.S) < 0 {
			lowS = high
		}
		if new(big.Int).SetBytes(raw[:32]).Cmp(parsed.R) != 0 || new(big.Int).SetBytes(raw[32:]).Cmp(lowS) != 0 {
			t.Fatalf("signature %d: r||s differs from the DER integers", i)
		}
		if isHighS(raw[32:]) {
			t.Fatalf("signature %d: high s", i)
		}
		back := ecdsaRawToDER(nil, raw)
		if lowS == parsed.S && string(back) != string(der) {
			t.Fatalf("signature %d: DER round trip differs", i)
		}
		if !ecdsa.VerifyASN1(&priv.PublicKey, digest[:], back) {
			t.Fatalf("signature %d: the converted signature does not verify", i)
		}
	}

	edge := []struct {
		name string
		raw  []byte
		want string // hex of the DER
	}{
		{"small r and s", append(append(make([]byte, 31), 1), append(make([]byte, 31), 2)...), "3006020101020102"},
		{"high bit needs a zero byte", append(append([]byte{0x80}, make([]byte, 31)...), append(make([]byte, 31), 0x7f)...),
			"302602210080" + strings.Repeat("00", 31) + "02017f"},
		{"zero r stays an integer zero", append(make([]byte, 32), append(make([]byte, 31), 1)...), "3006020100020101"},
	}
	for _, tt := range edge {
		t.Run(tt.name, func(t *testing.T) {
			got := ecdsaRawToDER(nil, tt.raw)
			if hex.EncodeToString(got) != tt.want {
				t.Errorf("DER = %s, want %s", hex.EncodeToString(got), tt.want)
			}
		})
	}

	malformed := map[string][]byte{
		"empty":             nil,
		"not a sequence":    {0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01},
		"length mismatch":   {0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01},
		"not integers":      {0x30, 0x06, 0x04, 0x01, 0x01, 0x02, 0x01, 0x01},
		"trailing data":     {0x30, 0x08, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00, 0x00},
		"empty integer":     {0x30, 0x06, 0x02, 0x00, 0x02, 0x02, 0x01, 0x01},
		"integer too long":  append([]byte{0x30, 0x26, 0x02, 0x21, 0x01}, append(make([]byte, 32), 0x02, 0x01, 0x01)...),
		"integer past data": {0x30, 0x06, 0x02, 0x05, 0x01, 0x02, 0x01, 0x01},
		"zero r":            {0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01},
		"negative s":        {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0xff},
		"non-minimal r":     {0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01},
	}
	for name, der := range malformed {
		t.Run("malformed "+name, func(t *testing.T) {
			if _, err := ecdsaDERToRaw(nil, der); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// TestNegateModOrder checks the byte-wise n-s against math/big, at the
// edges and on random values below n.
func TestNegateModOrder(t *testing.T) {
	one := big.NewInt(1)
	values := []*big.Int{
		big.NewInt(1), big.NewInt(255), big.NewInt(256),
		new(big.Int).Sub(p256Order, one),
		new(big.Int).Rsh(p256Order, 1),
		new(big.Int).Add(new(big.Int).Rsh(p256Order, 1), one),
	}
	for range 1000 {
		v, err := rand.Int(rand.Reader, p256Order)
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, v)
	}
	for _, v := range values {
		s := v.FillBytes(make([]byte, 32))
		negateModOrder(s)
		want := new(big.Int).Sub(p256Order, v).FillBytes(make([]byte, 32))
		if hex.EncodeToString(s) != hex.EncodeToString(want) {
			t.Fatalf("n - %x = %x, want %x", v, s, want)
		}
	}
}
