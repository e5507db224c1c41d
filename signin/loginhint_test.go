package signin

import (
	"net/url"
	"strings"
	"testing"
)

// OpenID Connect's login_hint (Core §3.1.2.1) pre-fills the form's
// username, escaped by the template; a hint that is not a username's shape
// (too long, control characters, not UTF-8) is dropped, and the hint never
// signs anyone in: the form still needs the password.
func TestLoginHintPrefillsTheUsername(t *testing.T) {
	f := newFixture(t, Config{}, nil)
	b := f.browser(t, true, "192.0.2.1")
	tests := []struct {
		name, hint, want string
	}{
		{name: "a username", hint: "alice", want: `value="alice"`},
		{name: "markup is escaped", hint: `"><script>x</script>`, want: `value="&#34;&gt;&lt;script&gt;x&lt;/script&gt;"`},
		{name: "too long is dropped", hint: strings.Repeat("a", MaxUsernameLen+1), want: `value=""`},
		{name: "control characters are dropped", hint: "alice\r\nSet-Cookie: x", want: `value=""`},
		{name: "invalid UTF-8 is dropped", hint: "al\xffice", want: `value=""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := b.get("/signin?login_hint=" + url.QueryEscape(tt.hint))
			if resp.StatusCode != 200 || !strings.Contains(body, `name="username" type="text" `+tt.want) {
				t.Fatalf("%d; the username field is not %s:\n%s", resp.StatusCode, tt.want, body)
			}
		})
	}
}
