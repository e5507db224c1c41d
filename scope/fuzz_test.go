package scope

import (
	"errors"
	"slices"
	"testing"
)

// FuzzParse checks that Parse never panics, that every error is one of the
// sentinels, and that an accepted string joins back to a string that parses
// to the same scopes (and to itself when it held no duplicate).
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "read", "a b c", "a a", " a", "a  b", "a\tb", `a"b`, "a\\b", "é", "read:* write"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrEmpty) && !errors.Is(err, ErrTooLong) && !errors.Is(err, ErrInvalidChar) {
				t.Fatalf("Parse(%q) error %v is not a sentinel", s, err)
			}
			if got != nil {
				t.Fatalf("Parse(%q) returned scopes with an error", s)
			}
			return
		}
		for _, tok := range got {
			if err := ParseToken(tok); err != nil {
				t.Fatalf("Parse(%q) returned invalid token %q: %v", s, tok, err)
			}
		}
		joined := Join(got)
		again, err := Parse(joined)
		if err != nil {
			t.Fatalf("Parse(Join(Parse(%q))) error %v", s, err)
		}
		if !slices.Equal(again, got) {
			t.Fatalf("round trip of %q: %q != %q", s, again, got)
		}
		// When no duplicate was dropped, the string is already canonical.
		if countTokens(s) == len(got) && joined != s {
			t.Fatalf("Join(Parse(%q)) = %q", s, joined)
		}
		set := NewSet(got)
		for _, tok := range got {
			if !set.Has(tok) {
				t.Fatalf("set of %q lacks %q", s, tok)
			}
		}
	})
}

func countTokens(s string) int {
	n := 1
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			n++
		}
	}
	return n
}
