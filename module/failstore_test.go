package module

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scopegate/scopegate/authserver"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/storage/caddystore"
)

// errDiskFull is what a write to a full disk reports.
var errDiskFull = fmt.Errorf("write scopegate.db: %w", syscall.ENOSPC)

// failingStore is the real bbolt store with a switch that makes every write
// fail, as a full disk or a file that turned read-only under the process
// would, while reads keep working. A chmod cannot do this to a live process:
// bbolt writes through the descriptor it opened read-write, which a later
// mode change does not affect; and a full disk needs a mount the tests cannot
// make. The store is an interface, so the failure is injected at the one
// place where the bbolt file would report it.
type failingStore struct {
	storage.Store
	failing atomic.Bool
	refused atomic.Int64
	// cause is what the writes fail with; nil means errDiskFull. Set it
	// before failing.
	cause error
}

func (s *failingStore) fault() error {
	if !s.failing.Load() {
		return nil
	}
	s.refused.Add(1)
	if s.cause != nil {
		return s.cause
	}
	return errDiskFull
}

func (s *failingStore) CreateClient(ctx context.Context, c storage.Client, maxClients int) error {
	if err := s.fault(); err != nil {
		return err
	}
	return s.Store.CreateClient(ctx, c, maxClients)
}

func (s *failingStore) UpdateClient(ctx context.Context, id string, update func(storage.Client) (storage.Client, error)) (storage.Client, error) {
	if err := s.fault(); err != nil {
		return storage.Client{}, err
	}
	return s.Store.UpdateClient(ctx, id, update)
}

func (s *failingStore) DeleteClient(ctx context.Context, id string) error {
	if err := s.fault(); err != nil {
		return err
	}
	return s.Store.DeleteClient(ctx, id)
}

func (s *failingStore) UpdateSigningKeys(ctx context.Context, update func([]storage.SigningKey) ([]storage.SigningKey, error)) ([]storage.SigningKey, error) {
	if err := s.fault(); err != nil {
		return nil, err
	}
	return s.Store.UpdateSigningKeys(ctx, update)
}

func (s *failingStore) Revoke(ctx context.Context, r storage.Revocation) error {
	if err := s.fault(); err != nil {
		return err
	}
	return s.Store.Revoke(ctx, r)
}

func (s *failingStore) PruneRevocations(ctx context.Context, now time.Time) error {
	if err := s.fault(); err != nil {
		return err
	}
	return s.Store.PruneRevocations(ctx, now)
}

func (s *failingStore) AddUsage(ctx context.Context, deltas map[string]storage.Usage) error {
	if err := s.fault(); err != nil {
		return err
	}
	return s.Store.AddUsage(ctx, deltas)
}

// boltAt is the storage JSON of a bolt file at path; a zero lockTimeout
// keeps the default.
func boltAt(path string, lockTimeout time.Duration) json.RawMessage {
	return caddyconfig.JSONModuleObject(caddystore.Bolt{Path: path, LockTimeout: caddy.Duration(lockTimeout)}, "backend", "bolt", nil)
}

// failStoreFixture is a provisioned app whose shared backend sits on a
// failingStore, with the three handlers a gateway serves.
type failStoreFixture struct {
	t      *testing.T
	app    *App
	bolt   *storage.Bolt
	store  *failingStore
	issuer *Issuer
	guard  *Guard
	admin  http.Handler
	logs   *observer.ObservedLogs
}

// newFailStoreFixture opens the backend as the app does, then puts a
// failingStore under its cache, so the app starts on it exactly as it
// would on the store it opened itself.
func newFailStoreFixture(t *testing.T) *failStoreFixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "scopegate.db")
	h, err := caddystore.Acquire(&caddystore.Bolt{Path: path, LockTimeout: caddy.Duration(time.Second)}, 100, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Release() })
	db := h.State.Store.Inner().(*storage.Bolt)
	fs := &failingStore{Store: db}
	cached, err := storage.NewCached(fs, 100)
	if err != nil {
		t.Fatal(err)
	}
	h.State = authserver.NewState(cached, 100, zap.NewNop())

	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	a := &App{Issuer: "https://gw.example", StorageRaw: boltAt(path, 0)}
	if err := a.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = a.Cleanup()
	})
	core, logs := observer.New(zapcore.DebugLevel)
	a.logger = zap.New(core)
	a.server.Logger = a.logger
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if a.handle != h {
		t.Fatal("the app did not share the pooled store")
	}

	f := &failStoreFixture{t: t, app: a, bolt: db, store: fs, logs: logs}
	f.issuer = new(Issuer)
	if err := f.issuer.setup(a.server, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	f.guard = &Guard{Scopes: []string{"orders:read"}}
	if err := f.guard.setup(a.server); err != nil {
		t.Fatal(err)
	}
	f.admin = http.StripPrefix(adminPathPrefix, a.admin)
	return f
}

// answer is a finished response.
type answer struct {
	status int
	header http.Header
	body   string
}

func (a answer) errorCode() string {
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal([]byte(a.body), &e)
	return e.Error
}

// adminDo sends a request to the admin API as Caddy's admin endpoint would.
func (f *failStoreFixture) adminDo(method, path, body string) answer {
	f.t.Helper()
	var req *http.Request
	if body == "" {
		req = httptest.NewRequest(method, "http://localhost:2019"+adminPathPrefix+path, nil)
	} else {
		req = httptest.NewRequest(method, "http://localhost:2019"+adminPathPrefix+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	f.admin.ServeHTTP(rec, req)
	return answer{rec.Code, rec.Header(), rec.Body.String()}
}

// withClientIP puts what Caddy's server puts into every request's context.
func withClientIP(r *http.Request) *http.Request {
	ctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer())
	ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: "127.0.0.1"})
	return r.WithContext(ctx)
}

// oauthPost posts a form to an issuer endpoint with Basic credentials.
func (f *failStoreFixture) oauthPost(path string, form url.Values, id, secret string) answer {
	f.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "https://gw.example"+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	rec := httptest.NewRecorder()
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		f.t.Fatalf("the issuer passed %s on", path)
		return nil
	})
	if err := f.issuer.ServeHTTP(rec, withClientIP(req), next); err != nil {
		f.t.Fatalf("issuer: %v", err)
	}
	return answer{rec.Code, rec.Header(), rec.Body.String()}
}

// token fetches an access token, failing the test unless it gets one.
func (f *failStoreFixture) token(id, secret string) string {
	f.t.Helper()
	ans := f.oauthPost("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"orders:read"}}, id, secret)
	var body struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal([]byte(ans.body), &body)
	if ans.status != http.StatusOK || body.AccessToken == "" {
		f.t.Fatalf("token endpoint: %d %s", ans.status, ans.body)
	}
	return body.AccessToken
}

// guarded sends a request with a bearer token through the guard and reports
// the status and whether the upstream was reached.
func (f *failStoreFixture) guarded(raw string) (int, bool) {
	f.t.Helper()
	req := httptest.NewRequest(http.MethodGet, "https://gw.example/orders/1", nil)
	req.Header.Set("Authorization", "Bearer "+raw)
	rec := httptest.NewRecorder()
	reached := false
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
		reached = true
		w.WriteHeader(http.StatusOK)
		return nil
	})
	if err := f.guard.ServeHTTP(rec, withClientIP(req), next); err != nil {
		var he caddyhttp.HandlerError
		if errors.As(err, &he) {
			return he.StatusCode, reached
		}
		f.t.Fatalf("guard: %v", err)
	}
	return rec.Code, reached
}

// withoutUsage drops the "usage" member of a client, or of each client of a
// list page, and returns the JSON re-encoded with sorted keys.
func withoutUsage(t *testing.T, body string) string {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	delete(doc, "usage")
	if clients, ok := doc["clients"].([]any); ok {
		for _, c := range clients {
			if m, ok := c.(map[string]any); ok {
				delete(m, "usage")
			}
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// diskState is everything the store holds on disk, read past the cache.
func (f *failStoreFixture) diskState() string {
	f.t.Helper()
	ctx := context.Background()
	clients, _, err := f.bolt.ListClients(ctx, storage.ListOptions{Limit: 1000})
	if err != nil {
		f.t.Fatal(err)
	}
	keys, err := f.bolt.SigningKeys(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	revs, err := f.bolt.Revocations(ctx, time.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	n, err := f.bolt.CountClients(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	state, err := json.Marshal(map[string]any{"clients": clients, "count": n, "keys": keys, "revocations": revs})
	if err != nil {
		f.t.Fatal(err)
	}
	return string(state)
}

// TestFailingStore makes every write to the store fail while the gateway
// serves: each admin write answers 5xx with a generic message and the cause
// in the log, the token endpoint and the guard keep serving what they can
// verify from memory and reads, and neither the data on disk nor what the
// cache serves changes. When the store recovers, writes work again.
func TestFailingStore(t *testing.T) {
	f := newFailStoreFixture(t)

	create := func(name string) (id, secret, secretID string) {
		t.Helper()
		ans := f.adminDo(http.MethodPost, "/clients", `{"client_name":"`+name+`","scope":"orders:read"}`)
		var c struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
			SecretID     string `json:"secret_id"`
		}
		_ = json.Unmarshal([]byte(ans.body), &c)
		if ans.status != http.StatusCreated || c.ClientID == "" {
			t.Fatalf("create %s: %d %s", name, ans.status, ans.body)
		}
		return c.ClientID, c.ClientSecret, c.SecretID
	}
	appID, appSecret, appSecretID := create("app")
	otherID, otherSecret, _ := create("other")
	// A second live secret, so that retiring one is a valid request.
	if ans := f.adminDo(http.MethodPost, "/clients/"+appID+"/secrets", `{"grace_period":"1h"}`); ans.status != http.StatusCreated {
		t.Fatalf("rotate: %d %s", ans.status, ans.body)
	}
	liveToken := f.token(appID, appSecret)
	if status, reached := f.guarded(liveToken); status != http.StatusOK || !reached {
		t.Fatalf("guard before the failure: %d, upstream reached %v", status, reached)
	}
	toRevoke := f.token(otherID, otherSecret)

	diskBefore := f.diskState()
	getBefore := f.adminDo(http.MethodGet, "/clients/"+appID, "")
	listBefore := f.adminDo(http.MethodGet, "/clients", "")
	jwksBefore := string(f.app.server.KeySet().JWKS())
	if getBefore.status != http.StatusOK || listBefore.status != http.StatusOK {
		t.Fatalf("reads before the failure: %d %d", getBefore.status, listBefore.status)
	}

	f.store.failing.Store(true)
	f.logs.TakeAll()

	writes := []struct{ method, path, body string }{
		{http.MethodPost, "/clients", `{"client_name":"new","scope":"orders:read"}`},
		{http.MethodPatch, "/clients/" + appID, `{"scope":"orders:write"}`},
		{http.MethodPut, "/clients/" + appID, `{"client_name":"app","scope":"orders:write"}`},
		{http.MethodPost, "/clients/" + appID + "/secrets", `{}`},
		{http.MethodDelete, "/clients/" + appID + "/secrets/" + appSecretID, ""},
		{http.MethodPost, "/clients/" + appID + "/revoke", ""},
		{http.MethodPost, "/clients/" + appID + "/disable", ""},
		{http.MethodDelete, "/clients/" + otherID, ""},
		{http.MethodPost, "/keys/rotate", ""},
	}
	for _, w := range writes {
		t.Run("admin "+w.method+" "+strings.ReplaceAll(w.path, "/", "_"), func(t *testing.T) {
			refusedBefore := f.store.refused.Load()
			ans := f.adminDo(w.method, w.path, w.body)
			if ans.status != http.StatusInternalServerError || ans.errorCode() != "server_error" {
				t.Fatalf("got %d %s, want 500 server_error", ans.status, ans.body)
			}
			if strings.Contains(ans.body, "space") || strings.Contains(ans.body, "scopegate.db") {
				t.Errorf("the answer leaks the cause: %s", ans.body)
			}
			if f.store.refused.Load() == refusedBefore {
				t.Error("the request never reached the store: the test proves nothing")
			}
		})
	}
	t.Run("the causes are logged", func(t *testing.T) {
		faults := f.logs.FilterMessage("admin API request failed").All()
		if len(faults) != len(writes) {
			t.Fatalf("%d faults logged, want %d", len(faults), len(writes))
		}
		for _, e := range faults {
			if msg, _ := e.ContextMap()["error"].(string); !strings.Contains(msg, "no space left on device") {
				t.Errorf("logged error %q does not carry the cause", msg)
			}
		}
		if n := f.logs.FilterMessage("admin change").Len(); n != 0 {
			t.Errorf("%d audit lines for changes that failed", n)
		}
	})

	t.Run("token revocation answers 503", func(t *testing.T) {
		ans := f.oauthPost("/oauth2/revoke", url.Values{"token": {toRevoke}}, otherID, otherSecret)
		if ans.status != http.StatusServiceUnavailable || ans.errorCode() != "temporarily_unavailable" {
			t.Fatalf("got %d %s", ans.status, ans.body)
		}
		// Not revoked in memory either: the caller was told to retry, and
		// the store is the record.
		if status, reached := f.guarded(toRevoke); status != http.StatusOK || !reached {
			t.Fatalf("token after a failed revocation: %d, upstream reached %v", status, reached)
		}
	})
	t.Run("reads still answer", func(t *testing.T) {
		// Usage counters live in memory and move with every request; the
		// records are what must not change.
		if got := f.adminDo(http.MethodGet, "/clients/"+appID, ""); got.status != http.StatusOK || withoutUsage(t, got.body) != withoutUsage(t, getBefore.body) {
			t.Fatalf("get: %d %s\nbefore: %s", got.status, got.body, getBefore.body)
		}
		if got := f.adminDo(http.MethodGet, "/clients", ""); got.status != http.StatusOK || withoutUsage(t, got.body) != withoutUsage(t, listBefore.body) {
			t.Fatalf("list: %d %s\nbefore: %s", got.status, got.body, listBefore.body)
		}
		if got := string(f.app.server.KeySet().JWKS()); got != jwksBefore {
			t.Fatalf("JWKS changed: %s", got)
		}
	})
	t.Run("the token endpoint still issues", func(t *testing.T) {
		fresh := f.token(appID, appSecret)
		if status, reached := f.guarded(fresh); status != http.StatusOK || !reached {
			t.Fatalf("guard with a token issued during the failure: %d", status)
		}
		ans := f.oauthPost("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"orders:read"}}, appID, "sgs_wrong")
		if ans.status != http.StatusUnauthorized || ans.errorCode() != "invalid_client" {
			t.Fatalf("wrong secret: %d %s", ans.status, ans.body)
		}
	})
	t.Run("the guard still verifies", func(t *testing.T) {
		if status, reached := f.guarded(liveToken); status != http.StatusOK || !reached {
			t.Fatalf("live token: %d", status)
		}
		if status, reached := f.guarded(liveToken[:len(liveToken)-4] + "AAAA"); status != http.StatusUnauthorized || reached {
			t.Fatalf("forged token: %d, upstream reached %v", status, reached)
		}
	})
	t.Run("nothing changed on disk", func(t *testing.T) {
		if got := f.diskState(); got != diskBefore {
			t.Fatalf("disk state changed:\n%s\nbefore:\n%s", got, diskBefore)
		}
	})

	f.store.failing.Store(false)
	t.Run("writes work again after recovery", func(t *testing.T) {
		ans := f.adminDo(http.MethodPatch, "/clients/"+appID, `{"disabled":true}`)
		if ans.status != http.StatusOK || !strings.Contains(ans.body, `"disabled":true`) {
			t.Fatalf("patch: %d %s", ans.status, ans.body)
		}
		if status, reached := f.guarded(liveToken); status != http.StatusUnauthorized || reached {
			t.Fatalf("token of a client disabled after recovery: %d", status)
		}
		if got := f.adminDo(http.MethodGet, "/clients/"+appID, ""); !strings.Contains(got.body, `"disabled":true`) {
			t.Fatalf("the cache serves the record from before the write: %s", got.body)
		}
	})
}

// TestStoreUnavailable: a store that cannot take writes for now (a shared
// store without a leader) gets every admin write answered 503
// temporarily_unavailable with Retry-After, not 500, so that callers retry;
// guarded requests and tokens, which only read, keep being served.
func TestStoreUnavailable(t *testing.T) {
	f := newFailStoreFixture(t)
	ans := f.adminDo(http.MethodPost, "/clients", `{"client_name":"app","scope":"orders:read"}`)
	var c struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(ans.body), &c); err != nil || ans.status != http.StatusCreated {
		t.Fatalf("create: %d %s", ans.status, ans.body)
	}
	f.store.cause = fmt.Errorf("etcd: no leader: %w", storage.ErrUnavailable)
	f.store.failing.Store(true)
	for _, w := range []struct{ method, path, body string }{
		{http.MethodPost, "/clients", `{"client_name":"new","scope":"orders:read"}`},
		{http.MethodPatch, "/clients/" + c.ClientID, `{"scope":"orders:write"}`},
		{http.MethodPost, "/clients/" + c.ClientID + "/disable", ""},
		{http.MethodDelete, "/clients/" + c.ClientID, ""},
		{http.MethodPost, "/keys/rotate", ""},
	} {
		ans := f.adminDo(w.method, w.path, w.body)
		if ans.status != http.StatusServiceUnavailable || ans.errorCode() != "temporarily_unavailable" || ans.header.Get("Retry-After") != "1" {
			t.Errorf("%s %s: got %d %s (Retry-After %q), want 503 temporarily_unavailable with Retry-After: 1",
				w.method, w.path, ans.status, ans.body, ans.header.Get("Retry-After"))
		}
	}
	tok := f.token(c.ClientID, c.ClientSecret)
	if status, reached := f.guarded(tok); status != http.StatusOK || !reached {
		t.Fatalf("a guarded request while writes are refused: %d, upstream reached %v", status, reached)
	}
}
