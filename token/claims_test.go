package token

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestClaimsMarshalJSON(t *testing.T) {
	tests := []struct {
		name    string
		claims  Claims
		want    string
		wantErr string
	}{
		{
			name:   "single audience is a string",
			claims: Claims{Issuer: "i", Subject: "s", Audience: Audience{"a"}, ExpiresAt: 2, IssuedAt: 1, JWTID: "j", ClientID: "s", Scope: "x y"},
			want:   `{"iss":"i","sub":"s","aud":"a","exp":2,"iat":1,"jti":"j","client_id":"s","scope":"x y"}`,
		},
		{
			name:   "several audiences are an array",
			claims: Claims{Audience: Audience{"a", "b"}, NotBefore: 3},
			want:   `{"aud":["a","b"],"nbf":3}`,
		},
		{
			name:   "empty claims are omitted",
			claims: Claims{},
			want:   `{}`,
		},
		{
			name:   "strings are escaped",
			claims: Claims{Subject: "a\"b\\c\n\u2028<"},
			want:   `{"sub":"a\"b\\c\n\u2028<"}`,
		},
		{
			name:   "an actor is act with its sub, before extra claims",
			claims: Claims{Subject: "u", ClientID: "a", Actor: "a", Extra: json.RawMessage(`{"tenant":"acme"}`)},
			want:   `{"sub":"u","client_id":"a","act":{"sub":"a"},"tenant":"acme"}`,
		},
		{name: "actor not UTF-8", claims: Claims{Actor: "\xff"}, wantErr: "act is not valid UTF-8"},
		{
			name:   "extra claims follow",
			claims: Claims{Issuer: "i", Extra: json.RawMessage(` { "tenant" : "acme", "n": [1, {"x": null}] } `)},
			want:   `{"iss":"i","tenant":"acme","n":[1, {"x": null}]}`,
		},
		{
			name:   "extra alone",
			claims: Claims{Extra: json.RawMessage(`{"a":1}`)},
			want:   `{"a":1}`,
		},
		{
			name:   "extra null",
			claims: Claims{Issuer: "i", Extra: json.RawMessage(`null`)},
			want:   `{"iss":"i"}`,
		},
		{
			name:   "extra name with an escape is normalised",
			claims: Claims{Extra: json.RawMessage(`{"\u0074enant":1}`)},
			want:   `{"tenant":1}`,
		},
		{name: "extra reserved", claims: Claims{Extra: json.RawMessage(`{"sub":"admin"}`)}, wantErr: "must not set the registered claim"},
		{name: "extra reserved cnf", claims: Claims{Extra: json.RawMessage(`{"cnf":{}}`)}, wantErr: "must not set the registered claim"},
		{name: "extra reserved hidden by an escape", claims: Claims{Extra: json.RawMessage(`{"\u0073ub":"admin"}`)}, wantErr: "must not set the registered claim"},
		{name: "extra repeated", claims: Claims{Extra: json.RawMessage(`{"a":1,"a":2}`)}, wantErr: "must not repeat a claim name"},
		{name: "extra an array", claims: Claims{Extra: json.RawMessage(`[1]`)}, wantErr: "must be a JSON object"},
		{name: "extra invalid", claims: Claims{Extra: json.RawMessage(`{"a":}`)}, wantErr: "must be valid JSON"},
		{name: "extra trailing data", claims: Claims{Extra: json.RawMessage(`{"a":1}x`)}, wantErr: "must be valid JSON"},
		{name: "invalid UTF-8", claims: Claims{Scope: "a\xffb"}, wantErr: "claim scope is not valid UTF-8"},
		{name: "invalid UTF-8 audience", claims: Claims{Audience: Audience{"a", "\xff"}}, wantErr: "claim aud is not valid UTF-8"},
		{name: "time out of range", claims: Claims{ExpiresAt: maxNumericDate + 1}, wantErr: "claim exp is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.claims.MarshalJSON()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Marshal error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("Marshal =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestExtraClaimNamesAreEscaped is the regression test for the jwx v2
// advisory GHSA-4cf7-xm37-g63h: a custom claim name holding a quote could
// close its own member and inject others.
func TestExtraClaimNamesAreEscaped(t *testing.T) {
	names := []string{`x":0,"admin`, `a\"b`, `back\slash`, "ctl\x01", `"`, `\`}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			extra, err := json.Marshal(map[string]any{name: true})
			if err != nil {
				t.Fatal(err)
			}
			ks, _ := keySetFor(t, AlgEdDSA)
			c := validClaims()
			c.Extra = extra
			raw, err := ks.Sign(c)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			got, err := testVerifier().Verify(ks, raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			var members map[string]any
			if err := json.Unmarshal(got.Extra, &members); err != nil {
				t.Fatalf("Extra %s: %v", got.Extra, err)
			}
			if want := map[string]any{name: true}; !reflect.DeepEqual(members, want) {
				t.Errorf("extra members = %v, want exactly %v", members, want)
			}
			payload := decodePayload(t, raw)
			var all map[string]json.RawMessage
			if err := json.Unmarshal(payload, &all); err != nil {
				t.Fatal(err)
			}
			if _, injected := all["admin"]; injected || len(all) != 9 {
				t.Errorf("payload %s has %d members", payload, len(all))
			}
		})
	}
}

func decodePayload(t *testing.T, raw string) []byte {
	t.Helper()
	parts := strings.Split(raw, ".")
	out := make([]byte, len(parts[1]))
	n, ok := decodeSegment(out, []byte(parts[1]))
	if !ok {
		t.Fatalf("payload is not base64url")
	}
	return out[:n]
}

func TestClaimsUnmarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Claims
		err  error
	}{
		{name: "all claims", in: `{"iss":"i","sub":"s","aud":"a","exp":10,"iat":5,"nbf":4,"jti":"j","client_id":"c","scope":"x"}`,
			want: Claims{Issuer: "i", Subject: "s", Audience: Audience{"a"}, ExpiresAt: 10, IssuedAt: 5, NotBefore: 4, JWTID: "j", ClientID: "c", Scope: "x"}},
		{name: "audience array", in: `{"aud":["a","b"]}`, want: Claims{Audience: Audience{"a", "b"}}},
		{name: "empty audience array", in: `{"aud":[]}`, want: Claims{Audience: Audience{}}},
		{name: "whitespace everywhere", in: " {\n\t\"sub\" : \"s\" , \"aud\" : [ \"a\" , \"b\" ] } \r\n", want: Claims{Subject: "s", Audience: Audience{"a", "b"}}},
		{name: "escaped values", in: `{"sub":"a\"b\\\/\n\u00e9\ud83d\ude00"}`, want: Claims{Subject: "a\"b\\/\né😀"}},
		{name: "escaped name", in: `{"\u0073ub":"s"}`, want: Claims{Subject: "s"}},
		{name: "fractional time truncated", in: `{"exp":10.9}`, want: Claims{ExpiresAt: 10}},
		{name: "exponent time", in: `{"exp":1e9}`, want: Claims{ExpiresAt: 1000000000}},
		{name: "negative zero time", in: `{"exp":-0}`, want: Claims{}},
		{name: "latest time", in: `{"exp":253402300799}`, want: Claims{ExpiresAt: maxNumericDate}},
		{name: "unknown members kept", in: `{"sub":"s","tenant":"acme","n":{"a":[1,true,null]}}`, want: Claims{Subject: "s", Extra: json.RawMessage(`{"tenant":"acme","n":{"a":[1,true,null]}}`)}},
		{name: "other case is another name", in: `{"SUB":"x","Sub":"y"}`, want: Claims{Extra: json.RawMessage(`{"SUB":"x","Sub":"y"}`)}},
		{name: "empty object", in: `{}`, want: Claims{}},

		{name: "exp as string", in: `{"exp":"10"}`, err: ErrMalformed},
		{name: "exp too large", in: `{"exp":253402300800}`, err: ErrMalformed},
		{name: "exp overflowing", in: `{"exp":1e400}`, err: ErrMalformed},
		{name: "exp many digits", in: `{"exp":99999999999999999999999}`, err: ErrMalformed},
		{name: "exp negative", in: `{"exp":-5}`, err: ErrMalformed},
		{name: "exp leading zero", in: `{"exp":010}`, err: ErrMalformed},
		{name: "exp plus sign", in: `{"exp":+10}`, err: ErrMalformed},
		{name: "exp NaN", in: `{"exp":NaN}`, err: ErrMalformed},
		{name: "exp true", in: `{"exp":true}`, err: ErrMalformed},
		{name: "exp null", in: `{"exp":null}`, err: ErrMalformed},
		{name: "sub number", in: `{"sub":1}`, err: ErrMalformed},
		{name: "sub null", in: `{"sub":null}`, err: ErrMalformed},
		{name: "aud number", in: `{"aud":1}`, err: ErrMalformed},
		{name: "aud array of numbers", in: `{"aud":["a",1]}`, err: ErrMalformed},
		{name: "aud nested array", in: `{"aud":[["a"]]}`, err: ErrMalformed},
		{name: "repeated sub", in: `{"sub":"a","sub":"b"}`, err: ErrMalformed},
		{name: "repeated sub through an escape", in: `{"sub":"a","\u0073ub":"b"}`, err: ErrMalformed},
		{name: "repeated exp", in: `{"exp":1,"exp":2}`, err: ErrMalformed},
		{name: "array", in: `[]`, err: ErrMalformed},
		{name: "string", in: `"x"`, err: ErrMalformed},
		{name: "empty", in: ``, err: ErrMalformed},
		{name: "trailing data", in: `{"sub":"s"}{}`, err: ErrMalformed},
		{name: "trailing comma", in: `{"sub":"s",}`, err: ErrMalformed},
		{name: "missing colon", in: `{"sub" "s"}`, err: ErrMalformed},
		{name: "missing comma", in: `{"sub":"s" "iss":"i"}`, err: ErrMalformed},
		{name: "unterminated", in: `{"sub":"s"`, err: ErrMalformed},
		{name: "single quotes", in: `{'sub':'s'}`, err: ErrMalformed},
		{name: "control character in string", in: "{\"sub\":\"a\x01b\"}", err: ErrMalformed},
		{name: "invalid UTF-8", in: "{\"sub\":\"a\xffb\"}", err: ErrMalformed},
		{name: "lone high surrogate", in: `{"sub":"\ud83d"}`, err: ErrMalformed},
		{name: "lone low surrogate", in: `{"sub":"\ude00"}`, err: ErrMalformed},
		{name: "bad escape", in: `{"sub":"\x41"}`, err: ErrMalformed},
		{name: "short unicode escape", in: `{"sub":"\u12"}`, err: ErrMalformed},
		{name: "unknown value invalid", in: `{"x":tru}`, err: ErrMalformed},
		{name: "unknown value too deep", in: `{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, err: ErrMalformed},
		{name: "comment", in: `{"sub":"s" /* c */}`, err: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Claims
			err := json.Unmarshal([]byte(tt.in), &got)
			if tt.err != nil {
				// encoding/json refuses invalid JSON before our reader; for
				// valid JSON our reader must refuse with the sentinel.
				if err == nil {
					t.Fatalf("Unmarshal accepted %s: %+v", tt.in, got)
				}
				if json.Valid([]byte(tt.in)) && !errors.Is(err, tt.err) {
					t.Fatalf("Unmarshal error = %v, want %v", err, tt.err)
				}
				if _, err := parseClaims([]byte(tt.in), tt.in); !errors.Is(err, tt.err) {
					t.Fatalf("parseClaims error = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Unmarshal =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestClaimsJSONRoundTrip(t *testing.T) {
	in := Claims{
		Issuer: "https://i", Subject: "c", Audience: Audience{"a", "b"}, ExpiresAt: 100, IssuedAt: 50,
		NotBefore: 40, AuthTime: 30, JWTID: "j", ClientID: "c", Scope: "s t", Extra: json.RawMessage(`{"k":"\"v\""}`),
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Claims
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("round trip =\n%+v\nwant\n%+v", out, in)
	}
}

func TestIsReservedClaim(t *testing.T) {
	for _, name := range []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "cnf", "act", "may_act", "auth_time"} {
		if !IsReservedClaim(name) {
			t.Errorf("IsReservedClaim(%q) = false", name)
		}
	}
	for _, name := range []string{"", "tenant", "roles", "SUB", "Scope", "sub ", "client-id", "iss\x00"} {
		if IsReservedClaim(name) {
			t.Errorf("IsReservedClaim(%q) = true", name)
		}
	}
}

func TestHasAudience(t *testing.T) {
	const ours = "https://api.example.com/orders"
	tests := []struct {
		name string
		aud  Audience
		want bool
	}{
		{"exact", Audience{ours}, true},
		{"in an array", Audience{"https://other.example", ours}, true},
		{"missing", nil, false},
		{"empty array", Audience{}, false},
		{"empty string", Audience{""}, false},
		{"another resource", Audience{"https://api.example.com/billing"}, false},
		{"ours as a prefix of another", Audience{ours + "-admin"}, false},
		{"a prefix of ours", Audience{"https://api.example.com"}, false},
		{"trailing slash", Audience{ours + "/"}, false},
		{"other case", Audience{strings.ToUpper(ours)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Claims{Audience: tt.aud}
			if got := c.HasAudience(ours); got != tt.want {
				t.Errorf("HasAudience = %v, want %v", got, tt.want)
			}
		})
	}
	if (&Claims{Audience: Audience{""}}).HasAudience("") {
		t.Error("the empty audience matched")
	}
}

// HasActor finds the act claim a token exchange writes, as Verify leaves it
// among the extra members, and nothing else.
func TestClaimsHasActor(t *testing.T) {
	for _, tc := range []struct {
		payload string
		want    bool
	}{
		{`{"sub":"u","act":{"sub":"a"}}`, true},
		{`{"sub":"u","tenant":{"act":1},"act":{"sub":"a","act":{"sub":"b"}}}`, true},
		{`{"sub":"u","tenant":{"act":1}}`, false},
		{`{"sub":"u","actor":"a"}`, false},
		{`{"sub":"u"}`, false},
	} {
		c, err := parseClaims([]byte(tc.payload), tc.payload)
		if err != nil {
			t.Fatalf("%s: %v", tc.payload, err)
		}
		if got := c.HasActor(); got != tc.want {
			t.Errorf("%s: HasActor = %v, want %v", tc.payload, got, tc.want)
		}
	}
}
