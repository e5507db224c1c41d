package signin

import (
	"net/url"
	"strings"
	"testing"
)

var returnPaths = []string{"/oauth2/authorize", "/consent"}

func TestReturnTo(t *testing.T) {
	accepted := []string{
		"/oauth2/authorize",
		"/oauth2/authorize?client_id=c1&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&state=x%20y",
		"/oauth2/authorize?",
		"/consent?scope=a+b",
	}
	for _, raw := range accepted {
		if got := ReturnTo(raw, returnPaths); got != raw {
			t.Errorf("ReturnTo(%q) = %q, want it kept", raw, got)
		}
	}
	refused := map[string]string{
		"empty":                         "",
		"absolute URL":                  "https://evil.example/oauth2/authorize",
		"absolute URL to ourselves":     "https://gateway.example/oauth2/authorize",
		"network-path reference":        "//evil.example/oauth2/authorize",
		"three slashes":                 "///evil.example/oauth2/authorize",
		"backslash host":                "/\\evil.example/oauth2/authorize",
		"backslashes":                   "\\\\evil.example/oauth2/authorize",
		"backslash in path":             "/oauth2\\authorize",
		"javascript scheme":             "javascript:alert(1)",
		"data scheme":                   "data:text/html,<script>alert(1)</script>",
		"scheme-relative with userinfo": "//user@evil.example/oauth2/authorize",
		"userinfo-like path":            "/oauth2/authorize@evil.example",
		"relative path":                 "oauth2/authorize",
		"dot path":                      "./oauth2/authorize",
		"tab before slashes":            "/\t/evil.example/oauth2/authorize",
		"newline":                       "/oauth2/authorize\n",
		"CR LF header injection":        "/oauth2/authorize?x=1\r\nSet-Cookie:a=b",
		"NUL":                           "/oauth2/authorize\x00",
		"space":                         "/oauth2/authorize x",
		"DEL":                           "/oauth2/authorize\x7f",
		"non-ASCII":                     "/oauth2/authorize?x=\u2028",
		"fullwidth solidus":             "/\uff0fevil.example",
		"encoded slash":                 "/oauth2%2Fauthorize",
		"encoded leading slash":         "/%2Fevil.example/oauth2/authorize",
		"encoded backslash":             "/%5Cevil.example/oauth2/authorize",
		"encoded dots":                  "/oauth2/%2e%2e/authorize",
		"dot segments":                  "/oauth2/../oauth2/authorize",
		"dot segment after":             "/oauth2/authorize/..",
		"trailing slash":                "/oauth2/authorize/",
		"other case":                    "/OAuth2/Authorize",
		"prefix of an allowed path":     "/oauth2/auth",
		"allowed path as a prefix":      "/oauth2/authorizeX",
		"sub-path":                      "/oauth2/authorize/x",
		"fragment":                      "/oauth2/authorize#x",
		"bad query encoding":            "/oauth2/authorize?x=%zz",
		"semicolon in query":            "/oauth2/authorize?a=1;b=2",
		"too long":                      "/oauth2/authorize?x=" + strings.Repeat("a", MaxReturnToLen),
		"path not allowed":              "/admin",
		"the sign-in page":              "/signin",
	}
	for name, raw := range refused {
		t.Run(name, func(t *testing.T) {
			if got := ReturnTo(raw, returnPaths); got != "" {
				t.Fatalf("ReturnTo(%q) = %q, want it dropped", raw, got)
			}
		})
	}
	if got := ReturnTo("/oauth2/authorize", nil); got != "" {
		t.Fatalf("with no return paths: %q", got)
	}
}

// FuzzReturnTo checks the property behind ReturnTo: whatever it accepts,
// resolved against the gateway's own URL as a browser would, stays on the
// gateway, at an allowed path, and parses as a URL with no scheme, host or
// userinfo.
func FuzzReturnTo(f *testing.F) {
	for _, seed := range []string{
		"/oauth2/authorize?client_id=c1&state=x", "//evil.example/oauth2/authorize",
		"/\\evil.example", "/oauth2%2Fauthorize", "/oauth2/authorize#x", "/consent?",
		"https://evil.example/consent", "/oauth2/authorize?x=%zz", "/consent/../oauth2/authorize",
	} {
		f.Add(seed)
	}
	base, _ := url.Parse("https://gateway.example/signin")
	f.Fuzz(func(t *testing.T, raw string) {
		got := ReturnTo(raw, returnPaths)
		if got == "" {
			return
		}
		if got != raw {
			t.Fatalf("ReturnTo(%q) changed it to %q", raw, got)
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("accepted %q does not parse: %v", got, err)
		}
		if u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || u.Fragment != "" {
			t.Fatalf("accepted %q has a scheme, host, userinfo, opaque part or fragment: %#v", got, u)
		}
		if !contains(returnPaths, u.Path) || u.RawPath != "" {
			t.Fatalf("accepted %q has path %q (raw %q), not an allowed one", got, u.Path, u.RawPath)
		}
		resolved := base.ResolveReference(u)
		if resolved.Host != base.Host || resolved.Scheme != base.Scheme {
			t.Fatalf("accepted %q resolves to %s", got, resolved)
		}
	})
}

// FuzzParseForm checks the sign-in form parser: it never panics, and what
// it accepts is what url.ParseQuery reads, with each field once.
func FuzzParseForm(f *testing.F) {
	for _, seed := range []string{
		"username=alice&password=x&csrf_token=t", "username=a&username=b", "a=%zz", "a=1;b=2",
		"&&=&", "password=%00%FF", "return_to=%2F%2Fevil.example",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, err := parseForm(body)
		if err != nil {
			return
		}
		want, wantErr := url.ParseQuery(body)
		if wantErr != nil {
			t.Fatalf("accepted %q, which url.ParseQuery refuses: %v", body, wantErr)
		}
		for name, values := range form {
			if len(values) != 1 || want.Get(name) != values[0] {
				t.Fatalf("field %q = %q, url.ParseQuery gives %q", name, values, want[name])
			}
		}
	})
}
