package oauth

import (
	"net/url"
	"strings"
	"testing"
)

func TestValidOrigin(t *testing.T) {
	longHost := "https://" + strings.Repeat("a", MaxURILength) + ".example"
	for _, tc := range []struct {
		name string
		in   string
		want bool
	}{
		{"https", "https://app.example", true},
		{"with a port", "https://app.example:8443", true},
		{"http on a loopback literal", "http://127.0.0.1:5173", true},
		{"IPv6 literal", "http://[::1]:8080", true},
		{"private scheme", "chrome-extension://abcdefghijklmnop", true},
		{"null, an opaque origin", "null", false},
		{"empty", "", false},
		{"a path", "https://app.example/path", false},
		{"a trailing slash", "https://app.example/", false},
		{"a query", "https://app.example?x=1", false},
		{"user info", "https://u@app.example", false},
		{"port over 65535", "https://app.example:99999", false},
		{"port 0", "https://app.example:0", false},
		{"empty port", "https://app.example:", false},
		{"leading zero in the port", "https://app.example:08443", false},
		{"upper case, which no browser sends", "HTTPS://APP.EXAMPLE", false},
		{"CR LF header injection", "https://app.example\r\nX-Injected: 1", false},
		{"a space", "https://app .example", false},
		{"no host", "https://", false},
		{"no scheme", "://app.example", false},
		{"scheme starting with a digit", "1https://app.example", false},
		{"empty label", "https://app..example", false},
		{"leading dot", "https://.app.example", false},
		{"trailing dot", "https://app.example.", false},
		{"bracketed name", "https://[app.example]", false},
		{"IPv6 with a zone", "http://[fe80::1%25eth0]", false},
		{"IPv4 in brackets", "http://[127.0.0.1]", false},
		{"percent-encoded host", "https://app%2eexample", false},
		{"very long", longHost, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidOrigin(tc.in); got != tc.want {
				t.Errorf("ValidOrigin(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestRedirectURIsHaveOrigin(t *testing.T) {
	for _, tc := range []struct {
		name       string
		registered []string
		origin     string
		want       bool
	}{
		{"the redirect URI's origin", []string{"https://app.example/callback"}, "https://app.example", true},
		{"any of them", []string{"com.example.app:/cb", "https://app.example:8443/cb?x=1"}, "https://app.example:8443", true},
		{"registered without a path", []string{"https://app.example"}, "https://app.example", true},
		{"registered with a query only", []string{"https://app.example?from=gw"}, "https://app.example", true},
		{"host registered in upper case", []string{"https://App.Example/cb"}, "https://app.example", true},
		{"the default port spelled out", []string{"https://app.example:443/cb"}, "https://app.example", true},
		{"http's default port spelled out", []string{"http://127.0.0.1:80/cb"}, "http://127.0.0.1", true},
		{"loopback IPv6", []string{"http://[::1]:8080/cb"}, "http://[::1]:8080", true},
		{"none registered", nil, "https://app.example", false},
		{"another host", []string{"https://app.example/cb"}, "https://evil.example", false},
		{"a longer host", []string{"https://app.example.evil.example/cb"}, "https://app.example", false},
		{"a shorter host", []string{"https://app.example/cb"}, "https://app.exampl", false},
		{"another port", []string{"https://app.example/cb"}, "https://app.example:8443", false},
		{"a port not registered", []string{"https://app.example:8443/cb"}, "https://app.example", false},
		{"another default port", []string{"https://app.example:80/cb"}, "https://app.example", false},
		{"another scheme", []string{"https://app.example/cb"}, "http://app.example", false},
		{"loopback at another port", []string{"http://127.0.0.1:5173/cb"}, "http://127.0.0.1:5174", false},
		{"private-use scheme", []string{"com.example.app:/cb"}, "com.example.app://cb", false},
		{"an invalid origin", []string{"https://app.example/cb"}, "https://app.example/", false},
		{"null", []string{"https://app.example/cb"}, "null", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RedirectURIsHaveOrigin(tc.registered, tc.origin); got != tc.want {
				t.Errorf("RedirectURIsHaveOrigin(%q, %q) = %v, want %v", tc.registered, tc.origin, got, tc.want)
			}
		})
	}
}

// An origin is compared without allocating: it is checked on every token
// request a browser sends.
func TestRedirectURIsHaveOriginAllocatesNothing(t *testing.T) {
	registered := []string{"com.example.app:/cb", "https://App.Example:443/callback"}
	if n := testing.AllocsPerRun(100, func() {
		if !RedirectURIsHaveOrigin(registered, "https://app.example") {
			t.Fatal("not matched")
		}
	}); n != 0 {
		t.Fatalf("%v allocations per comparison, want 0", n)
	}
}

// FuzzOrigin checks what the origin rules promise of every Origin header a
// browser, or anyone, sends: an accepted origin is a scheme and a host (and
// a port) that net/url reads back as the same string, with nothing that
// could break out of a header; and a redirect URI has an origin only when
// it is that origin followed by a path, a query or nothing, the scheme's
// default port aside.
func FuzzOrigin(f *testing.F) {
	for _, pair := range [][2]string{
		{"https://app.example", "https://app.example/callback"},
		{"https://app.example:8443", "https://app.example:8443/cb"},
		{"http://127.0.0.1:5173", "http://127.0.0.1:5173/cb?x=1"},
		{"http://[::1]:8080", "http://[::1]:8080/cb"},
		{"https://app.example", "https://app.example:443/cb"},
		{"https://app.example", "https://app.example.evil.example/cb"},
		{"null", "https://app.example/cb"},
		{"https://app.example/path", "https://app.example/path"},
		{"https://app.example:99999", "https://app.example:99999/"},
		{"https://app.example\r\nX-Injected: 1", "https://app.example/"},
		{"HTTPS://APP.EXAMPLE", "https://app.example/"},
		{"https://a.example:443", "https://a.example/cb"},
	} {
		f.Add(pair[0], pair[1])
	}
	f.Fuzz(func(t *testing.T, origin, redirectURI string) {
		if ValidOrigin(origin) {
			checkOrigin(t, origin)
		}
		if RedirectURIsHaveOrigin([]string{redirectURI}, origin) {
			checkOriginOf(t, origin, redirectURI)
		}
	})
}

// checkOrigin checks an accepted origin.
func checkOrigin(t *testing.T, origin string) {
	i := strings.Index(origin, "://")
	if len(origin) > MaxURILength || i <= 0 || strings.ContainsAny(origin[i+3:], "\r\n\x00 /?#@%\\") {
		t.Fatalf("%q accepted with a path, query, user info or control character", origin)
	}
	u, err := url.Parse(origin)
	if err != nil || u.Scheme+"://"+u.Host != origin || u.Path != "" || u.User != nil || u.Hostname() == "" {
		t.Fatalf("%q accepted as an origin, but net/url reads %#v (%v)", origin, u, err)
	}
	if strings.ToLower(origin) != origin {
		t.Fatalf("%q accepted, not in lower case", origin)
	}
}

// checkOriginOf checks that an origin matched a redirect URI of its own.
func checkOriginOf(t *testing.T, origin, redirectURI string) {
	if !ValidOrigin(origin) {
		t.Fatalf("invalid origin %q matched %q", origin, redirectURI)
	}
	rest := redirectURI[len(origin):]
	if !strings.EqualFold(redirectURI[:len(origin)], origin) {
		t.Fatalf("%q matched %q, which does not start with it", origin, redirectURI)
	}
	for _, port := range []string{":443", ":80"} {
		rest = strings.TrimPrefix(rest, port)
	}
	if rest != "" && rest[0] != '/' && rest[0] != '?' {
		t.Fatalf("%q matched %q, whose authority goes on with %q", origin, redirectURI, rest)
	}
}
