package throttle

import (
	"net/netip"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// key is the source key of address s.
func key(s string) Key { return SourceOf(netip.MustParseAddr(s)) }

func TestSourceOf(t *testing.T) {
	cases := []struct {
		name     string
		a, b     string
		sameKey  bool
		wantBits int
	}{
		{"one IPv4 address", "192.0.2.1", "192.0.2.1", true, 32},
		{"IPv4 neighbours are separate", "192.0.2.1", "192.0.2.2", false, 32},
		{"IPv6 in one /64 is one source", "2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", true, 64},
		{"IPv6 in the next /64 is another", "2001:db8:1:2::1", "2001:db8:1:3::1", false, 64},
		{"IPv4-mapped IPv6 is the IPv4 address", "::ffff:192.0.2.1", "192.0.2.1", true, 32},
		{"a zone changes nothing", "fe80::1%eth0", "fe80::2", true, 64},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ka, kb := key(tc.a), key(tc.b)
			if (ka == kb) != tc.sameKey {
				t.Fatalf("SourceOf(%s) = %v, SourceOf(%s) = %v; same: %v, want %v", tc.a, ka, tc.b, kb, ka == kb, tc.sameKey)
			}
			if ka.Source.Bits() != tc.wantBits || ka.Account != "" {
				t.Fatalf("SourceOf(%s) = %v, want a /%d and no account", tc.a, ka, tc.wantBits)
			}
		})
	}
	if k := SourceOf(netip.Addr{}); k != (Key{}) {
		t.Fatalf("SourceOf(invalid) = %v, want the zero key", k)
	}
}

func TestThrottleCountsPerKey(t *testing.T) {
	th := New(2, time.Minute, 10)
	attacker := key("192.0.2.66")
	th.Fail(attacker, t0)
	th.Fail(attacker, t0)
	if _, blocked := th.Blocked(attacker, t0); !blocked {
		t.Fatal("the failing source is not blocked")
	}
	for _, other := range []Key{
		key("192.0.2.7"),
		{Source: attacker.Source, Account: "alice"},
		SourceOf(netip.Addr{}),
	} {
		if _, blocked := th.Blocked(other, t0); blocked {
			t.Errorf("%v is blocked by another key's failures", other)
		}
	}
	// An account key counts on its own, and Forget clears it.
	alice := Key{Source: key("192.0.2.7").Source, Account: "alice"}
	th.Fail(alice, t0)
	th.Fail(alice, t0)
	if _, blocked := th.Blocked(alice, t0); !blocked {
		t.Fatal("the account key is not blocked")
	}
	if _, blocked := th.Blocked(Key{Source: alice.Source, Account: "bob"}, t0); blocked {
		t.Fatal("another account from the same source is blocked")
	}
	th.Forget(alice)
	if _, blocked := th.Blocked(alice, t0); blocked {
		t.Fatal("blocked after Forget")
	}
}

func TestThrottleKeysDoNotAllocate(t *testing.T) {
	th := New(10, time.Minute, 10)
	addr := netip.MustParseAddr("2001:db8::1")
	th.Fail(SourceOf(addr), t0)
	allocs := testing.AllocsPerRun(1000, func() {
		th.Blocked(SourceOf(addr), t0)
	})
	if allocs != 0 {
		t.Fatalf("SourceOf and Blocked allocate %v times, want 0", allocs)
	}
}

func TestThrottle(t *testing.T) {
	cases := []struct {
		name        string
		failures    int
		at          time.Duration // after the first failure
		wantBlocked bool
		wantRetry   time.Duration
	}{
		{"under the limit", 2, time.Second, false, 0},
		{"at the limit", 3, time.Second, true, 59 * time.Second},
		{"retry rounds up to a whole second", 3, 1500 * time.Millisecond, true, 59 * time.Second},
		{"window over", 3, time.Minute, false, 0},
		{"long after", 3, time.Hour, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			th := New(3, time.Minute, 10)
			for range tc.failures {
				th.Fail(key("192.0.2.1"), t0)
			}
			retry, blocked := th.Blocked(key("192.0.2.1"), t0.Add(tc.at))
			if blocked != tc.wantBlocked || retry != tc.wantRetry {
				t.Fatalf("Blocked = %v, %v; want %v, %v", retry, blocked, tc.wantRetry, tc.wantBlocked)
			}
			if _, other := th.Blocked(key("192.0.2.2"), t0.Add(tc.at)); other {
				t.Fatal("another key is blocked")
			}
		})
	}
}

func TestThrottleNewWindowStartsAfterTheOldEnds(t *testing.T) {
	c := key("192.0.2.1")
	th := New(2, time.Minute, 10)
	th.Fail(c, t0)
	th.Fail(c, t0.Add(time.Second))
	if _, blocked := th.Blocked(c, t0.Add(2*time.Second)); !blocked {
		t.Fatal("not blocked at the limit")
	}
	// One failure after the window: a fresh window with one failure.
	th.Fail(c, t0.Add(61*time.Second))
	if _, blocked := th.Blocked(c, t0.Add(62*time.Second)); blocked {
		t.Fatal("blocked after one failure in a new window")
	}
}

func TestThrottleIsBounded(t *testing.T) {
	th := New(1, time.Minute, 100)
	for i := range 1000 {
		th.Fail(SourceOf(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})), t0)
	}
	if n := th.windows.Len(); n != 100 {
		t.Fatalf("tracking %d keys, want at most 100", n)
	}
}

func TestThrottleConcurrent(t *testing.T) {
	c := key("2001:db8::1")
	th := New(1000, time.Minute, 10)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				th.Fail(c, t0)
				th.Blocked(c, t0)
			}
		}()
	}
	wg.Wait()
	if _, blocked := th.Blocked(c, t0); blocked {
		t.Fatal("800 failures blocked a limit of 1000")
	}
	th.Fail(c, t0)
	for range 199 {
		th.Fail(c, t0)
	}
	if _, blocked := th.Blocked(c, t0); !blocked {
		t.Fatal("1000 failures did not block")
	}
}
