package oauth

import (
	"testing"
)

func TestBearerChallenge(t *testing.T) {
	tests := []struct {
		name     string
		realm    string
		err      *Error
		scope    string
		metadata string
		want     string
	}{
		{name: "bare", realm: "api", want: `Bearer realm="api"`},
		{name: "no attributes at all", want: `Bearer`},
		{name: "no bearer sentinel has no error", realm: "api", err: ErrNoBearer, want: `Bearer realm="api"`},
		{name: "invalid token", realm: "api", err: InvalidToken("the token has expired"),
			want: `Bearer realm="api", error="invalid_token", error_description="the token has expired"`},
		{name: "error without description", realm: "api", err: InvalidToken(""),
			want: `Bearer realm="api", error="invalid_token"`},
		{name: "insufficient scope", realm: "api", err: InsufficientScope("missing scope"), scope: "orders:read orders:write",
			want: `Bearer realm="api", error="insufficient_scope", error_description="missing scope", scope="orders:read orders:write"`},
		{name: "resource metadata", realm: "api", metadata: "https://api.example.com/.well-known/oauth-protected-resource/orders",
			want: `Bearer realm="api", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/orders"`},
		{name: "everything", realm: "r", err: InvalidRequest("bad"), scope: "a", metadata: "https://m",
			want: `Bearer realm="r", error="invalid_request", error_description="bad", scope="a", resource_metadata="https://m"`},
		{name: "no realm but an error", err: InvalidToken("x"), want: `Bearer error="invalid_token", error_description="x"`},
		{name: "quotes and backslashes escaped", realm: `a"b\c`, want: `Bearer realm="a\"b\\c"`},
		{name: "control characters dropped", realm: "a\r\nSet-Cookie: x\x00\x7f", want: `Bearer realm="aSet-Cookie: x"`},
		{name: "tab and UTF-8 kept", realm: "a\tb é", want: "Bearer realm=\"a\tb é\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := BearerChallenge(tt.realm, tt.err, tt.scope, tt.metadata); got != tt.want {
				t.Errorf("BearerChallenge() = %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestBasicChallenge(t *testing.T) {
	tests := []struct {
		name  string
		realm string
		want  string
	}{
		{name: "plain", realm: "scopegate", want: `Basic realm="scopegate"`},
		{name: "empty realm kept", realm: "", want: `Basic realm=""`},
		{name: "escaped", realm: `x"y\z`, want: `Basic realm="x\"y\\z"`},
		{name: "newline dropped", realm: "x\r\ny", want: `Basic realm="xy"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := BasicChallenge(tt.realm); got != tt.want {
				t.Errorf("BasicChallenge() = %s, want %s", got, tt.want)
			}
		})
	}
}
