package oauth

import (
	"net/netip"
	"strings"
)

// This file holds the rules of web origins (RFC 6454): what a browser's
// Origin header may be, and which origins a client's redirect URIs give
// it. The CORS answers of the authorization server's endpoints rest on
// them.

// ValidOrigin reports whether s is one serialized origin as browsers write
// it in the Origin header (RFC 6454 §6.2, Fetch §3.2.5): a scheme, "://",
// a host and an optional port, in lower case, with nothing after. "null"
// (an opaque origin: a sandboxed frame, a file, a redirect across
// origins), a path, a trailing slash, user info, a port over 65535 or with
// a leading zero, percent-encoding, white space or control characters are
// not. It is at most MaxURILength bytes, as a redirect URI whose origin it
// may be.
func ValidOrigin(s string) bool {
	if len(s) > MaxURILength {
		return false
	}
	i := strings.Index(s, "://")
	if i <= 0 || !validOriginScheme(s[:i]) {
		return false
	}
	host := s[i+len("://"):]
	if j := strings.LastIndexByte(host, ':'); j >= 0 && !strings.HasSuffix(host, "]") {
		if !validPort(host[j+1:]) {
			return false
		}
		host = host[:j]
	}
	if strings.HasPrefix(host, "[") {
		return validOriginIPv6(host)
	}
	return validOriginHostName(host)
}

// validOriginScheme reports whether s is a URI scheme (RFC 3986 §3.1) in
// lower case.
func validOriginScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// validOriginHostName reports whether s is a host name or IPv4 address as
// browsers serialize it: dot-separated non-empty labels of lower-case
// letters, digits, hyphens and underscores (international names arrive in
// punycode).
func validOriginHostName(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validOriginIPv6 reports whether s is a bracketed IPv6 literal without a
// zone, in lower-case hex.
func validOriginIPv6(s string) bool {
	if len(s) < 2 || s[len(s)-1] != ']' {
		return false
	}
	inner := s[1 : len(s)-1]
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c == ':' || c == '.') {
			return false
		}
	}
	ip, err := netip.ParseAddr(inner)
	return err == nil && ip.Is6()
}

// RedirectURIsHaveOrigin reports whether origin, a serialized origin
// (ValidOrigin), is the origin of one of a client's registered redirect
// URIs, as Keycloak's "+" web origins are: the URI is origin followed by
// a path, a query or nothing. Scheme and host compare without regard to
// case, as they do in URIs; a URI that spells its scheme's default port
// (https://app.example:443/cb) has the origin without it, as browsers
// write it. The port is otherwise compared as it is, loopback URIs
// included: a page on another port is another origin, whatever
// RedirectURIMatches allows a native app's redirect. It allocates
// nothing, as it runs on each token request a browser sends.
func RedirectURIsHaveOrigin(registered []string, origin string) bool {
	if !ValidOrigin(origin) {
		return false
	}
	for _, r := range registered {
		if len(r) >= len(origin) && strings.EqualFold(r[:len(origin)], origin) &&
			endsAuthority(withoutDefaultPort(r[len(origin):], origin)) {
			return true
		}
	}
	return false
}

// withoutDefaultPort returns rest, what follows an origin in a URI, without
// a leading ":443" (https) or ":80" (http) when the origin names no port of
// its own.
func withoutDefaultPort(rest, origin string) string {
	if strings.LastIndexByte(origin, ':') > strings.Index(origin, "://") && !strings.HasSuffix(origin, "]") {
		return rest // the origin has a port
	}
	switch {
	case strings.HasPrefix(origin, "https://"):
		return strings.TrimPrefix(rest, ":443")
	case strings.HasPrefix(origin, "http://"):
		return strings.TrimPrefix(rest, ":80")
	}
	return rest
}

// endsAuthority reports whether rest, what follows an origin in a URI,
// leaves the URI's authority as it was: nothing, a path or a query.
func endsAuthority(rest string) bool {
	return rest == "" || rest[0] == '/' || rest[0] == '?'
}
