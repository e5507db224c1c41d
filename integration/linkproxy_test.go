package integration

import (
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// linkProxy is one gateway's link to etcd: a TCP proxy on loopback that the
// gateway takes for its etcd endpoint, and that forwards each connection to
// a running member. A test cuts the link (every connection closed, new ones
// closed as soon as they are accepted) and restores it, or points it at
// another cluster.
type linkProxy struct {
	t  testing.TB
	ln net.Listener

	mu       sync.Mutex
	targets  func() []string // host:port of the members to forward to
	owner    *etcdCluster    // the cluster that tells it when a member dies
	cut      bool
	next     int // round robin over targets
	conns    map[*proxiedConn]struct{}
	accepted int // connections forwarded since the start
	closed   bool
	wg       sync.WaitGroup
}

// proxiedConn is one forwarded connection.
type proxiedConn struct {
	down, up net.Conn // the gateway's side, the member's side
	target   string
	once     sync.Once
}

func (pc *proxiedConn) close() {
	pc.once.Do(func() {
		pc.down.Close()
		pc.up.Close()
	})
}

// newLinkProxy listens on a loopback port and forwards to targets.
func newLinkProxy(t testing.TB, targets func() []string) *linkProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &linkProxy{t: t, ln: ln, targets: targets, conns: map[*proxiedConn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

// NewProxy returns a proxy in front of the cluster's running members.
func (c *etcdCluster) NewProxy() *linkProxy {
	c.t.Helper()
	p := newLinkProxy(c.t, c.Endpoints)
	p.owner = c
	c.attach(p)
	return p
}

// Addr is the proxy's host:port.
func (p *linkProxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every connection and refuses new ones until Restore.
func (p *linkProxy) Cut() {
	p.mu.Lock()
	p.cut = true
	conns := p.takeConnsLocked(func(*proxiedConn) bool { return true })
	p.mu.Unlock()
	for _, pc := range conns {
		pc.close()
	}
}

// Restore lets connections through again.
func (p *linkProxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

// Retarget points the proxy at another cluster: every connection is
// closed, and the next ones go to the new cluster's members.
func (p *linkProxy) Retarget(c *etcdCluster) {
	p.mu.Lock()
	old := p.owner
	p.owner, p.targets = c, c.Endpoints
	conns := p.takeConnsLocked(func(*proxiedConn) bool { return true })
	p.mu.Unlock()
	if old != nil {
		old.detach(p)
	}
	c.attach(p)
	for _, pc := range conns {
		pc.close()
	}
}

// sever closes the connections to target, whose process died.
func (p *linkProxy) sever(target string) {
	p.mu.Lock()
	conns := p.takeConnsLocked(func(pc *proxiedConn) bool { return pc.target == target })
	p.mu.Unlock()
	for _, pc := range conns {
		pc.close()
	}
}

// Open is the number of connections forwarded now; Accepted the number
// forwarded since the start.
func (p *linkProxy) Open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

func (p *linkProxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

func (p *linkProxy) takeConnsLocked(match func(*proxiedConn) bool) []*proxiedConn {
	var taken []*proxiedConn
	for pc := range p.conns {
		if match(pc) {
			taken = append(taken, pc)
			delete(p.conns, pc)
		}
	}
	return taken
}

func (p *linkProxy) serve() {
	defer p.wg.Done()
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.forward(down)
		}()
	}
}

// forward connects down to the next running member that answers, and
// copies both ways until either side closes or the link is cut.
func (p *linkProxy) forward(down net.Conn) {
	p.mu.Lock()
	cut, targets, start := p.cut, p.targets(), p.next
	p.next++
	p.mu.Unlock()
	if cut || len(targets) == 0 {
		down.Close()
		return
	}
	var (
		up     net.Conn
		target string
	)
	for k := range targets {
		target = targets[(start+k)%len(targets)]
		c, err := net.DialTimeout("tcp", target, time.Second)
		if err == nil {
			up = c
			break
		}
	}
	if up == nil {
		down.Close()
		return
	}
	pc := &proxiedConn{down: down, up: up, target: target}
	p.mu.Lock()
	// The link may have been cut, or the member killed, while dialling.
	alive := !p.cut && !p.closed && slices.Contains(p.targets(), target)
	if alive {
		p.conns[pc] = struct{}{}
		p.accepted++
	}
	p.mu.Unlock()
	if !alive {
		pc.close()
		return
	}
	var wg sync.WaitGroup
	copyThenClose := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		pc.close()
	}
	wg.Add(2)
	go copyThenClose(up, down)
	go copyThenClose(down, up)
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, pc)
	p.mu.Unlock()
}

// close stops the proxy and waits for its goroutines.
func (p *linkProxy) close() {
	p.mu.Lock()
	p.closed = true
	conns := p.takeConnsLocked(func(*proxiedConn) bool { return true })
	owner := p.owner
	p.mu.Unlock()
	if owner != nil {
		owner.detach(p)
	}
	p.ln.Close()
	for _, pc := range conns {
		pc.close()
	}
	p.wg.Wait()
}
