package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// The harness of the cluster tests, tested on its own: the embedded etcd
// cluster and the link proxy.

// proxiedClient is an etcd client whose only endpoint is p.
func proxiedClient(t *testing.T, p *linkProxy) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://" + p.Addr()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// put writes key within d and returns the error.
func put(cli *clientv3.Client, d time.Duration, key, value string) error {
	ctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(context.Background()), d)
	defer cancel()
	_, err := cli.Put(ctx, key, value)
	return err
}

func get(t *testing.T, cli *clientv3.Client, key string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	if len(resp.Kvs) == 0 {
		return ""
	}
	return string(resp.Kvs[0].Value)
}

// TestClusterHarnessEtcd: three members elect a leader; killing the leader
// gets a new one well under a second later, and writes through a proxy go
// on; a killed member restarts on its data; a wiped cluster comes back with
// the same cluster ID and its history started again.
func TestClusterHarnessEtcd(t *testing.T) {
	t.Parallel()
	c := startEtcdCluster(t, 3)
	cli := proxiedClient(t, c.NewProxy())
	if err := put(cli, 5*time.Second, "/k", "v1"); err != nil {
		t.Fatalf("put through the proxy: %v", err)
	}

	old := c.Leader()
	if old < 0 {
		t.Fatal("no leader after the start")
	}
	killed := time.Now()
	c.Kill(old)
	killTook := time.Since(killed)
	var leader int
	if !eventually(5*time.Second, func() bool { leader = c.Leader(); return leader >= 0 }) {
		t.Fatal("no new leader within 5s of the kill")
	}
	elected := time.Since(killed)
	if leader == old {
		t.Fatalf("member %d was killed and still leads", old)
	}
	if got := len(c.Endpoints()); got != 2 {
		t.Fatalf("%d members running after one of three was killed", got)
	}
	var recovered time.Duration
	if !eventually(10*time.Second, func() bool { return put(cli, time.Second, "/k", "v2") == nil }) {
		t.Fatal("no write through the proxy within 10s of the kill")
	}
	recovered = time.Since(killed)
	t.Logf("leader m%d killed in %v; m%d elected %v after the kill; a write through the proxy succeeded %v after", old, killTook.Round(time.Millisecond), leader, elected.Round(time.Millisecond), recovered.Round(time.Millisecond))

	c.Restart(old)
	if len(c.Endpoints()) != 3 {
		t.Fatal("the killed member did not come back")
	}
	c.awaitLeader()
	id := c.ClusterID()
	direct := c.Client()
	if got := get(t, direct, "/k"); got != "v2" {
		t.Fatalf("after the restart /k is %q", got)
	}
	before := c.Revision(direct)

	c.WipeAndRestart()
	if got := c.ClusterID(); got != id {
		t.Fatalf("the wiped cluster has ID %x, was %x", got, id)
	}
	fresh := c.Client()
	if got := get(t, fresh, "/k"); got != "" {
		t.Fatalf("the wiped cluster still holds /k = %q", got)
	}
	if after := c.Revision(fresh); after >= before {
		t.Fatalf("the wiped cluster is at revision %d, was %d", after, before)
	}
	// The client through the proxy finds the new members on the same ports.
	if !eventually(10*time.Second, func() bool { return put(cli, time.Second, "/k", "v3") == nil }) {
		t.Fatal("no write through the proxy within 10s of the wipe")
	}
}

// echoServer answers each line with the same line.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// echoes sends a line through c and checks that it comes back.
func echoes(c net.Conn) error {
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintln(c, "ping"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "ping\n" {
		return fmt.Errorf("echo answered %q", line)
	}
	return nil
}

func dialEcho(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestClusterHarnessProxy: the proxy forwards, a cut closes what is open
// and closes new connections at once, a restore lets them through again,
// and a dead target's connections alone are closed.
func TestClusterHarnessProxy(t *testing.T) {
	t.Parallel()
	a, b := echoServer(t), echoServer(t)
	p := newLinkProxy(t, func() []string { return []string{a, b} })

	first, second := dialEcho(t, p.Addr()), dialEcho(t, p.Addr())
	for _, c := range []net.Conn{first, second} {
		if err := echoes(c); err != nil {
			t.Fatalf("through the proxy: %v", err)
		}
	}
	if p.Open() != 2 || p.Accepted() != 2 {
		t.Fatalf("open %d, accepted %d; want 2 and 2", p.Open(), p.Accepted())
	}
	// Round robin: one connection to each target; severing a drops one.
	p.sever(a)
	if alive := countEchoing(first, second); alive != 1 {
		t.Fatalf("%d of 2 connections echo after severing one of their two targets", alive)
	}
	if p.Open() != 1 {
		t.Fatalf("%d connections open after severing one of two", p.Open())
	}

	p.Cut()
	if p.Open() != 0 {
		t.Fatalf("%d connections open after the cut", p.Open())
	}
	if alive := countEchoing(first, second); alive != 0 {
		t.Fatalf("%d connections survived the cut", alive)
	}
	var netErr net.Error
	if err := echoes(dialEcho(t, p.Addr())); err == nil || errors.As(err, &netErr) && netErr.Timeout() {
		t.Fatalf("a new connection during the cut: %v; want it closed at once", err)
	}

	p.Restore()
	if err := echoes(dialEcho(t, p.Addr())); err != nil {
		t.Fatalf("after the restore: %v", err)
	}
	if p.Accepted() != 3 {
		t.Fatalf("accepted %d connections, want 3 (none during the cut)", p.Accepted())
	}
}

// countEchoing counts the connections that still echo.
func countEchoing(conns ...net.Conn) int {
	n := 0
	for _, c := range conns {
		if echoes(c) == nil {
			n++
		}
	}
	return n
}

// TestClusterHarnessProxyEtcd: an etcd client whose one endpoint is a proxy
// fails while the link is cut and works again once it is restored; how long
// that takes is the client's reconnection delay, which is logged.
func TestClusterHarnessProxyEtcd(t *testing.T) {
	t.Parallel()
	c := startEtcdCluster(t, 3)
	p := c.NewProxy()
	cli := proxiedClient(t, p)
	if err := put(cli, 5*time.Second, "/k", "v1"); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	if err := put(cli, 500*time.Millisecond, "/k", "v2"); err == nil {
		t.Fatal("a write went through a cut link")
	}
	// Stay cut long enough for the client to back off a few times.
	time.Sleep(3 * time.Second)
	p.Restore()
	restored := time.Now()
	if !eventually(10*time.Second, func() bool { return put(cli, 200*time.Millisecond, "/k", "v3") == nil }) {
		t.Fatal("no write within 10s of the restore")
	}
	t.Logf("after a 3 s cut, the first write went through %v after the restore", time.Since(restored).Round(time.Millisecond))
	if got := get(t, c.Client(), "/k"); got != "v3" {
		t.Fatalf("/k = %q, want v3", got)
	}
}
