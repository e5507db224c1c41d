package registry

import "testing"

// TestApplyMergePatch runs the examples of RFC 7396 appendix A, plus cases
// for order and number preservation.
func TestApplyMergePatch(t *testing.T) {
	cases := []struct {
		name, target, patch, want string
	}{
		{"A.1 replace member", `{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{"A.2 add member", `{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{"A.3 remove member", `{"a":"b"}`, `{"a":null}`, `{}`},
		{"A.4 remove one of two", `{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{"A.5 array by string", `{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{"A.6 string by array", `{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{"A.7 nested merge", `{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{"A.8 arrays replaced whole", `{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{"A.9 array documents", `["a","b"]`, `["c","d"]`, `["c","d"]`},
		{"A.10 object by array", `{"a":"b"}`, `["c"]`, `["c"]`},
		{"A.11 null patch", `{"a":"foo"}`, `null`, `null`},
		{"A.12 string patch", `{"a":"foo"}`, `"bar"`, `"bar"`},
		{"A.13 existing null kept", `{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
		{"A.14 array target", `[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
		{"A.15 nulls dropped from new objects", `{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
		{"order kept", `{"z":1,"a":2,"m":3}`, `{"a":20,"b":4}`, `{"z":1,"a":20,"m":3,"b":4}`},
		{"number text kept", `{"n":12345678901234567890,"f":1.50}`, `{"g":1e400}`, `{"n":12345678901234567890,"f":1.50,"g":1e400}`},
		{"markup not escaped", `{}`, `{"h":"<b>&"}`, `{"h":"<b>&"}`},
		{"escaped names", `{"a\"b":1}`, `{"a\"b":2,"\u00e9":3}`, `{"a\"b":2,"é":3}`},
		{"empty target", ``, `{"a":1}`, `{"a":1}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := applyMergePatch([]byte(tc.target), []byte(tc.patch))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}
