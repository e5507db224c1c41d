package oauth

import (
	"net/http"
	"strings"
	"testing"
)

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name     string
		values   []string // nil: no header
		maxLen   int
		want     string
		noBearer bool
		wantCode string
		status   int
	}{
		{name: "no header", values: nil, want: ""},
		{name: "empty slice is no header", values: []string{}, want: ""},
		{name: "simple", values: []string{"Bearer abc"}, want: "abc"},
		{name: "lower case scheme", values: []string{"bearer abc"}, want: "abc"},
		{name: "upper case scheme", values: []string{"BEARER abc"}, want: "abc"},
		{name: "mixed case scheme", values: []string{"BeArEr abc"}, want: "abc"},
		{name: "several spaces", values: []string{"Bearer    abc"}, want: "abc"},
		{name: "jwt shape", values: []string{"Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}, want: "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"},
		{name: "every b64token character", values: []string{"Bearer AZaz09-._~+/=="}, want: "AZaz09-._~+/=="},
		{name: "at the limit", values: []string{"Bearer " + strings.Repeat("a", 10)}, maxLen: 10, want: strings.Repeat("a", 10)},
		{name: "extra spaces within slack", values: []string{"Bearer" + strings.Repeat(" ", 1+maxExtraSpaces) + strings.Repeat("a", 10)}, maxLen: 10, want: strings.Repeat("a", 10)},
		{name: "default limit", values: []string{"Bearer " + strings.Repeat("a", DefaultMaxBearerLen)}, want: strings.Repeat("a", DefaultMaxBearerLen)},

		{name: "Basic", values: []string{"Basic YTpi"}, noBearer: true},
		{name: "Digest", values: []string{`Digest username="a"`}, noBearer: true},
		{name: "empty value", values: []string{""}, noBearer: true},
		{name: "scheme prefix only", values: []string{"Bear"}, noBearer: true},
		{name: "longer scheme", values: []string{"Bearerx abc"}, noBearer: true},
		{name: "scheme glued to token", values: []string{"Bearerabc"}, noBearer: true},
		{name: "tab after scheme", values: []string{"Bearer\tabc"}, noBearer: true},
		{name: "Unicode look-alike", values: []string{"Bеarer abc"}, noBearer: true}, // Cyrillic е
		{name: "leading space", values: []string{" Bearer abc"}, noBearer: true},

		{name: "two headers", values: []string{"Bearer a", "Bearer b"}, wantCode: "invalid_request", status: 400},
		{name: "scheme only", values: []string{"Bearer"}, wantCode: "invalid_request", status: 400},
		{name: "scheme and space", values: []string{"Bearer "}, wantCode: "invalid_request", status: 400},
		{name: "scheme and spaces", values: []string{"bearer    "}, wantCode: "invalid_request", status: 400},
		{name: "two words", values: []string{"Bearer a b"}, wantCode: "invalid_request", status: 400},
		{name: "trailing space", values: []string{"Bearer abc "}, wantCode: "invalid_request", status: 400},
		{name: "tab inside", values: []string{"Bearer a\tb"}, wantCode: "invalid_request", status: 400},
		{name: "padding first", values: []string{"Bearer =abc"}, wantCode: "invalid_request", status: 400},
		{name: "padding inside", values: []string{"Bearer ab=c"}, wantCode: "invalid_request", status: 400},
		{name: "padding only", values: []string{"Bearer ==="}, wantCode: "invalid_request", status: 400},
		{name: "quoted", values: []string{`Bearer "abc"`}, wantCode: "invalid_request", status: 400},
		{name: "comma", values: []string{"Bearer a,b"}, wantCode: "invalid_request", status: 400},
		{name: "non-ASCII", values: []string{"Bearer abé"}, wantCode: "invalid_request", status: 400},
		{name: "NUL", values: []string{"Bearer a\x00"}, wantCode: "invalid_request", status: 400},
		{name: "one past the limit", values: []string{"Bearer " + strings.Repeat("a", 11)}, maxLen: 10, wantCode: "invalid_token", status: 401},
		{name: "too long with slack spaces", values: []string{"Bearer" + strings.Repeat(" ", 3) + strings.Repeat("a", 11)}, maxLen: 10, wantCode: "invalid_token", status: 401},
		{name: "too many spaces", values: []string{"Bearer" + strings.Repeat(" ", 2+maxExtraSpaces) + strings.Repeat("a", 10)}, maxLen: 10, wantCode: "invalid_token", status: 401},
		{name: "default limit exceeded", values: []string{"Bearer " + strings.Repeat("a", DefaultMaxBearerLen+1)}, wantCode: "invalid_token", status: 401},
		{name: "a MiB of dots", values: []string{"Bearer " + strings.Repeat(".", 1<<20)}, wantCode: "invalid_token", status: 401},
		{name: "a MiB of garbage", values: []string{"Bearer " + strings.Repeat("\x00 =", 1<<18)}, wantCode: "invalid_token", status: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.values != nil {
				h["Authorization"] = tt.values
			}
			got, e := BearerToken(h, tt.maxLen)
			switch {
			case tt.noBearer:
				if e != ErrNoBearer || got != "" {
					t.Fatalf("BearerToken() = %q, %v, want ErrNoBearer", got, e)
				}
			case tt.wantCode != "":
				if e == nil {
					t.Fatalf("BearerToken() = %q, want %s", got, tt.wantCode)
				}
				if e.Code != tt.wantCode || e.Status != tt.status || got != "" {
					t.Errorf("BearerToken() = %q, %s/%d, want %s/%d", got, e.Code, e.Status, tt.wantCode, tt.status)
				}
				checkDescription(t, e)
			default:
				if e != nil {
					t.Fatalf("BearerToken() error = %v", e)
				}
				if got != tt.want {
					t.Errorf("BearerToken() = %q, want %q", got, tt.want)
				}
			}
		})
	}
}

func TestBearerTokenIgnoresQueryAndOtherHeaders(t *testing.T) {
	// Only the Authorization header counts; a header map built from a request
	// with ?access_token=… or a lookalike header has no token.
	h := http.Header{"X-Authorization": {"Bearer abc"}, "Access_token": {"abc"}}
	if got, e := BearerToken(h, 0); got != "" || e != nil {
		t.Fatalf("BearerToken() = %q, %v, want none", got, e)
	}
}

func TestBearerTokenDoesNotAllocate(t *testing.T) {
	h := http.Header{"Authorization": {"Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}}
	if n := testing.AllocsPerRun(100, func() { _, _ = BearerToken(h, 0) }); n != 0 {
		t.Errorf("success path: %v allocations, want 0", n)
	}
	for _, v := range []string{"Basic abc", ""} {
		h := http.Header{"Authorization": {v}}
		if n := testing.AllocsPerRun(100, func() { _, _ = BearerToken(h, 0) }); n != 0 {
			t.Errorf("ErrNoBearer for %q: %v allocations, want 0", v, n)
		}
	}
}

func TestBearerTokenHugeValueIsConstantTime(t *testing.T) {
	// The length check comes before any scan or copy, so a 16 MiB value
	// costs one small error value. ("a MiB of garbage" above shows the
	// order: invalid characters past the limit give invalid_token, not the
	// invalid_request a scan would have found.)
	huge := http.Header{"Authorization": {"Bearer " + strings.Repeat("a", 16<<20)}}
	n := testing.AllocsPerRun(20, func() {
		if _, e := BearerToken(huge, 0); e == nil || e.Code != CodeInvalidToken {
			t.Fatalf("huge token not refused as invalid_token: %v", e)
		}
	})
	if n > 1 {
		t.Errorf("%v allocations, want at most 1", n)
	}
}
