package integration

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Raft timing of the test clusters: a heartbeat every 20 ms and an election
// after 200 ms of silence, so that a new leader is in place well under a
// second after the old one dies, yet a busy machine running the race
// detector does not miss heartbeats and call elections by itself.
const (
	etcdTickMs     = 20
	etcdElectionMs = 200
	// etcdMaxTxnOps lets a test restore a whole registry in one
	// transaction, as a snapshot restore puts it back in one step.
	etcdMaxTxnOps = 10000
)

// etcdCluster is a real etcd cluster of embedded members on loopback, in the
// test process. Members can be killed and restarted; the whole cluster can be
// wiped and started afresh with the same identity (as an operator restoring
// a backup does), and linkProxies in front of it lose their connections to a
// member when it dies, as its TCP connections would with kill -9.
type etcdCluster struct {
	t     testing.TB
	dir   string
	token string // the initial cluster token: with the peer URLs, it fixes the cluster ID

	mu      sync.Mutex
	members []*etcdMember
	proxies []*linkProxy // in front of this cluster; told when a member dies
	wipes   int
}

// etcdMember is one member: its ports stay the same across restarts.
type etcdMember struct {
	name       string
	clientPort int
	peerPort   int
	e          *embed.Etcd // nil while stopped
}

func (m *etcdMember) clientAddr() string { return fmt.Sprintf("127.0.0.1:%d", m.clientPort) }
func (m *etcdMember) peerURL() string    { return fmt.Sprintf("http://127.0.0.1:%d", m.peerPort) }

// startEtcdCluster starts a cluster of n members and waits until it has a
// leader. The members stop when the test ends.
func startEtcdCluster(t testing.TB, n int) *etcdCluster {
	t.Helper()
	c := &etcdCluster{t: t, dir: t.TempDir(), token: fmt.Sprintf("scopegate-test-%d", freePort(t))}
	for i := range n {
		c.members = append(c.members, &etcdMember{name: fmt.Sprintf("m%d", i), clientPort: freePort(t), peerPort: freePort(t)})
	}
	t.Cleanup(c.close)
	c.startMembers(c.indexes()...)
	c.awaitLeader()
	return c
}

func (c *etcdCluster) indexes() []int {
	all := make([]int, len(c.members))
	for i := range all {
		all[i] = i
	}
	return all
}

// config is member i's configuration; the same on every start, so that a
// restarted member takes up its data directory and its place again.
func (c *etcdCluster) config(i int) *embed.Config {
	m := c.members[i]
	var initial []string
	for _, o := range c.members {
		initial = append(initial, o.name+"="+o.peerURL())
	}
	cfg := embed.NewConfig()
	cfg.Name = m.name
	cfg.Dir = filepath.Join(c.dir, fmt.Sprintf("%s-%d", m.name, c.wipes))
	clientURL := []url.URL{{Scheme: "http", Host: m.clientAddr()}}
	peerURL := []url.URL{{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", m.peerPort)}}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = clientURL, clientURL
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = peerURL, peerURL
	cfg.InitialCluster = strings.Join(initial, ",")
	cfg.InitialClusterToken = c.token
	cfg.TickMs, cfg.ElectionMs = etcdTickMs, etcdElectionMs
	cfg.MaxTxnOps = etcdMaxTxnOps
	cfg.Logger = "zap"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.UnsafeNoFsync = true // nothing here must survive a crash of the machine
	return cfg
}

// startMembers starts the stopped members given, at once (a member waits
// for the others to form the cluster), and waits until each serves.
func (c *etcdCluster) startMembers(idx ...int) {
	c.t.Helper()
	errs := make([]error, len(idx))
	var wg sync.WaitGroup
	for k, i := range idx {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = c.startMember(i)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			c.t.Fatal(err)
		}
	}
}

func (c *etcdCluster) startMember(i int) error {
	c.mu.Lock()
	m := c.members[i]
	if m.e != nil {
		c.mu.Unlock()
		return fmt.Errorf("etcd member %s: already running", m.name)
	}
	cfg := c.config(i)
	c.mu.Unlock()
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("starting etcd member %s: %w", m.name, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return fmt.Errorf("etcd member %s: %v", m.name, err)
	case <-time.After(20 * time.Second):
		e.Close()
		return fmt.Errorf("etcd member %s not ready within 20s", m.name)
	}
	c.mu.Lock()
	m.e = e
	c.mu.Unlock()
	return nil
}

// Kill stops member i at once, as kill -9 would: no leadership transfer,
// and every connection a proxy holds to it is closed.
func (c *etcdCluster) Kill(i int) {
	c.t.Helper()
	c.mu.Lock()
	m := c.members[i]
	e := m.e
	m.e = nil
	proxies := append([]*linkProxy(nil), c.proxies...)
	c.mu.Unlock()
	if e == nil {
		c.t.Errorf("etcd member %s is not running", m.name)
		return
	}
	for _, p := range proxies {
		p.sever(m.clientAddr())
	}
	// HardStop first: Close alone would hand the leadership over before
	// stopping, which is a graceful stop, not a crash.
	e.Server.HardStop()
	e.Close()
}

// Restart starts killed members again on their data directories.
func (c *etcdCluster) Restart(idx ...int) {
	c.t.Helper()
	c.startMembers(idx...)
}

// WipeAndRestart kills every member, throws their data away and starts a
// fresh cluster with the same members, ports and token: the same cluster
// ID, and a history that starts again at revision 1, as after an operator
// restores an old snapshot. The cluster has a leader when it returns.
func (c *etcdCluster) WipeAndRestart() {
	c.t.Helper()
	c.close()
	c.mu.Lock()
	c.wipes++ // fresh data directories
	c.mu.Unlock()
	c.startMembers(c.indexes()...)
	c.awaitLeader()
}

func (c *etcdCluster) running(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[i].e != nil
}

// Endpoints returns the client addresses (host:port) of the running members.
func (c *etcdCluster) Endpoints() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var eps []string
	for _, m := range c.members {
		if m.e != nil {
			eps = append(eps, m.clientAddr())
		}
	}
	return eps
}

// Leader returns the index of the member that leads, as every running
// member sees it, or -1 while they do not agree on a running one.
func (c *etcdCluster) Leader() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	leader := -1
	var leaderID uint64
	for _, m := range c.members {
		if m.e == nil {
			continue
		}
		lead := m.e.Server.Lead()
		if lead == 0 || (leaderID != 0 && lead != leaderID) {
			return -1
		}
		leaderID = lead
	}
	for i, m := range c.members {
		if m.e != nil && uint64(m.e.Server.MemberID()) == leaderID {
			leader = i
		}
	}
	return leader
}

// awaitLeader waits until the running members agree on a leader, and
// returns its index.
func (c *etcdCluster) awaitLeader() int {
	c.t.Helper()
	leader := -1
	if !eventually(20*time.Second, func() bool { leader = c.Leader(); return leader >= 0 }) {
		c.t.Fatal("the etcd cluster has no leader after 20s")
	}
	return leader
}

// ClusterID is the ID of the cluster the running members form.
func (c *etcdCluster) ClusterID() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.members {
		if m.e != nil {
			return uint64(m.e.Server.Cluster().ID())
		}
	}
	return 0
}

// Client returns a plain etcd client on the running members, straight (not
// through a proxy), closed when the test ends.
func (c *etcdCluster) Client() *clientv3.Client {
	c.t.Helper()
	var eps []string
	for _, ep := range c.Endpoints() {
		eps = append(eps, "http://"+ep)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// Revision is the cluster's current revision.
func (c *etcdCluster) Revision(cli *clientv3.Client) int64 {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, "\x00")
	if err != nil {
		c.t.Fatalf("reading the revision: %v", err)
	}
	return resp.Header.Revision
}

// attach registers a proxy to be told when a member dies.
func (c *etcdCluster) attach(p *linkProxy) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.proxies = append(c.proxies, p)
}

func (c *etcdCluster) detach(p *linkProxy) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, q := range c.proxies {
		if q == p {
			c.proxies = append(c.proxies[:i], c.proxies[i+1:]...)
			return
		}
	}
}

// close kills every running member, so that none outlives the test.
func (c *etcdCluster) close() {
	var wg sync.WaitGroup
	for i := range c.members {
		if c.running(i) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.Kill(i)
			}()
		}
	}
	wg.Wait()
}
