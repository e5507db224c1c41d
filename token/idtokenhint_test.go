package token

import (
	"errors"
	"testing"
	"time"
)

// VerifyIDTokenHint accepts an ID token this issuer signed, expired or
// not, and refuses an access token, another issuer's token, a forged
// signature and a token without sub or aud.
func TestVerifyIDTokenHint(t *testing.T) {
	ks, k := keySetFor(t, AlgES256)
	ours := signWith(t, AlgES256, privateOf(t, k))
	idHeader := headerJSON(AlgES256, k.ID, "JWT")
	idPayload := func(changes map[string]any) string {
		base := map[string]any{"aud": "app-1", "client_id": nil, "scope": nil, "jti": nil, "sub": "user-1"}
		for key, v := range changes {
			base[key] = v
		}
		return payloadJSON(t, base)
	}
	for _, tc := range []struct {
		name  string
		token string
		want  error
	}{
		{"ID token", forge(idHeader, idPayload(nil), ours), nil},
		{"ID token without typ", forge(`{"alg":"ES256","kid":"`+k.ID+`"}`, idPayload(nil), ours), nil},
		{"expired a day ago", forge(idHeader, idPayload(map[string]any{"exp": t0.Add(-24 * time.Hour).Unix()}), ours), nil},
		{"an access token", forge(headerJSON(AlgES256, k.ID, "at+jwt"), payloadJSON(t, nil), ours), ErrWrongType},
		{"another issuer", forge(idHeader, idPayload(map[string]any{"iss": "https://other.example"}), ours), ErrWrongIssuer},
		{"our issuer with a trailing slash", forge(idHeader, idPayload(map[string]any{"iss": testIssuer + "/"}), ours), ErrWrongIssuer},
		{"signed by a key we do not hold, with our kid", forge(idHeader, idPayload(nil), signWith(t, AlgES256, foreignKeys()[AlgES256])), ErrBadSignature},
		{"alg none", forge(headerJSON("none", k.ID, "JWT"), idPayload(nil), ours), ErrWrongAlgorithm},
		{"no sub", forge(idHeader, idPayload(map[string]any{"sub": nil}), ours), ErrMissingClaim},
		{"no aud", forge(idHeader, idPayload(map[string]any{"aud": nil}), ours), ErrMissingClaim},
		{"no exp", forge(idHeader, idPayload(map[string]any{"exp": nil}), ours), ErrMissingClaim},
		{"no iat", forge(idHeader, idPayload(map[string]any{"iat": nil}), ours), ErrMissingClaim},
		{"garbage", "not.a.token", ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := testVerifier().VerifyIDTokenHint(ks, tc.token)
			if tc.want == nil {
				if err != nil || c.Subject != "user-1" || !c.HasAudience("app-1") {
					t.Fatalf("got %+v, %v", c, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}
