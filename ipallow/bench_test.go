package ipallow

import (
	"fmt"
	"net/netip"
	"testing"
)

func BenchmarkContains(b *testing.B) {
	for _, n := range []int{1, 16, MaxEntries} {
		entries := make([]string, 0, n)
		for i := range n {
			entries = append(entries, fmt.Sprintf("10.%d.%d.0/24", i/256, i%256))
		}
		l, err := Parse(entries)
		if err != nil {
			b.Fatal(err)
		}
		last := netip.MustParseAddr(fmt.Sprintf("10.%d.%d.9", (n-1)/256, (n-1)%256))
		miss := netip.MustParseAddr("192.0.2.1")
		b.Run(fmt.Sprintf("%d prefixes, last matches", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !l.Contains(last) {
					b.Fatal("refused")
				}
			}
		})
		b.Run(fmt.Sprintf("%d prefixes, none matches", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if l.Contains(miss) {
					b.Fatal("allowed")
				}
			}
		})
	}
}

func BenchmarkParseAddr(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseAddr("192.0.2.1"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	entries := []string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::ffff:198.51.100.0/120"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(entries); err != nil {
			b.Fatal(err)
		}
	}
}
