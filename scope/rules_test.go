package scope

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func mustRules(t testing.TB, rules ...Rule) *Rules {
	t.Helper()
	r, err := NewRules(rules)
	if err != nil {
		t.Fatalf("NewRules(%v) = %v", rules, err)
	}
	return r
}

func TestNewRulesValidation(t *testing.T) {
	tests := []struct {
		name    string
		rules   []Rule
		wantErr error
		wantMsg string
		wantLen int
	}{
		{name: "none", rules: nil, wantLen: 0},
		{name: "exact", rules: []Rule{{Grant: "admin", Implies: "read"}}, wantLen: 1},
		{name: "everything", rules: []Rule{{Grant: "full", Implies: "*"}}, wantLen: 1},
		{name: "prefix", rules: []Rule{{Grant: "read:full", Implies: "read:*"}}, wantLen: 1},
		{name: "literal star grant", rules: []Rule{{Grant: "*", Implies: "x"}}, wantLen: 1},
		{name: "duplicates dropped", rules: []Rule{{Grant: "a", Implies: "b"}, {Grant: "a", Implies: "b"}}, wantLen: 1},
		{name: "self rule dropped", rules: []Rule{{Grant: "a", Implies: "a"}}, wantLen: 0},
		{name: "covered exact dropped", rules: []Rule{{Grant: "a", Implies: "x:*"}, {Grant: "a", Implies: "x:y"}}, wantLen: 1},
		{name: "covered prefix dropped", rules: []Rule{{Grant: "a", Implies: "x:y*"}, {Grant: "a", Implies: "x*"}}, wantLen: 1},
		{name: "other grant kept", rules: []Rule{{Grant: "a", Implies: "x*"}, {Grant: "b", Implies: "x:y"}}, wantLen: 2},
		{name: "empty grant", rules: []Rule{{Grant: "", Implies: "a"}}, wantErr: ErrEmpty, wantMsg: "scope rule 0: grant: " + ErrEmpty.Error()},
		{name: "empty implies", rules: []Rule{{Grant: "a", Implies: "b"}, {Grant: "a", Implies: ""}}, wantErr: ErrEmpty, wantMsg: "scope rule 1: implies: " + ErrEmpty.Error()},
		{name: "grant with space", rules: []Rule{{Grant: "a b", Implies: "c"}}, wantErr: ErrInvalidChar, wantMsg: "scope rule 0: grant: byte 2: character not allowed in a scope token"},
		{name: "implies with quote", rules: []Rule{{Grant: "a", Implies: `b"*`}}, wantErr: ErrInvalidChar, wantMsg: "scope rule 0: implies: byte 2: character not allowed in a scope token"},
		{name: "inner wildcard", rules: []Rule{{Grant: "a", Implies: "read:*:x"}}, wantErr: ErrWildcard, wantMsg: "scope rule 0: implies: " + ErrWildcard.Error()},
		{name: "double wildcard", rules: []Rule{{Grant: "a", Implies: "**"}}, wantErr: ErrWildcard, wantMsg: "scope rule 0: implies: " + ErrWildcard.Error()},
		{name: "leading wildcard", rules: []Rule{{Grant: "a", Implies: "*read"}}, wantErr: ErrWildcard, wantMsg: "scope rule 0: implies: " + ErrWildcard.Error()},
		{name: "grant too long", rules: []Rule{{Grant: strings.Repeat("g", 129), Implies: "a"}}, wantErr: ErrTooLong, wantMsg: "scope rule 0: grant: " + ErrTooLong.Error()},
		{name: "too many", rules: make([]Rule, MaxRules+1), wantErr: ErrTooManyRules, wantMsg: ErrTooManyRules.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRules(tt.rules)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("NewRules() error = %v, want %v", err, tt.wantErr)
				}
				if err.Error() != tt.wantMsg {
					t.Errorf("message = %q, want %q", err.Error(), tt.wantMsg)
				}
				if r != nil {
					t.Errorf("NewRules() returned rules with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("NewRules() error = %v", err)
			}
			if got := r.Len(); got != tt.wantLen {
				t.Errorf("Len() = %d, want %d", got, tt.wantLen)
			}
		})
	}
}

func TestSatisfies(t *testing.T) {
	// The example configuration from the design, plus a chain.
	rules := []Rule{
		{Grant: "full", Implies: "*"},
		{Grant: "read:full", Implies: "read:*"},
		{Grant: "admin", Implies: "orders:manage"},
		{Grant: "orders:manage", Implies: "orders:*"},
		{Grant: "writer", Implies: "read"},
	}
	tests := []struct {
		name     string
		rules    []Rule // nil: no rules (nil *Rules)
		granted  []string
		required []string
		mode     Mode
		want     bool
	}{
		// Exact matching without rules.
		{name: "nothing required", granted: nil, required: nil, mode: All, want: true},
		{name: "nothing required, any", granted: nil, required: nil, mode: Any, want: true},
		{name: "exact", granted: []string{"read"}, required: []string{"read"}, mode: All, want: true},
		{name: "no grant", granted: nil, required: []string{"read"}, mode: All, want: false},
		{name: "readwrite is not read", granted: []string{"readwrite"}, required: []string{"read"}, mode: All, want: false},
		{name: "READ is not read", granted: []string{"READ"}, required: []string{"read"}, mode: All, want: false},
		{name: "read is not READ", granted: []string{"read"}, required: []string{"READ"}, mode: All, want: false},
		{name: "read:all is not read:x", granted: []string{"read:all"}, required: []string{"read:x"}, mode: All, want: false},
		{name: "read is not read:x", granted: []string{"read"}, required: []string{"read:x"}, mode: All, want: false},
		{name: "literal star grant is not a wildcard", granted: []string{"*"}, required: []string{"read"}, mode: All, want: false},
		{name: "prefix-looking grant is not a wildcard", granted: []string{"read:*"}, required: []string{"read:x"}, mode: All, want: false},
		{name: "all of two, one held", granted: []string{"a"}, required: []string{"a", "b"}, mode: All, want: false},
		{name: "all of two, both held", granted: []string{"b", "a"}, required: []string{"a", "b"}, mode: All, want: true},
		{name: "any of two, one held", granted: []string{"b"}, required: []string{"a", "b"}, mode: Any, want: true},
		{name: "any of two, none held", granted: []string{"c"}, required: []string{"a", "b"}, mode: Any, want: false},
		{name: "unknown mode fails closed", granted: []string{"a"}, required: []string{"a"}, mode: Mode(7), want: false},
		{name: "unknown mode fails closed with nothing required", granted: nil, required: nil, mode: Mode(-1), want: false},

		// With rules.
		{name: "full implies anything", rules: rules, granted: []string{"full"}, required: []string{"x", "orders:write", "read:y"}, mode: All, want: true},
		{name: "read:full implies read:x", rules: rules, granted: []string{"read:full"}, required: []string{"read:x"}, mode: All, want: true},
		{name: "read:full implies bare prefix", rules: rules, granted: []string{"read:full"}, required: []string{"read:"}, mode: All, want: true},
		{name: "read:full does not imply read", rules: rules, granted: []string{"read:full"}, required: []string{"read"}, mode: All, want: false},
		{name: "read:full does not imply write:x", rules: rules, granted: []string{"read:full"}, required: []string{"write:x"}, mode: All, want: false},
		{name: "READ:FULL is not read:full", rules: rules, granted: []string{"READ:FULL"}, required: []string{"read:x"}, mode: All, want: false},
		{name: "read:fullish is not read:full", rules: rules, granted: []string{"read:fullish"}, required: []string{"read:x"}, mode: All, want: false},
		{name: "rules still need the grant", rules: rules, granted: []string{"fulll"}, required: []string{"x"}, mode: All, want: false},
		{name: "exact rule", rules: rules, granted: []string{"writer"}, required: []string{"read"}, mode: All, want: true},
		{name: "exact rule is not a prefix", rules: rules, granted: []string{"writer"}, required: []string{"read:x"}, mode: All, want: false},
		{name: "rules do not run backwards", rules: rules, granted: []string{"read"}, required: []string{"writer"}, mode: All, want: false},
		{name: "transitive", rules: rules, granted: []string{"admin"}, required: []string{"orders:delete"}, mode: All, want: true},
		{name: "transitive stays in its prefix", rules: rules, granted: []string{"admin"}, required: []string{"users:delete"}, mode: All, want: false},
		{name: "mixed direct and implied", rules: rules, granted: []string{"read:full", "write"}, required: []string{"read:a", "write"}, mode: All, want: true},
		{name: "mixed, one missing", rules: rules, granted: []string{"read:full"}, required: []string{"read:a", "write"}, mode: All, want: false},
		{name: "any through a rule", rules: rules, granted: []string{"read:full"}, required: []string{"write", "read:a"}, mode: Any, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r *Rules
			if tt.rules != nil {
				r = mustRules(t, tt.rules...)
			}
			if got := r.Satisfies(NewSet(tt.granted), tt.required, tt.mode); got != tt.want {
				t.Errorf("Satisfies() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestClosureCycle(t *testing.T) {
	// A cycle must end and make every member imply the others.
	r := mustRules(t,
		Rule{Grant: "a", Implies: "b"},
		Rule{Grant: "b", Implies: "c"},
		Rule{Grant: "c", Implies: "a"},
	)
	for _, g := range []string{"a", "b", "c"} {
		if !r.Satisfies(NewSet([]string{g}), []string{"a", "b", "c"}, All) {
			t.Errorf("grant %q does not satisfy the whole cycle", g)
		}
	}
	if r.Satisfies(NewSet([]string{"a"}), []string{"d"}, All) {
		t.Errorf("cycle leaked outside its members")
	}
}

func TestClosureWorstCaseIsBounded(t *testing.T) {
	// Every grant implies a prefix that matches every other grant: the
	// closure is complete, and pruning must leave one rule per grant.
	rules := make([]Rule, 0, MaxRules)
	for i := range MaxRules {
		rules = append(rules, Rule{Grant: fmt.Sprintf("g%03d", i), Implies: fmt.Sprintf("g%03d*", (i+1)%MaxRules)})
	}
	rules[MaxRules-1].Implies = "g*"
	r := mustRules(t, rules...)
	if r.Len() != MaxRules {
		t.Fatalf("Len() = %d, want %d", r.Len(), MaxRules)
	}
	if !r.Satisfies(NewSet([]string{"g000"}), []string{"g200x"}, All) {
		t.Errorf("chain through 200 rules not followed")
	}
}

func TestMissing(t *testing.T) {
	r := mustRules(t, Rule{Grant: "read:full", Implies: "read:*"})
	tests := []struct {
		name     string
		rules    *Rules
		granted  []string
		required []string
		want     []string
	}{
		{name: "none required", rules: r, granted: []string{"a"}, required: nil, want: nil},
		{name: "all held", rules: r, granted: []string{"a", "read:full"}, required: []string{"a", "read:x"}, want: nil},
		{name: "some missing in order", rules: r, granted: []string{"read:full"}, required: []string{"z", "read:x", "a"}, want: []string{"z", "a"}},
		{name: "nil rules", rules: nil, granted: []string{"read:full"}, required: []string{"read:x", "read:full"}, want: []string{"read:x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rules.Missing(NewSet(tt.granted), tt.required); !slices.Equal(got, tt.want) {
				t.Errorf("Missing() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAllowed(t *testing.T) {
	r := mustRules(t, Rule{Grant: "full", Implies: "*"}, Rule{Grant: "read:full", Implies: "read:*"})
	tests := []struct {
		name           string
		rules          *Rules
		granted, asked []string
		want           []string
	}{
		{name: "all granted directly", rules: r, granted: []string{"a", "b"}, asked: []string{"b", "a"}, want: []string{"b", "a"}},
		{name: "full allows everything", rules: r, granted: []string{"full"}, asked: []string{"x", "read:y"}, want: []string{"x", "read:y"}},
		{name: "a prefix rule", rules: r, granted: []string{"read:full"}, asked: []string{"write:y", "read:y", "z"}, want: []string{"read:y"}},
		{name: "nothing granted", rules: r, granted: nil, asked: []string{"a"}, want: nil},
		{name: "nil rules", rules: nil, granted: []string{"full"}, asked: []string{"full", "x"}, want: []string{"full"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rules.Allowed(NewSet(tt.granted), NewSet(tt.asked)).Strings(); !slices.Equal(got, tt.want) {
				t.Errorf("Allowed() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPersonAllowed(t *testing.T) {
	r := mustRules(t, Rule{Grant: "read:full", Implies: "read:*"})
	tests := []struct {
		name           string
		granted, asked []string
		want           []string
	}{
		{name: "identity scopes without any role", granted: nil, asked: []string{"openid", "profile", "email", "offline_access"}, want: []string{"openid", "profile", "email", "offline_access"}},
		{name: "identity scopes kept beside what roles grant", granted: []string{"read:full"}, asked: []string{"openid", "read:x", "write"}, want: []string{"openid", "read:x"}},
		{name: "other scopes still need a role", granted: nil, asked: []string{"orders", "email"}, want: []string{"email"}},
		{name: "identity names are exact", granted: nil, asked: []string{"OpenID", "openid:x", "profile "}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.PersonAllowed(NewSet(tt.granted), NewSet(tt.asked)).Strings(); !slices.Equal(got, tt.want) {
				t.Errorf("PersonAllowed() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestModeString(t *testing.T) {
	for mode, want := range map[Mode]string{All: "all", Any: "any", Mode(5): "Mode(5)"} {
		if got := mode.String(); got != want {
			t.Errorf("Mode(%d).String() = %q, want %q", int(mode), got, want)
		}
	}
}

func TestHotPathDoesNotAllocate(t *testing.T) {
	r := mustRules(t, Rule{Grant: "full", Implies: "*"}, Rule{Grant: "read:full", Implies: "read:*"})
	small := NewSet([]string{"read:full", "write"})
	bigList := make([]string, 0, 100)
	for i := range 100 {
		bigList = append(bigList, fmt.Sprintf("api:%03d", i))
	}
	big := NewSet(bigList)
	required := []string{"read:orders", "write"}
	asked := NewSet(required)
	withIdentity := NewSet([]string{"openid", "write"})
	tests := []struct {
		name string
		fn   func()
	}{
		{name: "Has small", fn: func() { _ = small.Has("write") }},
		{name: "Has big", fn: func() { _ = big.Has("api:050") }},
		{name: "Satisfies all", fn: func() { _ = r.Satisfies(small, required, All) }},
		{name: "Satisfies any", fn: func() { _ = r.Satisfies(big, []string{"nope", "api:099"}, Any) }},
		{name: "Satisfies refused", fn: func() { _ = r.Satisfies(big, required, All) }},
		{name: "Missing when satisfied", fn: func() { _ = r.Missing(small, required) }},
		{name: "Allowed when all are", fn: func() { _ = r.Allowed(small, asked) }},
		{name: "PersonAllowed when all are", fn: func() { _ = r.PersonAllowed(small, withIdentity) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, tt.fn); n != 0 {
				t.Errorf("%v allocations, want 0", n)
			}
		})
	}
}

func TestPatterns(t *testing.T) {
	for _, tc := range []struct {
		pattern, scope string
		valid, match   bool
	}{
		{"read", "read", true, true},
		{"read", "readwrite", true, false},
		{"read", "READ", true, false},
		{"mcp:*", "mcp:tools", true, true},
		{"mcp:*", "mcp", true, false},
		{"*", "anything", true, true},
		{"a*b", "axb", false, false},
		{"**", "x", false, false},
		{"", "", false, false},
		{"a b", "a b", false, false},
	} {
		t.Run(tc.pattern+"/"+tc.scope, func(t *testing.T) {
			if err := CheckPattern(tc.pattern); (err == nil) != tc.valid {
				t.Fatalf("CheckPattern(%q) = %v, want valid %v", tc.pattern, err, tc.valid)
			}
			if tc.valid && MatchesPattern(tc.pattern, tc.scope) != tc.match {
				t.Errorf("MatchesPattern(%q, %q) = %v", tc.pattern, tc.scope, !tc.match)
			}
		})
	}
}
