// Package throttle slows down password guessing: it counts failed logins per
// client ID and refuses further attempts for the rest of a window once too
// many have failed. It never locks a client out for good: when the window
// ends, the right secret works again.
package throttle

import (
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

// Throttle counts failures per key in fixed windows. It is safe for concurrent
// use. Keys are bounded by an LRU, so a flood of made-up client IDs cannot grow
// it without limit; the cost is that such a flood can evict a real client's
// count, which only ever makes the throttle more lenient, never stricter.
type Throttle struct {
	limit  int
	window time.Duration

	mu      sync.Mutex
	windows *lru.Cache[string, window]
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
	cache, _ := lru.New[string, window](size) // only fails for size <= 0
	return &Throttle{limit: limit, window: windowLength, windows: cache}
}

// Blocked reports whether key has used up its failures in the current window,
// and if so how long until it may try again (rounded up to whole seconds, as
// Retry-After wants).
func (t *Throttle) Blocked(key string, now time.Time) (retryAfter time.Duration, blocked bool) {
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
func (t *Throttle) Fail(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	w, ok := t.windows.Get(key)
	if !ok || !now.Before(w.start.Add(t.window)) {
		w = window{start: now}
	}
	w.failures++
	t.windows.Add(key, w)
}

// Succeed forgets key's failures after a successful login.
func (t *Throttle) Succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.windows.Remove(key)
}
