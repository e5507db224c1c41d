package token

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the generated seeds under testdata/fuzz")

// The fuzz targets use fixed keys, so that the committed seed tokens keep
// verifying. They are test keys and nothing else.
const (
	fuzzES256KID = "fuzz-es256"
	fuzzEdDSAKID = "fuzz-eddsa"
)

func fuzzKeys(t testing.TB) (*KeySet, map[string]storage.SigningKey) {
	t.Helper()
	scalar := make([]byte, 32)
	for i := range scalar {
		scalar[i] = byte(i + 1)
	}
	ec, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar)
	if err != nil {
		t.Fatal(err)
	}
	ed := ed25519.NewKeyFromSeed(scalar)
	keys := map[string]storage.SigningKey{}
	for alg, priv := range map[string]any{AlgES256: ec, AlgEdDSA: ed} {
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		kid := fuzzES256KID
		if alg == AlgEdDSA {
			kid = fuzzEdDSAKID
		}
		keys[alg] = storage.SigningKey{ID: kid, Algorithm: alg, PrivateKey: der, CreatedAt: t0, ActiveAt: t0}
	}
	retired := keys[AlgEdDSA]
	retired.RetiredAt = t0
	ks, err := NewKeySet([]storage.SigningKey{keys[AlgES256], retired}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return ks, keys
}

// fuzzSeeds returns named tokens covering the accepted shape and the
// refusals, signed with the fixed keys.
func fuzzSeeds(t testing.TB) map[string]string {
	_, keys := fuzzKeys(t)
	es := signWith(t, AlgES256, privateOf(t, keys[AlgES256]))
	ed := signWith(t, AlgEdDSA, privateOf(t, keys[AlgEdDSA]))
	claims := fmt.Sprintf(`{"iss":%q,"sub":"client-1","aud":["https://api.example.com"],"exp":%d,"iat":%d,"jti":"seed-jti","client_id":"client-1","scope":"a b","tenant":{"id":"\u00e9"}}`,
		testIssuer, t0.Unix()+900, t0.Unix())
	hdr := func(alg, kid, extra string) string {
		return `{"alg":"` + alg + `","kid":"` + kid + `","typ":"at+jwt"` + extra + `}`
	}
	return map[string]string{
		"valid_es256":     forge(hdr(AlgES256, fuzzES256KID, ""), claims, es),
		"valid_eddsa":     forge(hdr(AlgEdDSA, fuzzEdDSAKID, ""), claims, ed),
		"alg_none":        forge(hdr("none", fuzzES256KID, ""), claims, nil),
		"hs256":           forge(hdr("HS256", fuzzES256KID, ""), claims, hmacSigner([]byte("secret"))),
		"jku":             forge(hdr(AlgES256, fuzzES256KID, `,"jku":"https://attacker.example/jwks"`), claims, es),
		"crit":            forge(hdr(AlgES256, fuzzES256KID, `,"crit":["exp"]`), claims, es),
		"typ_jwt":         forge(`{"alg":"ES256","kid":"`+fuzzES256KID+`","typ":"JWT"}`, claims, es),
		"expired":         forge(hdr(AlgES256, fuzzES256KID, ""), strings.Replace(claims, fmt.Sprint(t0.Unix()+900), "1", 1), es),
		"exp_string":      forge(hdr(AlgES256, fuzzES256KID, ""), strings.Replace(claims, fmt.Sprint(t0.Unix()+900), `"9999999999"`, 1), es),
		"escaped_header":  forge(`{"\u0061lg":"ES256","kid":"fuzz-es\u003256","typ":"application\/at+jwt"}`, claims, es),
		"jwe":             "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d",
		"json_serialized": `{"payload":"e30","protected":"e30","signature":"AA"}`,
		"padded":          forge(hdr(AlgES256, fuzzES256KID, ""), claims, es) + "==",
		"empty_signature": forge(hdr(AlgES256, fuzzES256KID, ""), claims, nil),
		"dots":            "..",
	}
}

func TestFuzzSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzVerify")
	if *updateCorpus {
		write := func(target, name, value string) {
			d := filepath.Join("testdata", "fuzz", target)
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, name), []byte("go test fuzz v1\n"+value+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for name, tok := range fuzzSeeds(t) {
			write("FuzzVerify", name, fmt.Sprintf("string(%q)", tok))
		}
		for i, s := range claimsSeeds {
			write("FuzzParseClaims", fmt.Sprintf("seed%d", i), fmt.Sprintf("[]byte(%q)", s))
		}
		for i, s := range headerSeeds {
			write("FuzzParseHeader", fmt.Sprintf("seed%d", i), fmt.Sprintf("[]byte(%q)", s))
		}
		for i, s := range extraClaimsSeeds {
			write("FuzzExtraClaims", fmt.Sprintf("seed%d", i), fmt.Sprintf("[]byte(%q)", s))
		}
	}
	// The committed valid seeds must still verify, or the corpus no longer
	// leads the fuzzer past the signature check.
	ks, _ := fuzzKeys(t)
	for _, name := range []string{"valid_es256", "valid_eddsa", "escaped_header"} {
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(body)), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[1], "string(") {
				t.Fatalf("seed file format: %q", body)
			}
			var tok string
			if _, err := fmt.Sscanf(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")"), "%q", &tok); err != nil {
				t.Fatal(err)
			}
			if _, err := testVerifier().Verify(ks, tok); err != nil {
				t.Errorf("seed no longer verifies: %v", err)
			}
		})
	}
}

var verifySentinels = []error{
	ErrTooLong, ErrMalformed, ErrUnsupported, ErrWrongType, ErrUnknownKey, ErrWrongAlgorithm,
	ErrBadSignature, ErrWrongIssuer, ErrExpired, ErrNotYetValid, ErrMissingClaim, ErrInvalidClaim,
}

func FuzzVerify(f *testing.F) {
	ks, _ := fuzzKeys(f)
	for _, tok := range fuzzSeeds(f) {
		f.Add(tok)
	}
	v := &Verifier{Issuer: testIssuer, Now: func() time.Time { return t0 }}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(ks, raw)
		if (c == nil) == (err == nil) {
			t.Fatalf("Verify returned claims %v and error %v", c, err)
		}
		if err != nil {
			known := false
			for _, s := range verifySentinels {
				known = known || errors.Is(err, s)
			}
			if !known {
				t.Fatalf("error %v matches no sentinel", err)
			}
			if len(raw) >= 12 && strings.Contains(err.Error(), raw) {
				t.Fatalf("error %q echoes the token", err)
			}
			return
		}
		if strings.Count(raw, ".") != 2 || strings.ContainsAny(raw, "=+/ \n") {
			t.Fatalf("accepted a token of the wrong shape: %q", raw)
		}
		if c.Issuer != testIssuer || c.Subject != c.ClientID || c.ClientID == "" || c.JWTID == "" {
			t.Fatalf("accepted claims that break the rules: %+v", c)
		}
		if c.ExpiresAt <= t0.Unix()-30 || !ks.HasKey(c.KeyID) {
			t.Fatalf("accepted an expired token or an unknown key: %+v", c)
		}
	})
}

var claimsSeeds = []string{
	`{"iss":"i","sub":"s","aud":["a","b"],"exp":10,"iat":5,"nbf":4,"jti":"j","client_id":"c","scope":"x"}`,
	`{"aud":"a","exp":1.5e3,"x":{"y":[1,true,null,"\ud83d\ude00"]}}`,
	`{"\u0073ub":"s","SUB":"t"}`,
	`{"exp":"10"}`,
	`{"sub":"a","sub":"b"}`,
	`{"sub":"u","client_id":"c","iat":5,"auth_time":4}`,
	`{"auth_time":"4"}`,
	`{"auth_time":1,"auth_time":2}`,
	`[]`,
	``,
}

var headerSeeds = []string{
	`{"alg":"ES256","kid":"k","typ":"at+jwt"}`,
	`{"alg":"none"}`,
	`{"\u0063rit":["x"],"alg":"ES256"}`,
	`{"alg":"ES256","jku":"https://x"}`,
	`{"alg":"ES256","ext":{"a":[[[]]]}}`,
}

func FuzzParseClaims(f *testing.F) {
	for _, s := range claimsSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseClaims(data, string(data))
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		if len(c.Extra) > 0 && !json.Valid(c.Extra) {
			t.Fatalf("Extra %q is not valid JSON", c.Extra)
		}
		out, err := c.MarshalJSON()
		if err != nil {
			// Extra may repeat an unknown name, which signing refuses.
			return
		}
		back, err := parseClaims(out, string(out))
		if err != nil {
			t.Fatalf("re-reading %s: %v", out, err)
		}
		if back.Issuer != c.Issuer || back.Subject != c.Subject || back.ExpiresAt != c.ExpiresAt ||
			back.IssuedAt != c.IssuedAt || back.NotBefore != c.NotBefore || back.AuthTime != c.AuthTime || back.JWTID != c.JWTID ||
			back.ClientID != c.ClientID || back.Scope != c.Scope || len(back.Audience) != len(c.Audience) {
			t.Fatalf("round trip changed the claims:\n%+v\n%+v", c, back)
		}
	})
}

func FuzzParseHeader(f *testing.F) {
	for _, s := range headerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := parseHeader(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error %v is neither ErrMalformed nor ErrUnsupported", err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"crit", "b64", "jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"} {
			if _, ok := m[name]; ok {
				t.Fatalf("accepted a header with %s: %q", name, data)
			}
		}
		if alg, _ := m["alg"].(string); alg != string(h.alg) {
			t.Fatalf("alg %q, encoding/json reads %q", h.alg, alg)
		}
	})
}

var extraClaimsSeeds = []string{
	`{"tenant":"acme","roles":["a","b"],"n":1.5e3,"ok":true,"none":null}`,
	`{"note":"\ud800"}`,
	`{"note":"\ud83d\ude00","\u0074":{"x":[[[]]]}}`,
	`{"\u0069ss":"x"}`,
	`{"a":1,"a":2}`,
	`{"":0}`,
	`{"q\"":"\u2028"}`,
	`null`,
	`[]`,
	"{\"a\":\"\xff\"}",
}

// FuzzExtraClaims feeds arbitrary JSON to CheckExtraClaims, the one rule for
// admin-set claims. What it accepts must sign, and what is signed must
// verify with the same claims: the admin API can never store claims that
// break token issuance or that the guard cannot read.
func FuzzExtraClaims(f *testing.F) {
	for _, s := range extraClaimsSeeds {
		f.Add([]byte(s))
	}
	ks, _ := fuzzKeys(f)
	v := &Verifier{Issuer: testIssuer, Now: func() time.Time { return t0 }}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkErr := CheckExtraClaims(data)
		c := validClaims()
		c.Extra = data
		raw, signErr := ks.Sign(c)
		if checkErr != nil {
			var ce *ClaimsError
			if !errors.As(checkErr, &ce) || (!errors.Is(checkErr, ErrInvalidExtraClaims) && !errors.Is(checkErr, ErrReservedClaim)) {
				t.Fatalf("error %v is not a ClaimsError", checkErr)
			}
			if signErr == nil {
				t.Fatalf("Sign accepted claims the validator refused: %q", data)
			}
			return
		}
		if errors.Is(signErr, ErrTokenTooLarge) {
			return
		}
		if signErr != nil {
			t.Fatalf("accepted %q, but Sign: %v", data, signErr)
		}
		got, err := v.Verify(ks, raw)
		if err != nil {
			t.Fatalf("accepted %q, but Verify of its token: %v", data, err)
		}
		if want, have := decodeJSON(t, data), decodeJSON(t, got.Extra); !reflect.DeepEqual(want, have) {
			t.Fatalf("extra claims changed on the way: %q became %q", data, got.Extra)
		}
	})
}

// decodeJSON reads accepted extra claims for comparison; empty, null and
// {} all mean none.
func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	if len(bytes.TrimSpace(b)) == 0 {
		return map[string]any{}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("encoding/json cannot read %q: %v", b, err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m
}
