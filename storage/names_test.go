package storage_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/scopegate/scopegate/storage"
)

func TestNameKey(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"ascii", "Billing API", "billing api"},
		{"already lower", "billing", "billing"},
		{"digits and punctuation", "Team-42_A.B", "team-42_a.b"},
		{"latin accents", "ÉCOLE", "école"},
		{"greek sigma forms", "ΣΟΦΟΣ σοφος", "σοφοσ σοφοσ"},
		{"kelvin sign", "\u212Aelvin", "kelvin"},
		{"long s", "\u017Fun", "sun"},
		{"dotted capital i keeps apart", "İzmir", "İzmir"},
		{"sharp s unchanged", "Straße", "straße"},
		{"cyrillic", "МОСКВА", "москва"},
		{"invalid utf-8 kept", "A\xffB", "a\xffb"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := storage.NameKey(tt.in); got != tt.want {
				t.Fatalf("nameKey(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// nameSamples covers the folding corner cases: letters whose simple folding
// orbit has three members, letters whose ToLower leaves their orbit, and
// names that only full case folding would merge.
var nameSamples = []string{
	"billing", "Billing", "BILLING", "bIlLiNg", "billinG ", "billings",
	"kelvin", "KELVIN", "\u212Aelvin", "\u212AELVIN",
	"sun", "SUN", "\u017Fun", "\u017FUN",
	"σοφος", "σοφοσ", "ΣΟΦΟΣ", "ςοφος",
	"İzmir", "izmir", "IZMIR", "ızmir",
	"straße", "STRASSE", "strasse", "STRAẞE",
	"école", "ÉCOLE", "ecole",
	"µ", "μ", "Μ",
	"ǅ", "ǆ", "Ǆ",
	"", "a", "A",
}

func TestNameKeyMatchesEqualFold(t *testing.T) {
	for _, a := range nameSamples {
		for _, b := range nameSamples {
			same := storage.NameKey(a) == storage.NameKey(b)
			if want := strings.EqualFold(a, b); same != want {
				t.Errorf("nameKey(%q) == nameKey(%q) is %v, but EqualFold is %v", a, b, same, want)
			}
		}
	}
}

func FuzzNameKey(f *testing.F) {
	for i, a := range nameSamples {
		f.Add(a, nameSamples[(i+1)%len(nameSamples)])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			// EqualFold reads every invalid byte as U+FFFD; keys keep them
			// apart on purpose. Names are validated as text before storage.
			return
		}
		ka, kb := storage.NameKey(a), storage.NameKey(b)
		if (ka == kb) != strings.EqualFold(a, b) {
			t.Fatalf("nameKey(%q) = %q, nameKey(%q) = %q, EqualFold = %v", a, ka, b, kb, strings.EqualFold(a, b))
		}
		if !strings.EqualFold(ka, a) {
			t.Fatalf("nameKey(%q) = %q, which does not fold to its input", a, ka)
		}
		if again := storage.NameKey(ka); again != ka {
			t.Fatalf("nameKey is not idempotent: %q → %q → %q", a, ka, again)
		}
	})
}
