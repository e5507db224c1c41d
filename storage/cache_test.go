package storage_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// countingStore counts the GetClient calls that reach the store it wraps.
type countingStore struct {
	storage.Store
	gets atomic.Int64
}

func (s *countingStore) GetClient(ctx context.Context, id string) (storage.Client, error) {
	s.gets.Add(1)
	return s.Store.GetClient(ctx, id)
}

// failingStore fails every client write with err and changes nothing, the
// way a store on a full disk or a read-only file does.
type failingStore struct {
	storage.Store
	err error
}

func (s *failingStore) CreateClient(context.Context, storage.Client, int) error { return s.err }
func (s *failingStore) DeleteClient(context.Context, string) error              { return s.err }
func (s *failingStore) UpdateClient(context.Context, string, func(storage.Client) (storage.Client, error)) (storage.Client, error) {
	return storage.Client{}, s.err
}

// gatedStore holds a GetClient, after it has read the record and before it
// returns it, until the test releases it: the widest window in which a
// concurrent write can commit.
type gatedStore struct {
	storage.Store
	armed   atomic.Bool
	loaded  chan struct{}
	release chan struct{}
}

func (s *gatedStore) GetClient(ctx context.Context, id string) (storage.Client, error) {
	c, err := s.Store.GetClient(ctx, id)
	if s.armed.CompareAndSwap(true, false) {
		s.loaded <- struct{}{}
		<-s.release
	}
	return c, err
}

var errAbort = errors.New("aborted by the test")

func newCached(t *testing.T, inner storage.Store, size int) *storage.Cached {
	t.Helper()
	c, err := storage.NewCached(inner, size)
	if err != nil {
		t.Fatalf("NewCached: %v", err)
	}
	return c
}

func mustGetClient(t *testing.T, s storage.Store, id string) storage.Client {
	t.Helper()
	c, err := s.GetClient(context.Background(), id)
	if err != nil {
		t.Fatalf("GetClient(%q): %v", id, err)
	}
	return c
}

func TestCachedHitSkipsInnerStore(t *testing.T) {
	ctx := context.Background()
	inner := &countingStore{Store: openTestBolt(t)}
	cache := newCached(t, inner, 10)
	want := sampleClient("client-a", "A")
	if err := cache.CreateClient(ctx, want, 0); err != nil {
		t.Fatal(err)
	}
	first := mustGetClient(t, cache, want.ID)
	second := mustGetClient(t, cache, want.ID)
	third := mustGetClient(t, cache, want.ID)
	if got := inner.gets.Load(); got != 1 {
		t.Fatalf("inner store read %d times for three reads, want 1", got)
	}
	for i, got := range []storage.Client{first, second, third} {
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("read %d = %+v, want %+v", i+1, got, want)
		}
	}
	// Hits share the cached record instead of copying it.
	if &second.Scopes[0] != &third.Scopes[0] || &second.Secrets[0] != &third.Secrets[0] {
		t.Error("two cache hits returned different copies of the slices")
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := cache.GetClient(ctx, want.ID); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("a cache hit allocates %v times, want 0", allocs)
	}
}

func TestCachedKeepsPrivateCopy(t *testing.T) {
	inner := openTestBolt(t)
	cache := newCached(t, inner, 10)
	want := sampleClient("client-a", "A")
	if err := inner.CreateClient(context.Background(), want, 0); err != nil {
		t.Fatal(err)
	}
	// The miss hands out the inner store's record; a caller breaking the
	// read-only rule on it must not reach what the cache holds.
	loaded := mustGetClient(t, cache, want.ID)
	loaded.Scopes[0] = "changed"
	loaded.Secrets[0].Hash[0] ^= 0xff
	loaded.Claims[0] = '['
	if got := mustGetClient(t, cache, want.ID); !reflect.DeepEqual(got, want) {
		t.Fatalf("cached record after the loaded copy changed = %+v, want %+v", got, want)
	}
}

func TestCachedWritesInvalidate(t *testing.T) {
	ctx := context.Background()
	inner := &countingStore{Store: openTestBolt(t)}
	cache := newCached(t, inner, 10)
	c := sampleClient("client-a", "A")
	if err := cache.CreateClient(ctx, c, 0); err != nil {
		t.Fatal(err)
	}
	mustGetClient(t, cache, c.ID)

	updated, err := cache.UpdateClient(ctx, c.ID, func(old storage.Client) (storage.Client, error) {
		old.Scopes = []string{"new:scope"}
		return old, nil
	})
	if err != nil {
		t.Fatalf("UpdateClient: %v", err)
	}
	if got := mustGetClient(t, cache, c.ID); !reflect.DeepEqual(got, updated) || got.Scopes[0] != "new:scope" {
		t.Fatalf("GetClient after update = %+v, want %+v", got, updated)
	}
	if got := inner.gets.Load(); got != 2 {
		t.Fatalf("inner reads = %d, want 2 (the update evicts the entry)", got)
	}

	if err := cache.DeleteClient(ctx, c.ID); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	if _, err := cache.GetClient(ctx, c.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetClient after delete: error = %v, want ErrNotFound", err)
	}

	again := sampleClient(c.ID, "A again")
	if err := cache.CreateClient(ctx, again, 0); err != nil {
		t.Fatalf("CreateClient again: %v", err)
	}
	if got := mustGetClient(t, cache, c.ID); !reflect.DeepEqual(got, again) {
		t.Fatalf("GetClient after re-create = %+v, want %+v", got, again)
	}
}

func TestCachedFailedWrite(t *testing.T) {
	errDisk := errors.New("write /data/scopegate.db: no space left on device")
	rename := func(name string) func(storage.Client) (storage.Client, error) {
		return func(c storage.Client) (storage.Client, error) {
			c.Name = name
			c.Scopes = []string{"not:stored"}
			return c, nil
		}
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name     string
		failWith error // the inner store fails every write with it; nil: a real refusal
		write    func(s storage.Store) error
		wantErr  error
		// kept: the entry survives, so the next read does not reach the inner
		// store; otherwise it is evicted and the next read loads it again.
		kept bool
	}{
		{
			name: "update function error",
			write: func(s storage.Store) error {
				_, err := s.UpdateClient(context.Background(), "client-a", func(storage.Client) (storage.Client, error) {
					return storage.Client{}, errAbort
				})
				return err
			},
			wantErr: errAbort,
			kept:    true,
		},
		{
			name: "rename to a taken name",
			write: func(s storage.Store) error {
				_, err := s.UpdateClient(context.Background(), "client-a", rename("b"))
				return err
			},
			wantErr: storage.ErrAlreadyExists,
			kept:    true,
		},
		{
			name: "create with a taken id",
			write: func(s storage.Store) error {
				return s.CreateClient(context.Background(), sampleClient("client-a", "Other"), 0)
			},
			wantErr: storage.ErrAlreadyExists,
			kept:    true,
		},
		{
			name:     "update on a failing disk",
			failWith: errDisk,
			write: func(s storage.Store) error {
				_, err := s.UpdateClient(context.Background(), "client-a", rename("Renamed"))
				return err
			},
			wantErr: errDisk,
		},
		{
			name:     "delete on a failing disk",
			failWith: errDisk,
			write:    func(s storage.Store) error { return s.DeleteClient(context.Background(), "client-a") },
			wantErr:  errDisk,
		},
		{
			name:     "create on a failing disk",
			failWith: errDisk,
			write: func(s storage.Store) error {
				return s.CreateClient(context.Background(), sampleClient("client-a", "Other"), 0)
			},
			wantErr: errDisk,
		},
		{
			name: "cancelled context",
			write: func(s storage.Store) error {
				_, err := s.UpdateClient(cancelled, "client-a", rename("Renamed"))
				return err
			},
			wantErr: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			bolt := openTestBolt(t)
			want := sampleClient("client-a", "A")
			for _, c := range []storage.Client{want, sampleClient("client-b", "B")} {
				if err := bolt.CreateClient(ctx, c, 0); err != nil {
					t.Fatal(err)
				}
			}
			counting := &countingStore{Store: bolt}
			var inner storage.Store = counting
			if tt.failWith != nil {
				inner = &failingStore{Store: counting, err: tt.failWith}
			}
			cache := newCached(t, inner, 10)
			mustGetClient(t, cache, want.ID)

			if err := tt.write(cache); !errors.Is(err, tt.wantErr) {
				t.Fatalf("write error = %v, want %v", err, tt.wantErr)
			}
			if got := mustGetClient(t, cache, want.ID); !reflect.DeepEqual(got, want) {
				t.Fatalf("GetClient after the failed write = %+v, want %+v", got, want)
			}
			wantReads := int64(2)
			if tt.kept {
				wantReads = 1
			}
			if got := counting.gets.Load(); got != wantReads {
				t.Fatalf("inner reads = %d, want %d", got, wantReads)
			}
		})
	}
}

func TestCachedMissRacingWrite(t *testing.T) {
	tests := []struct {
		name    string
		write   func(s storage.Store) error
		wantErr error
		want    func(c storage.Client) bool
	}{
		{
			name: "update",
			write: func(s storage.Store) error {
				_, err := s.UpdateClient(context.Background(), "client-a", func(c storage.Client) (storage.Client, error) {
					c.Scopes = []string{"after:write"}
					return c, nil
				})
				return err
			},
			want: func(c storage.Client) bool { return reflect.DeepEqual(c.Scopes, []string{"after:write"}) },
		},
		{
			name:    "delete",
			write:   func(s storage.Store) error { return s.DeleteClient(context.Background(), "client-a") },
			wantErr: storage.ErrNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bolt := openTestBolt(t)
			if err := bolt.CreateClient(context.Background(), sampleClient("client-a", "A"), 0); err != nil {
				t.Fatal(err)
			}
			gated := &gatedStore{Store: bolt, loaded: make(chan struct{}), release: make(chan struct{})}
			cache := newCached(t, gated, 10)

			// A read misses and loads the record as it is before the write...
			gated.armed.Store(true)
			before := make(chan storage.Client, 1)
			go func() {
				c, _ := cache.GetClient(context.Background(), "client-a")
				before <- c
			}()
			<-gated.loaded
			// ...the write commits and returns while that read is in flight...
			if err := tt.write(cache); err != nil {
				t.Fatalf("write: %v", err)
			}
			close(gated.release)
			if c := <-before; !reflect.DeepEqual(c.Scopes, sampleClient("", "").Scopes) {
				t.Fatalf("the racing read returned %v, want the record from before the write", c.Scopes)
			}
			// ...and a read after the write never sees the old record.
			got, err := cache.GetClient(context.Background(), "client-a")
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("GetClient after the write: scopes %v, error %v; want %v", got.Scopes, err, tt.wantErr)
				}
				return
			}
			if err != nil || !tt.want(got) {
				t.Fatalf("GetClient after the write = %v, %v: the cache kept the record from before the write", got.Scopes, err)
			}
		})
	}
}

func TestCachedNeverStaleUnderConcurrency(t *testing.T) {
	const (
		clients = 4
		writes  = 40
		readers = 8
	)
	ctx := context.Background()
	inner := openTestBolt(t)
	// Two entries for four clients: misses and evictions all the time.
	cache := newCached(t, inner, 2)
	var latest [clients]atomic.Int64
	for i := range clients {
		c := sampleClient(fmt.Sprintf("client-%d", i), fmt.Sprintf("Client %d", i))
		c.AccessTokenTTL = 0
		if err := cache.CreateClient(ctx, c, 0); err != nil {
			t.Fatal(err)
		}
	}
	var (
		writers sync.WaitGroup
		reading sync.WaitGroup
		stale   atomic.Int64
		failed  atomic.Value
		done    = make(chan struct{})
	)
	for i := range clients {
		writers.Go(func() {
			id := fmt.Sprintf("client-%d", i)
			for n := int64(1); n <= writes; n++ {
				_, err := cache.UpdateClient(ctx, id, func(c storage.Client) (storage.Client, error) {
					c.AccessTokenTTL = time.Duration(n)
					return c, nil
				})
				if err != nil {
					failed.Store(err)
					return
				}
				latest[i].Store(n)
			}
		})
	}
	for r := range readers {
		reading.Go(func() {
			for k := r; ; k++ {
				select {
				case <-done:
					return
				default:
				}
				i := k % clients
				floor := latest[i].Load()
				c, err := cache.GetClient(ctx, fmt.Sprintf("client-%d", i))
				if err != nil {
					failed.Store(err)
					return
				}
				if int64(c.AccessTokenTTL) < floor {
					stale.Add(1)
				}
			}
		})
	}
	writers.Wait()
	close(done)
	reading.Wait()
	if err := failed.Load(); err != nil {
		t.Fatal(err)
	}
	if n := stale.Load(); n > 0 {
		t.Fatalf("%d reads returned a record older than a write that had returned", n)
	}
	for i := range clients {
		if got := mustGetClient(t, cache, fmt.Sprintf("client-%d", i)).AccessTokenTTL; got != writes {
			t.Errorf("client-%d version = %d, want %d", i, got, writes)
		}
	}
}

func TestCachedResize(t *testing.T) {
	ctx := context.Background()
	bolt := openTestBolt(t)
	inner := &countingStore{Store: bolt}
	cache := newCached(t, inner, 4)
	for i := range 4 {
		c := sampleClient(fmt.Sprintf("client-%d", i), fmt.Sprintf("Client %d", i))
		if err := bolt.CreateClient(ctx, c, 0); err != nil {
			t.Fatal(err)
		}
		mustGetClient(t, cache, c.ID)
	}
	steps := []struct {
		size    int
		wantErr bool
		wantLen int
	}{
		{size: 2, wantLen: 2},
		{size: 0, wantErr: true, wantLen: 2},
		{size: -5, wantErr: true, wantLen: 2},
		{size: 100, wantLen: 2},
	}
	for _, step := range steps {
		err := cache.Resize(step.size)
		if (err != nil) != step.wantErr {
			t.Fatalf("Resize(%d) error = %v, want error: %v", step.size, err, step.wantErr)
		}
		if got := cache.Len(); got != step.wantLen {
			t.Fatalf("Len after Resize(%d) = %d, want %d", step.size, got, step.wantLen)
		}
	}
	// Shrinking kept the two most recently read clients.
	reads := inner.gets.Load()
	mustGetClient(t, cache, "client-3")
	mustGetClient(t, cache, "client-2")
	if got := inner.gets.Load() - reads; got != 0 {
		t.Fatalf("reading the two most recent clients reached the inner store %d times, want 0", got)
	}
	mustGetClient(t, cache, "client-0")
	if got := inner.gets.Load() - reads; got != 1 {
		t.Fatalf("reading an evicted client reached the inner store %d times, want 1", got)
	}
	if got := cache.Len(); got != 3 {
		t.Fatalf("Len = %d, want 3", got)
	}
}

func TestNewCachedRefuses(t *testing.T) {
	tests := []struct {
		name  string
		inner storage.Store
		size  int
	}{
		{"nil store", nil, 10},
		{"zero size", &failingStore{}, 0},
		{"negative size", &failingStore{}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := storage.NewCached(tt.inner, tt.size); err == nil || c != nil {
				t.Fatalf("NewCached = %v, %v; want nil and an error", c, err)
			}
		})
	}
}

func TestCachedInnerAndClose(t *testing.T) {
	ctx := context.Background()
	inner := openTestBolt(t)
	cache := newCached(t, inner, 10)
	if cache.Inner() != storage.Store(inner) {
		t.Fatal("Inner() is not the wrapped store")
	}
	c := sampleClient("client-a", "A")
	if err := cache.CreateClient(ctx, c, 0); err != nil {
		t.Fatal(err)
	}
	mustGetClient(t, cache, c.ID)
	if err := cache.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if cache.Len() != 0 {
		t.Fatalf("Len after Close = %d, want 0", cache.Len())
	}
	if _, err := inner.GetClient(ctx, c.ID); err == nil {
		t.Fatal("the inner store still answers after the cache closed it")
	}
	if _, err := cache.GetClient(ctx, c.ID); err == nil {
		t.Fatal("GetClient on a closed cache succeeded")
	}
}

func TestCachedRemembersUnknownIDs(t *testing.T) {
	ctx := context.Background()
	inner := &countingStore{Store: openTestBolt(t)}
	cache := newCached(t, inner, 10)
	for i := range 3 {
		if _, err := cache.GetClient(ctx, "no-such-client"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("read %d of an unknown ID: error %v, want ErrNotFound", i+1, err)
		}
	}
	if got := inner.gets.Load(); got != 1 {
		t.Fatalf("inner store read %d times for three reads of one unknown ID, want 1", got)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := cache.GetClient(ctx, "no-such-client"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("a remembered unknown ID allocates %v times, want 0 (as a cache hit)", allocs)
	}
}

func TestCachedCreateForgetsUnknownID(t *testing.T) {
	ctx := context.Background()
	cache := newCached(t, openTestBolt(t), 10)
	if _, err := cache.GetClient(ctx, "client-a"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("before create: %v, want ErrNotFound", err)
	}
	want := sampleClient("client-a", "A")
	if err := cache.CreateClient(ctx, want, 0); err != nil {
		t.Fatal(err)
	}
	if got := mustGetClient(t, cache, "client-a"); !reflect.DeepEqual(got, want) {
		t.Fatalf("after create = %+v, want %+v", got, want)
	}
	// A delete makes it unknown again, and a second create known again.
	if err := cache.DeleteClient(ctx, "client-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.GetClient(ctx, "client-a"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("after delete: %v, want ErrNotFound", err)
	}
	if err := cache.CreateClient(ctx, want, 0); err != nil {
		t.Fatal(err)
	}
	mustGetClient(t, cache, "client-a")
}

func TestCachedUnknownIDsAreBounded(t *testing.T) {
	ctx := context.Background()
	cache := newCached(t, openTestBolt(t), 10)
	for i := range 1000 {
		if _, err := cache.GetClient(ctx, fmt.Sprintf("made-up-%d", i)); !errors.Is(err, storage.ErrNotFound) {
			t.Fatal(err)
		}
	}
	if n := storage.UnknownLen(cache); n != 10 {
		t.Fatalf("remembering %d unknown IDs, want the cache size, 10", n)
	}
	if err := cache.Resize(3); err != nil {
		t.Fatal(err)
	}
	if n := storage.UnknownLen(cache); n != 3 {
		t.Fatalf("after Resize(3), remembering %d unknown IDs, want 3", n)
	}
	if err := cache.Close(); err != nil {
		t.Fatal(err)
	}
	if n := storage.UnknownLen(cache); n != 0 {
		t.Fatalf("after Close, remembering %d unknown IDs, want 0", n)
	}
}

// TestCachedMissRacingCreate holds a read of a not-yet-existing client
// between its load (not found) and its return while the client is created:
// the create must not be hidden by the unknown ID the racing read saw.
func TestCachedMissRacingCreate(t *testing.T) {
	ctx := context.Background()
	gated := &gatedStore{Store: openTestBolt(t), loaded: make(chan struct{}), release: make(chan struct{})}
	cache := newCached(t, gated, 10)
	gated.armed.Store(true)
	racing := make(chan error, 1)
	go func() {
		_, err := cache.GetClient(ctx, "client-a")
		racing <- err
	}()
	<-gated.loaded
	if err := cache.CreateClient(ctx, sampleClient("client-a", "A"), 0); err != nil {
		t.Fatal(err)
	}
	close(gated.release)
	if err := <-racing; !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the racing read: %v, want ErrNotFound from before the create", err)
	}
	mustGetClient(t, cache, "client-a")
}

// TestCachedCreatesNeverHiddenUnderConcurrency reads IDs while they are
// being created: once a create has returned, no read may answer not found.
func TestCachedCreatesNeverHiddenUnderConcurrency(t *testing.T) {
	const (
		clients = 64
		readers = 8
	)
	ctx := context.Background()
	// A small cache: unknown IDs and records are evicted all the time.
	cache := newCached(t, openTestBolt(t), 4)
	var (
		created [clients]atomic.Bool
		reading sync.WaitGroup
		hidden  atomic.Int64
		failed  atomic.Value
		done    = make(chan struct{})
	)
	for r := range readers {
		reading.Go(func() {
			for k := r; ; k++ {
				select {
				case <-done:
					return
				default:
				}
				i := k % clients
				wasCreated := created[i].Load()
				_, err := cache.GetClient(ctx, fmt.Sprintf("client-%d", i))
				switch {
				case errors.Is(err, storage.ErrNotFound):
					if wasCreated {
						hidden.Add(1)
					}
				case err != nil:
					failed.Store(err)
					return
				}
			}
		})
	}
	for i := range clients {
		if err := cache.CreateClient(ctx, sampleClient(fmt.Sprintf("client-%d", i), fmt.Sprintf("Client %d", i)), 0); err != nil {
			t.Fatal(err)
		}
		created[i].Store(true)
	}
	close(done)
	reading.Wait()
	if err := failed.Load(); err != nil {
		t.Fatal(err)
	}
	if n := hidden.Load(); n > 0 {
		t.Fatalf("%d reads answered not found for a client whose create had returned", n)
	}
	for i := range clients {
		mustGetClient(t, cache, fmt.Sprintf("client-%d", i))
	}
}
