// Package throttle slows down password guessing: it counts failed logins per
// key and refuses further attempts under that key for the rest of a window
// once too many have failed. Nothing is locked out for good: when the window
// ends, attempts are checked again.
//
// A failed-login key always names the source of the attempts (see Key), never
// only the account they were made for. Client IDs and usernames are not
// secret; a throttle keyed by them alone would let anyone who knows one lock
// its owner out by failing on purpose. An Account-only key is right for one
// thing: limiting what an authenticated caller does itself (a client's own
// token revocations), where the only one it can slow down is the caller.
package throttle

import (
	"net/netip"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Defaults for New's zero arguments.
const (
	DefaultLimit  = 10
	DefaultWindow = time.Minute
	DefaultSize   = 10000
)

// ipv6SourceBits is the prefix length an IPv6 source is counted by. A single
// host is usually given a whole /64 and can pick any address in it, so
// counting per address would let it rotate past the limit.
const ipv6SourceBits = 64

// Key is what failures are counted against. It is comparable and allocation
// free, so looking one up on every login costs nothing.
type Key struct {
	// Source is the network the attempts come from: one IPv4 address (/32)
	// or one IPv6 /64. See SourceOf.
	Source netip.Prefix
	// Account, when set, narrows the key to attempts on one account from
	// Source, such as a username at a sign-in page, so that a source is
	// throttled per account it tries. Client logins leave it empty: they
	// are counted per source alone, whatever client ID they name.
	Account string
}

// SourceOf returns the key of every attempt from addr: its IPv4 address, or
// the /64 of its IPv6 address (IPv4-mapped IPv6 counts as IPv4). An invalid
// addr (a request whose address is unknown) gives the zero Source, which all
// such attempts share.
func SourceOf(addr netip.Addr) Key {
	addr = addr.Unmap().WithZone("")
	bits := 32
	if addr.Is6() {
		bits = ipv6SourceBits
	}
	source, _ := addr.Prefix(bits) // fails only for an invalid addr: zero
	return Key{Source: source}
}

// Throttle counts failures per key in fixed windows. It is safe for concurrent
// use. Keys are bounded by an LRU, so a flood from many sources cannot grow it
// without limit; the cost is that such a flood can evict another source's
// count, which only ever makes the throttle more lenient, never stricter.
type Throttle struct {
	limit  int
	window time.Duration

	mu      sync.Mutex
	windows *lru.Cache[Key, window]
}

// window is one key's failures since start.
type window struct {
	start    time.Time
	failures int
}

// New returns a throttle that allows limit failures per key within window,
// tracking at most size keys. Zero values take the defaults.
func New(limit int, windowLength time.Duration, size int) *Throttle {
	if limit <= 0 {
		limit = DefaultLimit
	}
	if windowLength <= 0 {
		windowLength = DefaultWindow
	}
	if size <= 0 {
		size = DefaultSize
	}
	cache, _ := lru.New[Key, window](size) // only fails for size <= 0
	return &Throttle{limit: limit, window: windowLength, windows: cache}
}

// Blocked reports whether key has used up its failures in the current window,
// and if so how long until it may try again (rounded up to whole seconds, as
// Retry-After wants).
func (t *Throttle) Blocked(key Key, now time.Time) (retryAfter time.Duration, blocked bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	w, ok := t.windows.Peek(key)
	if !ok || w.failures < t.limit {
		return 0, false
	}
	end := w.start.Add(t.window)
	if !now.Before(end) {
		return 0, false
	}
	wait := end.Sub(now)
	if rem := wait % time.Second; rem != 0 {
		wait += time.Second - rem
	}
	return wait, true
}

// Fail records a failed attempt for key.
func (t *Throttle) Fail(key Key, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	w, ok := t.windows.Get(key)
	if !ok || !now.Before(w.start.Add(t.window)) {
		w = window{start: now}
	}
	w.failures++
	t.windows.Add(key, w)
}

// Forget drops key's failures, for a successful login on an Account key.
// Never call it for a source-only key: a source that also holds one valid
// credential (its own client) could then clear its count between guesses.
func (t *Throttle) Forget(key Key) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.windows.Remove(key)
}
