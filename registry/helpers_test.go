package registry

import (
	"context"
	"sync"
	"testing"
	"time"
)

// testClock is a settable clock for the Registry's Now hook.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// newTestRegistry returns a Registry over a fresh bbolt store with a test clock.
func newTestRegistry(t testing.TB, limits Limits) (*Registry, *testStore, *testClock) {
	t.Helper()
	store := newTestStore(t)
	clock := newTestClock()
	r := New(store, limits)
	r.Now = clock.Now
	return r, store, clock
}

// mustCreate creates a client from a JSON body and fails the test on error.
func mustCreate(t testing.TB, r *Registry, body string) (Client, string) {
	t.Helper()
	m, err := DecodeMetadata([]byte(body))
	if err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	c, secret, err := r.Create(context.Background(), m)
	if err != nil {
		t.Fatalf("create %s: %v", body, err)
	}
	return c, secret
}
