package strictjson

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestMembers(t *testing.T) {
	deep := func(n int) string { return `{"a":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + `}` }
	for _, tc := range []struct {
		name    string
		in      string
		want    []string
		problem Problem
		member  string
	}{
		{"empty object", `{}`, nil, 0, ""},
		{"members in order", ` {"b":1, "a":[true,null,{"x":"y"}], "c":{"d":-1.5e3}} `, []string{"b", "a", "c"}, 0, ""},
		{"escaped name unescaped", `{"\u0063rit":1}`, []string{"crit"}, 0, ""},
		{"same name in sibling objects", `{"a":{"x":1},"b":{"x":2}}`, []string{"a", "b"}, 0, ""},
		{"surrogate pair", `{"a":"\ud83d\ude00"}`, []string{"a"}, 0, ""},
		{"at the depth bound", deep(MaxDepth), []string{"a"}, 0, ""},
		{"over the depth bound", deep(MaxDepth + 1), nil, TooDeep, "a"},
		{"repeated member", `{"a":1,"b":2,"a":3}`, nil, DuplicateMember, "a"},
		{"repeated through an escape", `{"a":1,"\u0061":2}`, nil, DuplicateMember, "a"},
		{"repeated nested member", `{"a":1,"m":{"x":{"y":1,"y":2}}}`, nil, DuplicateNested, "m"},
		{"repeated nested in an array", `{"m":[{"x":1,"x":1}]}`, nil, DuplicateNested, "m"},
		{"case differs", `{"a":1,"A":2}`, []string{"a", "A"}, 0, ""},
		{"lone high surrogate", `{"a":"\ud800"}`, nil, Invalid, "a"},
		{"lone low surrogate in a name", `{"\udc00":1}`, nil, Invalid, "\x00"},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", nil, Invalid, "a"},
		{"control character", "{\"a\":\"\x01\"}", nil, Invalid, "a"},
		{"leading zero", `{"a":01}`, nil, Invalid, "a"},
		{"trailing data", `{"a":1} {}`, nil, Invalid, "a"},
		{"trailing comma", `{"a":1,}`, nil, Invalid, "a"},
		{"array", `[1]`, nil, Invalid, ""},
		{"empty", ``, nil, Invalid, ""},
		{"unterminated", `{"a":1`, nil, Invalid, "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Members([]byte(tc.in))
			if tc.problem == 0 {
				if err != nil || !slices.Equal(got, tc.want) {
					t.Fatalf("Members = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			var se *Error
			if !errors.As(err, &se) || se.Problem != tc.problem {
				t.Fatalf("Members error = %v, want problem %d", err, tc.problem)
			}
			if tc.member != "\x00" && se.Member != tc.member {
				t.Errorf("Member = %q, want %q", se.Member, tc.member)
			}
		})
	}
}

// FuzzMembers checks Members against encoding/json: whatever it accepts is
// valid JSON, an object whose top-level names are exactly those returned,
// none repeated.
func FuzzMembers(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"a":{"b":[1,2,{"c":null}]},"d":"e"}`, `{"a":1,"a":2}`,
		`{"\u0061":1,"a":2}`, `{"a":"\ud800"}`, `{"a":"\ud83d\ude00"}`, `{"a":1e400}`,
		`{"a":-0.0E+1}`, `{"a":[[[[[[]]]]]]}`, "{\"a\":\"\xff\"}", ` { "a" : true } `, `{"a":1}x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		names, err := Members(b)
		if err != nil {
			return
		}
		if !json.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("accepted %q, which is not an object: %v", b, err)
		}
		if len(m) != len(names) {
			t.Fatalf("names %q, encoding/json found %d members", names, len(m))
		}
		for _, n := range names {
			if _, ok := m[n]; !ok {
				t.Fatalf("name %q not found by encoding/json", n)
			}
		}
	})
}
