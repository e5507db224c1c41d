package scope

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestSet(t *testing.T) {
	many := make([]string, 0, 40)
	for i := range 40 {
		many = append(many, fmt.Sprintf("api:%02d", 39-i))
	}
	tests := []struct {
		name    string
		set     Set
		has     []string
		hasNot  []string
		wantLen int
		strings []string
	}{
		{name: "zero value", set: Set{}, hasNot: []string{"", "a"}, wantLen: 0, strings: nil},
		{name: "empty slice", set: NewSet([]string{}), hasNot: []string{"a"}, wantLen: 0, strings: nil},
		{
			name: "small", set: NewSet([]string{"read", "write", "read"}),
			has: []string{"read", "write"}, hasNot: []string{"READ", "rea", "readwrite", "", "read "},
			wantLen: 2, strings: []string{"read", "write"},
		},
		{
			name: "large uses binary search", set: NewSet(many),
			has: []string{"api:00", "api:39", "api:17"}, hasNot: []string{"api:40", "api:", "api:1", "zzz", ""},
			wantLen: 40, strings: many,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, s := range tt.has {
				if !tt.set.Has(s) {
					t.Errorf("Has(%q) = false, want true", s)
				}
			}
			for _, s := range tt.hasNot {
				if tt.set.Has(s) {
					t.Errorf("Has(%q) = true, want false", s)
				}
			}
			if got := tt.set.Len(); got != tt.wantLen {
				t.Errorf("Len() = %d, want %d", got, tt.wantLen)
			}
			if got := tt.set.Strings(); !slices.Equal(got, tt.strings) {
				t.Errorf("Strings() = %q, want %q", got, tt.strings)
			}
		})
	}
}

func TestSetIsImmutable(t *testing.T) {
	in := []string{"a", "b"}
	set := NewSet(in)
	in[0] = "changed"
	if !set.Has("a") || set.Has("changed") {
		t.Fatalf("NewSet shares memory with its argument")
	}
	out := set.Strings()
	out[1] = "changed"
	if !set.Has("b") || set.Has("changed") {
		t.Fatalf("Strings() shares memory with the set")
	}
}

func TestParseSet(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		str     string
		wantErr error
	}{
		{name: "empty", in: "", want: nil, str: ""},
		{name: "dedup", in: "b a b", want: []string{"b", "a"}, str: "b a"},
		{name: "large", in: "a b c d e f g h i j k l m n", want: []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n"}, str: "a b c d e f g h i j k l m n"},
		{name: "invalid", in: "a\x01", wantErr: ErrInvalidChar},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := ParseSet(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseSet() error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if set.Len() != 0 {
					t.Errorf("set not empty on error")
				}
				return
			}
			if got := set.Strings(); !slices.Equal(got, tt.want) {
				t.Errorf("Strings() = %q, want %q", got, tt.want)
			}
			if got := set.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			for _, s := range tt.want {
				if !set.Has(s) {
					t.Errorf("Has(%q) = false", s)
				}
			}
		})
	}
}

func TestSetIntersect(t *testing.T) {
	many := make([]string, 0, 20)
	for i := range 20 {
		many = append(many, fmt.Sprintf("api:%02d", i))
	}
	tests := []struct {
		name        string
		set, other  Set
		want        []string
		unallocated bool // nothing taken away: s itself comes back
	}{
		{name: "both empty", set: Set{}, other: Set{}, want: nil, unallocated: true},
		{name: "other empty", set: NewSet([]string{"a", "b"}), other: Set{}, want: nil},
		{name: "all held", set: NewSet([]string{"a", "b"}), other: NewSet([]string{"c", "b", "a"}), want: []string{"a", "b"}, unallocated: true},
		{name: "first taken away", set: NewSet([]string{"a", "b", "c"}), other: NewSet([]string{"b", "c"}), want: []string{"b", "c"}},
		{name: "middle taken away", set: NewSet([]string{"a", "b", "c"}), other: NewSet([]string{"a", "c"}), want: []string{"a", "c"}},
		{name: "none held", set: NewSet([]string{"a", "b"}), other: NewSet([]string{"x"}), want: nil},
		{name: "exact, case-sensitive", set: NewSet([]string{"read", "READ", "read:x"}), other: NewSet([]string{"read"}), want: []string{"read"}},
		{name: "large sets", set: NewSet(many), other: NewSet(many[5:]), want: many[5:]},
		{name: "large, all held", set: NewSet(many), other: NewSet(many), want: many, unallocated: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.set.Intersect(tt.other)
			if !slices.Equal(got.Strings(), tt.want) {
				t.Fatalf("Intersect = %q, want %q", got.Strings(), tt.want)
			}
			for _, s := range tt.want {
				if !got.Has(s) {
					t.Errorf("result lacks %q", s)
				}
			}
			allocs := testing.AllocsPerRun(10, func() { _ = tt.set.Intersect(tt.other) })
			if tt.unallocated && allocs != 0 {
				t.Errorf("Intersect allocated %v times with nothing taken away", allocs)
			}
			list := tt.other.Strings()
			if got := tt.set.IntersectList(list); !slices.Equal(got.Strings(), tt.want) {
				t.Fatalf("IntersectList = %q, want %q", got.Strings(), tt.want)
			}
			allocs = testing.AllocsPerRun(10, func() { _ = tt.set.IntersectList(list) })
			if tt.unallocated && allocs != 0 {
				t.Errorf("IntersectList allocated %v times with nothing taken away", allocs)
			}
		})
	}
}
