package replica

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeFeed lists what snapshot holds and delivers what the test sends.
type fakeFeed struct {
	mu       sync.Mutex
	snapshot Snapshot
	lists    int
	batches  chan Batch
	endWatch chan error
}

func newFakeFeed(snap Snapshot) *fakeFeed {
	return &fakeFeed{snapshot: snap, batches: make(chan Batch), endWatch: make(chan error)}
}

func (f *fakeFeed) List(context.Context) (Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	return f.snapshot, nil
}

func (f *fakeFeed) Watch(ctx context.Context, _ string, _ int64, deliver func(Batch) error) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-f.endWatch:
			return err
		case b := <-f.batches:
			if err := deliver(b); err != nil {
				return err
			}
		}
	}
}

func (f *fakeFeed) setSnapshot(s Snapshot) {
	f.mu.Lock()
	f.snapshot = s
	f.mu.Unlock()
}

func kv(key, value string, rev int64) KV {
	return KV{Key: key, Value: []byte(value), CreateRevision: rev, ModRevision: rev}
}

func start(t *testing.T, f Feed) *Replica {
	t.Helper()
	r := New(f, Options{
		Decode:   func(key string, v []byte) (any, error) { return strings.ToUpper(string(v)), nil },
		RetryMin: time.Millisecond,
	})
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func keys(r *Replica, prefix string) string {
	var out []string
	r.Range(prefix, PrefixEnd(prefix), func(e *Entry) bool {
		out = append(out, e.Key+"="+e.Decoded.(string))
		return true
	})
	return strings.Join(out, ",")
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestApplyInOrder(t *testing.T) {
	f := newFakeFeed(Snapshot{KVs: []KV{kv("p/b", "b", 3), kv("p/a", "a", 2), kv("q/x", "x", 1)}, Revision: 5, History: "h1"})
	r := start(t, f)
	if got := keys(r, "p/"); got != "p/a=A,p/b=B" {
		t.Fatalf("after list: %s", got)
	}
	if n := r.Count("p/", PrefixEnd("p/")); n != 2 {
		t.Fatalf("Count = %d", n)
	}
	f.batches <- Batch{Events: []Event{{KV: kv("p/c", "c", 6)}, {KV: kv("p/a", "", 6), Deleted: true}}}
	if err := r.WaitFor(t.Context(), "h1", 6); err != nil {
		t.Fatal(err)
	}
	if got := keys(r, "p/"); got != "p/b=B,p/c=C" {
		t.Fatalf("after a batch: %s", got)
	}
	// A progress report moves the revision without events.
	f.batches <- Batch{Revision: 9}
	if err := r.WaitFor(t.Context(), "h1", 9); err != nil {
		t.Fatal(err)
	}
	if st := r.Status(); st.Revision != 9 || st.Lists != 1 || st.LastReset != nil {
		t.Fatalf("Status = %+v", st)
	}
	// A wait for a revision that never comes ends with its context.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := r.WaitFor(ctx, "h1", 100); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFor past the feed: %v", err)
	}
}

func TestRelistAndSwap(t *testing.T) {
	tests := []struct {
		name string
		end  func(f *fakeFeed)
		want error
	}{
		{"compacted", func(f *fakeFeed) { f.endWatch <- ErrCompacted }, ErrCompacted},
		{"watch closed", func(f *fakeFeed) { f.endWatch <- errors.New("closed") }, nil},
		{"event revision went backwards", func(f *fakeFeed) { f.batches <- Batch{Events: []Event{{KV: kv("p/z", "z", 3)}}} }, ErrReset},
		{"progress went backwards", func(f *fakeFeed) { f.batches <- Batch{Revision: 4} }, ErrReset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeFeed(Snapshot{KVs: []KV{kv("p/a", "a", 2), kv("p/b", "b", 3)}, Revision: 5, History: "h1"})
			r := start(t, f)
			// A writer waits for a revision of the old history; the swap to
			// another history releases it.
			waited := make(chan error, 1)
			go func() { waited <- r.WaitFor(t.Context(), "h1", 1000) }()
			waitUntil(t, "the writer waits", func() bool {
				r.mu.RLock()
				defer r.mu.RUnlock()
				return r.waiters == 1
			})
			// Another cluster, at a lower revision, with other content.
			f.setSnapshot(Snapshot{KVs: []KV{kv("p/b", "b2", 2), kv("p/c", "c", 2)}, Revision: 2, History: "h2"})
			tt.end(f)
			waitUntil(t, "the swap", func() bool { return r.Status().Lists == 2 })
			if got := keys(r, "p/"); got != "p/b=B2,p/c=C" {
				t.Fatalf("after the swap: %s", got)
			}
			st := r.Status()
			if st.Revision != 2 || (tt.want != nil && !errors.Is(st.LastReset, tt.want)) || st.LastReset == nil {
				t.Fatalf("Status = %+v, want revision 2 and a reset caused by %v", st, tt.want)
			}
			select {
			case err := <-waited:
				if err != nil {
					t.Fatalf("WaitFor across the swap: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("WaitFor still waiting after the swap")
			}
			// It follows the new history.
			f.batches <- Batch{Events: []Event{{KV: kv("p/d", "d", 3)}}}
			if err := r.WaitFor(t.Context(), "h2", 3); err != nil {
				t.Fatal(err)
			}
			if got := keys(r, "p/"); got != "p/b=B2,p/c=C,p/d=D" {
				t.Fatalf("after the swap and a batch: %s", got)
			}
		})
	}
}

// A list again within the same history does not release a writer whose
// revision it does not hold: the watch that follows brings it.
func TestRelistSameHistoryKeepsWaiting(t *testing.T) {
	f := newFakeFeed(Snapshot{KVs: []KV{kv("p/a", "a", 2)}, Revision: 5, History: "h"})
	r := start(t, f)
	waited := make(chan error, 1)
	go func() { waited <- r.WaitFor(t.Context(), "h", 8) }()
	waitUntil(t, "the writer waits", func() bool {
		r.mu.RLock()
		defer r.mu.RUnlock()
		return r.waiters == 1
	})
	f.setSnapshot(Snapshot{KVs: []KV{kv("p/a", "a", 2), kv("p/b", "b", 6)}, Revision: 7, History: "h"})
	f.endWatch <- errors.New("closed")
	waitUntil(t, "the list", func() bool { return r.Status().Lists == 2 })
	select {
	case err := <-waited:
		t.Fatalf("WaitFor(8) returned %v after a list at revision 7", err)
	default:
	}
	f.batches <- Batch{Events: []Event{{KV: kv("p/c", "c", 8)}}}
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
}

func TestForgetAndStatus(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := newFakeFeed(Snapshot{KVs: []KV{kv("r/1", "old", 2), kv("r/2", "new", 3), kv("s/1", "old", 4)}, Revision: 5, History: "h"})
	r := New(f, Options{Heartbeat: time.Second, Now: func() time.Time { return now }})
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Forget("r/", func(e *Entry) bool { return string(e.Value) == "old" })
	if _, ok := r.Get("r/1"); ok {
		t.Fatal("r/1 not forgotten")
	}
	if _, ok := r.Get("s/1"); !ok {
		t.Fatal("s/1 outside the prefix forgotten")
	}
	st := r.Status()
	for _, tt := range []struct {
		after            time.Duration
		degraded, stale1 bool
	}{
		{0, false, false},
		{3 * time.Second, false, false},
		{3*time.Second + 1, true, false},
		{time.Minute + 1, true, true},
	} {
		at := now.Add(tt.after)
		if st.Degraded(at) != tt.degraded || st.Stale(at, time.Minute) != tt.stale1 {
			t.Errorf("%v after contact: Degraded %v, Stale(1m) %v; want %v, %v", tt.after, st.Degraded(at), st.Stale(at, time.Minute), tt.degraded, tt.stale1)
		}
	}
	r.Close()
	if err := r.WaitFor(t.Context(), "h", 100); !errors.Is(err, ErrClosed) {
		t.Fatalf("WaitFor after Close: %v", err)
	}
}

func TestPrefixEnd(t *testing.T) {
	for in, want := range map[string]string{"a/": "a0", "ab": "ac", "a\xff": "b", "\xff\xff": ""} {
		if got := PrefixEnd(in); got != want {
			t.Errorf("PrefixEnd(%q) = %q, want %q", in, got, want)
		}
	}
}
