package etcd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/storage/replica"
	clientv3 "go.etcd.io/etcd/client/v3"
)

var t0 = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func client(id, name string) storage.Client {
	return storage.Client{ID: id, Name: name, Scopes: []string{"orders:read"}, CreatedAt: t0, UpdatedAt: t0}
}

// A create through one gateway becomes visible to another's GetClient,
// served from its replica. How fast is logged, not asserted: a timed
// assertion fails on a loaded machine, and the cluster integration test and
// the load suite measure visibility (docs/performance.md); the deadline here
// only bounds a test that would otherwise wait for ever.
func TestWriteVisibleOnOtherGateway(t *testing.T) {
	prefix := testPrefix(t)
	a := openStore(t, prefix, "gw-a")
	b := openStore(t, prefix, "gw-b")
	const trials = 50
	lat := make([]time.Duration, 0, trials)
	for i := range trials {
		c := client(fmt.Sprintf("client-%02d", i), fmt.Sprintf("Client %02d", i))
		if err := a.CreateClient(t.Context(), c, 0); err != nil {
			t.Fatalf("CreateClient through A: %v", err)
		}
		acked := time.Now()
		for {
			if _, err := b.GetClient(t.Context(), c.ID); err == nil {
				break
			} else if !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("GetClient through B: %v", err)
			}
			if time.Since(acked) > 10*time.Second {
				t.Fatalf("client %s created through A not visible through B after 10 s", c.ID)
			}
			time.Sleep(50 * time.Microsecond)
		}
		lat = append(lat, time.Since(acked))
	}
	slices.Sort(lat)
	t.Logf("from A's acknowledgement of a create until GetClient through B finds it, %d trials: p50 %v, p99 %v, max %v",
		trials, lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
	// And the other way: an update and a delete through B reach A.
	if _, err := b.UpdateClient(t.Context(), "client-00", func(c storage.Client) (storage.Client, error) {
		c.Disabled = true
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteClient(t.Context(), "client-01"); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "B's update and delete seen by A", func() bool {
		c, err := a.GetClient(t.Context(), "client-00")
		_, gone := a.GetClient(t.Context(), "client-01")
		return err == nil && c.Disabled && errors.Is(gone, storage.ErrNotFound)
	})
	if n, _ := a.CountClients(t.Context()); n != trials-1 {
		t.Fatalf("CountClients through A = %d, want %d", n, trials-1)
	}
	// All of it came through the watches: neither gateway listed again.
	for name, s := range map[string]*Store{"A": a, "B": b} {
		if st := s.Status(); st.Lists != 1 || st.LastError != nil || st.Revision == 0 {
			t.Errorf("status of %s = %+v; want one list, no error", name, st)
		}
	}
}

// A gateway lists a registry larger than one page at one revision.
func TestListInPages(t *testing.T) {
	defer func(n int64) { listPage = n }(listPage)
	listPage = 3
	prefix := testPrefix(t)
	a := openStore(t, prefix, "gw-a")
	for i := range 10 {
		if err := a.CreateClient(t.Context(), client(fmt.Sprintf("client-%02d", i), fmt.Sprintf("Client %02d", i)), 0); err != nil {
			t.Fatal(err)
		}
	}
	b := openStore(t, prefix, "gw-b")
	page, more, err := b.ListClients(t.Context(), storage.ListOptions{Limit: 100})
	if err != nil || more || len(page) != 10 || page[9].ID != "client-09" {
		t.Fatalf("ListClients through B = %d clients, %v, %v; want all 10", len(page), more, err)
	}
	if n, _ := b.CountClients(t.Context()); n != 10 {
		t.Fatalf("CountClients through B = %d, want 10", n)
	}
}

// Concurrent updates of one client through two gateways lose nothing, and
// two gateways racing for the last place under the limit or for one name
// never both win.
func TestConcurrentWritesFromTwoGateways(t *testing.T) {
	prefix := testPrefix(t)
	gateways := []*Store{openStore(t, prefix, "gw-a"), openStore(t, prefix, "gw-b")}
	ctx := t.Context()
	if err := gateways[0].CreateClient(ctx, client("client-shared", "Shared"), 0); err != nil {
		t.Fatal(err)
	}
	const perGateway = 12
	var wg sync.WaitGroup
	errs := make(chan error, 4*perGateway)
	for g, s := range gateways {
		for i := range perGateway {
			wg.Go(func() {
				scope := fmt.Sprintf("scope-%d-%02d", g, i)
				if _, err := s.UpdateClient(ctx, "client-shared", func(c storage.Client) (storage.Client, error) {
					c.Scopes = append(c.Scopes, scope)
					return c, nil
				}); err != nil {
					errs <- err
				}
			})
			wg.Go(func() {
				c := client(fmt.Sprintf("client-%d-%02d", g, i), fmt.Sprintf("Racer %02d", i))
				err := s.CreateClient(ctx, c, 8)
				if err != nil && !errors.Is(err, storage.ErrAlreadyExists) && !errors.Is(err, storage.ErrLimitExceeded) {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, s := range gateways {
		eventually(t, time.Second, "both gateways agree", func() bool {
			c, err := s.GetClient(ctx, "client-shared")
			return err == nil && len(c.Scopes) == 1+2*perGateway
		})
		// One client existed; the limit of 8 leaves 7 places, and each of
		// the 12 names was raced for by both gateways.
		if n, _ := s.CountClients(ctx); n != 8 {
			t.Errorf("CountClients = %d, want 8", n)
		}
		page, _, err := s.ListClients(ctx, storage.ListOptions{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, c := range page {
			if names[storage.NameKey(c.Name)] {
				t.Errorf("name %q taken twice", c.Name)
			}
			names[storage.NameKey(c.Name)] = true
		}
	}
}

// gatedFeed wraps a feed so that a test can end the current watch and hold
// the next one back, as a gateway cut off from etcd would be.
type gatedFeed struct {
	replica.Feed
	mu      sync.Mutex
	cancel  context.CancelFunc
	hold    chan struct{}
	holding chan struct{}
}

func (g *gatedFeed) Watch(ctx context.Context, hist string, after int64, deliver func(replica.Batch) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g.mu.Lock()
	g.cancel = cancel
	hold, holding := g.hold, g.holding
	g.mu.Unlock()
	if hold != nil {
		close(holding)
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return g.Feed.Watch(ctx, hist, after, deliver)
}

// cutAndHold ends the current watch; the replica lists again, and its next
// watch waits until release is called. It returns once that watch waits.
func (g *gatedFeed) cutAndHold(t *testing.T) (release func()) {
	eventually(t, 5*time.Second, "a watch runs", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.cancel != nil
	})
	g.mu.Lock()
	hold, holding := make(chan struct{}), make(chan struct{})
	g.hold, g.holding = hold, holding
	cancel := g.cancel
	g.mu.Unlock()
	cancel()
	select {
	case <-holding:
	case <-time.After(5 * time.Second):
		t.Fatal("the replica did not start another watch")
	}
	return func() {
		g.mu.Lock()
		g.hold = nil
		g.mu.Unlock()
		close(hold)
	}
}

// When the revision a gateway's watch resumes from has been compacted, the
// gateway lists again and converges.
func TestCompactedWatchRelists(t *testing.T) {
	prefix := testPrefix(t)
	a := openStore(t, prefix, "gw-a")
	var gate *gatedFeed
	b := openStore(t, prefix, "gw-b", func(o *Options) {
		o.wrapFeed = func(f replica.Feed) replica.Feed {
			gate = &gatedFeed{Feed: f}
			return gate
		}
	})
	ctx := t.Context()
	if err := a.CreateClient(ctx, client("client-before", "Before"), 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "B sees the first client", func() bool {
		_, err := b.GetClient(ctx, "client-before")
		return err == nil
	})
	release := gate.cutAndHold(t)
	listsBefore := b.Status().Lists
	// While B's watch is held back, A writes, and the history is compacted
	// past the revision B would resume from.
	if err := a.CreateClient(ctx, client("client-after", "After"), 0); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteClient(ctx, "client-before"); err != nil {
		t.Fatal(err)
	}
	raw := rawClient(t)
	resp, err := raw.Get(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Compact(ctx, resp.Header.Revision); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	release()
	eventually(t, 5*time.Second, "B lists again after compaction and converges", func() bool {
		_, errAfter := b.GetClient(ctx, "client-after")
		_, errBefore := b.GetClient(ctx, "client-before")
		return errAfter == nil && errors.Is(errBefore, storage.ErrNotFound)
	})
	st := b.Status()
	if st.Lists <= listsBefore || !errors.Is(st.LastReset, replica.ErrCompacted) {
		t.Fatalf("status after compaction: lists %d (before %d), last reset %v; want another list, caused by ErrCompacted", st.Lists, listsBefore, st.LastReset)
	}
	if n, _ := b.CountClients(ctx); n != 1 {
		t.Fatalf("CountClients through B = %d, want 1", n)
	}
	// The new watch follows again.
	if err := a.CreateClient(ctx, client("client-later", "Later"), 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "B follows after the new list", func() bool {
		_, err := b.GetClient(ctx, "client-later")
		return err == nil
	})
}

// A gateway whose watch is held back reports itself degraded and, past
// max_stale, stale; once it hears from etcd again it is neither.
func TestStatusDegradedWhileCutOff(t *testing.T) {
	var gate *gatedFeed
	s := openStore(t, testPrefix(t), "gw-a", func(o *Options) {
		o.Heartbeat = 20 * time.Millisecond
		o.wrapFeed = func(f replica.Feed) replica.Feed {
			gate = &gatedFeed{Feed: f}
			return gate
		}
	})
	eventually(t, time.Second, "a fresh replica is not degraded", func() bool {
		return !s.Status().Degraded(time.Now())
	})
	release := gate.cutAndHold(t)
	eventually(t, 2*time.Second, "a replica cut off turns degraded", func() bool {
		return s.Status().Degraded(time.Now())
	})
	st := s.Status()
	if !st.Stale(time.Now(), 50*time.Millisecond) || st.Stale(time.Now(), time.Hour) {
		t.Fatalf("Stale after %v of silence: want true for 50ms, false for an hour", time.Since(st.LastContact))
	}
	release()
	eventually(t, 2*time.Second, "heartbeats resume", func() bool {
		return !s.Status().Degraded(time.Now())
	})
}

// Usage is kept per gateway and summed when read.
func TestUsageSummedOverGateways(t *testing.T) {
	prefix := testPrefix(t)
	a := openStore(t, prefix, "gw-a")
	b := openStore(t, prefix, "gw-b")
	ctx := t.Context()
	if err := a.CreateClient(ctx, client("client-a", "A"), 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "B sees the client", func() bool {
		_, err := b.GetClient(ctx, "client-a")
		return err == nil
	})
	if err := a.AddUsage(ctx, map[string]storage.Usage{"client-a": {TokensIssued: 2, LastTokenAt: t0}}); err != nil {
		t.Fatal(err)
	}
	if err := b.AddUsage(ctx, map[string]storage.Usage{"client-a": {TokensIssued: 3, RequestsAllowed: 7, LastTokenAt: t0.Add(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	want := storage.Usage{TokensIssued: 5, RequestsAllowed: 7, LastTokenAt: t0.Add(time.Minute)}
	for name, s := range map[string]*Store{"A": a, "B": b} {
		eventually(t, time.Second, "usage summed through "+name, func() bool {
			u, err := s.Usage(ctx, "client-a")
			return err == nil && u == want
		})
	}
	raw := rawClient(t)
	resp, err := raw.Get(ctx, a.usagePrefix("client-a"), clientv3.WithPrefix())
	if err != nil || resp.Count != 2 {
		t.Fatalf("usage keys = %d, %v; want one per gateway", resp.Count, err)
	}
	if err := b.DeleteClient(ctx, "client-a"); err != nil {
		t.Fatal(err)
	}
	if resp, err := raw.Get(ctx, a.usagePrefix("client-a"), clientv3.WithPrefix()); err != nil || resp.Count != 0 {
		t.Fatalf("usage keys after delete = %d, %v; want none", resp.Count, err)
	}
}
