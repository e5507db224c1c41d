package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/storage"
)

// scaleEnv must be 1 for TestScale to run: it takes a minute or more and
// most of a small machine, so CI and `go test ./...` skip it.
const scaleEnv = "SCOPEGATE_SCALE"

// scaleCaddyfile serves the token endpoint and one guarded route in front of
// a small upstream, with room for the large store.
const scaleCaddyfile = `{
	admin 127.0.0.1:{{.AdminPort}}
	default_bind 127.0.0.1
	auto_https off
	persist_config off
	scopegate {
		issuer           http://127.0.0.1:{{.HTTPPort}}
		storage          {{.Dir}}/scopegate.db
		max_clients      200000
		access_token_ttl 90m
	}
}

http://127.0.0.1:{{.HTTPPort}} {
	scopegate_issuer
	handle /orders/* {
		scopegate_guard orders:read
		reverse_proxy {{.Upstream}}
	}
	respond 404
}
`

// Sizes of the scale test.
const (
	scaleClients = 100_000
	smallClients = 10
	// scaleRounds interleave the two gateways, so both see the same machine.
	scaleRounds = 5
	// tokensPerRound and guardPerRound bound each timed round.
	tokensPerRound = 3000
	guardPerRound  = 6000
	// guardPool is how many distinct tokens the guard rounds present: fewer
	// than the verified-token cache holds, so the rounds measure the cached
	// path and the client lookups behind it. With the large store they come
	// from guardPool distinct clients.
	guardPool = 5000
	// loadWorkers is how many requests are in flight at once.
	loadWorkers = 32
	// adminWriters and adminCreates are the admin API's concurrent creators.
	adminWriters = 64
	adminCreates = 3200
)

// credential is a client's ID and secret.
type credential struct{ id, secret string }

// fillStore creates n clients in the store at path through the registry, as
// the admin API would, from 64 goroutines so that bbolt batches the commits.
func fillStore(t *testing.T, path string, n int) []credential {
	t.Helper()
	db, err := storage.Open(path, storage.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	reg := registry.New(db, registry.Limits{MaxClients: 2 * n})
	creds := make([]credential, n)
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || failed.Load() != nil {
					return
				}
				c, secret, err := reg.Create(context.Background(), registry.Metadata{
					ClientName: fmt.Sprintf("scale-%06d", i),
					Scope:      "orders:read orders:write",
				})
				if err != nil {
					failed.Store(&err)
					return
				}
				creds[i] = credential{c.ClientID, secret}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatalf("creating clients: %v", *err)
	}
	return creds
}

// loadClient keeps connections open, as real API clients do, unlike the
// harness's client.
var loadClient = &http.Client{
	Transport: &http.Transport{MaxIdleConnsPerHost: adminWriters, MaxIdleConns: 2 * adminWriters},
	Timeout:   30 * time.Second,
}

// hammer runs do(0..n-1) from workers goroutines and returns the rate. The
// first error stops the run.
func hammer(n, workers int, do func(i int) error) (float64, error) {
	var next atomic.Int64
	var first atomic.Pointer[error]
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for first.Load() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := do(i); err != nil {
					first.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := first.Load(); err != nil {
		return 0, *err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// requestToken asks g's token endpoint for an orders:read token for c.
func requestToken(g *Gateway, c credential) (string, error) {
	req, err := http.NewRequest(http.MethodPost, g.URL("/oauth2/token"),
		strings.NewReader("grant_type=client_credentials&scope=orders%3Aread"))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	resp, err := loadClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token endpoint: status %d, %v", resp.StatusCode, err)
	}
	return body.AccessToken, nil
}

// callGuarded sends one request with raw to the guarded route.
func callGuarded(g *Gateway, raw string) error {
	req, err := http.NewRequest(http.MethodGet, g.URL("/orders/1"), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+raw)
	resp, err := loadClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("guarded route: status %d", resp.StatusCode)
	}
	return nil
}

// memoryUse is what a process holds in memory, in MiB.
type memoryUse struct {
	// RSS is resident now: anonymous memory (the Go heap and stacks) plus
	// file pages mapped in (the binary, and bbolt's memory-mapped store).
	RSS, Anon, File float64
	// Peak is the highest RSS so far (VmHWM).
	Peak float64
}

func (m memoryUse) String() string {
	return fmt.Sprintf("RSS %.0f MB (anonymous %.0f, file-backed %.0f), peak %.0f MB", m.RSS, m.Anon, m.File, m.Peak)
}

// memory reads the process's memory use from /proc/PID/status.
func memory(t *testing.T, pid int) memoryUse {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("reading the gateway's status: %v", err)
	}
	fields := map[string]*float64{}
	var m memoryUse
	fields["VmRSS"], fields["RssAnon"], fields["RssFile"], fields["VmHWM"] = &m.RSS, &m.Anon, &m.File, &m.Peak
	for line := range strings.Lines(string(raw)) {
		name, value, ok := strings.Cut(line, ":")
		dst := fields[name]
		if !ok || dst == nil {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 64)
		if err != nil {
			t.Fatalf("%s: %q: %v", name, value, err)
		}
		*dst = kb / 1024
		delete(fields, name)
	}
	if len(fields) > 0 {
		t.Fatalf("/proc/%d/status lacks %d of VmRSS, RssAnon, RssFile, VmHWM", pid, len(fields))
	}
	return m
}

// mappedRSS sums the resident size of the process's mappings of path, in
// MiB: for the store, the pages of bbolt's memory map that reads touched.
func mappedRSS(t *testing.T, pid int, path string) float64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		t.Fatalf("reading the gateway's smaps: %v", err)
	}
	var kb float64
	inPath := false
	for line := range strings.Lines(string(raw)) {
		fields := strings.Fields(line)
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			// A mapping's header: address range, perms, offset, device, inode, path.
			inPath = len(fields) == 6 && fields[5] == path
		case inPath && len(fields) == 3 && fields[0] == "Rss:":
			v, err := strconv.ParseFloat(fields[1], 64)
			if err != nil {
				t.Fatalf("smaps Rss %q: %v", fields[1], err)
			}
			kb += v
		}
	}
	return kb / 1024
}

// goHeap reads the Go heap in use, in MiB, from the gateway's expvar
// endpoint (Caddy serves /debug/vars on its admin endpoint).
func goHeap(t *testing.T, g *Gateway) float64 {
	t.Helper()
	var vars struct {
		Memstats struct {
			HeapInuse float64 `json:"HeapInuse"`
		} `json:"memstats"`
	}
	do(t, http.MethodGet, g.AdminURL("/debug/vars"), nil).JSON(t, &vars)
	return vars.Memstats.HeapInuse / (1 << 20)
}

// median returns the median of xs (the mean of the middle two for an even
// count).
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// scaleSide is one of the two gateways the test compares.
type scaleSide struct {
	name    string
	g       *Gateway
	creds   []credential
	startup time.Duration
	// order is the sequence in which the token rounds pick clients: for the
	// large store a shuffle of every client, so most lookups miss the
	// client cache and read bbolt.
	order      []int
	used       int
	pool       []string
	tokenRates []float64
	guardRates []float64
}

// TestScale checks DESIGN.md §8's 100k-client targets: a gateway on a store
// of 100,000 clients starts in under a second, stays under 150 MB resident,
// and issues and checks tokens as fast as one with 10 clients; and the admin
// API creates at least 1,000 clients a second from 64 concurrent writers.
// Run it with
//
//	SCOPEGATE_SCALE=1 go test -run TestScale -v -timeout 20m ./integration/
func TestScale(t *testing.T) {
	if testing.Short() || os.Getenv(scaleEnv) != "1" {
		t.Skipf("set %s=1 (and leave out -short) to run the 100k-client scale test", scaleEnv)
	}
	// Not parallel: it measures throughput and start-up time, and needs the
	// machine to itself.
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	}))
	t.Cleanup(upstream.Close)

	sides := []*scaleSide{{name: "10 clients"}, {name: "100k clients"}}
	for i, n := range []int{smallClients, scaleClients} {
		s := sides[i]
		s.g = NewGateway(t, scaleCaddyfile)
		s.g.Vars["Upstream"] = strings.TrimPrefix(upstream.URL, "http://")
		start := time.Now()
		s.creds = fillStore(t, filepath.Join(s.g.Dir, "scopegate.db"), n)
		t.Logf("%s: created through the registry in %v", s.name, time.Since(start).Round(time.Millisecond))
		s.order = rand.Perm(n)
	}

	// Start-up: from exec to serving, clients in the store. The small
	// gateway gives the floor that process start and Caddy itself cost.
	for _, s := range sides {
		start := time.Now()
		s.g.Start()
		s.startup = time.Since(start)
		t.Logf("%s: start-up %v; after start %v", s.name, s.startup.Round(time.Millisecond), memory(t, s.g.PID()))
	}

	// Token endpoint and guard, interleaved: round r runs both gateways,
	// alternating which goes first.
	for r := range scaleRounds {
		for k := range sides {
			s := sides[(r+k)%len(sides)]
			tokens := make([]string, tokensPerRound)
			rate, err := hammer(tokensPerRound, loadWorkers, func(i int) error {
				c := s.creds[s.order[(s.used+i)%len(s.order)]]
				tok, err := requestToken(s.g, c)
				tokens[i] = tok
				return err
			})
			if err != nil {
				t.Fatalf("%s: token round %d: %v", s.name, r, err)
			}
			s.used += tokensPerRound
			s.tokenRates = append(s.tokenRates, rate)
			if len(s.pool) < guardPool {
				s.pool = append(s.pool, tokens[:min(len(tokens), guardPool-len(s.pool))]...)
			}
		}
	}
	for _, s := range sides {
		if len(s.pool) != guardPool {
			t.Fatalf("%s: %d tokens for the guard pool, want %d", s.name, len(s.pool), guardPool)
		}
		// One pass puts every token in the verified-token cache.
		if _, err := hammer(len(s.pool), loadWorkers, func(i int) error { return callGuarded(s.g, s.pool[i]) }); err != nil {
			t.Fatalf("%s: guard warm-up: %v", s.name, err)
		}
	}
	for r := range scaleRounds {
		for k := range sides {
			s := sides[(r+k)%len(sides)]
			rate, err := hammer(guardPerRound, loadWorkers, func(i int) error {
				return callGuarded(s.g, s.pool[(i*7919)%len(s.pool)])
			})
			if err != nil {
				t.Fatalf("%s: guard round %d: %v", s.name, r, err)
			}
			s.guardRates = append(s.guardRates, rate)
		}
	}

	small, large := sides[0], sides[1]
	mem := memory(t, large.g.PID())
	tokenRatio := median(large.tokenRates) / median(small.tokenRates)
	guardRatio := median(large.guardRates) / median(small.guardRates)
	for _, s := range sides {
		t.Logf("%s: token endpoint %.0f/s (rounds %.0f), guard %.0f/s (rounds %.0f)", s.name,
			median(s.tokenRates), s.tokenRates, median(s.guardRates), s.guardRates)
	}
	t.Logf("100k vs 10 clients: token endpoint %.2f, guard %.2f", tokenRatio, guardRatio)
	for _, s := range sides {
		t.Logf("%s: after load %v, of which the store's memory map %.0f MB; Go heap in use %.0f MB", s.name,
			memory(t, s.g.PID()), mappedRSS(t, s.g.PID(), filepath.Join(s.g.Dir, "scopegate.db")), goHeap(t, s.g))
	}
	if fi, err := os.Stat(filepath.Join(large.g.Dir, "scopegate.db")); err == nil {
		t.Logf("100k clients: store file %.0f MB", float64(fi.Size())/(1<<20))
	}

	// Admin API: 64 concurrent writers on the large store.
	api := large.g.AdminURL("/scopegate/clients")
	createRate, err := hammer(adminCreates, adminWriters, func(i int) error {
		body := fmt.Sprintf(`{"client_name":"admin-%06d","scope":"orders:read"}`, i)
		resp, err := loadClient.Post(api, "application/json", strings.NewReader(body))
		if err != nil {
			return err
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("create: status %d: %s", resp.StatusCode, msg)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("admin creates: %v", err)
	}
	t.Logf("admin API: %d creates from %d writers at %.0f/s (target 1,000, floor 500)", adminCreates, adminWriters, createRate)
	var count struct {
		Clients []json.RawMessage `json:"clients"`
	}
	resp := do(t, http.MethodGet, api+"?name=admin-003199", nil)
	resp.JSON(t, &count)
	if resp.Status != http.StatusOK || len(count.Clients) != 1 {
		t.Errorf("the last admin-created client is not listed: %d %s", resp.Status, resp.Body)
	}

	// The targets. Start-up and memory are DESIGN's targets; "unchanged"
	// throughput is read as within 25%, which a shared machine's noise
	// stays inside; admin creates are held to DESIGN's floor.
	var failures []error
	if large.startup >= time.Second {
		failures = append(failures, fmt.Errorf("start-up with 100k clients took %v (10 clients: %v), want under 1s", large.startup, small.startup))
	}
	if mem.RSS >= 150 {
		failures = append(failures, fmt.Errorf("with 100k clients, %v; want RSS under 150 MB", mem))
	}
	if tokenRatio < 0.75 {
		failures = append(failures, fmt.Errorf("token endpoint with 100k clients runs at %.2f of its rate with 10, want at least 0.75", tokenRatio))
	}
	if guardRatio < 0.75 {
		failures = append(failures, fmt.Errorf("guard with 100k clients runs at %.2f of its rate with 10, want at least 0.75", guardRatio))
	}
	if createRate < 500 {
		failures = append(failures, fmt.Errorf("admin API created %.0f clients per second, want at least 500", createRate))
	}
	if err := errors.Join(failures...); err != nil {
		t.Error(err)
	}
}
