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
// registered ones by RedirectURIMatches.
func ValidRedirectURI(s string) bool {
	u, ok := parseAbsolute(s)
	if !ok || u.User != nil {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		return loopbackIP(u.Hostname())
	}
	return strings.Contains(u.Scheme, ".")
}

// loopbackIP reports whether host is a loopback IP literal without a zone:
// 127.0.0.0/8, ::1, or 127.0.0.0/8 mapped into IPv6. A name such as
// "localhost" is not one.
func loopbackIP(host string) bool {
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback() && ip.Zone() == ""
}

// RedirectURIMatches reports whether got is one of the registered redirect
// URIs, by simple string comparison (RFC 9700 §4.1.3, RFC 6749 §3.1.2.3):
// no normalisation of case, percent-encoding, default ports or trailing
// slashes, and no patterns. The one exception is RFC 8252 §7.3's: when the
// registered URI is an http URI on a loopback IP literal, its scheme written
// in lower case (http://127.0.0.1:PORT/… or http://[::1]:PORT/…), got may
// name any port (1 to 65535, written without leading zeros) or none,
// because a native app listens on a port the system gives it at run time;
// everything else, the host's spelling included, must still be the same
// string. "localhost" gets no such exception: a name can resolve elsewhere
// (RFC 8252 §8.3).
func RedirectURIMatches(registered []string, got string) bool {
	for _, r := range registered {
		if r == got || loopbackAtAnotherPort(r, got) {
			return true
		}
	}
	return false
}

// loopbackAtAnotherPort reports whether got is the loopback redirect URI
// registered with its port changed, added or left out.
func loopbackAtAnotherPort(registered, got string) bool {
	origin, rest, ok := splitLoopbackRedirect(registered)
	if !ok || !strings.HasPrefix(got, origin) {
		return false
	}
	tail := got[len(origin):]
	if tail == rest {
		return true
	}
	if tail == "" || tail[0] != ':' {
		return false
	}
	port := tail[1:]
	n := 0
	for n < len(port) && port[n] >= '0' && port[n] <= '9' {
		n++
	}
	return validPort(port[:n]) && port[n:] == rest
}

// splitLoopbackRedirect splits an http URI on a loopback IP literal into
// its scheme and host ("http://127.0.0.1", "http://[::1]") and what follows
// the port (path and query), dropping the port. ok is false for any other
// URI, and for one with user info.
func splitLoopbackRedirect(s string) (origin, rest string, ok bool) {
	const scheme = "http://"
	if !strings.HasPrefix(s, scheme) {
		return "", "", false
	}
	authority := s[len(scheme):]
	if i := strings.IndexAny(authority, "/?#"); i >= 0 {
		authority, rest = authority[:i], authority[i:]
	}
	host := authority
	if i := strings.LastIndexByte(authority, ':'); i >= 0 && !strings.HasSuffix(authority, "]") {
		host = authority[:i]
		if !validPort(authority[i+1:]) {
			return "", "", false
		}
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		if !loopbackIP(host[1:len(host)-1]) || !strings.Contains(host, ":") {
			return "", "", false
		}
	} else if strings.Contains(host, ":") || !loopbackIP(host) {
		return "", "", false
	}
	return scheme + host, rest, true
}

// validPort reports whether s is a TCP port from 1 to 65535 in decimal
// without leading zeros.
func validPort(s string) bool {
	if s == "" || len(s) > 5 || s[0] == '0' {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n <= 65535
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
