package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// clusterCaddyfile is one gateway of several that share a registry in etcd.
// Every gateway has the same issuer, so a token from one is good at all;
// its one etcd endpoint is its link proxy. /api/ is a guarded route whose
// upstream is a plain answer.
const clusterCaddyfile = `{
	admin 127.0.0.1:{{.AdminPort}}
	auto_https off
	scopegate {
		issuer http://scopegate.cluster.test
		storage etcd {
			endpoints http://{{.EtcdProxy}}
			prefix {{.Prefix}}
			gateway_id {{.GatewayID}}
			sealing_key_file {{.SealingKeyFile}}
			max_stale {{.MaxStale}}
			dial_timeout 2s
		}
		max_clients 100000
		failed_login_limit 100000
	}
}

http://127.0.0.1:{{.HTTPPort}} {
	scopegate_issuer
	handle /api/* {
		scopegate_guard read
		respond "upstream reached" 200
	}
	respond "no such route" 404
}
`

// clusterFixture is an etcd cluster of three members and gateways on it,
// each through a link proxy of its own.
type clusterFixture struct {
	t      *testing.T
	etcd   *etcdCluster
	prefix string
	gws    []*clusterGateway
}

// clusterGateway is one gateway process and its link to etcd.
type clusterGateway struct {
	*Gateway
	id   string
	link *linkProxy
}

// newClusterFixture starts a three-member cluster and prepares n gateways
// (not started: a test may change their Vars or cut their links first).
func newClusterFixture(t *testing.T, n int) *clusterFixture {
	t.Helper()
	f := &clusterFixture{t: t, etcd: startEtcdCluster(t, 3), prefix: "/sg-" + strings.ToLower(t.Name())}
	keyFile := filepath.Join(t.TempDir(), "sealing.key")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(bytes.Repeat([]byte{0x42}, 32))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		g := &clusterGateway{Gateway: NewGateway(t, clusterCaddyfile), id: fmt.Sprintf("gw%d", i), link: f.etcd.NewProxy()}
		g.Vars["EtcdProxy"] = g.link.Addr()
		g.Vars["Prefix"] = f.prefix
		g.Vars["GatewayID"] = g.id
		g.Vars["SealingKeyFile"] = keyFile
		g.Vars["MaxStale"] = "5m"
		f.gws = append(f.gws, g)
	}
	return f
}

// startClusterFixture starts a cluster and n gateways, ready to serve.
func startClusterFixture(t *testing.T, n int) *clusterFixture {
	t.Helper()
	f := newClusterFixture(t, n)
	f.start(f.gws...)
	for _, g := range f.gws {
		f.awaitHealth(g, "ok", 20*time.Second)
	}
	return f
}

// start starts gateways at once and waits until each answers.
func (f *clusterFixture) start(gws ...*clusterGateway) {
	f.t.Helper()
	errs := make([]error, len(gws))
	var wg sync.WaitGroup
	for i, g := range gws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = g.StartErr()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			f.t.Fatalf("starting %s: %v\n%s", gws[i].id, err, gws[i].Logs())
		}
	}
}

// storeHealth is the admin endpoint's /scopegate/health answer.
type storeHealth struct {
	Status string `json:"status"`
	Store  struct {
		Backend     string          `json:"backend"`
		Revision    int64           `json:"revision"`
		LastContact json.RawMessage `json:"last_contact"`
		Lists       int             `json:"lists"`
		LastError   string          `json:"last_error"`
	} `json:"store"`
	code int
}

// health asks a gateway how its store is; a zero code means no answer.
func (g *clusterGateway) health() storeHealth {
	var h storeHealth
	a := probe(http.MethodGet, g.AdminURL("/scopegate/health"), nil)
	if a.err != nil {
		return h
	}
	_ = json.Unmarshal(a.body, &h)
	h.code = a.status
	return h
}

// awaitHealth waits until g reports status, with the HTTP status that goes
// with it (200 for ok and degraded, 503 otherwise).
func (f *clusterFixture) awaitHealth(g *clusterGateway, status string, within time.Duration) storeHealth {
	f.t.Helper()
	want := http.StatusServiceUnavailable
	if status == "ok" || status == "degraded" {
		want = http.StatusOK
	}
	var h storeHealth
	if !eventually(within, func() bool { h = g.health(); return h.Status == status && h.code == want }) {
		f.t.Fatalf("%s: health is %d %q (store %+v), not %d %q within %v", g.id, h.code, h.Status, h.Store, want, status, within)
	}
	return h
}

// metric reads one unlabelled sample from g's metrics.
func (g *clusterGateway) metric(name string) (float64, bool) {
	a := probe(http.MethodGet, g.AdminURL("/metrics"), nil)
	if a.err != nil || a.status != http.StatusOK {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(a.body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		value, ok := strings.CutPrefix(sc.Text(), name+" ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		return v, err == nil
	}
	return 0, false
}

// answer is the outcome of one request, for goroutines that must not stop
// the test: err is set when no answer came.
type answer struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func (a answer) String() string {
	if a.err != nil {
		return "no answer: " + a.err.Error()
	}
	return fmt.Sprintf("%d %s", a.status, strings.TrimSpace(string(a.body)))
}

// retryAfter reports whether a is a 503 with a Retry-After header.
func (a answer) retryAfter() bool {
	return a.err == nil && a.status == http.StatusServiceUnavailable && a.header.Get("Retry-After") != ""
}

// probeClient gives up on a request after 10 s: a gateway that hangs
// instead of answering fails the test rather than stalling it.
var probeClient = &http.Client{
	Transport: &http.Transport{DisableKeepAlives: true},
	Timeout:   10 * time.Second,
}

// probe sends one request, once: a fault test must see every refusal.
func probe(method, url string, body io.Reader, header ...string) answer {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return answer{err: err}
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{err: err}
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: raw}
}

// guard calls the guarded route with a bearer token.
func (g *clusterGateway) guard(tok string) answer {
	return probe(http.MethodGet, g.URL("/api/orders"), nil, "Authorization", "Bearer "+tok)
}

// token asks g's token endpoint for a token for c, scope read.
func (g *clusterGateway) token(c createdClient) (string, answer) {
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
	a := probe(http.MethodPost, g.URL("/oauth2/token"), strings.NewReader(form.Encode()),
		"Content-Type", "application/x-www-form-urlencoded",
		"Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.ClientID)+":"+url.QueryEscape(c.ClientSecret))))
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if a.err == nil && a.status == http.StatusOK {
		_ = json.Unmarshal(a.body, &tok)
	}
	return tok.AccessToken, a
}

// mustToken gets a token for c from g, or fails the test.
func (g *clusterGateway) mustToken(t *testing.T, c createdClient) string {
	t.Helper()
	tok, a := g.token(c)
	if tok == "" {
		t.Fatalf("%s: token for %s: %v", g.id, c.ClientName, a)
	}
	return tok
}

// admin sends one admin API request to g, once.
func (g *clusterGateway) admin(method, path string, body any) answer {
	var rd io.Reader
	var header []string
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return answer{err: err}
		}
		rd = bytes.NewReader(raw)
		header = []string{"Content-Type", "application/json"}
	}
	return probe(method, g.AdminURL("/scopegate"+path), rd, header...)
}

// create creates a client with scope read through g's admin API.
func (g *clusterGateway) create(name string) (createdClient, answer) {
	a := g.admin(http.MethodPost, "/clients", map[string]any{"client_name": name, "scope": "read"})
	var c createdClient
	if a.err == nil && a.status == http.StatusCreated {
		if err := json.Unmarshal(a.body, &c); err != nil || c.ClientID == "" || c.ClientSecret == "" {
			a.err = fmt.Errorf("create answered %s", a.body)
		}
	}
	return c, a
}

// mustCreate creates a client through g or fails the test.
func (g *clusterGateway) mustCreate(t *testing.T, name string) createdClient {
	t.Helper()
	c, a := g.create(name)
	if a.err != nil || a.status != http.StatusCreated {
		t.Fatalf("%s: create %s: %v", g.id, name, a)
	}
	return c
}

// mustAdmin sends an admin request through g and fails the test unless
// the answer has status want.
func (g *clusterGateway) mustAdmin(t *testing.T, want int, method, path string, body any) answer {
	t.Helper()
	a := g.admin(method, path, body)
	if a.err != nil || a.status != want {
		t.Fatalf("%s: %s %s: %v, want %d", g.id, method, path, a, want)
	}
	return a
}

// awaitGuard waits until g's guard answers tok with status.
func awaitGuard(t *testing.T, g *clusterGateway, tok string, status int, within time.Duration, what string) {
	t.Helper()
	var a answer
	if !eventually(within, func() bool { a = g.guard(tok); return a.err == nil && a.status == status }) {
		t.Fatalf("%s: %s: the guard answers %v, not %d within %v", g.id, what, a, status, within)
	}
}

// measure polls cond, with no pause but the request it makes, until it
// holds or within has passed, and returns how long it took. Visibility is
// measured this way: eventually's growing pause would add up to 20 ms.
func measure(within time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Since(start) > within {
			return time.Since(start), false
		}
	}
}

// percentile returns the p-th percentile (0 < p <= 100) of ds, by the
// nearest-rank method.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	rank := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

// watermark creates a client through g and waits until every gateway's
// token endpoint knows it. Each replica applies changes in revision order,
// so a gateway that has the mark has every write acknowledged before it.
func (f *clusterFixture) watermark(g *clusterGateway, within time.Duration) {
	f.t.Helper()
	var mark createdClient
	if !eventually(within, func() bool {
		c, a := g.create(fmt.Sprintf("watermark-%d", time.Now().UnixNano()))
		mark = c
		return a.err == nil && a.status == http.StatusCreated
	}) {
		f.t.Fatalf("%s: no write succeeded within %v", g.id, within)
	}
	for _, o := range f.gws {
		if !eventually(within, func() bool { tok, _ := o.token(mark); return tok != "" }) {
			f.t.Fatalf("%s: the watermark written through %s is not there within %v", o.id, g.id, within)
		}
	}
}

// registry returns every key under the prefix, at one revision, and that
// revision: a backup, as an operator's snapshot would hold.
func (f *clusterFixture) registry(cli *clientv3.Client) (map[string][]byte, int64) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, f.prefix, clientv3.WithPrefix())
	if err != nil {
		f.t.Fatalf("reading the registry: %v", err)
	}
	kvs := map[string][]byte{}
	for _, kv := range resp.Kvs {
		kvs[string(kv.Key)] = kv.Value
	}
	return kvs, resp.Header.Revision
}

// restore writes a backup into a cluster in one transaction, as restoring
// a snapshot puts a registry back in one step.
func (f *clusterFixture) restore(cli *clientv3.Client, kvs map[string][]byte) {
	f.t.Helper()
	ops := make([]clientv3.Op, 0, len(kvs))
	for k, v := range kvs {
		ops = append(ops, clientv3.OpPut(k, string(v)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
		f.t.Fatalf("restoring %d keys: %v", len(kvs), err)
	}
}
