package replica

import "sync"

// Change is what one subscriber hears: a batch applied, or the whole copy
// replaced.
type Change struct {
	// Reset: the copy was replaced by a new list, or the subscriber fell
	// too far behind to be told each change; anything may have changed,
	// so whatever was derived from the copy is to be read again. Applied
	// is empty then.
	Reset bool
	// Revision is the revision the replica held once the change was
	// applied.
	Revision int64
	// Applied lists the keys one batch changed, in the feed's order.
	Applied []Applied
}

// Applied is one key that a batch changed.
type Applied struct {
	Key string
	// Entry is the key's new entry, decoded; nil when it was deleted.
	// Entries are shared read-only.
	Entry *Entry
}

// maxPending bounds the changed keys queued for one subscriber. A
// subscriber that falls further behind gets one Reset instead of them, so
// a stuck subscriber costs bounded memory and the feed never waits for it.
var maxPending = 16384

// Subscribe calls fn for every change once it is applied (readers see it
// before fn is called), in order, on a goroutine of the subscription's own:
// fn may read the Replica, and may even wait for a write to be applied,
// without holding up the feed or other subscribers. Changes that happen
// while fn runs are queued (see maxPending). The first list, if it comes
// after Subscribe, arrives as a Reset.
//
// stop ends the subscription and waits until a call of fn in progress has
// returned; it must not be called from fn. Calling it again does nothing.
// Close ends every subscription too, without waiting.
func (r *Replica) Subscribe(fn func(Change)) (stop func()) {
	s := &subscriber{
		fn:   fn,
		wake: make(chan struct{}, 1),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
	r.subMu.Lock()
	r.subs = append(r.subs, s)
	r.subMu.Unlock()
	go s.loop()
	var once sync.Once
	return func() {
		once.Do(func() {
			r.subMu.Lock()
			for i, sub := range r.subs {
				if sub == s {
					r.subs = append(r.subs[:i:i], r.subs[i+1:]...)
					break
				}
			}
			r.subMu.Unlock()
			s.end()
			<-s.done
		})
	}
}

// notify queues c for every subscriber. It is called by the one goroutine
// that applies changes, after each one, outside the replica's lock, which
// keeps every subscriber's queue in the order the changes were applied.
func (r *Replica) notify(c Change) {
	r.subMu.Lock()
	defer r.subMu.Unlock()
	for _, s := range r.subs {
		s.push(c)
	}
}

// subscriber is one Subscribe: a queue and the goroutine that drains it.
type subscriber struct {
	fn func(Change)

	mu      sync.Mutex
	queue   []Change
	pending int // keys in queue

	wake     chan struct{} // holds one token while queue may be non-empty
	quit     chan struct{}
	quitOnce sync.Once
	done     chan struct{}
}

// end asks loop to return.
func (s *subscriber) end() { s.quitOnce.Do(func() { close(s.quit) }) }

// endSubscriptions ends every subscription, for Close: nothing will change
// any more, and a subscriber that forgets to stop leaks no goroutine.
func (r *Replica) endSubscriptions() {
	r.subMu.Lock()
	subs := r.subs
	r.subs = nil
	r.subMu.Unlock()
	for _, s := range subs {
		s.end()
	}
}

// push queues c. A Reset makes everything queued before it moot, and so
// does falling too far behind, which is told as a Reset.
func (s *subscriber) push(c Change) {
	s.mu.Lock()
	if c.Reset || s.pending+len(c.Applied) > maxPending {
		// The queue's slice may be reused: loop took its own.
		s.queue = append(s.queue[:0], Change{Reset: true, Revision: c.Revision})
		s.pending = 0
	} else {
		s.queue = append(s.queue, c)
		s.pending += len(c.Applied)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *subscriber) loop() {
	defer close(s.done)
	for {
		select {
		case <-s.quit:
			return
		case <-s.wake:
		}
		s.mu.Lock()
		batch := s.queue
		s.queue, s.pending = nil, 0
		s.mu.Unlock()
		for _, c := range batch {
			select {
			case <-s.quit:
				return
			default:
			}
			s.fn(c)
		}
	}
}
