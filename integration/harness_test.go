package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"text/template"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/scopegate/scopegate"
)

// beCaddyEnv, when set, makes the test binary run as Caddy with the arguments
// that follow "--" on its command line. The tests start real gateway processes
// this way without linking a second binary: the test binary already contains
// Caddy, its standard modules and Scopegate.
const beCaddyEnv = "SCOPEGATE_TEST_BE_CADDY"

func TestMain(m *testing.M) {
	if os.Getenv(beCaddyEnv) == "1" {
		args := os.Args
		for i, a := range args {
			if a == "--" {
				args = args[i+1:]
				break
			}
		}
		os.Args = append([]string{"caddy"}, args...)
		caddycmd.Main()
		return
	}
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		// -parallel defaults to GOMAXPROCS, but a test's work happens in
		// the processes it starts, and mostly it waits for them: two at a
		// time leave a two-core machine idle much of the run.
		_ = flag.Set("test.parallel", strconv.Itoa(max(4, runtime.GOMAXPROCS(0))))
	}
	code := m.Run()
	if n, u := retriedRefused.Load(), retriedUnanswered.Load(); n+u > 0 {
		fmt.Printf("integration: %d requests retried after a refused connection, %d after a connection closed unanswered\n", n, u)
	}
	os.Exit(code)
}

// caddyEnv is the environment of a process that runs the test binary as
// Caddy, with Caddy's data and config under dir.
//
// Built with the race detector, a process that exits with status 0 first
// sleeps for GORACE's atexit_sleep_ms, 1 s by default, so that goroutines
// still running can finish a report. The tests end processes that way by the
// dozen (every CLI command that succeeds, every graceful stop), so the sleep
// is cut to 100 ms unless GORACE already sets it. A race is still reported,
// and still turns the exit status to 66.
func caddyEnv(dir string) []string {
	env := append(os.Environ(), beCaddyEnv+"=1",
		"XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	if race := os.Getenv("GORACE"); !strings.Contains(race, "atexit_sleep_ms") {
		env = append(env, "GORACE="+strings.TrimSpace(race+" atexit_sleep_ms=100"))
	}
	return env
}

// Ports that freePort hands out. The OS takes the ports of outgoing
// connections, and of listeners asking for port 0, from its ephemeral range
// (32768-60999 on Linux): a port found free there can be taken again before
// the gateway binds it, by a connection or by another test process on this
// machine. Below that range only a process that names the port can take it.
const (
	portsFrom = 20000
	portsTo   = 32768
)

// handedOut holds every port freePort has returned, so that no two tests of
// this process are given the same one, even while a test restarts its
// gateway and its ports are free.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// freePort returns a port that is free on every address, as Caddy binds its
// sites, and that no test of this process has been given before.
func freePort(t testing.TB) int {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 1000 {
		port := portsFrom + rand.IntN(portsTo-portsFrom)
		if handedOut.ports[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
		if err != nil {
			continue
		}
		l.Close()
		handedOut.ports[port] = true
		return port
	}
	t.Fatalf("finding a free port: none of 1000 tries from %d to %d was free", portsFrom, portsTo-1)
	return 0
}

// eventually polls cond until it holds or timeout has passed, and reports
// whether it held. Tests wait this way for a condition, never for a fixed
// time. The pause between polls grows from 1 ms to 20 ms: a condition that
// holds at once is seen at once, and one that takes seconds costs few polls.
func eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	pause := time.Millisecond
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
		pause = min(2*pause, 20*time.Millisecond)
	}
}

// lockedBuffer collects a process's output while tests read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Gateway is a Caddy process with Scopegate, started from a Caddyfile.
type Gateway struct {
	t         testing.TB
	Dir       string // the gateway's working directory; the store lives here
	AdminPort int
	HTTPPort  int
	// Vars fill the Caddyfile template; AdminPort, HTTPPort, Dir and any extra
	// ports the test added are available as {{.AdminPort}} and so on.
	Vars     map[string]any
	template string

	cmd  *exec.Cmd
	logs *lockedBuffer
	done chan struct{}
}

// NewGateway prepares a gateway in a fresh directory. Call Start to run it.
func NewGateway(t testing.TB, caddyfileTemplate string) *Gateway {
	t.Helper()
	g := &Gateway{
		t:         t,
		Dir:       t.TempDir(),
		AdminPort: freePort(t),
		HTTPPort:  freePort(t),
		template:  caddyfileTemplate,
		logs:      new(lockedBuffer),
	}
	g.Vars = map[string]any{}
	t.Cleanup(func() {
		g.Kill()
		if t.Failed() {
			t.Logf("gateway output:\n%s", g.Logs())
		}
	})
	return g
}

// StartGateway prepares and starts a gateway.
func StartGateway(t testing.TB, caddyfileTemplate string) *Gateway {
	t.Helper()
	g := NewGateway(t, caddyfileTemplate)
	g.Start()
	return g
}

// Caddyfile renders the template with the gateway's ports and directory.
func (g *Gateway) Caddyfile() string {
	g.t.Helper()
	return g.render(g.template)
}

func (g *Gateway) render(text string) string {
	g.t.Helper()
	vars := map[string]any{"AdminPort": g.AdminPort, "HTTPPort": g.HTTPPort, "Dir": g.Dir}
	for k, v := range g.Vars {
		vars[k] = v
	}
	tmpl, err := template.New("Caddyfile").Option("missingkey=error").Parse(text)
	if err != nil {
		g.t.Fatalf("parsing Caddyfile template: %v", err)
	}
	var out strings.Builder
	if err := tmpl.Execute(&out, vars); err != nil {
		g.t.Fatalf("rendering Caddyfile template: %v", err)
	}
	return out.String()
}

// Start runs the gateway and waits until its admin endpoint answers.
func (g *Gateway) Start() {
	g.t.Helper()
	if err := g.StartErr(); err != nil {
		g.t.Fatalf("starting gateway: %v\n%s", err, g.Logs())
	}
}

// StartErr runs the gateway and returns an error when it exits or does not
// become ready within 20 s.
func (g *Gateway) StartErr() error {
	path := filepath.Join(g.Dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(g.Caddyfile()), 0o600); err != nil {
		return err
	}
	g.logs = new(lockedBuffer)
	cmd := exec.Command(os.Args[0], "--", "run", "--config", path, "--adapter", "caddyfile")
	cmd.Dir = g.Dir
	cmd.Env = caddyEnv(g.Dir)
	cmd.Stdout = g.logs
	cmd.Stderr = g.logs
	if err := cmd.Start(); err != nil {
		return err
	}
	g.cmd = cmd
	g.done = make(chan struct{})
	go func() { _ = cmd.Wait(); close(g.done) }()

	exited := false
	ready := eventually(20*time.Second, func() bool {
		select {
		case <-g.done:
			exited = true
			return true
		default:
		}
		resp, err := httpClient.Get(g.AdminURL("/config/"))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK && g.serving()
	})
	switch {
	case exited:
		return fmt.Errorf("gateway exited: %s", cmd.ProcessState)
	case !ready:
		return fmt.Errorf("gateway not ready within 20s")
	}
	return nil
}

// serving reports whether the HTTP server accepts connections.
func (g *Gateway) serving() bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", g.HTTPPort), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Exited waits up to d for the process to exit and reports whether it did.
func (g *Gateway) Exited(d time.Duration) bool {
	select {
	case <-g.done:
		return true
	case <-time.After(d):
		return false
	}
}

// Stop stops the gateway gracefully, as an operator's SIGINT would.
func (g *Gateway) Stop() {
	g.t.Helper()
	if g.cmd == nil {
		return
	}
	_ = g.cmd.Process.Signal(os.Interrupt)
	if !g.Exited(15 * time.Second) {
		g.t.Errorf("gateway did not stop within 15s")
		_ = g.cmd.Process.Kill()
		<-g.done
	}
	g.cmd = nil
}

// Kill ends the gateway at once, as kill -9 would.
func (g *Gateway) Kill() {
	if g.cmd == nil {
		return
	}
	_ = g.cmd.Process.Signal(syscall.SIGKILL)
	<-g.done
	g.cmd = nil
}

// PID returns the process ID.
func (g *Gateway) PID() int { return g.cmd.Process.Pid }

// Logs returns everything the process has written.
func (g *Gateway) Logs() string { return g.logs.String() }

// AdminURL is a URL on the admin endpoint.
func (g *Gateway) AdminURL(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", g.AdminPort, path)
}

// URL is a URL on the gateway's HTTP server.
func (g *Gateway) URL(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", g.HTTPPort, path)
}

// Reload loads a new Caddyfile (a template, rendered like the first) through
// the admin endpoint, as `caddy reload` does, and returns the status. A load
// replaces the admin endpoint and shuts the old one down in the background;
// Reload returns once that is done (see awaitOldAdminStopped).
func (g *Gateway) Reload(caddyfileTemplate string) (int, string) {
	g.t.Helper()
	body := g.render(caddyfileTemplate)
	req, _ := http.NewRequest(http.MethodPost, g.AdminURL("/load"), strings.NewReader(body))
	req.Header.Set("Content-Type", "text/caddyfile")
	req.Header.Set("Cache-Control", "must-revalidate") // reload even if unchanged
	resp, err := send(req)
	if err != nil {
		g.t.Fatalf("reload: %v", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	g.awaitOldAdminStopped()
	return resp.StatusCode, string(msg)
}

// Caddy's log lines for the life of its admin endpoint.
const (
	adminStartedLog     = `"msg":"admin endpoint started"`
	adminStoppedLog     = `"msg":"stopped previous server"`
	adminStopFailedLog  = `"msg":"stopping current admin endpoint"`
	adminSwapMaxSeconds = 15 // Caddy gives the old endpoint 10 s to finish
)

// awaitOldAdminStopped waits until every admin endpoint but the newest has
// shut down. Until then the old endpoint's listening socket is open, and a
// connection queued in it when it closes is closed unanswered: a POST sent
// right after a reload could be lost that way, and send retries only
// idempotent requests.
func (g *Gateway) awaitOldAdminStopped() {
	g.t.Helper()
	var started, ended int
	if !eventually(adminSwapMaxSeconds*time.Second, func() bool {
		logs := g.Logs()
		started = strings.Count(logs, adminStartedLog)
		ended = strings.Count(logs, adminStoppedLog) + strings.Count(logs, adminStopFailedLog)
		return ended >= started-1
	}) {
		g.t.Fatalf("the old admin endpoint did not shut down within %ds (%d started, %d ended)", adminSwapMaxSeconds, started, ended)
	}
}

// OpenFiles counts the process's open file descriptors on path.
func (g *Gateway) OpenFiles(path string) int {
	g.t.Helper()
	fdDir := fmt.Sprintf("/proc/%d/fd", g.PID())
	entries, err := os.ReadDir(fdDir)
	if err != nil {
		g.t.Fatalf("reading %s: %v", fdDir, err)
	}
	n := 0
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(fdDir, e.Name()))
		if err == nil && target == path {
			n++
		}
	}
	return n
}

// httpClient opens a new connection for every request. Caddy's admin endpoint
// restarts on every config load and a reload closes the old servers' idle
// connections; a pooled connection can race that close in the client (an
// HTTP/1.1 keep-alive race that real clients retry), which would blur what the
// tests measure: whether the gateway answers every request it receives.
var httpClient = &http.Client{
	Transport: &http.Transport{DisableKeepAlives: true},
	Timeout:   30 * time.Second,
}

// sendAttempts bounds the attempts of one request in send.
const sendAttempts = 50

// Requests that send retried, by cause; TestMain reports them, so a rise in
// retries shows even while every test passes.
var retriedRefused, retriedUnanswered atomic.Int64

// send sends req, retrying, at most sendAttempts times in all, when the
// request cannot have had an effect or may safely have it twice:
//
//   - the connection was refused: the request never reached the server (the
//     admin endpoint is between its old and new listener during a config
//     load), whatever its method;
//   - an idempotent request (RFC 9110 §9.2.2) got no response because the
//     connection was reset or closed: a config load replaces the listening
//     sockets, and a connection still queued in the old one is closed
//     unanswered. HTTP clients retry such requests; a POST is not retried,
//     since it may have been applied.
func send(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
	}
	for attempt := 1; ; attempt++ {
		if body != nil {
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
		resp, err := httpClient.Do(req)
		if err == nil || attempt == sendAttempts {
			return resp, err
		}
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			retriedRefused.Add(1)
		case idempotent(req.Method) && closedUnanswered(err):
			retriedUnanswered.Add(1)
		default:
			return resp, err
		}
		// A short pause between attempts, as clients back off; what ends
		// the loop is an answer, not the time.
		time.Sleep(20 * time.Millisecond)
	}
}

// idempotent reports whether a request with method may be applied twice
// with the effect of once (RFC 9110 §9.2.2).
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// closedUnanswered reports whether err means the server reset or closed the
// connection before any response; a timeout is not such a case.
func closedUnanswered(err error) bool {
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return false
	}
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// apiResponse is a decoded JSON answer.
type apiResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test on error.
func (r apiResponse) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decoding %q: %v", r.Body, err)
	}
}

// ErrorCode returns the `error` member of a JSON error body.
func (r apiResponse) ErrorCode() string {
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error
}

// do sends a request with an optional JSON body and reads the whole answer.
func do(t testing.TB, method, url string, body any, header ...string) apiResponse {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return doRequest(t, req)
}

// doRequest sends req and reads the whole answer.
func doRequest(t testing.TB, req *http.Request) apiResponse {
	t.Helper()
	resp, err := send(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return apiResponse{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}
