// This file holds our strict verifier to an independent implementation: what
// ours accepts, github.com/lestrrat-go/jwx/v3 accepts too, with the same key,
// algorithm and claims. Ours may refuse more (duplicate members,
// non-canonical base64, a missing exp or iat, a wrong typ); it must never
// accept what a mainstream library would call invalid.

package token

import (
	"crypto"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// differentialLeeway is the clock skew both verifiers allow.
const differentialLeeway = 30 * time.Second

// FuzzVerifyAgainstJWX signs arbitrary header and payload bytes with one of
// the fuzz keys, so that fuzzed tokens get past the signature check, and
// checks that every token our verifier accepts jwx also accepts and reads
// alike.
func FuzzVerifyAgainstJWX(f *testing.F) {
	ks, keys := fuzzKeys(f)
	claims := fmt.Sprintf(`{"iss":%q,"sub":"client-1","aud":["https://api.example.com"],"exp":%d,"iat":%d,"jti":"seed-jti","client_id":"client-1","scope":"a b"}`,
		testIssuer, t0.Unix()+900, t0.Unix())
	for _, seed := range []struct {
		header, payload string
		alg             uint8
	}{
		{`{"alg":"ES256","kid":"` + fuzzES256KID + `","typ":"at+jwt"}`, claims, 0},
		{`{"alg":"EdDSA","kid":"` + fuzzEdDSAKID + `","typ":"at+jwt"}`, claims, 1},
		{`{"alg":"ES256","kid":"` + fuzzES256KID + `","typ":"application/at+jwt"}`, claims, 0},
		{`{"alg":"ES256","kid":"` + fuzzES256KID + `","typ":"at+jwt"}`, `{"iss":"` + testIssuer + `","sub":"c","aud":"x","exp":` + fmt.Sprint(t0.Unix()+60) + `,"iat":` + fmt.Sprint(t0.Unix()) + `,"nbf":` + fmt.Sprint(t0.Unix()+10) + `,"jti":"j","client_id":"c"}`, 0},
		{`{"alg":"ES256","kid":"` + fuzzES256KID + `","typ":"at+jwt"}`, `{"iss":"` + testIssuer + `","sub":"c","exp":` + fmt.Sprint(t0.Unix()-20) + `,"iat":` + fmt.Sprint(t0.Unix()-100) + `,"jti":"j","client_id":"c","x":[1,{"y":null}]}`, 0},
	} {
		f.Add([]byte(seed.header), []byte(seed.payload), seed.alg)
	}
	type signer struct {
		alg    string
		jwaAlg jwa.SignatureAlgorithm
		sign   func([]byte) []byte
		public crypto.PublicKey
	}
	signers := make([]signer, 0, 2)
	for _, s := range []struct {
		alg    string
		jwaAlg jwa.SignatureAlgorithm
	}{{AlgES256, jwa.ES256()}, {AlgEdDSA, jwa.EdDSA()}} {
		priv := privateOf(f, keys[s.alg])
		signers = append(signers, signer{s.alg, s.jwaAlg, signWith(f, s.alg, priv), priv.Public()})
	}
	v := &Verifier{Issuer: testIssuer, Leeway: differentialLeeway, Now: func() time.Time { return t0 }}
	// The comparison only means something for tokens ours accepts: the
	// seeds must be such tokens, or the fuzzer starts from nothing.
	for _, s := range signers {
		kid := map[string]string{AlgES256: fuzzES256KID, AlgEdDSA: fuzzEdDSAKID}[s.alg]
		if _, err := v.Verify(ks, forge(`{"alg":"`+s.alg+`","kid":"`+kid+`","typ":"at+jwt"}`, claims, s.sign)); err != nil {
			f.Fatalf("the %s seed does not verify: %v", s.alg, err)
		}
	}

	f.Fuzz(func(t *testing.T, header, payload []byte, which uint8) {
		s := signers[int(which)%len(signers)]
		raw := forge(string(header), string(payload), s.sign)
		ours, err := v.Verify(ks, raw)
		if err != nil {
			return
		}
		tok, err := jwt.Parse([]byte(raw),
			jwt.WithKey(s.jwaAlg, s.public),
			jwt.WithValidate(true),
			jwt.WithIssuer(testIssuer),
			jwt.WithAcceptableSkew(differentialLeeway),
			jwt.WithClock(jwt.ClockFunc(func() time.Time { return t0 })),
		)
		if err != nil {
			t.Fatalf("ours accepted what jwx refuses (%v)\nheader  %s\npayload %s", err, header, payload)
		}
		sameClaims(t, ours, tok)
	})
}

// sameClaims fails the test when jwx read other registered claims than ours.
func sameClaims(t *testing.T, ours *Claims, tok jwt.Token) {
	t.Helper()
	iss, _ := tok.Issuer()
	sub, _ := tok.Subject()
	jti, _ := tok.JwtID()
	aud, _ := tok.Audience()
	exp, _ := tok.Expiration()
	iat, _ := tok.IssuedAt()
	nbf, _ := tok.NotBefore()
	var clientID string
	_ = tok.Get("client_id", &clientID)
	switch {
	case iss != ours.Issuer, sub != ours.Subject, jti != ours.JWTID, clientID != ours.ClientID:
		t.Fatalf("string claims differ: jwx iss=%q sub=%q jti=%q client_id=%q, ours %+v", iss, sub, jti, clientID, ours)
	case !slices.Equal(aud, []string(ours.Audience)) && !(len(aud) == 0 && len(ours.Audience) == 0):
		t.Fatalf("aud differs: jwx %q, ours %q", aud, ours.Audience)
	case unixOrZero(exp) != ours.ExpiresAt, unixOrZero(iat) != ours.IssuedAt, unixOrZero(nbf) != ours.NotBefore:
		t.Fatalf("times differ: jwx exp=%v iat=%v nbf=%v, ours %+v", exp, iat, nbf, ours)
	}
}

// unixOrZero is t in Unix seconds, or 0 for an absent claim, as our Claims
// hold it.
func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
