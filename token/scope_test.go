package token

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestVerifyParsesScopeOnce checks that a verified token carries its scope
// claim as a parsed set, so the guard never splits the string per request,
// and that a cached hit hands back the same set.
func TestVerifyParsesScopeOnce(t *testing.T) {
	ks, _ := keySetFor(t, AlgES256)
	v := testVerifier()
	for _, tt := range []struct {
		name, scope string
		want        []string
	}{
		{"two scopes", "orders:read orders:write", []string{"orders:read", "orders:write"}},
		{"no scope", "", nil},
		{"duplicates kept once", "a b a", []string{"a", "b"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := validClaims()
			c.Scope = tt.scope
			raw, err := ks.Sign(c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Verify(ks, raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !slices.Equal(got.Scopes.Strings(), tt.want) || got.Scope != tt.scope {
				t.Fatalf("Scopes %q, Scope %q; want %q", got.Scopes.Strings(), got.Scope, tt.want)
			}
			vc, _ := NewVerifiedCache(8)
			first, _ := v.VerifyCached(ks, vc, raw)
			second, err := v.VerifyCached(ks, vc, raw)
			if err != nil || second != first || !slices.Equal(second.Scopes.Strings(), tt.want) {
				t.Fatalf("cached: %v, same claims %v, Scopes %q", err, second == first, second.Scopes.Strings())
			}
		})
	}
}

// TestVerifyRefusesScopeOutsideTheGrammar: the scope claim is read with the
// RFC 6749 §3.3 grammar the token endpoint issues with, not split on any
// whitespace. A token whose scope is not that syntax is refused whole, so
// that no reading of it (tab-split, space-split) ever grants a scope.
func TestVerifyRefusesScopeOutsideTheGrammar(t *testing.T) {
	ks, _ := keySetFor(t, AlgES256)
	v := testVerifier()
	for name, scope := range map[string]string{
		"tab":               "orders:read\torders:write",
		"double space":      "orders:read  orders:write",
		"leading space":     " orders:read",
		"trailing space":    "orders:read ",
		"newline":           "orders:read\norders:write",
		"control character": "orders:read\x01",
		"quote":             `orders:"read"`,
		"non-ASCII":         "orders:réad",
		"token too long":    strings.Repeat("a", 129),
	} {
		t.Run(name, func(t *testing.T) {
			c := validClaims()
			c.Scope = scope
			raw, err := ks.Sign(c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Verify(ks, raw)
			if !errors.Is(err, ErrInvalidClaim) || got != nil {
				t.Fatalf("Verify = %v, %v; want ErrInvalidClaim", got, err)
			}
			if strings.Contains(err.Error(), "orders") {
				t.Errorf("error %q echoes the claim", err)
			}
		})
	}
}
