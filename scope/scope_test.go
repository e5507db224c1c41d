package scope

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseToken(t *testing.T) {
	tests := []struct {
		name    string
		tok     string
		wantErr error
		wantMsg string
	}{
		{name: "simple", tok: "read"},
		{name: "with colon", tok: "orders:read"},
		{name: "lowest allowed byte", tok: "!"},
		{name: "hash after the excluded quote", tok: "#"},
		{name: "brackets around the excluded backslash", tok: "[]"},
		{name: "tilde is the highest allowed byte", tok: "~"},
		{name: "star is an ordinary character", tok: "a*"},
		{name: "url-like", tok: "https://api.example.com/orders.read"},
		{name: "exactly the cap", tok: strings.Repeat("a", MaxTokenLen)},
		{name: "empty", tok: "", wantErr: ErrEmpty, wantMsg: ErrEmpty.Error()},
		{name: "one past the cap", tok: strings.Repeat("a", MaxTokenLen+1), wantErr: ErrTooLong, wantMsg: "scope token longer than 128 bytes"},
		{name: "huge", tok: strings.Repeat("\n", 1<<20), wantErr: ErrTooLong, wantMsg: "scope token longer than 128 bytes"},
		{name: "space", tok: "a b", wantErr: ErrInvalidChar, wantMsg: "byte 2: character not allowed in a scope token"},
		{name: "double quote", tok: `a"`, wantErr: ErrInvalidChar, wantMsg: "byte 2: character not allowed in a scope token"},
		{name: "backslash", tok: `\a`, wantErr: ErrInvalidChar, wantMsg: "byte 1: character not allowed in a scope token"},
		{name: "tab", tok: "a\tb", wantErr: ErrInvalidChar, wantMsg: "byte 2: character not allowed in a scope token"},
		{name: "carriage return", tok: "ab\r", wantErr: ErrInvalidChar, wantMsg: "byte 3: character not allowed in a scope token"},
		{name: "line feed", tok: "\nab", wantErr: ErrInvalidChar, wantMsg: "byte 1: character not allowed in a scope token"},
		{name: "NUL", tok: "a\x00", wantErr: ErrInvalidChar, wantMsg: "byte 2: character not allowed in a scope token"},
		{name: "DEL", tok: "a\x7f", wantErr: ErrInvalidChar, wantMsg: "byte 2: character not allowed in a scope token"},
		{name: "non-ASCII", tok: "lecture:écrite", wantErr: ErrInvalidChar, wantMsg: "byte 9: character not allowed in a scope token"},
		{name: "invalid UTF-8", tok: "\xff", wantErr: ErrInvalidChar, wantMsg: "byte 1: character not allowed in a scope token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ParseToken(tt.tok)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("ParseToken() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseToken() = %v, want %v", err, tt.wantErr)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("message = %q, want %q", err.Error(), tt.wantMsg)
			}
		})
	}
}

func TestParseTokenAllBytes(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := c >= 0x21 && c <= 0x7e && c != '"' && c != '\\'
		got := ParseToken(string([]byte{byte(c)})) == nil
		if got != want {
			t.Errorf("byte %#x: accepted = %v, want %v", c, got, want)
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr error
		wantMsg string
	}{
		{name: "empty is no scopes", in: "", want: nil},
		{name: "one", in: "read", want: []string{"read"}},
		{name: "several in order", in: "write read admin", want: []string{"write", "read", "admin"}},
		{name: "duplicates keep first order", in: "b a b c a", want: []string{"b", "a", "c"}},
		{name: "case is significant", in: "read READ Read", want: []string{"read", "READ", "Read"}},
		{name: "single space only", in: " ", wantErr: ErrEmpty, wantMsg: "scope token 1: " + ErrEmpty.Error()},
		{name: "leading space", in: " read", wantErr: ErrEmpty, wantMsg: "scope token 1: " + ErrEmpty.Error()},
		{name: "trailing space", in: "read ", wantErr: ErrEmpty, wantMsg: "scope token 2: " + ErrEmpty.Error()},
		{name: "double space", in: "read  write", wantErr: ErrEmpty, wantMsg: "scope token 2: " + ErrEmpty.Error()},
		{name: "tab separator", in: "read\twrite", wantErr: ErrInvalidChar, wantMsg: "scope token 1, byte 5: character not allowed in a scope token"},
		{name: "CRLF separator", in: "read\r\nwrite", wantErr: ErrInvalidChar, wantMsg: "scope token 1, byte 5: character not allowed in a scope token"},
		{name: "quote in third token", in: `a b c"d`, wantErr: ErrInvalidChar, wantMsg: "scope token 3, byte 2: character not allowed in a scope token"},
		{name: "backslash", in: `a\`, wantErr: ErrInvalidChar, wantMsg: "scope token 1, byte 2: character not allowed in a scope token"},
		{name: "token too long", in: "a " + strings.Repeat("b", 129), wantErr: ErrTooLong, wantMsg: "scope token 2: scope token longer than 128 bytes"},
		{name: "angle brackets are allowed characters", in: "<b>", want: []string{"<b>"}},
		{name: "html with quotes", in: `<script>alert("x")</script>`, wantErr: ErrInvalidChar, wantMsg: "scope token 1, byte 15: character not allowed in a scope token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Parse() error = %v, want %v", err, tt.wantErr)
				}
				if err.Error() != tt.wantMsg {
					t.Errorf("message = %q, want %q", err.Error(), tt.wantMsg)
				}
				if got != nil {
					t.Errorf("Parse() = %q with an error, want nil", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Parse() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseManyDuplicates(t *testing.T) {
	// Above dedupMapThreshold the map path is taken; the result must be the
	// same as the scan's.
	var parts, want []string
	for i := range 100 {
		s := "s" + strings.Repeat("x", i%40)
		parts = append(parts, s)
		if !slices.Contains(want, s) {
			want = append(want, s)
		}
	}
	got, err := Parse(strings.Join(parts, " "))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Parse() = %d scopes %q, want %d %q", len(got), got, len(want), want)
	}
}

func TestParseErrorsNeverEchoInput(t *testing.T) {
	inputs := []string{
		"secret\r\nX-Injected: 1",
		`"quoted"`,
		`<script>alert("x")</script>`,
		"ok " + strings.Repeat("z", 200),
		"ok  uniqueMarkerValue",
		"uniqueMarkerValue\\",
	}
	for _, in := range inputs {
		_, err := Parse(in)
		if err == nil {
			t.Fatalf("Parse(%q) accepted", in)
		}
		msg := err.Error()
		for _, bad := range []string{"\r", "\n", `"`, "<", "script", "uniqueMarker", "zzz", "secret", "quoted"} {
			if strings.Contains(msg, bad) {
				t.Errorf("Parse(%q) error %q contains %q", in, msg, bad)
			}
		}
	}
}

func TestJoin(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want string
	}{
		{name: "nil", in: nil, want: ""},
		{name: "one", in: []string{"a"}, want: "a"},
		{name: "three", in: []string{"a", "b:c", "d"}, want: "a b:c d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Join(tt.in); got != tt.want {
				t.Errorf("Join() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSubset(t *testing.T) {
	big := make([]string, 0, 100)
	for i := range 100 {
		big = append(big, "scope"+strings.Repeat("x", i))
	}
	tests := []struct {
		name      string
		requested []string
		allowed   []string
		want      []string
	}{
		{name: "nothing requested", requested: nil, allowed: []string{"a"}, want: nil},
		{name: "all allowed", requested: []string{"b", "a"}, allowed: []string{"a", "b", "c"}, want: nil},
		{name: "nothing allowed", requested: []string{"a"}, allowed: nil, want: []string{"a"}},
		{name: "some refused in request order", requested: []string{"z", "a", "y"}, allowed: []string{"a"}, want: []string{"z", "y"}},
		{name: "case-sensitive", requested: []string{"READ"}, allowed: []string{"read"}, want: []string{"READ"}},
		{name: "no prefix matching", requested: []string{"read"}, allowed: []string{"readwrite"}, want: []string{"read"}},
		{name: "star allowed is only a literal", requested: []string{"read"}, allowed: []string{"*"}, want: []string{"read"}},
		{name: "large allowed set, all in", requested: []string{big[99], big[0]}, allowed: big, want: nil},
		{name: "large allowed set, one out", requested: []string{big[50], "other", big[3]}, allowed: big, want: []string{"other"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Subset(tt.requested, tt.allowed); !slices.Equal(got, tt.want) {
				t.Errorf("Subset() = %q, want %q", got, tt.want)
			}
		})
	}
}
