package admin

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/storage"
)

// testClock is a settable clock for the registry's Now hook.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testAPI is the API over a real bbolt store in a temporary directory,
// mounted under /scopegate as Caddy's admin endpoint mounts it.
type testAPI struct {
	t       *testing.T
	handler http.Handler
	reg     *registry.Registry
	store   storage.Store
	dbPath  string
	clock   *testClock
	logs    *observer.ObservedLogs
}

type apiOption func(*registry.Limits, *Options)

func newTestAPI(t *testing.T, opts ...apiOption) *testAPI {
	t.Helper()
	dbPath := filepath.Join(t.TempDir(), "scopegate.db")
	bolt, err := storage.Open(dbPath, storage.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	store, err := storage.NewCached(bolt, 100)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })

	core, logs := observer.New(zapcore.DebugLevel)
	limits := registry.Limits{}
	options := Options{Logger: zap.New(core)}
	for _, o := range opts {
		o(&limits, &options)
	}
	clock := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	reg := registry.New(store, limits)
	reg.Now = clock.Now
	return &testAPI{
		t:       t,
		handler: http.StripPrefix("/scopegate", NewHandler(reg, options)),
		reg:     reg,
		store:   store,
		dbPath:  dbPath,
		clock:   clock,
		logs:    logs,
	}
}

// response is a finished answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends a request to the API. A non-empty body is sent as
// application/json; header holds name/value pairs that replace headers.
func (a *testAPI) do(method, path, body string, header ...string) response {
	a.t.Helper()
	req := newRequest(method, "http://admin.test/scopegate"+path, body)
	// The first pair for a header replaces it; an empty value removes it.
	seen := map[string]bool{}
	for i := 0; i+1 < len(header); i += 2 {
		k := http.CanonicalHeaderKey(header[i])
		if !seen[k] {
			req.Header.Del(k)
			seen[k] = true
		}
		if header[i+1] != "" {
			req.Header.Add(k, header[i+1])
		}
	}
	return a.serve(req)
}

// newRequest builds a request; a non-empty body is sent as application/json.
func newRequest(method, target, body string) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// serve runs one request and checks what every answer must carry.
func (a *testAPI) serve(req *http.Request) response {
	a.t.Helper()
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, req)
	res := response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		a.t.Errorf("%s %s: Cache-Control %q, want no-store", req.Method, req.URL.Path, cc)
	}
	if res.Status != http.StatusNoContent {
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			a.t.Errorf("%s %s: Content-Type %q", req.Method, req.URL.Path, ct)
		}
		if !json.Valid(res.Body) {
			a.t.Errorf("%s %s: body is not JSON: %q", req.Method, req.URL.Path, res.Body)
		}
	}
	return res
}

// decode reads the body as JSON into v.
func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.Body, err)
	}
}

// errorCode returns the body's error and error_description.
func (r response) errorCode(t *testing.T) (string, string) {
	t.Helper()
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	r.decode(t, &e)
	return e.Error, e.Description
}

// created is the answer to create and rotate.
type created struct {
	registry.Client
	ClientSecret string `json:"client_secret"`
	SecretID     string `json:"secret_id"`
}

// create makes a client and fails the test unless it gets 201.
func (a *testAPI) create(body string) created {
	a.t.Helper()
	res := a.do(http.MethodPost, "/clients", body)
	if res.Status != http.StatusCreated {
		a.t.Fatalf("create %s: %d %s", body, res.Status, res.Body)
	}
	var c created
	res.decode(a.t, &c)
	return c
}

// snapshot lists every client as JSON, to prove a refused request changed
// nothing.
func (a *testAPI) snapshot() string {
	a.t.Helper()
	page, err := a.reg.List(a.t.Context(), registry.ListQuery{Limit: registry.MaxListLimit})
	if err != nil {
		a.t.Fatal(err)
	}
	b, err := json.Marshal(page.Clients)
	if err != nil {
		a.t.Fatal(err)
	}
	return string(b)
}

// resolve resolves a Location header against the request path.
func resolve(t *testing.T, requestPath, location string) string {
	t.Helper()
	base, err := url.Parse("http://admin.test" + requestPath)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := url.Parse(location)
	if err != nil {
		t.Fatal(err)
	}
	return base.ResolveReference(ref).Path
}
