package scope

import (
	"fmt"
	"testing"
)

func BenchmarkParse(b *testing.B) {
	const s = "orders:read orders:write users:read admin read:full"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHas(b *testing.B) {
	small := NewSet([]string{"orders:read", "orders:write", "users:read"})
	list := make([]string, 0, 1000)
	for i := range 1000 {
		list = append(list, fmt.Sprintf("api:%04d", i))
	}
	big := NewSet(list)
	b.Run("3 scopes", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !small.Has("users:read") {
				b.Fatal("missing")
			}
		}
	})
	b.Run("1000 scopes", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !big.Has("api:0777") {
				b.Fatal("missing")
			}
		}
	})
}

func BenchmarkSatisfies(b *testing.B) {
	rules, err := NewRules([]Rule{{Grant: "full", Implies: "*"}, {Grant: "read:full", Implies: "read:*"}})
	if err != nil {
		b.Fatal(err)
	}
	granted := NewSet([]string{"orders:read", "orders:write", "read:full"})
	b.Run("direct", func(b *testing.B) {
		required := []string{"orders:read", "orders:write"}
		b.ReportAllocs()
		for b.Loop() {
			if !rules.Satisfies(granted, required, All) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("through a rule", func(b *testing.B) {
		required := []string{"read:invoices"}
		b.ReportAllocs()
		for b.Loop() {
			if !rules.Satisfies(granted, required, All) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("refused", func(b *testing.B) {
		required := []string{"orders:delete"}
		b.ReportAllocs()
		for b.Loop() {
			if rules.Satisfies(granted, required, All) {
				b.Fatal("accepted")
			}
		}
	})
}

func BenchmarkNewSet(b *testing.B) {
	scopes := []string{"orders:read", "orders:write", "users:read", "admin"}
	b.ReportAllocs()
	for b.Loop() {
		_ = NewSet(scopes)
	}
}
