package etcd

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// One embedded etcd member serves every test of the package, on loopback
// ports the system picks; each test works under a prefix of its own.
var (
	testEtcd     *embed.Etcd
	testEndpoint string
)

func TestMain(m *testing.M) {
	os.Exit(runWithEtcd(m))
}

func runWithEtcd(m *testing.M) int {
	dir, err := os.MkdirTemp("", "scopegate-etcd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	loopback := url.URL{Scheme: "http", Host: "127.0.0.1:0"}
	cfg := memberConfig("test", dir, loopback, loopback)
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start embedded etcd:", err)
		return 1
	}
	defer e.Close()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		fmt.Fprintln(os.Stderr, "embedded etcd:", err)
		return 1
	case <-time.After(30 * time.Second):
		fmt.Fprintln(os.Stderr, "embedded etcd was not ready within 30 s")
		return 1
	}
	testEtcd = e
	testEndpoint = e.Clients[0].Addr().String()
	return m.Run()
}

// memberConfig configures an embedded member named name, with its data in
// dir, serving clients on client and its peers on peer.
func memberConfig(name, dir string, client, peer url.URL) *embed.Config {
	cfg := embed.NewConfig()
	cfg.Name = name
	cfg.Dir = dir
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	// Quiet: the member's own log (shutdown included) is not the test's.
	cfg.Logger = "zap"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.UnsafeNoFsync = true // a test cluster: nothing to keep across a crash
	return cfg
}

var testSealKey = bytes.Repeat([]byte{0x5a}, SealKeySize)

// testPrefix returns a prefix no other test uses.
func testPrefix(t *testing.T) string {
	return "/test/" + strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + fmt.Sprintf("-%d", prefixSeq.Add(1))
}

var prefixSeq atomic.Int64

// openStore opens a Store ("a gateway") on the test cluster, closed when
// the test ends.
func openStore(t *testing.T, prefix, gateway string, configure ...func(*Options)) *Store {
	t.Helper()
	sealer, err := NewSealer(testSealKey)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{
		Endpoints: []string{testEndpoint},
		Prefix:    prefix,
		GatewayID: gateway,
		Sealer:    sealer,
		Heartbeat: 100 * time.Millisecond,
	}
	for _, f := range configure {
		f(&opts)
	}
	s, err := Open(t.Context(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// rawClient returns a plain etcd client, to look at or change what a
// Store wrote.
func rawClient(t *testing.T) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{testEndpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), within)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not within %v", what, within)
		case <-tick.C:
		}
	}
}

// clientLeaseID converts a stored key's lease.
func clientLeaseID(id int64) clientv3.LeaseID { return clientv3.LeaseID(id) }
