package oauth

import (
	"strings"
	"testing"
)

func TestValidResource(t *testing.T) {
	long := "https://api.example.com/" + strings.Repeat("a", MaxURILength-len("https://api.example.com/"))
	for _, tc := range []struct {
		name string
		in   string
		want bool
	}{
		{"https", "https://api.example.com/orders", true},
		{"with query", "https://api.example.com/orders?v=1", true},
		{"urn", "urn:example:orders", true},
		{"custom scheme with path", "orders:read", true},
		{"at the length bound", long, true},
		{"over the length bound", long + "a", false},
		{"empty", "", false},
		{"relative", "/orders", false},
		{"no scheme", "api.example.com", false},
		{"fragment", "https://api.example.com/#x", false},
		{"empty fragment", "https://api.example.com/#", false},
		{"space", "https://api.example.com/a b", false},
		{"tab", "https://api.example.com/\t", false},
		{"newline", "https://api.example.com/\n", false},
		{"non-ASCII", "https://api.example.com/é", false},
		{"DEL", "https://api.example.com/\x7f", false},
		{"https without host", "https:///orders", false},
		{"http with only a port", "http://:8080/", false},
		{"scheme only", "urn:", false},
		{"bad percent-encoding", "https://api.example.com/%zz", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidResource(tc.in); got != tc.want {
				t.Errorf("ValidResource(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestValidIssuer(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want bool
	}{
		{"https", "https://auth.example.com", true},
		{"https with path", "https://example.com/tenant/1", true},
		{"trailing slash", "https://auth.example.com/", true},
		{"http on localhost", "http://localhost:8080", true},
		{"upper-case scheme", "HTTPS://auth.example.com", true},
		{"empty", "", false},
		{"no host", "https://", false},
		{"other scheme", "ftp://auth.example.com", false},
		{"urn", "urn:example:issuer", false},
		{"query", "https://auth.example.com?x=1", false},
		{"empty query", "https://auth.example.com?", false},
		{"fragment", "https://auth.example.com#x", false},
		{"user info", "https://user@auth.example.com", false},
		{"relative", "auth.example.com", false},
		{"space", "https://auth.example.com/a b", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidIssuer(tc.in); got != tc.want {
				t.Errorf("ValidIssuer(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestValidRedirectURI(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want bool
	}{
		{"https", "https://app.example.com/callback", true},
		{"https with query", "https://app.example.com/cb?tenant=1", true},
		{"loopback IPv4", "http://127.0.0.1:49152/cb", true},
		{"loopback IPv4 without port", "http://127.0.0.1/cb", true},
		{"other loopback IPv4", "http://127.8.9.10:8000/cb", true},
		{"loopback IPv6", "http://[::1]:49152/cb", true},
		{"private-use scheme", "com.example.app:/oauth2redirect", true},
		{"private-use scheme with authority", "com.example.app://callback", true},
		{"plain http", "http://app.example.com/cb", false},
		{"http localhost", "http://localhost:8080/cb", false},
		{"http private address", "http://10.0.0.1/cb", false},
		{"http IPv4-mapped loopback with zone", "http://[::1%25eth0]/cb", false},
		{"fragment", "https://app.example.com/cb#x", false},
		{"user info", "https://user:pw@app.example.com/cb", false},
		{"user only", "https://user@app.example.com/cb", false},
		{"https without host", "https:///cb", false},
		{"relative", "/cb", false},
		{"javascript", "javascript:alert(1)", false},
		{"data", "data:text/html,x", false},
		{"file", "file:///etc/passwd", false},
		{"scheme only with dot", "com.example.app:", false},
		{"space", "https://app.example.com/a b", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidRedirectURI(tc.in); got != tc.want {
				t.Errorf("ValidRedirectURI(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestRedirectURIMatches(t *testing.T) {
	registered := []string{"https://app.example.com/cb", "http://127.0.0.1:49152/cb"}
	for _, tc := range []struct {
		name string
		in   string
		want bool
	}{
		{"exact", "https://app.example.com/cb", true},
		{"second", "http://127.0.0.1:49152/cb", true},
		{"trailing slash", "https://app.example.com/cb/", false},
		{"host case", "https://APP.example.com/cb", false},
		{"default port spelled out", "https://app.example.com:443/cb", false},
		{"percent-encoded", "https://app.example.com/%63b", false},
		{"extra query", "https://app.example.com/cb?x=1", false},
		{"prefix", "https://app.example.com/c", false},
		{"other loopback port", "http://127.0.0.1:49153/cb", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RedirectURIMatches(registered, tc.in); got != tc.want {
				t.Errorf("RedirectURIMatches(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
	if RedirectURIMatches(nil, "") {
		t.Error("an empty registration matched")
	}
}

// FuzzURIRules checks what the URI rules promise of every input: each
// accepted value is bounded printable ASCII without a fragment, and the
// stricter rules accept only resource identifiers.
func FuzzURIRules(f *testing.F) {
	for _, s := range []string{
		"https://api.example.com/orders", "urn:example:a", "http://127.0.0.1:1/cb",
		"http://[::1]/cb", "com.example.app:/cb", "https://u@h/", "https://h/#f",
		"http://localhost/", "javascript:x", "https:///x", "HTTP://127.0.0.1/",
		"http://[::ffff:127.0.0.1]/", "a:%zz", "https://h?",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		resource, issuer, redirect := ValidResource(s), ValidIssuer(s), ValidRedirectURI(s)
		if (issuer || redirect) && !resource {
			t.Fatalf("%q: issuer %v, redirect %v, but not a resource identifier", s, issuer, redirect)
		}
		if !resource {
			return
		}
		if len(s) > MaxURILength || strings.ContainsAny(s, "# \t\r\n") {
			t.Fatalf("%q accepted as a resource identifier", s)
		}
		for i := 0; i < len(s); i++ {
			if s[i] < 0x21 || s[i] > 0x7e {
				t.Fatalf("%q accepted with byte %#x", s, s[i])
			}
		}
	})
}
