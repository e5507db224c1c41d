package authserver

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// Usage counts per-client usage in memory, on the hot paths, with atomics
// and no lock; Flush moves what accumulated to the store in one write. One
// Usage serves every config on a store, so a reload neither loses nor
// doubles the counts.
type Usage struct {
	clients sync.Map // client ID → *clientUsage
}

// clientUsage is one client's counts since the last flush, and its latest
// times (Unix nanoseconds).
type clientUsage struct {
	tokens, allowed, denied atomic.Uint64
	lastToken, lastSeen     atomic.Int64
}

func (u *Usage) of(clientID string) *clientUsage {
	if c, ok := u.clients.Load(clientID); ok {
		return c.(*clientUsage)
	}
	c, _ := u.clients.LoadOrStore(clientID, new(clientUsage))
	return c.(*clientUsage)
}

// tokenIssued counts a token issued to the client at now.
func (u *Usage) tokenIssued(clientID string, now time.Time) {
	c := u.of(clientID)
	c.tokens.Add(1)
	storeLater(&c.lastToken, now.UnixNano())
}

// request counts a guarded request by the client, allowed or denied.
func (u *Usage) request(clientID string, allowed bool, now time.Time) {
	c := u.of(clientID)
	if allowed {
		c.allowed.Add(1)
	} else {
		c.denied.Add(1)
	}
	storeLater(&c.lastSeen, now.UnixNano())
}

// storeLater keeps the later of v and what t holds.
func storeLater(t *atomic.Int64, v int64) {
	for {
		old := t.Load()
		if v <= old || t.CompareAndSwap(old, v) {
			return
		}
	}
}

// pending returns what the client accumulated since the last flush.
func (u *Usage) pending(clientID string) storage.Usage {
	c, ok := u.clients.Load(clientID)
	if !ok {
		return storage.Usage{}
	}
	return c.(*clientUsage).snapshot(false)
}

// snapshot reads the counts, zeroing them when take is set.
func (c *clientUsage) snapshot(take bool) storage.Usage {
	read := func(n *atomic.Uint64) uint64 {
		if take {
			return n.Swap(0)
		}
		return n.Load()
	}
	u := storage.Usage{TokensIssued: read(&c.tokens), RequestsAllowed: read(&c.allowed), RequestsDenied: read(&c.denied)}
	if ns := c.lastToken.Load(); ns != 0 {
		u.LastTokenAt = time.Unix(0, ns).UTC()
	}
	if ns := c.lastSeen.Load(); ns != 0 {
		u.LastSeenAt = time.Unix(0, ns).UTC()
	}
	return u
}

// Flush adds what accumulated to the store. If the write fails, the counts
// are put back for the next flush.
func (u *Usage) Flush(ctx context.Context, store storage.Store) error {
	deltas := map[string]storage.Usage{}
	u.clients.Range(func(id, c any) bool {
		d := c.(*clientUsage).snapshot(true)
		if d.TokensIssued+d.RequestsAllowed+d.RequestsDenied > 0 {
			deltas[id.(string)] = d
		}
		return true
	})
	if len(deltas) == 0 {
		return nil
	}
	if err := store.AddUsage(ctx, deltas); err != nil {
		for id, d := range deltas {
			c := u.of(id)
			c.tokens.Add(d.TokensIssued)
			c.allowed.Add(d.RequestsAllowed)
			c.denied.Add(d.RequestsDenied)
		}
		return err
	}
	return nil
}

// UsageStore shows stored usage plus what has not been flushed yet, so the
// admin API's figures are current.
type UsageStore struct {
	storage.Store
	Counters *Usage
}

// Usage returns the stored counters with the pending ones added.
func (s UsageStore) Usage(ctx context.Context, clientID string) (storage.Usage, error) {
	u, err := s.Store.Usage(ctx, clientID)
	if err != nil {
		return u, err
	}
	return u.Add(s.Counters.pending(clientID)), nil
}
