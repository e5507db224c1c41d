package etcd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/storage/replica"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/server/v3/embed"
)

// freeURL returns a loopback URL on a port that was free a moment ago: a
// member's address must be known before it starts (its peers name it, and
// a gateway is given it while it is down).
func freeURL(t *testing.T) url.URL {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return url.URL{Scheme: "http", Host: l.Addr().String()}
}

// testMember is an etcd member of a cluster of the test's own, which the
// test may stop and start again on the same address and data.
type testMember struct {
	cfg  *embed.Config
	mu   sync.Mutex
	etcd *embed.Etcd
}

// startCluster starts n members that form one cluster, with elections a
// tenth of etcd's default length, and waits until they are ready.
func startCluster(t *testing.T, n int) []*testMember {
	t.Helper()
	members := make([]*testMember, n)
	var initial []string
	for i := range members {
		name := fmt.Sprintf("m%d", i)
		cfg := memberConfig(name, t.TempDir(), freeURL(t), freeURL(t))
		cfg.TickMs, cfg.ElectionMs = 10, 100
		members[i] = &testMember{cfg: cfg}
		initial = append(initial, name+"="+cfg.AdvertisePeerUrls[0].String())
	}
	for _, m := range members {
		m.cfg.InitialCluster = strings.Join(initial, ",")
		m.start(t)
		t.Cleanup(m.stop)
	}
	for _, m := range members {
		m.waitReady(t)
	}
	return members
}

func (m *testMember) start(t *testing.T) {
	t.Helper()
	e, err := embed.StartEtcd(m.cfg)
	if err != nil {
		t.Fatalf("start member %s: %v", m.cfg.Name, err)
	}
	m.mu.Lock()
	m.etcd = e
	m.mu.Unlock()
}

func (m *testMember) waitReady(t *testing.T) {
	t.Helper()
	m.mu.Lock()
	e := m.etcd
	m.mu.Unlock()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		t.Fatalf("member %s: %v", m.cfg.Name, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("member %s not ready within 30 s", m.cfg.Name)
	}
}

// stop stops the member; it does nothing when it is stopped.
func (m *testMember) stop() {
	m.mu.Lock()
	e := m.etcd
	m.etcd = nil
	m.mu.Unlock()
	if e != nil {
		e.Close()
	}
}

func (m *testMember) endpoint() string { return m.cfg.AdvertiseClientUrls[0].Host }

// hasLeader reports whether the member knows a leader.
func (m *testMember) hasLeader() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.etcd != nil && m.etcd.Server.Leader() != 0
}

// A gateway whose etcd is not there yet starts; it answers ErrUnavailable
// and says why until etcd appears, then lists, tells its followers, and
// serves.
func TestNewBeforeEtcdIsUp(t *testing.T) {
	clientURL, peer := freeURL(t), freeURL(t)
	sealer, err := NewSealer(testSealKey)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	s, err := New(Options{
		Endpoints:   []string{clientURL.Host},
		GatewayID:   "gw-a",
		Sealer:      sealer,
		DialTimeout: 200 * time.Millisecond,
		Heartbeat:   100 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if took := time.Since(began); took > time.Second {
		t.Errorf("New took %v with etcd down, want it at once", took)
	}
	defer s.Close()
	resets := make(chan struct{}, 10)
	defer s.Follow(func(c storage.Change) {
		if c.Reset {
			resets <- struct{}{}
		}
	})()

	ctx := t.Context()
	if _, err := s.GetClient(ctx, "client-a"); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("GetClient before the first list: %v, want ErrUnavailable", err)
	}
	if _, _, err := s.ListClients(ctx, storage.ListOptions{Limit: 10}); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("ListClients before the first list: %v, want ErrUnavailable", err)
	}
	if err := s.CreateClient(ctx, client("client-a", "A"), 0); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("CreateClient before the first list: %v, want ErrUnavailable", err)
	}
	eventually(t, 5*time.Second, "the first list's failure is reported", func() bool {
		return s.Health().LastError != ""
	})
	h := s.Health()
	if h.Ready || h.Degraded || h.Lists != 0 || !h.LastContact.IsZero() || !s.LastContact().IsZero() || !strings.Contains(h.LastError, clientURL.Host) {
		t.Fatalf("Health before the first list = %+v; want not ready, the endpoint named", h)
	}
	select {
	case <-s.Ready():
		t.Fatal("Ready with etcd down")
	default:
	}

	cfg := memberConfig("late", t.TempDir(), clientURL, peer)
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	m := &testMember{cfg: cfg}
	m.start(t)
	// After the deferred Close: a member stopping waits for its clients.
	t.Cleanup(m.stop)
	m.waitReady(t)
	select {
	case <-s.Ready():
	case <-time.After(15 * time.Second):
		t.Fatalf("not Ready within 15 s of etcd coming up; health %+v", s.Health())
	}
	select {
	case <-resets:
	case <-time.After(5 * time.Second):
		t.Fatal("the first list was not told as a Reset")
	}
	if err := s.CreateClient(ctx, client("client-a", "A"), 0); err != nil {
		t.Fatalf("CreateClient once ready: %v", err)
	}
	if _, err := s.GetClient(ctx, "client-a"); err != nil {
		t.Fatalf("GetClient once ready: %v", err)
	}
	if h := s.Health(); !h.Ready || h.Lists != 1 || h.Revision == 0 || s.LastContact().IsZero() {
		t.Fatalf("Health once ready = %+v", h)
	}
}

// With its etcd member stopped, a gateway serves reads from its replica and
// answers writes with ErrUnavailable within WriteTimeout; a caller's own
// deadline stays the caller's. Once the member is back, writes succeed.
func TestWritesUnavailableWhenEtcdStopped(t *testing.T) {
	m := startCluster(t, 1)[0]
	const writeTimeout = 500 * time.Millisecond
	s := openStore(t, testPrefix(t), "gw-a", func(o *Options) {
		o.Endpoints = []string{m.endpoint()}
		o.WriteTimeout = writeTimeout
		o.Heartbeat = 50 * time.Millisecond
	})
	ctx := t.Context()
	if err := s.CreateClient(ctx, client("client-a", "A"), 0); err != nil {
		t.Fatal(err)
	}
	m.stop() // takes etcd's request timeout (5 s): the watch stays open

	writes := map[string]func() error{
		"CreateClient": func() error { return s.CreateClient(ctx, client("client-b", "B"), 0) },
		"UpdateClient": func() error {
			_, err := s.UpdateClient(ctx, "client-a", func(c storage.Client) (storage.Client, error) { c.Disabled = true; return c, nil })
			return err
		},
		"DeleteClient": func() error { return s.DeleteClient(ctx, "client-a") },
		"UpdateSigningKeys": func() error {
			_, err := s.UpdateSigningKeys(ctx, func(k []storage.SigningKey) ([]storage.SigningKey, error) { return k, nil })
			return err
		},
		"Revoke": func() error {
			return s.Revoke(ctx, storage.Revocation{JTI: "jti-1", ClientID: "client-a", ExpiresAt: time.Now().Add(time.Hour)})
		},
		"AddUsage": func() error { return s.AddUsage(ctx, map[string]storage.Usage{"client-a": {TokensIssued: 1}}) },
	}
	for name, write := range writes {
		began := time.Now()
		err := write()
		took := time.Since(began)
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("%s with etcd stopped: %v, want ErrUnavailable", name, err)
		}
		if took > writeTimeout+2*time.Second {
			t.Errorf("%s with etcd stopped took %v; WriteTimeout is %v", name, took, writeTimeout)
		}
	}
	// The caller's own deadline, shorter than WriteTimeout, is not ours.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := s.CreateClient(short, client("client-b", "B"), 0); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("CreateClient past the caller's deadline: %v, want DeadlineExceeded and not ErrUnavailable", err)
	}
	// Reads are served from the replica, which says it is behind.
	if c, err := s.GetClient(ctx, "client-a"); err != nil || c.Disabled {
		t.Fatalf("GetClient with etcd stopped = %+v, %v", c, err)
	}
	eventually(t, 5*time.Second, "Health turns degraded and says why", func() bool {
		h := s.Health()
		return h.Ready && h.Degraded && h.LastError != ""
	})

	m.start(t)
	m.waitReady(t)
	eventually(t, 15*time.Second, "a write succeeds once etcd is back", func() bool {
		err := s.CreateClient(ctx, client("client-b", "B"), 0)
		return err == nil || errors.Is(err, storage.ErrAlreadyExists)
	})
	// The write may have returned before the replica listed again (a
	// committed write is not held up by a replica behind).
	eventually(t, 15*time.Second, "the replica follows again", func() bool {
		_, errA := s.GetClient(ctx, "client-a")
		_, errB := s.GetClient(ctx, "client-b")
		return errA == nil && errB == nil && !s.Health().Degraded
	})
}

// A member that lost its leader refuses writes at once (WithRequireLeader)
// rather than at WriteTimeout; once a leader is elected they succeed.
func TestWritesUnavailableWithoutLeader(t *testing.T) {
	members := startCluster(t, 2)
	s := openStore(t, testPrefix(t), "gw-a", func(o *Options) {
		o.Endpoints = []string{members[0].endpoint()}
		o.WriteTimeout = 5 * time.Second
	})
	ctx := t.Context()
	if err := s.CreateClient(ctx, client("client-a", "A"), 0); err != nil {
		t.Fatal(err)
	}
	// Two members: with one stopped, the other cannot be or elect a leader.
	members[1].stop()
	eventually(t, 10*time.Second, "the member left alone has no leader", func() bool { return !members[0].hasLeader() })
	began := time.Now()
	err := s.CreateClient(ctx, client("client-b", "B"), 0)
	took := time.Since(began)
	if !errors.Is(err, storage.ErrUnavailable) || !errors.Is(err, rpctypes.ErrNoLeader) {
		t.Fatalf("CreateClient without a leader: %v, want ErrUnavailable from etcd's no leader", err)
	}
	if took > 2*time.Second {
		t.Fatalf("CreateClient without a leader took %v, want an answer well before WriteTimeout", took)
	}
	if _, err := s.GetClient(ctx, "client-a"); err != nil {
		t.Fatalf("GetClient without a leader: %v", err)
	}
	members[1].start(t)
	members[1].waitReady(t)
	eventually(t, 15*time.Second, "a write succeeds once a leader is elected", func() bool {
		err := s.CreateClient(ctx, client("client-b", "B"), 0)
		return err == nil || errors.Is(err, storage.ErrAlreadyExists)
	})
	if n, err := s.CountClients(ctx); err != nil || n != 2 {
		t.Fatalf("CountClients after the election = %d, %v; want 2", n, err)
	}
}

// A write that committed, while this gateway's watch is held back, succeeds
// at WriteTimeout: it is in etcd. The caller's own deadline ending first is
// an error that says it committed.
func TestCommittedWriteNotYetApplied(t *testing.T) {
	var gate *gatedFeed
	prefix := testPrefix(t)
	s := openStore(t, prefix, "gw-a", func(o *Options) {
		o.WriteTimeout = 300 * time.Millisecond
		o.wrapFeed = func(f replica.Feed) replica.Feed {
			gate = &gatedFeed{Feed: f}
			return gate
		}
	})
	ctx := t.Context()
	heard := make(chan string, 10)
	defer s.Follow(func(c storage.Change) {
		if c.ClientID != "" {
			heard <- c.ClientID
		}
	})()
	release := gate.cutAndHold(t)
	if err := s.CreateClient(ctx, client("client-a", "A"), 0); err != nil {
		t.Fatalf("CreateClient committed, not applied: %v, want success", err)
	}
	if _, err := s.GetClient(ctx, "client-a"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetClient before the replica caught up: %v, want ErrNotFound", err)
	}
	if resp, err := rawClient(t).Get(ctx, s.clientKey("client-a")); err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("client in etcd = %v, %v; want it there", resp, err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err := s.CreateClient(short, client("client-b", "B"), 0)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), "committed") {
		t.Fatalf("CreateClient committed, caller's deadline first: %v", err)
	}
	release()
	for _, want := range []string{"client-a", "client-b"} {
		select {
		case got := <-heard:
			if got != want {
				t.Fatalf("heard %s, want %s", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s not told once the watch resumed", want)
		}
	}
	if _, err := s.GetClient(ctx, "client-a"); err != nil {
		t.Fatalf("GetClient after the replica caught up: %v", err)
	}
}

// Follow tells every change of clients, keys and revocations, in order,
// whichever gateway wrote it, and nothing of the keys that only index or
// count.
func TestFollow(t *testing.T) {
	prefix := testPrefix(t)
	a := openStore(t, prefix, "gw-a")
	b := openStore(t, prefix, "gw-b")
	ctx := t.Context()
	var (
		mu    sync.Mutex
		heard []string
		more  = make(chan struct{}, 1)
	)
	stop := a.Follow(func(c storage.Change) {
		var line string
		switch {
		case c.Reset:
			line = "reset"
		case c.ClientID != "":
			line = "client " + c.ClientID
		case c.Keys:
			line = "keys"
		case c.Revoked != nil:
			line = fmt.Sprintf("revoked %s of %s", c.Revoked.JTI, c.Revoked.ClientID)
		}
		mu.Lock()
		heard = append(heard, line)
		mu.Unlock()
		select {
		case more <- struct{}{}:
		default:
		}
	})
	defer stop()
	steps := []func() error{
		func() error { return a.CreateClient(ctx, client("client-1", "One"), 0) },
		func() error {
			_, err := b.UpdateClient(ctx, "client-1", func(c storage.Client) (storage.Client, error) { c.Name = "Renamed"; return c, nil })
			return err
		},
		func() error { return a.AddUsage(ctx, map[string]storage.Usage{"client-1": {TokensIssued: 1}}) },
		func() error {
			return b.Revoke(ctx, storage.Revocation{JTI: "jti-1", ClientID: "client-1", ExpiresAt: time.Now().Add(time.Hour)})
		},
		func() error {
			_, err := a.UpdateSigningKeys(ctx, func([]storage.SigningKey) ([]storage.SigningKey, error) {
				return []storage.SigningKey{{ID: "kid-1", Algorithm: "ES256", PrivateKey: []byte("k"), CreatedAt: t0, ActiveAt: t0}}, nil
			})
			return err
		},
		func() error { return b.DeleteClient(ctx, "client-1") },
		func() error { return b.CreateClient(ctx, client("client-2", "Two"), 0) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := "client client-1|client client-1|revoked jti-1 of client-1|keys|client client-1|client client-2"
	timeout := time.After(5 * time.Second)
	for {
		mu.Lock()
		got := strings.Join(heard, "|")
		mu.Unlock()
		if got == want {
			break
		}
		if !strings.HasPrefix(want, got) {
			t.Fatalf("heard %q, want %q", got, want)
		}
		select {
		case <-more:
		case <-timeout:
			t.Fatalf("heard %q, want %q", got, want)
		}
	}
	// Calls end with stop.
	stop()
	if err := a.CreateClient(ctx, client("client-3", "Three"), 0); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(heard, "|"); got != want {
		t.Fatalf("heard %q after stop", got)
	}
}

// A Cached over one gateway's store serves what another gateway writes:
// the follower evicts a client that changed, and on a Reset (here a list
// after the history was compacted away) every client and unknown ID.
func TestCachedFollowsOtherGateway(t *testing.T) {
	prefix := testPrefix(t)
	var gate *gatedFeed
	a := openStore(t, prefix, "gw-a", func(o *Options) {
		o.wrapFeed = func(f replica.Feed) replica.Feed {
			gate = &gatedFeed{Feed: f}
			return gate
		}
	})
	b := openStore(t, prefix, "gw-b")
	cached, err := storage.NewCached(a, 100)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cached.Close() })
	ctx := t.Context()
	disable := func(c storage.Client) (storage.Client, error) { c.Disabled = true; return c, nil }

	// Remembered as unknown, then created through B.
	if _, err := cached.GetClient(ctx, "client-x"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetClient of a client not yet created: %v", err)
	}
	if err := b.CreateClient(ctx, client("client-x", "X"), 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "a client created through B is served", func() bool {
		_, err := cached.GetClient(ctx, "client-x")
		return err == nil
	})
	if cached.Len() != 1 {
		t.Fatalf("cached clients = %d, want 1", cached.Len())
	}
	// Cached, then changed through B.
	if _, err := b.UpdateClient(ctx, "client-x", disable); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "a client changed through B is served changed", func() bool {
		c, err := cached.GetClient(ctx, "client-x")
		return err == nil && c.Disabled
	})
	// Deleted through B.
	if err := b.DeleteClient(ctx, "client-x"); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "a client deleted through B is gone", func() bool {
		_, err := cached.GetClient(ctx, "client-x")
		return errors.Is(err, storage.ErrNotFound)
	})

	// A Reset: changes that A's watch never delivers (compacted away)
	// reach the cache through the list that follows.
	if err := b.CreateClient(ctx, client("client-y", "Y"), 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "client-y cached", func() bool {
		_, err := cached.GetClient(ctx, "client-y")
		return err == nil
	})
	if _, err := cached.GetClient(ctx, "client-z"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetClient of client-z: %v", err)
	}
	release := gate.cutAndHold(t)
	listsBefore := a.Status().Lists
	if _, err := b.UpdateClient(ctx, "client-y", disable); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateClient(ctx, client("client-z", "Z"), 0); err != nil {
		t.Fatal(err)
	}
	raw := rawClient(t)
	resp, err := raw.Get(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Compact(ctx, resp.Header.Revision); err != nil {
		t.Fatal(err)
	}
	// Still held back: the cache serves what it had.
	if c, err := cached.GetClient(ctx, "client-y"); err != nil || c.Disabled {
		t.Fatalf("client-y before the list = %+v, %v; want the cached record", c, err)
	}
	release()
	eventually(t, 5*time.Second, "after the Reset, the cache serves the registry", func() bool {
		y, errY := cached.GetClient(ctx, "client-y")
		_, errZ := cached.GetClient(ctx, "client-z")
		return errY == nil && y.Disabled && errZ == nil
	})
	if st := a.Status(); st.Lists <= listsBefore || !errors.Is(st.LastReset, replica.ErrCompacted) {
		t.Fatalf("A's status = %+v; want a list after compaction", st)
	}
}

// pausingStore is a gateway's Store whose GetClient can be held after it
// read the replica, and whose followers say when they are done, so that a
// test can order a cache load against a change arriving.
type pausingStore struct {
	*Store
	hold     atomic.Pointer[chan struct{}] // GetClient waits on it when set
	loaded   chan struct{}
	followed chan storage.Change
}

func (p *pausingStore) GetClient(ctx context.Context, id string) (storage.Client, error) {
	c, err := p.Store.GetClient(ctx, id)
	if hold := p.hold.Load(); hold != nil {
		p.loaded <- struct{}{}
		<-*hold
	}
	return c, err
}

func (p *pausingStore) Follow(fn func(storage.Change)) func() {
	return p.Store.Follow(func(c storage.Change) {
		fn(c)
		p.followed <- c
	})
}

// A load that read the record before a change arrived from another
// gateway is not cached: the epoch moved under it.
func TestCachedLoadRacingChangeIsNotCached(t *testing.T) {
	prefix := testPrefix(t)
	p := &pausingStore{
		Store:    openStore(t, prefix, "gw-a"),
		loaded:   make(chan struct{}),
		followed: make(chan storage.Change, 100),
	}
	b := openStore(t, prefix, "gw-b")
	cached, err := storage.NewCached(p, 100)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cached.Close() })
	ctx := t.Context()
	waitFollowed := func(id string) {
		t.Helper()
		for {
			select {
			case c := <-p.followed:
				if c.ClientID == id {
					return
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("change of %s not followed", id)
			}
		}
	}
	if err := b.CreateClient(ctx, client("client-r", "R"), 0); err != nil {
		t.Fatal(err)
	}
	waitFollowed("client-r")

	hold := make(chan struct{})
	p.hold.Store(&hold)
	got := make(chan storage.Client, 1)
	go func() {
		c, _ := cached.GetClient(ctx, "client-r")
		got <- c
	}()
	<-p.loaded // the load read the record as it was
	if _, err := b.UpdateClient(ctx, "client-r", func(c storage.Client) (storage.Client, error) { c.Disabled = true; return c, nil }); err != nil {
		t.Fatal(err)
	}
	waitFollowed("client-r") // the cache evicted it
	p.hold.Store(nil)
	close(hold)
	if c := <-got; c.Disabled {
		t.Fatal("the racing load read the record after the change; the test orders nothing")
	}
	if c, err := cached.GetClient(ctx, "client-r"); err != nil || !c.Disabled {
		t.Fatalf("GetClient after the change = %+v, %v; the racing load's old record was cached", c, err)
	}
}

// After its etcd member restarts, a gateway on a quiet registry (no write
// after the restart) follows again and stays healthy: its new watch is
// answered every heartbeat, so it neither lists again nor turns degraded.
func TestQuietRegistryAfterEtcdRestart(t *testing.T) {
	m := startCluster(t, 1)[0]
	// Long enough that a busy machine (the race detector, parallel packages)
	// does not miss three heartbeats in a row, which would read as degraded.
	const heartbeat = 200 * time.Millisecond
	s := openStore(t, testPrefix(t), "gw-a", func(o *Options) {
		o.Endpoints = []string{m.endpoint()}
		o.Heartbeat = heartbeat
	})
	ctx := t.Context()
	if err := s.CreateClient(ctx, client("client-a", "A"), 0); err != nil {
		t.Fatal(err)
	}
	m.stop()
	m.start(t)
	m.waitReady(t)
	restarted := time.Now()
	// Whether the gateway lists again after the restart depends on how fast
	// it comes back (a resumed watch and a read at the copy's revision need
	// no list): what must hold is that it hears from etcd again.
	eventually(t, 15*time.Second, "the gateway hears from etcd again and is healthy", func() bool {
		h := s.Health()
		return h.LastContact.After(restarted) && !h.Degraded
	})
	// A bounded observation window of two silences that would end a
	// watch (12 heartbeats): with nothing written, the watch is answered,
	// and the replica neither lists again nor turns degraded.
	lists := s.Health().Lists
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for i := range 2 * (silentHeartbeats + 1) {
		<-tick.C
		if h := s.Health(); h.Lists != lists || h.Degraded {
			t.Fatalf("%v after recovering, with nothing written: health %+v, want %d lists and not degraded", time.Duration(i+1)*heartbeat, h, lists)
		}
	}
	if _, err := s.GetClient(ctx, "client-a"); err != nil {
		t.Fatalf("GetClient after the restart: %v", err)
	}
}
