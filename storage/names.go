package storage

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// NameKey returns the form of a client name under which a backend's name
// index stores it; see nameKey. Every backend uses it, so that all of them
// agree on which names are the same.
func NameKey(name string) string { return nameKey(name) }

// nameKey returns the form of a client name under which the name index stores
// it. Two names get the same key exactly when strings.EqualFold reports them
// equal, that is under Unicode simple case folding: "Billing", "BILLING" and
// "billing" share a key, as do "Σ", "σ" and "ς", but "ß" and "ss" do not (that
// would need full case folding).
//
// Each rune is replaced by one fixed member of its simple folding orbit: the
// lower-case form of the orbit's smallest rune when that belongs to the orbit
// (so ASCII keys read as lower-case text), else the smallest rune itself.
// Bytes that are not valid UTF-8 are kept as they are, so distinct invalid
// names never collapse into one key.
func nameKey(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); {
		r, size := utf8.DecodeRuneInString(name[i:])
		if r == utf8.RuneError && size <= 1 {
			b.WriteByte(name[i])
			i++
			continue
		}
		b.WriteRune(foldRune(r))
		i += size
	}
	return b.String()
}

// foldRune maps r to the representative of its simple folding orbit.
func foldRune(r rune) rune {
	smallest := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		smallest = min(smallest, f)
	}
	// ToLower can leave the orbit (U+0130 'İ' lowers to 'i', which simple
	// folding keeps apart from 'İ'); the key must not merge two orbits.
	if lower := unicode.ToLower(smallest); lower == smallest || sameOrbit(lower, smallest) {
		return lower
	}
	return smallest
}

// sameOrbit reports whether b is reachable from a by simple folding.
func sameOrbit(a, b rune) bool {
	for f := unicode.SimpleFold(a); f != a; f = unicode.SimpleFold(f) {
		if f == b {
			return true
		}
	}
	return false
}
