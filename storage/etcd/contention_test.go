package etcd

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/scopegate/scopegate/storage"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// writers is how many admin requests write at once in these tests, as
// many as the load test's admin writers.
const writers = 64

// Many creates and deletes at once through one gateway all succeed: they
// all compare the one count key, and the gateway runs its own one at a
// time rather than letting them lose to each other.
func TestConcurrentCreatesAndDeletesOneGateway(t *testing.T) {
	prefix := testPrefix(t)
	s := openStore(t, prefix, "gw-a")
	ctx := t.Context()
	const rounds = 3
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds*2)
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				id := fmt.Sprintf("client-%02d-%d", w, r)
				if err := s.CreateClient(ctx, client(id, id), 0); err != nil {
					errs <- fmt.Errorf("create %s: %w", id, err)
					continue
				}
				// Every other round the client stays, so that creates
				// and deletes interleave.
				if r%2 == 0 {
					if err := s.DeleteClient(ctx, id); err != nil {
						errs <- fmt.Errorf("delete %s: %w", id, err)
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	const want = writers * (rounds / 2) // round 1 of each writer stays
	if n, err := s.CountClients(ctx); err != nil || n != want {
		t.Errorf("CountClients = %d, %v; want %d", n, err, want)
	}
	assertStoredCount(t, prefix, want)
}

// Two gateways creating at once under a limit never exceed it, and a
// delete on one frees exactly one place for the other: across gateways
// the compare on the count still guards.
func TestConcurrentCreatesTwoGatewaysUnderLimit(t *testing.T) {
	prefix := testPrefix(t)
	gateways := []*Store{openStore(t, prefix, "gw-a"), openStore(t, prefix, "gw-b")}
	ctx := t.Context()
	const limit = 20
	// createAll has every gateway create writers/2 clients at once, and
	// returns how many succeeded; every other answer must be the limit.
	createAll := func(round string) int {
		t.Helper()
		var (
			wg      sync.WaitGroup
			created atomic.Int64
		)
		for g, s := range gateways {
			for w := range writers / 2 {
				wg.Go(func() {
					id := fmt.Sprintf("client-%s-%d-%02d", round, g, w)
					err := s.CreateClient(ctx, client(id, id), limit)
					switch {
					case err == nil:
						created.Add(1)
					case !errors.Is(err, storage.ErrLimitExceeded):
						t.Errorf("create %s: %v, want success or ErrLimitExceeded", id, err)
					}
				})
			}
		}
		wg.Wait()
		return int(created.Load())
	}
	if n := createAll("first"); n != limit {
		t.Fatalf("%d creates succeeded under a limit of %d", n, limit)
	}
	assertStoredCount(t, prefix, limit)

	// Free some places through both gateways, while both create again.
	page, _, err := gateways[0].ListClients(ctx, storage.ListOptions{Limit: limit})
	if err != nil || len(page) != limit {
		t.Fatalf("ListClients = %d clients, %v", len(page), err)
	}
	const freed = 6
	var wg sync.WaitGroup
	for i, c := range page[:freed] {
		wg.Go(func() {
			if err := gateways[i%2].DeleteClient(ctx, c.ID); err != nil {
				t.Errorf("delete %s: %v", c.ID, err)
			}
		})
	}
	second := createAll("second")
	wg.Wait()
	// The creates that ran before a delete found no place: at most freed.
	if second > freed {
		t.Fatalf("%d creates succeeded with %d places freed", second, freed)
	}
	// Those that found none find them now.
	if n := createAll("third"); second+n != freed {
		t.Fatalf("%d creates succeeded with %d places freed", second+n, freed)
	}
	assertStoredCount(t, prefix, limit)
}

// A write that loses every attempt gives up with an error that is
// storage.ErrUnavailable, which callers answer as a retryable 503.
func TestWriteLosingEveryAttemptIsUnavailable(t *testing.T) {
	s := openStore(t, testPrefix(t), "gw-a")
	key := s.countKey()
	err := s.writeCAS(t.Context(), func(v *view) (plan, error) {
		// A compare that never holds: a revision no key has.
		return plan{
			keys: []string{key},
			cmps: []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", -1)},
			ops:  []clientv3.Op{clientv3.OpPut(key, "0")},
		}, nil
	})
	if !errors.Is(err, storage.ErrUnavailable) || !errors.Is(err, errContended) {
		t.Fatalf("write that always loses: %v, want ErrUnavailable", err)
	}
}

// assertStoredCount checks both what etcd holds under the prefix, the
// count key and the client keys, against want.
func assertStoredCount(t *testing.T, prefix string, want int) {
	t.Helper()
	raw := rawClient(t)
	ctx := t.Context()
	count, err := raw.Get(ctx, prefix+"/meta/client-count")
	if err != nil || len(count.Kvs) != 1 {
		t.Fatalf("count key = %v, %v", count, err)
	}
	if got, _ := strconv.Atoi(string(count.Kvs[0].Value)); got != want {
		t.Errorf("stored client count = %d, want %d", got, want)
	}
	clients, err := raw.Get(ctx, prefix+"/clients/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if clients.Count != int64(want) {
		t.Errorf("client keys in etcd = %d, want %d", clients.Count, want)
	}
}
