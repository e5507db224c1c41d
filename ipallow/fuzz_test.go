package ipallow

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// FuzzParse feeds a comma-separated list of entries and a client address.
// Parse must never panic, every error must be ErrTooMany or an *EntryError
// with an index in range, and an accepted list must be normalised, free of
// duplicates, contain each of its own prefixes' addresses, and parse back
// from its Strings to itself.
func FuzzParse(f *testing.F) {
	f.Add("10.0.0.0/8,192.0.2.7", "10.1.2.3")
	f.Fuzz(func(t *testing.T, list, addr string) {
		entries := strings.Split(list, ",")
		l, err := Parse(entries)
		if err != nil {
			var ee *EntryError
			switch {
			case errors.Is(err, ErrTooMany):
				if len(entries) <= MaxEntries {
					t.Fatalf("ErrTooMany for %d entries", len(entries))
				}
			case errors.As(err, &ee):
				if ee.Index < 0 || ee.Index >= len(entries) {
					t.Fatalf("index %d out of range for %d entries", ee.Index, len(entries))
				}
			default:
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		if l.Len() == 0 || l.Len() > len(entries) {
			t.Fatalf("Len() = %d for %d entries", l.Len(), len(entries))
		}
		for i, p := range l {
			switch {
			case !p.IsValid():
				t.Fatalf("invalid prefix at %d", i)
			case p != p.Masked():
				t.Fatalf("prefix %v not masked", p)
			case p.Addr().Is4In6():
				t.Fatalf("prefix %v is IPv4-mapped", p)
			case p.Addr().Zone() != "":
				t.Fatalf("prefix %v has a zone", p)
			case slices.Index(l, p) != i:
				t.Fatalf("prefix %v repeated", p)
			case !l.Contains(p.Addr()):
				t.Fatalf("list does not contain its own address %v", p.Addr())
			}
		}
		again, err := Parse(l.Strings())
		if err != nil {
			t.Fatalf("Parse(Strings()) error: %v", err)
		}
		if !slices.Equal(again, l) {
			t.Fatalf("round trip: %v != %v", again, l)
		}

		a, err := ParseAddr(addr)
		if err != nil {
			if !errors.Is(err, ErrBadAddr) {
				t.Fatalf("ParseAddr error %v", err)
			}
			if l.Contains(a) {
				t.Fatalf("non-empty list contains the zero address")
			}
			return
		}
		if a.Is4In6() {
			t.Fatalf("ParseAddr returned mapped address %v", a)
		}
		want := false
		for _, p := range l {
			if p.Contains(a.WithZone("")) {
				want = true
			}
		}
		if got := l.Contains(a); got != want {
			t.Fatalf("Contains(%v) = %v, want %v", a, got, want)
		}
		if mapped := netip.AddrFrom16(a.As16()); a.Is4() && l.Contains(mapped) != want {
			t.Fatalf("Contains(%v) differs from Contains(%v)", mapped, a)
		}
	})
}
