// Package ipallow holds per-client IP allowlists: CIDR prefixes and bare
// addresses, IPv4 and IPv6, parsed once with net/netip and matched without
// allocating on every request.
package ipallow

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// MaxEntries is the most entries one allowlist may hold. Contains scans the
// list, so the cap bounds the work per request; 256 prefixes are far more
// than a client's egress addresses, which can be summarised by CIDR anyway.
const MaxEntries = 256

// maxEntryLen bounds an entry before it is parsed. The longest canonical
// entry, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128", is 49 bytes;
// the slack admits leading zeros such as "0000:…".
const maxEntryLen = 64

// ErrTooMany: the list has more than MaxEntries entries.
var ErrTooMany = errors.New("ip allowlist has more than 256 entries")

// EntryError reports why one entry of a list was refused. It names the entry
// by its 0-based index and never repeats its text.
type EntryError struct {
	// Index is the 0-based position of the entry in the list given to Parse.
	Index int
	// Reason says, briefly, what is wrong.
	Reason string
}

// Error returns, for example, "ip allowlist entry 2: prefix length out of range".
func (e *EntryError) Error() string {
	return fmt.Sprintf("ip allowlist entry %d: %s", e.Index, e.Reason)
}

// Reasons an entry is refused.
const (
	reasonEmpty     = "empty"
	reasonTooLong   = "too long to be an address or prefix"
	reasonSpace     = "contains white space"
	reasonZone      = "IPv6 zones are not allowed"
	reasonPrefixLen = "prefix length out of range"
	reasonMapped    = "IPv4-mapped prefix shorter than /96"
	reasonSyntax    = "not an IP address or CIDR prefix"
)

// List is an allowlist of normalised prefixes: masked, IPv4 as IPv4 (never
// IPv4-mapped IPv6), no zones, no duplicates. It is exactly []netip.Prefix so
// that a stored client's allowlist converts to it without copying. An empty
// List allows every address.
type List []netip.Prefix

// Parse turns allowlist entries into a List. Each entry is a CIDR prefix
// ("10.0.0.0/8", "2001:db8::/32") or a bare address, which becomes a /32 or
// /128. Entries are normalised:
//
//   - an IPv4-mapped IPv6 entry ("::ffff:10.0.0.1", "::ffff:10.0.0.0/104")
//     becomes the IPv4 one ("10.0.0.1/32", "10.0.0.0/8"), because Contains
//     matches client addresses in their unmapped form;
//   - host bits after the prefix length are cleared ("10.0.0.5/8" becomes
//     "10.0.0.0/8"), so what is stored and shown is what is enforced;
//   - duplicates (after normalisation) are dropped, keeping the first.
//
// Refused, with an *EntryError naming the index: empty entries, white space,
// IPv6 zones ("fe80::1%eth0"), out-of-range lengths ("10.0.0.0/33"),
// malformed addresses ("300.1.1.1/8", "1.2.3") and host names. More than
// MaxEntries entries fail with ErrTooMany. A nil or empty slice gives an
// empty List, which allows any address.
func Parse(entries []string) (List, error) {
	if len(entries) > MaxEntries {
		return nil, ErrTooMany
	}
	if len(entries) == 0 {
		return nil, nil
	}
	out := make(List, 0, len(entries))
	for i, entry := range entries {
		p, reason := parseEntry(entry)
		if reason != "" {
			return nil, &EntryError{Index: i, Reason: reason}
		}
		if !out.has(p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// has reports whether l holds exactly p; a linear scan is fine for at most
// MaxEntries prefixes parsed once.
func (l List) has(p netip.Prefix) bool {
	for _, q := range l {
		if q == p {
			return true
		}
	}
	return false
}

// parseEntry parses and normalises one entry, or returns why it cannot.
func parseEntry(entry string) (netip.Prefix, string) {
	switch {
	case entry == "":
		return netip.Prefix{}, reasonEmpty
	case len(entry) > maxEntryLen:
		return netip.Prefix{}, reasonTooLong
	case strings.ContainsAny(entry, " \t\r\n\v\f"):
		return netip.Prefix{}, reasonSpace
	case strings.IndexByte(entry, '%') >= 0:
		return netip.Prefix{}, reasonZone
	}
	addrText, _, isPrefix := strings.Cut(entry, "/")
	addr, err := netip.ParseAddr(addrText)
	if err != nil {
		return netip.Prefix{}, reasonSyntax
	}
	bits := addr.BitLen()
	if isPrefix {
		p, err := netip.ParsePrefix(entry)
		if err != nil {
			// The address parsed, so the length is what is wrong.
			return netip.Prefix{}, reasonPrefixLen
		}
		bits = p.Bits()
	}
	if addr.Is4In6() {
		if bits < 96 {
			return netip.Prefix{}, reasonMapped
		}
		addr, bits = addr.Unmap(), bits-96
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return netip.Prefix{}, reasonPrefixLen
	}
	return p, ""
}

// Contains reports whether addr is allowed. An empty list allows every
// address, including the zero Addr: it means no restriction. A non-empty
// list never allows an invalid (zero) address. IPv4-mapped IPv6 addresses
// are matched as IPv4, and a link-local address's zone is ignored, since
// entries cannot name one. Contains does not allocate.
func (l List) Contains(addr netip.Addr) bool {
	if len(l) == 0 {
		return true
	}
	if !addr.IsValid() {
		return false
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		return l.contains4(addr.As4())
	}
	for _, p := range l {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// contains4 is Contains for an IPv4 address, comparing 32-bit integers; it
// is about twice as fast as netip.Prefix.Contains over a long list. It does
// not rely on the prefixes being masked, so lists that bypassed Parse match
// as netip would match them.
func (l List) contains4(a [4]byte) bool {
	ip := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	for _, p := range l {
		pa := p.Addr()
		if !pa.Is4() {
			continue
		}
		bits := p.Bits()
		if bits == 0 {
			return true
		}
		if bits < 0 || bits > 32 {
			continue
		}
		b := pa.As4()
		pip := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		if (ip^pip)>>(32-bits) == 0 {
			return true
		}
	}
	return false
}

// Strings returns the prefixes in canonical text ("10.0.0.0/8",
// "2001:db8::/32"), in list order, for storage and display.
func (l List) Strings() []string {
	if len(l) == 0 {
		return nil
	}
	out := make([]string, len(l))
	for i, p := range l {
		out[i] = p.String()
	}
	return out
}

// Len returns the number of prefixes.
func (l List) Len() int { return len(l) }

// IsEmpty reports whether the list is empty, that is, allows every address.
func (l List) IsEmpty() bool { return len(l) == 0 }

// maxAddrLen bounds ParseAddr's input: a bracketed IPv6 address with a zone
// and a port stays well under it.
const maxAddrLen = 128

// ErrBadAddr: ParseAddr could not find an IP address in its input.
var ErrBadAddr = errors.New("not an IP address")

// ParseAddr parses a client address given as "ip", "ip:port", "[ipv6]" or
// "[ipv6]:port" and returns the IP, unmapped (an IPv4-mapped IPv6 address is
// returned as IPv4). A zone, if any, is kept. The error never repeats the
// input.
func ParseAddr(s string) (netip.Addr, error) {
	if s == "" || len(s) > maxAddrLen {
		return netip.Addr{}, ErrBadAddr
	}
	if addr, err := netip.ParseAddr(s); err == nil {
		return addr.Unmap(), nil
	}
	if inner, ok := strings.CutPrefix(s, "["); ok {
		if inner, ok := strings.CutSuffix(inner, "]"); ok {
			if addr, err := netip.ParseAddr(inner); err == nil && addr.Is6() {
				return addr.Unmap(), nil
			}
			return netip.Addr{}, ErrBadAddr
		}
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.Addr{}, ErrBadAddr
	}
	return ap.Addr().Unmap(), nil
}
