package ipallow

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		entries []string
		want    []string // Strings() of the result
		wantIdx int      // index in the EntryError, when wantMsg is set
		wantMsg string
	}{
		{name: "nil", entries: nil, want: nil},
		{name: "empty slice", entries: []string{}, want: nil},
		{name: "ipv4 prefix", entries: []string{"10.0.0.0/8"}, want: []string{"10.0.0.0/8"}},
		{name: "bare ipv4 is /32", entries: []string{"192.0.2.7"}, want: []string{"192.0.2.7/32"}},
		{name: "ipv6 prefix", entries: []string{"2001:db8::/32"}, want: []string{"2001:db8::/32"}},
		{name: "bare ipv6 is /128", entries: []string{"2001:db8::1"}, want: []string{"2001:db8::1/128"}},
		{name: "ipv6 canonicalised", entries: []string{"2001:DB8:0:0:0:0:0:1"}, want: []string{"2001:db8::1/128"}},
		{name: "host bits cleared", entries: []string{"10.0.0.5/8"}, want: []string{"10.0.0.0/8"}},
		{name: "ipv6 host bits cleared", entries: []string{"2001:db8::1/32"}, want: []string{"2001:db8::/32"}},
		{name: "mapped address unmapped", entries: []string{"::ffff:10.0.0.1"}, want: []string{"10.0.0.1/32"}},
		{name: "mapped prefix unmapped", entries: []string{"::ffff:10.1.2.3/104"}, want: []string{"10.0.0.0/8"}},
		{name: "mapped /96 is everything v4", entries: []string{"::ffff:0.0.0.0/96"}, want: []string{"0.0.0.0/0"}},
		{name: "zero prefixes", entries: []string{"0.0.0.0/0", "::/0"}, want: []string{"0.0.0.0/0", "::/0"}},
		{name: "duplicates after normalisation", entries: []string{"10.0.0.1", "10.0.0.1/32", "::ffff:10.0.0.1", "10.0.0.0/8", "10.9.9.9/8"}, want: []string{"10.0.0.1/32", "10.0.0.0/8"}},
		{name: "order kept", entries: []string{"2001:db8::/32", "192.0.2.0/24"}, want: []string{"2001:db8::/32", "192.0.2.0/24"}},

		{name: "empty entry", entries: []string{"10.0.0.0/8", ""}, wantIdx: 1, wantMsg: "ip allowlist entry 1: empty"},
		{name: "prefix too long v4", entries: []string{"10.0.0.0/33"}, wantIdx: 0, wantMsg: "ip allowlist entry 0: prefix length out of range"},
		{name: "prefix too long v6", entries: []string{"::/129"}, wantIdx: 0, wantMsg: "ip allowlist entry 0: prefix length out of range"},
		{name: "negative prefix", entries: []string{"10.0.0.0/-1"}, wantIdx: 0, wantMsg: "ip allowlist entry 0: prefix length out of range"},
		{name: "missing prefix length", entries: []string{"10.0.0.0/"}, wantIdx: 0, wantMsg: "ip allowlist entry 0: prefix length out of range"},
		{name: "leading zero in length", entries: []string{"10.0.0.0/08"}, wantIdx: 0, wantMsg: "ip allowlist entry 0: prefix length out of range"},
		{name: "two slashes", entries: []string{"10.0.0.0/8/8"}, wantIdx: 0, wantMsg: "ip allowlist entry 0: prefix length out of range"},
		{name: "octet out of range", entries: []string{"300.1.1.1/8"}, wantIdx: 0, wantMsg: "ip allowlist entry 0: not an IP address or CIDR prefix"},
		{name: "three octets", entries: []string{"1.2.3"}, wantIdx: 0, wantMsg: "ip allowlist entry 0: not an IP address or CIDR prefix"},
		{name: "leading zero octet", entries: []string{"010.0.0.1"}, wantIdx: 0, wantMsg: "ip allowlist entry 0: not an IP address or CIDR prefix"},
		{name: "hostname", entries: []string{"example.com"}, wantIdx: 0, wantMsg: "ip allowlist entry 0: not an IP address or CIDR prefix"},
		{name: "localhost", entries: []string{"localhost"}, wantIdx: 0, wantMsg: "ip allowlist entry 0: not an IP address or CIDR prefix"},
		{name: "address with port", entries: []string{"10.0.0.1:80"}, wantIdx: 0, wantMsg: "ip allowlist entry 0: not an IP address or CIDR prefix"},
		{name: "bracketed ipv6", entries: []string{"[::1]"}, wantIdx: 0, wantMsg: "ip allowlist entry 0: not an IP address or CIDR prefix"},
		{name: "leading space", entries: []string{" 10.0.0.1"}, wantIdx: 0, wantMsg: "ip allowlist entry 0: contains white space"},
		{name: "trailing newline", entries: []string{"10.0.0.1\n"}, wantIdx: 0, wantMsg: "ip allowlist entry 0: contains white space"},
		{name: "space before length", entries: []string{"10.0.0.0/ 8"}, wantIdx: 0, wantMsg: "ip allowlist entry 0: contains white space"},
		{name: "zone", entries: []string{"fe80::1%eth0"}, wantIdx: 0, wantMsg: "ip allowlist entry 0: IPv6 zones are not allowed"},
		{name: "zone in prefix", entries: []string{"fe80::1%eth0/64"}, wantIdx: 0, wantMsg: "ip allowlist entry 0: IPv6 zones are not allowed"},
		{name: "mapped prefix too short", entries: []string{"::ffff:10.0.0.0/95"}, wantIdx: 0, wantMsg: "ip allowlist entry 0: IPv4-mapped prefix shorter than /96"},
		{name: "huge entry", entries: []string{strings.Repeat("1", 1<<16)}, wantIdx: 0, wantMsg: "ip allowlist entry 0: too long to be an address or prefix"},
		{name: "third entry bad", entries: []string{"10.0.0.0/8", "::1", "<script>"}, wantIdx: 2, wantMsg: "ip allowlist entry 2: not an IP address or CIDR prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.entries)
			if tt.wantMsg != "" {
				var ee *EntryError
				if !errors.As(err, &ee) {
					t.Fatalf("Parse() error = %v, want *EntryError", err)
				}
				if ee.Index != tt.wantIdx {
					t.Errorf("Index = %d, want %d", ee.Index, tt.wantIdx)
				}
				if err.Error() != tt.wantMsg {
					t.Errorf("message = %q, want %q", err.Error(), tt.wantMsg)
				}
				if got != nil {
					t.Errorf("Parse() = %v with an error, want nil", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if s := got.Strings(); !slices.Equal(s, tt.want) {
				t.Errorf("Strings() = %q, want %q", s, tt.want)
			}
			if got.Len() != len(tt.want) || got.IsEmpty() != (len(tt.want) == 0) {
				t.Errorf("Len() = %d, IsEmpty() = %v for %q", got.Len(), got.IsEmpty(), tt.want)
			}
		})
	}
}

func TestParseLimit(t *testing.T) {
	entries := make([]string, 0, MaxEntries+1)
	for i := range MaxEntries {
		entries = append(entries, fmt.Sprintf("10.0.%d.%d", i/256, i%256))
	}
	l, err := Parse(entries)
	if err != nil {
		t.Fatalf("Parse(%d entries) = %v", len(entries), err)
	}
	if l.Len() != MaxEntries {
		t.Fatalf("Len() = %d, want %d", l.Len(), MaxEntries)
	}
	entries = append(entries, "10.1.0.0")
	if _, err := Parse(entries); !errors.Is(err, ErrTooMany) {
		t.Fatalf("Parse(%d entries) error = %v, want ErrTooMany", len(entries), err)
	}
}

func TestErrorsNeverEchoInput(t *testing.T) {
	for _, entry := range []string{"uniqueMarker", "\r\nX: y", `"10.0.0.1"`, "<script>", "10.0.0.0/33marker"} {
		_, err := Parse([]string{entry})
		if err == nil {
			t.Fatalf("Parse(%q) accepted", entry)
		}
		for _, bad := range []string{"uniqueMarker", "marker", "\r", "\n", `"`, "<"} {
			if strings.Contains(err.Error(), bad) {
				t.Errorf("error %q for %q contains %q", err, entry, bad)
			}
		}
	}
}

func mustParse(t testing.TB, entries ...string) List {
	t.Helper()
	l, err := Parse(entries)
	if err != nil {
		t.Fatalf("Parse(%q) = %v", entries, err)
	}
	return l
}

func TestContains(t *testing.T) {
	mixed := mustParse(t, "10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "fe80::/10")
	mapped := mustParse(t, "::ffff:198.51.100.0/120")
	tests := []struct {
		name string
		list List
		addr netip.Addr
		want bool
	}{
		{name: "empty list allows any", list: nil, addr: netip.MustParseAddr("203.0.113.1"), want: true},
		{name: "empty list allows zero addr", list: List{}, addr: netip.Addr{}, want: true},
		{name: "zero addr refused", list: mixed, addr: netip.Addr{}, want: false},
		{name: "in v4 prefix", list: mixed, addr: netip.MustParseAddr("10.200.3.4"), want: true},
		{name: "outside v4 prefix", list: mixed, addr: netip.MustParseAddr("11.0.0.1"), want: false},
		{name: "bare v4 match", list: mixed, addr: netip.MustParseAddr("192.0.2.7"), want: true},
		{name: "bare v4 neighbour", list: mixed, addr: netip.MustParseAddr("192.0.2.8"), want: false},
		{name: "mapped client address matches v4 entry", list: mixed, addr: netip.MustParseAddr("::ffff:10.1.1.1"), want: true},
		{name: "mapped client address outside", list: mixed, addr: netip.MustParseAddr("::ffff:11.1.1.1"), want: false},
		{name: "in v6 prefix", list: mixed, addr: netip.MustParseAddr("2001:db8:1::5"), want: true},
		{name: "outside v6 prefix", list: mixed, addr: netip.MustParseAddr("2001:db9::1"), want: false},
		{name: "zone ignored", list: mixed, addr: netip.MustParseAddr("fe80::1%eth0"), want: true},
		{name: "v4 never matches a v6 prefix", list: mustParse(t, "::/0"), addr: netip.MustParseAddr("10.0.0.1"), want: false},
		{name: "v6 never matches a v4 prefix", list: mustParse(t, "0.0.0.0/0"), addr: netip.MustParseAddr("2001:db8::1"), want: false},
		{name: "mapped entry matches plain v4", list: mapped, addr: netip.MustParseAddr("198.51.100.9"), want: true},
		{name: "mapped entry matches mapped", list: mapped, addr: netip.MustParseAddr("::ffff:198.51.100.9"), want: true},
		{name: "loopback not implied", list: mixed, addr: netip.MustParseAddr("127.0.0.1"), want: false},
		// Lists that bypassed Parse (decoded straight from storage).
		{name: "unmasked stored prefix still matches", list: List{netip.MustParsePrefix("10.0.0.5/8")}, addr: netip.MustParseAddr("10.9.9.9"), want: true},
		{name: "v4 in 0.0.0.0/0", list: mustParse(t, "0.0.0.0/0"), addr: netip.MustParseAddr("203.0.113.200"), want: true},
		{name: "v4 /31 edge", list: mustParse(t, "192.0.2.254/31"), addr: netip.MustParseAddr("192.0.2.255"), want: true},
		{name: "v4 /31 outside", list: mustParse(t, "192.0.2.254/31"), addr: netip.MustParseAddr("192.0.2.253"), want: false},
		{name: "invalid stored prefix never matches", list: List{netip.PrefixFrom(netip.MustParseAddr("10.0.0.0"), 40)}, addr: netip.MustParseAddr("10.0.0.0"), want: false},
		{name: "mapped stored prefix never matches", list: List{netip.MustParsePrefix("::ffff:10.0.0.0/104")}, addr: netip.MustParseAddr("10.0.0.1"), want: false},
		{name: "zero stored prefix never matches", list: List{{}}, addr: netip.MustParseAddr("10.9.9.9"), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.list.Contains(tt.addr); got != tt.want {
				t.Errorf("Contains(%v) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
}

func TestListConvertsFromStoredPrefixes(t *testing.T) {
	// The guard converts a stored []netip.Prefix with no copy.
	stored := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	if !List(stored).Contains(netip.MustParseAddr("192.0.2.1")) {
		t.Fatal("converted list refused an address inside it")
	}
}

func TestContainsDoesNotAllocate(t *testing.T) {
	entries := make([]string, 0, MaxEntries)
	for i := range MaxEntries - 1 {
		entries = append(entries, fmt.Sprintf("2001:db8:%x::/48", i))
	}
	entries = append(entries, "10.0.0.0/8")
	l := mustParse(t, entries...)
	addrs := []netip.Addr{
		netip.MustParseAddr("10.1.2.3"),
		netip.MustParseAddr("::ffff:10.1.2.3"),
		netip.MustParseAddr("fe80::1%eth0"),
		netip.MustParseAddr("192.0.2.1"),
	}
	for _, a := range addrs {
		if n := testing.AllocsPerRun(100, func() { _ = l.Contains(a) }); n != 0 {
			t.Errorf("Contains(%v): %v allocations, want 0", a, n)
		}
	}
}

func TestParseAddr(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{name: "ipv4", in: "192.0.2.1", want: "192.0.2.1"},
		{name: "ipv6", in: "2001:db8::1", want: "2001:db8::1"},
		{name: "mapped unmapped", in: "::ffff:192.0.2.1", want: "192.0.2.1"},
		{name: "ipv4 with port", in: "192.0.2.1:8443", want: "192.0.2.1"},
		{name: "ipv6 with port", in: "[2001:db8::1]:443", want: "2001:db8::1"},
		{name: "mapped with port", in: "[::ffff:192.0.2.1]:443", want: "192.0.2.1"},
		{name: "bracketed ipv6", in: "[2001:db8::1]", want: "2001:db8::1"},
		{name: "zone kept", in: "fe80::1%eth0", want: "fe80::1%eth0"},
		{name: "zone with port", in: "[fe80::1%eth0]:80", want: "fe80::1%eth0"},
		{name: "empty", in: "", wantErr: true},
		{name: "hostname", in: "example.com", wantErr: true},
		{name: "hostname with port", in: "example.com:80", wantErr: true},
		{name: "bracketed ipv4", in: "[192.0.2.1]", wantErr: true},
		{name: "bracketed ipv4 with port", in: "[192.0.2.1]:80", wantErr: true},
		{name: "port out of range", in: "192.0.2.1:65536", wantErr: true},
		{name: "empty port", in: "192.0.2.1:", wantErr: true},
		{name: "prefix", in: "192.0.2.0/24", wantErr: true},
		{name: "spaces", in: " 192.0.2.1", wantErr: true},
		{name: "unbalanced bracket", in: "[2001:db8::1", wantErr: true},
		{name: "huge", in: strings.Repeat("1", 1<<16), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAddr(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrBadAddr) {
					t.Fatalf("ParseAddr() = %v, %v, want ErrBadAddr", got, err)
				}
				if got.IsValid() {
					t.Errorf("ParseAddr() returned %v with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAddr() error = %v", err)
			}
			if got.String() != tt.want {
				t.Errorf("ParseAddr() = %v, want %s", got, tt.want)
			}
		})
	}
}
