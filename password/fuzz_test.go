package password

import (
	"errors"
	"strings"
	"testing"
	"unicode"
)

// FuzzParse feeds arbitrary text to the stored-hash parser. Nothing may
// panic; every refusal is ErrMalformedHash with a short printable message;
// what is accepted is within the bounds and has exactly one spelling (its
// String is the input), so a stored hash cannot name absurd parameters.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
		"$argon2id$v=19$m=47104,t=1,p=1$P2nzckEdTZ3bxCiBCkRTyA$xQL3Z32eo5jKl7u5tcIsnEKObYiyNZQQf5/4sAau6Pg",
		"$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=019456,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"$2y$04$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"$2b$31$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"", "$", "$$$$$", "$argon2id$",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("error %v is not ErrMalformedHash", err)
			}
			msg := err.Error()
			if len(msg) > 200 || strings.IndexFunc(msg, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
				t.Fatalf("error message %q is long or not printable", msg)
			}
			return
		}
		if h.String() != s {
			t.Fatalf("accepted %q, which prints as %q", s, h.String())
		}
		if a, ok := h.(argon2Hash); ok {
			if err := a.params.Check(); err != nil {
				t.Fatalf("accepted %q with parameters out of bounds: %v", s, err)
			}
		}
	})
}
