// Package replica keeps a full, local, in-memory copy of a shared key-value
// registry and follows its change feed, for the storage backends that many
// gateways share (etcd today). It knows nothing of any engine: an engine
// supplies a Feed (list everything at one revision, then watch from the next
// one), and the Replica does the rest the same way for all of them: apply
// changes in order, track the applied revision, re-list and swap the whole
// copy atomically when the feed says it can no longer continue (history
// compacted, watch closed, cluster replaced, revision gone backwards), let a
// writer wait until its own write is applied, tell subscribers what changed
// (Subscribe), and report how fresh it is.
//
// A Replica can start before its engine is reachable (Go): it keeps trying
// to list in the background, and Ready is closed once the first copy is in
// memory. Start is the same with a deadline, for callers that would rather
// fail than wait.
//
// A second engine (PostgreSQL, say) is one new Feed: a snapshot query that
// returns rows with their versions and the log position it was taken at,
// and a listener that delivers later changes in log order.
package replica

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Errors that end a watch and make the Replica list everything again.
var (
	// ErrCompacted: the feed no longer holds the changes after the revision
	// asked for (etcd's compaction, a trimmed log).
	ErrCompacted = errors.New("replica: the change feed no longer holds the revision asked for (compacted)")
	// ErrReset: the feed's history is not the one listed before: another
	// cluster, or a revision that went backwards.
	ErrReset = errors.New("replica: the change feed's history changed (another cluster, or a revision went backwards)")
	// ErrClosed: the Replica was closed.
	ErrClosed = errors.New("replica: closed")
)

// KV is one key's value at a revision.
type KV struct {
	Key   string
	Value []byte
	// CreateRevision is the revision that created the key (0: absent);
	// ModRevision the one that last changed it. Writers compare them to
	// make compare-and-swap updates.
	CreateRevision int64
	ModRevision    int64
}

// Event is one change: a put of KV, or its deletion.
type Event struct {
	KV
	Deleted bool
}

// Batch is what a Feed delivers at once; it is applied atomically, so a
// Feed must never split the events of one revision (one transaction) over
// two batches.
type Batch struct {
	// Events, in revision order; none for a progress report.
	Events []Event
	// Revision is the revision the replica holds once the batch is applied:
	// every change up to it has been delivered. Zero means the batch says
	// nothing about progress (a sign of life only); otherwise it is at
	// least the last event's ModRevision.
	Revision int64
}

// Snapshot is every key under the feed's scope at one revision.
type Snapshot struct {
	KVs      []KV
	Revision int64
	// History names the history the revision belongs to (etcd's cluster
	// ID): revisions of two histories are not comparable.
	History string
}

// Feed is an engine's change feed. Both methods are called from one
// goroutine.
type Feed interface {
	// List returns every key at one revision.
	List(ctx context.Context) (Snapshot, error)
	// Watch delivers, in order and in batches, every change after the
	// revision after of the history listed, until ctx ends or the watch
	// fails; it returns why it stopped (ErrCompacted and ErrReset wrapped
	// where they apply). An error from deliver ends it and is returned.
	Watch(ctx context.Context, history string, after int64, deliver func(Batch) error) error
}

// Entry is one key as the Replica holds it. Entries are shared read-only.
type Entry struct {
	KV
	// Decoded is what Options.Decode made of the value, or nil.
	Decoded any
	// Err is why Decode failed, or nil.
	Err error
}

// Options configures a Replica.
type Options struct {
	// Decode turns a value into the form readers use, once, when it is
	// applied, so that reads cost no decoding. Nil keeps values as bytes.
	Decode func(key string, value []byte) (any, error)
	// Heartbeat is how often the Feed reports progress when nothing
	// changes; Status uses it to tell a quiet feed from a lost one. Zero
	// means one second.
	Heartbeat time.Duration
	// RetryMin and RetryMax bound the wait between failed attempts to list
	// (doubling from RetryMin). Zero means 50 ms and 2 s.
	RetryMin, RetryMax time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// state is one listed copy with the changes applied since.
type state struct {
	entries map[string]*Entry
	keys    []string // sorted
	history string
}

// Replica is the local copy. Reads never touch the network; they may be
// behind the shared registry by what the feed has not yet delivered.
type Replica struct {
	feed Feed
	opts Options

	mu        sync.RWMutex
	st        *state
	revision  int64
	epoch     uint64 // bumped by each swap
	lists     int
	lastReset error
	lastErr   error
	advanced  chan struct{} // closed and replaced when revision or epoch moves
	waiters   int           // WaitFor calls waiting, for tests
	closed    bool

	// lastContact is when the feed last delivered anything; an atomic
	// pointer so that LastContact, asked on every guarded request, takes
	// no lock. Nil until the first list.
	lastContact atomic.Pointer[time.Time]
	// ready is closed by the first swap.
	ready chan struct{}

	subMu sync.Mutex
	subs  []*subscriber

	startOnce sync.Once
	cancel    context.CancelFunc // set by Go, under startOnce
	done      chan struct{}
}

// New returns a Replica over feed; Go or Start lists and starts following.
func New(feed Feed, opts Options) *Replica {
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = time.Second
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = 50 * time.Millisecond
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 2 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Replica{
		feed:     feed,
		opts:     opts,
		st:       &state{entries: map[string]*Entry{}},
		advanced: make(chan struct{}),
		ready:    make(chan struct{}),
		done:     make(chan struct{}),
	}
}

// Go starts listing and following the feed in the background, and returns
// at once: the first list is retried (RetryMin to RetryMax apart) until it
// succeeds or the Replica is closed. Until then the copy is empty and
// Ready is open. Calls after the first do nothing.
func (r *Replica) Go() {
	r.startOnce.Do(func() {
		r.mu.Lock()
		closed := r.closed
		r.mu.Unlock()
		if closed {
			close(r.done)
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		r.cancel = cancel
		go r.run(ctx)
	})
}

// Start is Go, then waits until the first list is in memory. It fails when
// ctx ends first, with the last error of the feed; the Replica then keeps
// trying in the background until Close.
func (r *Replica) Start(ctx context.Context) error {
	r.Go()
	select {
	case <-r.ready:
		return nil
	case <-r.done:
		return ErrClosed
	case <-ctx.Done():
	}
	if err := r.Status().LastError; err != nil {
		return fmt.Errorf("replica: first list: %w; last attempt: %w", ctx.Err(), err)
	}
	return fmt.Errorf("replica: first list: %w", ctx.Err())
}

// Ready is closed once the first list is in memory.
func (r *Replica) Ready() <-chan struct{} { return r.ready }

// Close stops following the feed and ends every subscription; reads keep
// answering from the last copy. It is safe to call more than once.
func (r *Replica) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	close(r.advanced)
	r.advanced = make(chan struct{})
	r.mu.Unlock()
	// Never started: mark run as done, so that a Start waiting elsewhere
	// returns and a later Go does not start.
	r.startOnce.Do(func() { close(r.done) })
	if r.cancel != nil {
		r.cancel()
	}
	<-r.done
	r.endSubscriptions()
}

// run lists, watches, and lists again whenever a watch ends.
func (r *Replica) run(ctx context.Context) {
	defer close(r.done)
	// reason is why the next list is taken: nil for the first one.
	var reason error
	for {
		snap, ok := r.list(ctx)
		if !ok {
			return
		}
		r.swap(snap, reason)
		r.mu.RLock()
		after := r.revision
		r.mu.RUnlock()
		reason = r.feed.Watch(ctx, snap.History, after, r.apply)
		if ctx.Err() != nil {
			return
		}
		if reason == nil {
			reason = errors.New("replica: the watch ended without an error")
		}
		// Whatever ended the watch, what follows is read afresh: a watch
		// that closed may have missed changes, and after compaction or a
		// reset the old revision means nothing.
		r.noteError(reason)
	}
}

// list lists until it succeeds, backing off between failures; false when
// ctx ended first.
func (r *Replica) list(ctx context.Context) (Snapshot, bool) {
	wait := r.opts.RetryMin
	for {
		snap, err := r.feed.List(ctx)
		if ctx.Err() != nil {
			return Snapshot{}, false
		}
		if err == nil {
			return snap, true
		}
		r.noteError(err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return Snapshot{}, false
		case <-t.C:
		}
		wait = min(2*wait, r.opts.RetryMax)
	}
}

// noteError records why the feed stopped or failed.
func (r *Replica) noteError(err error) {
	r.mu.Lock()
	r.lastErr = err
	r.mu.Unlock()
}

// touch records that the feed was heard from.
func (r *Replica) touch() {
	now := r.opts.Now()
	r.lastContact.Store(&now)
}

// swap replaces the whole copy with a snapshot, atomically, and tells the
// subscribers to read everything again.
func (r *Replica) swap(snap Snapshot, reason error) {
	st := &state{
		entries: make(map[string]*Entry, len(snap.KVs)),
		keys:    make([]string, 0, len(snap.KVs)),
		history: snap.History,
	}
	for _, kv := range snap.KVs {
		if _, dup := st.entries[kv.Key]; !dup {
			st.keys = append(st.keys, kv.Key)
		}
		st.entries[kv.Key] = r.entry(kv)
	}
	slices.Sort(st.keys)
	r.mu.Lock()
	r.st = st
	r.revision = snap.Revision
	r.epoch++
	r.lists++
	r.lastReset = reason
	r.touch()
	first := r.lists == 1
	r.broadcastLocked()
	r.mu.Unlock()
	r.notify(Change{Reset: true, Revision: snap.Revision})
	// Ready after the first Reset is queued: a subscriber that joins once
	// Ready never hears the list it already reads from.
	if first {
		close(r.ready)
	}
}

// entry decodes kv.
func (r *Replica) entry(kv KV) *Entry {
	e := &Entry{KV: kv}
	if r.opts.Decode != nil {
		e.Decoded, e.Err = r.opts.Decode(kv.Key, kv.Value)
	}
	return e
}

// apply applies one batch atomically, then tells the subscribers what it
// changed. An event at or below the applied revision means the history
// went backwards: the watch ends with ErrReset.
func (r *Replica) apply(b Batch) error {
	// Decode outside the lock: readers wait only for the pointer moves.
	decoded := make([]*Entry, len(b.Events))
	for i, ev := range b.Events {
		if !ev.Deleted {
			decoded[i] = r.entry(ev.KV)
		}
	}
	rev, err := r.applyLocked(b, decoded)
	if err != nil || len(b.Events) == 0 {
		return err
	}
	changed := make([]Applied, len(b.Events))
	for i, ev := range b.Events {
		changed[i] = Applied{Key: ev.Key, Entry: decoded[i]}
	}
	r.notify(Change{Revision: rev, Applied: changed})
	return nil
}

// applyLocked applies a decoded batch under the lock and returns the
// revision it leaves the replica at.
func (r *Replica) applyLocked(b Batch, decoded []*Entry) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.touch()
	if b.Revision == 0 && len(b.Events) == 0 {
		return r.revision, nil
	}
	if b.Revision != 0 && b.Revision < r.revision {
		return 0, fmt.Errorf("progress to revision %d after revision %d: %w", b.Revision, r.revision, ErrReset)
	}
	for i, ev := range b.Events {
		if ev.ModRevision <= r.revision {
			return 0, fmt.Errorf("event of %q at revision %d after revision %d: %w", ev.Key, ev.ModRevision, r.revision, ErrReset)
		}
		if ev.Deleted {
			r.st.remove(ev.Key)
		} else {
			r.st.put(decoded[i])
		}
	}
	rev := b.Revision
	if n := len(b.Events); n > 0 {
		rev = max(rev, b.Events[n-1].ModRevision)
	}
	if rev > r.revision {
		r.revision = rev
		r.broadcastLocked()
	}
	return r.revision, nil
}

// broadcastLocked wakes every WaitFor.
func (r *Replica) broadcastLocked() {
	if r.closed {
		return
	}
	close(r.advanced)
	r.advanced = make(chan struct{})
}

func (st *state) put(e *Entry) {
	if _, ok := st.entries[e.Key]; !ok {
		i, _ := slices.BinarySearch(st.keys, e.Key)
		st.keys = slices.Insert(st.keys, i, e.Key)
	}
	st.entries[e.Key] = e
}

func (st *state) remove(key string) {
	if _, ok := st.entries[key]; !ok {
		return
	}
	delete(st.entries, key)
	if i, found := slices.BinarySearch(st.keys, key); found {
		st.keys = slices.Delete(st.keys, i, i+1)
	}
}

// Get returns the entry of key.
func (r *Replica) Get(key string) (*Entry, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.st.entries[key]
	return e, ok
}

// Range calls fn for each entry whose key is in [from, to) (to "" for no
// end), in ascending order of key, until fn returns false. It holds a read lock: fn must not
// call the Replica's writers or block.
func (r *Replica) Range(from, to string, fn func(e *Entry) bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	keys := r.st.keys
	for i := sort.SearchStrings(keys, from); i < len(keys) && below(keys[i], to); i++ {
		if !fn(r.st.entries[keys[i]]) {
			return
		}
	}
}

// Count returns how many keys are in [from, to) (to "" for no end).
func (r *Replica) Count(from, to string) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return max(0, upper(r.st.keys, to)-sort.SearchStrings(r.st.keys, from))
}

// PrefixEnd returns the first key after every key that starts with prefix,
// for Range and Count; "" (no end) when there is none.
func PrefixEnd(prefix string) string {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	// Every byte is 0xff: no key bounds them; "" means no end.
	return ""
}

// below reports whether key comes before the end of a range ("" for none).
func below(key, end string) bool { return end == "" || key < end }

// upper returns the index of the first of keys at or past end.
func upper(keys []string, end string) int {
	if end == "" {
		return len(keys)
	}
	return sort.SearchStrings(keys, end)
}

// Forget drops the entries under prefix for which drop returns true, from
// memory only: the shared registry keeps them until it deletes them, and a
// later list brings back any it still holds.
func (r *Replica) Forget(prefix string, drop func(e *Entry) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	end := PrefixEnd(prefix)
	var gone []string
	for i := sort.SearchStrings(r.st.keys, prefix); i < len(r.st.keys) && below(r.st.keys[i], end); i++ {
		if drop(r.st.entries[r.st.keys[i]]) {
			gone = append(gone, r.st.keys[i])
		}
	}
	for _, k := range gone {
		r.st.remove(k)
	}
}

// WaitFor returns once the Replica has applied revision rev of history
// (where a writer's transaction committed), or ctx ends, or the Replica is
// closed. When the Replica is on another history and has listed again
// since the call began, the revision can no longer be compared, and it
// returns too: the registry was replaced under the writer.
func (r *Replica) WaitFor(ctx context.Context, history string, rev int64) error {
	r.mu.Lock()
	epoch := r.epoch
	r.waiters++
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.waiters--
		r.mu.Unlock()
	}()
	for {
		r.mu.RLock()
		var done bool
		if r.st.history == history {
			done = r.revision >= rev
		} else {
			done = r.epoch != epoch
		}
		closed, ch := r.closed, r.advanced
		r.mu.RUnlock()
		switch {
		case done:
			return nil
		case closed:
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("replica: waiting for revision %d: %w", rev, ctx.Err())
		}
	}
}

// Status is the Replica's state, for health checks and metrics.
type Status struct {
	// Revision is the last revision applied.
	Revision int64
	// LastContact is when the feed last delivered anything, progress
	// reports included.
	LastContact time.Time
	// Heartbeat is Options.Heartbeat: how often a live feed reports.
	Heartbeat time.Duration
	// Lists counts the full lists taken, the first one included.
	Lists int
	// LastReset is why the last list after the first one was taken (nil
	// before any); LastError the last error from the feed.
	LastReset, LastError error
}

// LastContact is when the feed last delivered anything, progress reports
// included; zero before the first list. It takes no lock.
func (r *Replica) LastContact() time.Time {
	if t := r.lastContact.Load(); t != nil {
		return *t
	}
	return time.Time{}
}

// Status returns the current state.
func (r *Replica) Status() Status {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return Status{
		Revision:    r.revision,
		LastContact: r.LastContact(),
		Heartbeat:   r.opts.Heartbeat,
		Lists:       r.lists,
		LastReset:   r.lastReset,
		LastError:   r.lastErr,
	}
}

// degradedAfter is how many heartbeats may pass unheard before the
// replica counts as degraded.
const degradedAfter = 3

// Degraded reports whether the feed has been silent for longer than a few
// heartbeats at now: reads are served from a copy that may be behind.
func (s Status) Degraded(now time.Time) bool {
	return now.Sub(s.LastContact) > degradedAfter*s.Heartbeat
}

// Stale reports whether the feed has been silent for longer than maxStale
// at now; what to do then (refuse, warn) is the caller's choice.
func (s Status) Stale(now time.Time, maxStale time.Duration) bool {
	return now.Sub(s.LastContact) > maxStale
}
