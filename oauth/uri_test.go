package oauth

import (
	"net/url"
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
	registered := []string{
		"https://app.example.com/cb", "http://127.0.0.1:49152/cb", "http://[::1]/native?x=1",
		"com.example.app:/oauth2redirect", "http://127.0.0.1",
	}
	for _, tc := range []struct {
		name string
		in   string
		want bool
	}{
		{"exact", "https://app.example.com/cb", true},
		{"second", "http://127.0.0.1:49152/cb", true},
		{"private-use scheme", "com.example.app:/oauth2redirect", true},
		{"trailing slash", "https://app.example.com/cb/", false},
		{"host case", "https://APP.example.com/cb", false},
		{"path case", "https://app.example.com/CB", false},
		{"scheme case", "HTTPS://app.example.com/cb", false},
		{"default port spelled out", "https://app.example.com:443/cb", false},
		{"other port on a non-loopback URI", "https://app.example.com:8443/cb", false},
		{"percent-encoded", "https://app.example.com/%63b", false},
		{"encoded dots", "https://app.example.com/cb/%2e%2e/cb", false},
		{"extra query", "https://app.example.com/cb?x=1", false},
		{"prefix", "https://app.example.com/c", false},
		{"registered as a prefix", "https://app.example.com/cb/more", false},
		{"other path", "https://app.example.com/other", false},
		{"userinfo", "https://user@app.example.com/cb", false},
		{"host as userinfo", "https://app.example.com@evil.example/cb", false},
		{"fragment", "https://app.example.com/cb#x", false},
		{"empty fragment", "https://app.example.com/cb#", false},
		{"longer host", "https://app.example.com.evil.example/cb", false},
		{"empty", "", false},

		// RFC 8252 §7.3: a loopback IP redirect URI matches at any port.
		{"other loopback port", "http://127.0.0.1:49153/cb", true},
		{"loopback without port", "http://127.0.0.1/cb", true},
		{"IPv6 loopback with a port", "http://[::1]:61000/native?x=1", true},
		{"IPv6 loopback as registered", "http://[::1]/native?x=1", true},
		{"loopback without a path, other port", "http://127.0.0.1:8080", true},
		{"highest port", "http://127.0.0.1:65535/cb", true},
		{"loopback port out of range", "http://127.0.0.1:65536/cb", false},
		{"loopback port zero", "http://127.0.0.1:0/cb", false},
		{"loopback port with a leading zero", "http://127.0.0.1:080/cb", false},
		{"loopback empty port", "http://127.0.0.1:/cb", false},
		{"loopback port with a sign", "http://127.0.0.1:+80/cb", false},
		{"loopback other path", "http://127.0.0.1:49153/cb2", false},
		{"loopback path case", "http://127.0.0.1:49153/CB", false},
		{"loopback trailing slash", "http://127.0.0.1:49153/cb/", false},
		{"loopback percent-encoding", "http://127.0.0.1:49153/%63b", false},
		{"loopback other query", "http://[::1]:61000/native?x=2", false},
		{"loopback query dropped", "http://[::1]:61000/native", false},
		{"loopback fragment", "http://127.0.0.1:49153/cb#x", false},
		{"loopback userinfo after the port", "http://127.0.0.1:49153@evil.example/cb", false},
		{"loopback userinfo before the host", "http://evil@127.0.0.1:49153/cb", false},
		{"loopback host extended", "http://127.0.0.1.evil.example:49153/cb", false},
		{"loopback host extended, no path", "http://127.0.0.1.evil.example", false},
		{"localhost for 127.0.0.1", "http://localhost:49152/cb", false},
		{"other loopback address", "http://127.0.0.2:49152/cb", false},
		{"IPv4 for IPv6", "http://127.0.0.1/native?x=1", false},
		{"https for http", "https://127.0.0.1:49152/cb", false},
		{"upper-case scheme", "HTTP://127.0.0.1:49153/cb", false},
		{"loopback host in another spelling", "http://[0:0:0:0:0:0:0:1]:61000/native?x=1", false},
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
	// The port only varies for a loopback IP literal, whatever is registered.
	for _, reg := range []string{"http://localhost/cb", "https://127.0.0.1/cb", "http://10.0.0.1/cb", "http://[::1%25eth0]/cb"} {
		if RedirectURIMatches([]string{reg}, strings.Replace(reg, "/cb", ":8080/cb", 1)) {
			t.Errorf("%q matched at another port", reg)
		}
	}
}

// FuzzURIRules checks what the URI rules promise of every input: each
// accepted value is bounded printable ASCII without a fragment, and the
// stricter rules accept only resource identifiers. For a pair of a
// registered redirect URI and one received, a match is either the same
// string or, for a loopback http URI, the same URI at another port.
func FuzzURIRules(f *testing.F) {
	for _, s := range []string{
		"https://api.example.com/orders", "urn:example:a", "http://127.0.0.1:1/cb",
		"http://[::1]/cb", "com.example.app:/cb", "https://u@h/", "https://h/#f",
		"http://localhost/", "javascript:x", "https:///x", "HTTP://127.0.0.1/",
		"http://[::ffff:127.0.0.1]/", "a:%zz", "https://h?",
	} {
		f.Add(s, s)
	}
	for _, pair := range [][2]string{
		{"http://127.0.0.1:8080/cb", "http://127.0.0.1:9/cb"},
		{"http://127.0.0.1/cb", "http://127.0.0.1:65535/cb"},
		{"http://[::1]:1/cb?a=b", "http://[::1]/cb?a=b"},
		{"http://127.0.0.1", "http://127.0.0.1:80@evil.example"},
		{"http://127.0.0.1:8080/cb", "http://localhost:8080/cb"},
		{"https://app.example.com/cb", "https://app.example.com:443/cb"},
	} {
		f.Add(pair[0], pair[1])
	}
	f.Fuzz(func(t *testing.T, s, got string) {
		checkURIRules(t, s)
		checkRedirectMatch(t, s, got)
	})
}

// checkURIRules checks the rules' promises about one value.
func checkURIRules(t *testing.T, s string) {
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
}

// checkRedirectMatch checks that a received URI matching a registered,
// valid redirect URI is that URI, or the same loopback URI at another port:
// a valid redirect URI with the same scheme, host, path and query.
func checkRedirectMatch(t *testing.T, registered, got string) {
	if !ValidRedirectURI(registered) || !RedirectURIMatches([]string{registered}, got) || got == registered {
		return
	}
	if !ValidRedirectURI(got) {
		t.Fatalf("%q matched %q but is not a valid redirect URI", got, registered)
	}
	r, err1 := url.Parse(registered)
	g, err2 := url.Parse(got)
	if err1 != nil || err2 != nil {
		t.Fatalf("%q matched %q: %v, %v", got, registered, err1, err2)
	}
	if g.Scheme != "http" || r.Scheme != "http" || !loopbackIP(g.Hostname()) || g.Host == r.Host ||
		g.Hostname() != r.Hostname() || g.User != nil || g.RawPath != r.RawPath || g.Path != r.Path ||
		g.RawQuery != r.RawQuery || g.ForceQuery != r.ForceQuery || g.Opaque != r.Opaque {
		t.Fatalf("%q matched %q but is not the same loopback URI at another port", got, registered)
	}
	if port := g.Port(); port != "" && !validPort(port) {
		t.Fatalf("%q matched %q with port %q", got, registered, port)
	}
}
