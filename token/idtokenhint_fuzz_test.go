package token

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// FuzzVerifyIDTokenHint: whatever an app (or anyone) sends as an
// id_token_hint, VerifyIDTokenHint answers claims or a known error, never
// both, never echoes the input, and what it accepts is signed by a key of
// the set, names our issuer, a subject and an audience, and is never an
// access token the guard would admit.
func FuzzVerifyIDTokenHint(f *testing.F) {
	ks, keys := fuzzKeys(f)
	for _, tok := range fuzzSeeds(f) {
		f.Add(tok)
	}
	es := signWith(f, AlgES256, privateOf(f, keys[AlgES256]))
	idClaims := fmt.Sprintf(`{"iss":%q,"sub":"user-1","aud":"app-1","exp":%d,"iat":%d,"nonce":"n","azp":"app-1"}`, testIssuer, t0.Unix()-3600, t0.Unix()-7200)
	f.Add(forge(`{"alg":"ES256","kid":"`+fuzzES256KID+`","typ":"JWT"}`, idClaims, es))
	f.Add(forge(`{"alg":"ES256","kid":"`+fuzzES256KID+`"}`, idClaims, es))
	f.Add(forge(`{"alg":"ES256","kid":"`+fuzzES256KID+`","typ":"at+jwt"}`, idClaims, es))
	v := &Verifier{Issuer: testIssuer, Now: func() time.Time { return t0 }}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.VerifyIDTokenHint(ks, raw)
		if (c == nil) == (err == nil) {
			t.Fatalf("returned claims %v and error %v", c, err)
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
		if c.Issuer != testIssuer || c.Subject == "" || len(c.Audience) == 0 || c.IssuedAt == 0 || c.ExpiresAt == 0 || !ks.HasKey(c.KeyID) {
			t.Fatalf("accepted claims that break the rules: %+v", c)
		}
		if _, err := v.Verify(ks, raw); !errors.Is(err, ErrWrongType) {
			t.Fatalf("an accepted hint is not refused as an access token: %v", err)
		}
	})
}
