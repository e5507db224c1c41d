package oauth

import (
	"strings"
	"testing"
)

func TestEchoable(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"orders:write", true},
		{"api.example/read*", true},
		{"a-b_c~d+e@f", true},
		{"", false},
		{strings.Repeat("a", maxEchoLen), true},
		{strings.Repeat("a", maxEchoLen+1), false},
		{"<script>alert(1)</script>", false},
		{`"quoted"`, false},
		{"it's", false},
		{"a\r\nSet-Cookie: x=1", false},
		{`back\slash`, false},
		{"a&b", false},
		{"é", false},
		{"a b", false},
	} {
		if got := Echoable(tc.in); got != tc.want {
			t.Errorf("Echoable(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
