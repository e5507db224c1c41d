package authserver

import (
	"encoding/json"
	"testing"
)

// TestTokenResponseJSON checks that the hand-written response is what
// encoding/json writes for tokenResponse, byte for byte.
func TestTokenResponseJSON(t *testing.T) {
	for _, resp := range []tokenResponse{
		{AccessToken: "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln", TokenType: "Bearer", ExpiresIn: 600, Scope: "orders:read orders:write"},
		{AccessToken: "a.b.c", TokenType: "Bearer", ExpiresIn: 0},
		{AccessToken: "a.b.c", TokenType: "Bearer", ExpiresIn: 60, Scope: "orders:read", IssuedType: "urn:ietf:params:oauth:token-type:access_token"},
		{AccessToken: "a.b.c", TokenType: "Bearer", ExpiresIn: 60, Scope: "openid", IDToken: "h.p.s"},
		{AccessToken: "a.b.c", TokenType: "Bearer", ExpiresIn: 60, IDToken: "i<d>"},
		{AccessToken: "a.b.c", TokenType: "Bearer", ExpiresIn: -5, Scope: "a<b>&c"},
		{AccessToken: "q\"uote\\back", TokenType: "Bearer", ExpiresIn: 1 << 40, Scope: "tab\there"},
		{AccessToken: "ünïcode \u2028 \xff", TokenType: "", ExpiresIn: 1, Scope: "~!#$%'()*+,-./:;=?@[]^_`{|}"},
	} {
		want, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.appendJSON(nil); string(got) != string(want) {
			t.Errorf("appendJSON = %s, want %s", got, want)
		}
	}
}
