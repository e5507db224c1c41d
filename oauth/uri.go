package oauth

import (
	"net/netip"
	"net/url"
	"strings"
)

// This file is the one home of the URI rules: what a resource identifier
// (RFC 8707), an issuer identifier (RFC 8414) and a redirect URI (RFC 6749
// §3.1.2, RFC 8252, RFC 9700) may be. The token endpoint, the registry and
// the Caddy configuration all check URIs here, so that a value one of them
// accepts is never refused by another.

// MaxURILength is the longest URI accepted anywhere, in bytes: a resource
// parameter, a client's audience or redirect URI, a guard's resource, the
// issuer.
const MaxURILength = 2 << 10

// ValidResource reports whether s is a resource identifier (RFC 8707 §2): an
// absolute URI without a fragment, at most MaxURILength bytes of printable
// ASCII; an http or https URI must name a host. It is the rule for the
// resource parameter of a token request, a client's audience entries and the
// resource identifiers the server itself announces, so that clients can
// always request those.
func ValidResource(s string) bool {
	_, ok := parseAbsolute(s)
	return ok
}

// ValidIssuer reports whether s may be the server's issuer identifier (RFC
// 8414 §2, RFC 9207): an http or https URL with a host, without user info,
// query or fragment, at most MaxURILength bytes of printable ASCII. RFC 8414
// asks for https; plain http is accepted for development behind a local
// address, as operators run the gateway that way first.
func ValidIssuer(s string) bool {
	u, ok := parseAbsolute(s)
	return ok && (u.Scheme == "https" || u.Scheme == "http") && u.User == nil && !u.ForceQuery && u.RawQuery == ""
}

// ValidRedirectURI reports whether s may be registered as a client's
// redirect URI. It must be an absolute URI of printable ASCII, at most
// MaxURILength bytes, without a fragment (RFC 6749 §3.1.2) or user info, and
// one of:
//
//   - an https URL with a host;
//   - an http URL whose host is a loopback IP literal, 127.0.0.0/8 or [::1],
//     for native apps (RFC 8252 §7.3); "localhost" is refused, as RFC 8252
//     §8.3 and RFC 9700 §2.1 advise, since a name can resolve elsewhere;
//   - a private-use scheme named after a reversed domain, such as
//     com.example.app:/callback (RFC 8252 §7.1): the dot in the scheme keeps
//     out javascript:, data:, file: and the like.
//
// A redirect URI received with a request is then compared with the
// registered ones by RedirectURIMatches, exactly.
func ValidRedirectURI(s string) bool {
	u, ok := parseAbsolute(s)
	if !ok || u.User != nil {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		ip, err := netip.ParseAddr(u.Hostname())
		return err == nil && ip.Unmap().IsLoopback() && ip.Zone() == ""
	}
	return strings.Contains(u.Scheme, ".")
}

// RedirectURIMatches reports whether got is one of the registered redirect
// URIs, by simple string comparison (RFC 9700 §4.1.3, RFC 6749 §3.1.2.3):
// no normalisation of case, percent-encoding, default ports or trailing
// slashes, and no patterns. The one exception RFC 8252 §7.3 makes, any
// port on a loopback redirect URI, is not made: a native app registers the
// port it listens on.
func RedirectURIMatches(registered []string, got string) bool {
	for _, r := range registered {
		if r == got {
			return true
		}
	}
	return false
}

// parseAbsolute parses s as an absolute URI without a fragment, of at most
// MaxURILength bytes of printable ASCII (RFC 3986 URIs are ASCII; white
// space and control characters never belong in one). An http or https URI
// must name a host, and any other must have something after its scheme.
func parseAbsolute(s string) (*url.URL, bool) {
	if s == "" || len(s) > MaxURILength {
		return nil, false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '#' {
			return nil, false
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return nil, false
	}
	if u.Scheme == "http" || u.Scheme == "https" {
		return u, u.Host != "" && u.Hostname() != ""
	}
	return u, u.Opaque != "" || u.Host != "" || u.Path != ""
}
