package replica

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// changeLog records what a subscriber heard, as text, and lets a test
// wait for a given number of changes.
type changeLog struct {
	mu    sync.Mutex
	lines []string
	more  chan struct{}
}

func newChangeLog() *changeLog { return &changeLog{more: make(chan struct{}, 1)} }

func (l *changeLog) record(r *Replica) func(Change) {
	return func(c Change) {
		var line string
		if c.Reset {
			line = fmt.Sprintf("reset@%d", c.Revision)
		} else {
			var keys []string
			for _, a := range c.Applied {
				// The change is applied before the subscriber hears of it.
				e, ok := r.Get(a.Key)
				switch {
				case a.Entry == nil && !ok:
					keys = append(keys, "-"+a.Key)
				case a.Entry != nil && ok && e == a.Entry:
					v, decoded := a.Entry.Decoded.(string)
					if !decoded {
						v = string(a.Entry.Value)
					}
					keys = append(keys, a.Key+"="+v)
				default:
					keys = append(keys, "?"+a.Key)
				}
			}
			line = fmt.Sprintf("%s@%d", strings.Join(keys, ","), c.Revision)
		}
		l.mu.Lock()
		l.lines = append(l.lines, line)
		l.mu.Unlock()
		select {
		case l.more <- struct{}{}:
		default:
		}
	}
}

// wait returns the log once it holds n lines.
func (l *changeLog) wait(t *testing.T, n int) string {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		l.mu.Lock()
		got := len(l.lines)
		text := strings.Join(l.lines, " ")
		l.mu.Unlock()
		if got >= n {
			return text
		}
		select {
		case <-l.more:
		case <-timeout:
			t.Fatalf("%d changes heard, want %d: %s", got, n, text)
		}
	}
}

func TestSubscribeInOrder(t *testing.T) {
	f := newFakeFeed(Snapshot{KVs: []KV{kv("p/a", "a", 2)}, Revision: 5, History: "h1"})
	r := New(f, Options{
		Decode:   func(key string, v []byte) (any, error) { return strings.ToUpper(string(v)), nil },
		RetryMin: time.Millisecond,
	})
	t.Cleanup(r.Close)
	log := newChangeLog()
	stop := r.Subscribe(log.record(r))
	defer stop()
	// Subscribed before the first list: that list is a Reset.
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	log.wait(t, 1)
	// Each step waits until it is heard: a Reset queued behind changes not
	// yet heard replaces them (TestSlowSubscriberGetsReset).
	f.batches <- Batch{Events: []Event{{KV: kv("p/b", "b", 6)}, {KV: kv("p/a", "", 6), Deleted: true}}}
	log.wait(t, 2)
	f.batches <- Batch{Revision: 7} // progress only: nothing to tell
	f.batches <- Batch{Events: []Event{{KV: kv("p/c", "c", 8)}}}
	log.wait(t, 3)
	f.setSnapshot(Snapshot{KVs: []KV{kv("p/z", "z", 2)}, Revision: 3, History: "h2"})
	f.endWatch <- ErrReset
	log.wait(t, 4)
	f.batches <- Batch{Events: []Event{{KV: kv("p/y", "y", 4)}}}
	want := "reset@5 p/b=B,-p/a@6 p/c=C@8 reset@3 p/y=Y@4"
	if got := log.wait(t, 5); got != want {
		t.Fatalf("heard %q, want %q", got, want)
	}
}

// A Reset makes the changes queued before it moot: the subscriber hears
// the Reset alone.
func TestResetReplacesQueuedChanges(t *testing.T) {
	f := newFakeFeed(Snapshot{Revision: 5, History: "h"})
	r := start(t, f)
	log := newChangeLog()
	block, blocked := make(chan struct{}), make(chan struct{})
	var once sync.Once
	record := log.record(r)
	defer r.Subscribe(func(c Change) {
		once.Do(func() {
			close(blocked)
			<-block
		})
		record(c)
	})()
	// A second subscriber, joined later, hears the reset only once it is
	// queued for the first one too: notify queues in the order of joining.
	heardReset := make(chan struct{})
	var resetOnce sync.Once
	defer r.Subscribe(func(c Change) {
		if c.Reset {
			resetOnce.Do(func() { close(heardReset) })
		}
	})()
	f.batches <- Batch{Events: []Event{{KV: kv("p/a", "a", 6)}}}
	<-blocked
	f.batches <- Batch{Events: []Event{{KV: kv("p/b", "b", 7)}}}
	f.endWatch <- errors.New("closed")
	select {
	case <-heardReset:
	case <-time.After(10 * time.Second):
		t.Fatal("no reset was queued within 10 s of the watch ending")
	}
	close(block)
	if got, want := log.wait(t, 2), "?p/a@6 reset@5"; got != want {
		t.Fatalf("heard %q, want %q", got, want)
	}
}

// A subscriber may wait for a revision the feed has yet to deliver: it
// runs on its own goroutine, so the feed keeps applying.
func TestSubscriberMayWaitForTheFeed(t *testing.T) {
	f := newFakeFeed(Snapshot{Revision: 5, History: "h"})
	r := start(t, f)
	waited := make(chan error, 1)
	stop := r.Subscribe(func(c Change) {
		if c.Revision == 6 {
			waited <- r.WaitFor(t.Context(), "h", 7)
		}
	})
	defer stop()
	f.batches <- Batch{Events: []Event{{KV: kv("p/a", "a", 6)}}}
	f.batches <- Batch{Events: []Event{{KV: kv("p/b", "b", 7)}}}
	select {
	case err := <-waited:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a subscriber waiting for the feed held the feed up")
	}
}

// A subscriber that falls too far behind hears one Reset instead of what
// it missed, and then each change again.
func TestSlowSubscriberGetsReset(t *testing.T) {
	defer func(n int) { maxPending = n }(maxPending)
	maxPending = 3
	f := newFakeFeed(Snapshot{Revision: 5, History: "h"})
	r := start(t, f)
	log := newChangeLog()
	block, blocked := make(chan struct{}), make(chan struct{})
	var once sync.Once
	record := log.record(r)
	stop := r.Subscribe(func(c Change) {
		once.Do(func() {
			close(blocked)
			<-block
		})
		record(c)
	})
	defer stop()
	f.batches <- Batch{Events: []Event{{KV: kv("p/a", "a", 6)}}}
	<-blocked
	for rev := int64(7); rev <= 10; rev++ {
		f.batches <- Batch{Events: []Event{{KV: kv("p/x", "x", rev)}}}
	}
	if err := r.WaitFor(t.Context(), "h", 10); err != nil {
		t.Fatal(err)
	}
	// Queued while blocked: revisions 7, 8, 9 fit; 10 overflows.
	close(block)
	log.wait(t, 2)
	f.batches <- Batch{Events: []Event{{KV: kv("p/b", "b", 11)}}}
	if got, want := log.wait(t, 3), "p/a=A@6 reset@10 p/b=B@11"; got != want {
		t.Fatalf("heard %q, want %q", got, want)
	}
}

// stop waits for a call in progress and ends the calls; Close ends the
// subscriptions that were not stopped.
func TestSubscribeStop(t *testing.T) {
	f := newFakeFeed(Snapshot{Revision: 5, History: "h"})
	r := start(t, f)
	entered, release := make(chan struct{}), make(chan struct{})
	var calls sync.WaitGroup
	calls.Add(1)
	stop := r.Subscribe(func(Change) {
		close(entered)
		<-release
		calls.Done()
	})
	f.batches <- Batch{Events: []Event{{KV: kv("p/a", "a", 6)}}}
	<-entered
	stopped := make(chan struct{})
	go func() {
		stop()
		close(stopped)
	}()
	select {
	case <-stopped:
		t.Fatal("stop returned while fn was running")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	<-stopped
	calls.Wait()
	// Nothing after stop: fn would close entered twice and panic.
	f.batches <- Batch{Events: []Event{{KV: kv("p/b", "b", 7)}}}
	if err := r.WaitFor(t.Context(), "h", 7); err != nil {
		t.Fatal(err)
	}
	stop()

	heard := make(chan Change, 1)
	r.Subscribe(func(c Change) { heard <- c })
	r.Close()
	r.subMu.Lock()
	left := len(r.subs)
	r.subMu.Unlock()
	if left != 0 {
		t.Fatalf("%d subscriptions left after Close", left)
	}
}

// failingFeed fails to list until it is allowed to.
type failingFeed struct {
	*fakeFeed
	mu    sync.Mutex
	fails int
	up    bool
}

func (f *failingFeed) List(ctx context.Context) (Snapshot, error) {
	f.mu.Lock()
	up := f.up
	if !up {
		f.fails++
	}
	f.mu.Unlock()
	if !up {
		return Snapshot{}, errors.New("connection refused")
	}
	return f.fakeFeed.List(ctx)
}

func (f *failingFeed) failures() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fails
}

// Go returns at once and keeps trying; Ready closes when a list succeeds.
func TestGoBeforeTheFeedIsUp(t *testing.T) {
	f := &failingFeed{fakeFeed: newFakeFeed(Snapshot{KVs: []KV{kv("p/a", "a", 2)}, Revision: 5, History: "h"})}
	r := New(f, Options{RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond})
	t.Cleanup(r.Close)
	log := newChangeLog()
	defer r.Subscribe(log.record(r))()
	r.Go()
	r.Go() // a second call does nothing
	waitUntil(t, "a few failed lists", func() bool { return f.failures() >= 3 })
	select {
	case <-r.Ready():
		t.Fatal("Ready before any list succeeded")
	default:
	}
	st := r.Status()
	if st.Lists != 0 || st.LastError == nil || !strings.Contains(st.LastError.Error(), "connection refused") || !r.LastContact().IsZero() {
		t.Fatalf("status before the first list = %+v, last contact %v", st, r.LastContact())
	}
	// Start with a deadline fails with the feed's error, and the
	// background keeps trying.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if err := r.Start(ctx); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Start before the feed is up: %v", err)
	}
	f.mu.Lock()
	f.up = true
	f.mu.Unlock()
	select {
	case <-r.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("Ready not closed after the feed came up")
	}
	if _, ok := r.Get("p/a"); !ok || r.LastContact().IsZero() || r.Status().Lists != 1 {
		t.Fatalf("after the first list: p/a found %v, last contact %v, lists %d", ok, r.LastContact(), r.Status().Lists)
	}
	if got := log.wait(t, 1); got != "reset@5" {
		t.Fatalf("heard %q, want the first list as a reset", got)
	}
	f.batches <- Batch{Events: []Event{{KV: kv("p/b", "b", 6)}}}
	if err := r.WaitFor(t.Context(), "h", 6); err != nil {
		t.Fatal(err)
	}
}

// A Replica closed before it ever listed stops trying, and Start and
// WaitFor answer ErrClosed.
func TestCloseBeforeFirstList(t *testing.T) {
	f := &failingFeed{fakeFeed: newFakeFeed(Snapshot{})}
	r := New(f, Options{RetryMin: time.Millisecond})
	r.Go()
	waitUntil(t, "a failed list", func() bool { return f.failures() >= 1 })
	r.Close()
	if err := r.Start(t.Context()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
	never := New(f, Options{})
	never.Close()
	if err := never.Start(t.Context()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start of a Replica closed before Go: %v", err)
	}
}

// LastContact moves with every delivery, progress reports included.
func TestLastContact(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	f := newFakeFeed(Snapshot{Revision: 5, History: "h"})
	r := New(f, Options{Now: clock})
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.LastContact(); !got.Equal(now) {
		t.Fatalf("LastContact after the list = %v, want %v", got, now)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	f.batches <- Batch{Revision: 6}
	if err := r.WaitFor(t.Context(), "h", 6); err != nil {
		t.Fatal(err)
	}
	if got := r.LastContact(); !got.Equal(clock()) || !r.Status().LastContact.Equal(got) {
		t.Fatalf("LastContact after a progress report = %v, Status %v; want %v", got, r.Status().LastContact, clock())
	}
}
