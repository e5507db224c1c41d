package token

import (
	"errors"
	"slices"
	"testing"
)

// at_hash as OpenID Connect Core's own example computes it (Appendix A.3,
// RS256), and the rule per algorithm (SHA-512 for EdDSA).
func TestAccessTokenHash(t *testing.T) {
	tests := []struct {
		alg, token, want string
	}{
		{"RS256", "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", "77QmUPtjPfzWtF2AnpK9RQ"},
		{"ES256", "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", "77QmUPtjPfzWtF2AnpK9RQ"},
		{"EdDSA", "a.b.c", "c96wUZoMJ_Eupmo8pfvaQeNWn_GrUsIXM9FAmAeAJ6U"},
	}
	for _, tt := range tests {
		got, err := AccessTokenHash(tt.alg, tt.token)
		if err != nil || got != tt.want {
			t.Errorf("AccessTokenHash(%s) = %q, %v; want %q", tt.alg, got, err, tt.want)
		}
	}
	if _, err := AccessTokenHash("HS256", "x"); err == nil {
		t.Error("an at_hash for HS256, which no key of ours uses")
	}
}

// An ID token needs iss, sub, aud, exp and iat; it is never an access
// token to Verify (typ JWT, no client_id).
func TestSignIDToken(t *testing.T) {
	for _, alg := range []string{AlgES256, AlgRS256, AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			ks, _ := keySetFor(t, alg)
			c := &IDClaims{Issuer: testIssuer, Subject: "u-1", Audience: "c-1", ExpiresAt: t0.Unix() + 60, IssuedAt: t0.Unix()}
			raw, err := ks.SignIDToken(c, "a.b.c")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := testVerifier().Verify(ks, raw); err == nil {
				t.Fatal("Verify accepted an ID token as an access token")
			}
			bad := *c
			bad.Audience = ""
			if _, err := ks.SignIDToken(&bad, ""); !errors.Is(err, ErrMissingClaim) {
				t.Fatalf("no aud: %v, want ErrMissingClaim", err)
			}
			if algs := ks.Algorithms(); !slices.Equal(algs, []string{alg}) {
				t.Fatalf("Algorithms() = %q, want [%s]", algs, alg)
			}
		})
	}
}
