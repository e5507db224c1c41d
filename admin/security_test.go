package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/token"
)

// TestSecretsNeverLeak: a secret appears in the create or rotate answer and
// nowhere else: not in reads, lists, logs or the database file, which holds
// only its SHA-256.
func TestSecretsNeverLeak(t *testing.T) {
	a := newTestAPI(t)
	c := a.create(`{"client_name":"Billing Service","scope":"orders:read"}`)
	res := a.do(http.MethodPost, "/clients/"+c.ClientID+"/secrets", `{"grace_period":"1h"}`)
	var rotated created
	res.decode(t, &rotated)
	secrets := []string{c.ClientSecret, rotated.ClientSecret}

	var seen []string
	for _, path := range []string{"/clients/" + c.ClientID, "/clients", "/clients?name=billing%20service"} {
		seen = append(seen, string(a.do(http.MethodGet, path, "").Body))
	}
	seen = append(seen, string(a.do(http.MethodPatch, "/clients/"+c.ClientID, `{"scope":"orders:write"}`).Body))
	seen = append(seen, string(a.do(http.MethodPost, "/clients/"+c.ClientID+"/revoke", "").Body))
	seen = append(seen, logText(t, a.logs))
	if err := a.store.Close(); err != nil { // flush everything to the file
		t.Fatal(err)
	}
	db, err := os.ReadFile(a.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	seen = append(seen, string(db))

	for _, secret := range secrets {
		random := strings.TrimPrefix(secret, "sgs_")
		for i, s := range seen {
			if strings.Contains(s, secret) || strings.Contains(s, random) {
				t.Errorf("a secret appears in place %d", i)
			}
		}
		// What the file holds is the hash, in raw or base64 form.
		sum := sha256.Sum256([]byte(secret))
		if !bytes.Contains(db, sum[:]) && !bytes.Contains(db, []byte(base64.StdEncoding.EncodeToString(sum[:]))) {
			t.Errorf("the database file does not hold the secret's SHA-256")
		}
	}
	for i, s := range seen[:len(seen)-1] {
		if strings.Contains(s, "hash") {
			t.Errorf("a hash is shown in place %d: %s", i, s)
		}
	}
}

// logText renders every captured log entry, message and fields, as JSON.
func logText(t *testing.T, logs *observer.ObservedLogs) string {
	t.Helper()
	var sb strings.Builder
	for _, e := range logs.All() {
		b, err := json.Marshal(map[string]any{"msg": e.Message, "fields": e.ContextMap()})
		if err != nil {
			t.Fatal(err)
		}
		sb.Write(b)
		sb.WriteByte('\n')
	}
	return sb.String()
}

// TestAuditLog checks one Info line per change with action, client ID and
// actor, and none for reads or refusals.
func TestAuditLog(t *testing.T) {
	a := newTestAPI(t)
	c := a.create(`{"client_name":"a"}`)
	id := c.ClientID
	remote := func(method, path, body string) response {
		req := newRequest(method, "http://admin.test/scopegate"+path, body)
		req = req.WithContext(WithActor(req.Context(), "owner-client-7"))
		return a.serve(req)
	}
	a.do(http.MethodGet, "/clients/"+id, "")
	a.do(http.MethodGet, "/clients", "")
	a.do(http.MethodPatch, "/clients/"+id, `{"client_id":"x"}`) // refused
	remote(http.MethodPatch, "/clients/"+id, `{"scope":"x"}`)
	a.do(http.MethodPut, "/clients/"+id, `{"client_name":"a"}`)
	res := remote(http.MethodPost, "/clients/"+id+"/secrets", `{"grace_period":"1h"}`)
	var rotated created
	res.decode(t, &rotated)
	a.do(http.MethodDelete, "/clients/"+id+"/secrets/"+c.SecretID, "")
	a.do(http.MethodPost, "/clients/"+id+"/revoke", "")
	a.do(http.MethodPost, "/clients/"+id+"/disable", "")
	a.do(http.MethodPost, "/clients/"+id+"/enable", "")
	remote(http.MethodDelete, "/clients/"+id, "")

	type line struct{ action, clientID, actor, secretID string }
	want := []line{
		{"client.create", id, "admin_endpoint", ""},
		{"client.update", id, "owner-client-7", ""},
		{"client.update", id, "admin_endpoint", ""},
		{"secret.rotate", id, "owner-client-7", rotated.SecretID},
		{"secret.retire", id, "admin_endpoint", c.SecretID},
		{"tokens.revoke", id, "admin_endpoint", ""},
		{"client.disable", id, "admin_endpoint", ""},
		{"client.enable", id, "admin_endpoint", ""},
		{"client.delete", id, "owner-client-7", ""},
	}
	var got []line
	for _, e := range a.logs.All() {
		if e.Level != zapcore.InfoLevel || e.Message != "admin change" {
			t.Errorf("unexpected log line %q at %v", e.Message, e.Level)
			continue
		}
		f := e.ContextMap()
		sid, _ := f["secret_id"].(string)
		got = append(got, line{f["action"].(string), f["client_id"].(string), f["actor"].(string), sid})
		for name := range f {
			switch name {
			case "action", "client_id", "actor", "secret_id", "grace_period":
			default:
				t.Errorf("audit line has field %q", name)
			}
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("audit lines\n got %v\nwant %v", got, want)
	}
	text := logText(t, a.logs)
	for _, s := range []string{c.ClientSecret, rotated.ClientSecret} {
		if strings.Contains(text, strings.TrimPrefix(s, "sgs_")) {
			t.Fatal("a secret is in the log")
		}
	}
}

func TestActor(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"default", ctx, "admin_endpoint"},
		{"set", WithActor(ctx, "client-1"), "client-1"},
		{"empty falls back", WithActor(ctx, ""), "admin_endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ActorFrom(tc.ctx); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestAuthenticateUnknownAndWrongAlike runs Authenticate over the real
// store: an unknown ID and a wrong secret give the same error.
func TestAuthenticateUnknownAndWrongAlike(t *testing.T) {
	a := newTestAPI(t)
	c := a.create(`{"client_name":"a"}`)
	ctx := context.Background()
	_, errUnknown := a.reg.Authenticate(ctx, "aaaaaaaaaaaaaaaaaaaaaaaaaa", c.ClientSecret)
	_, errWrong := a.reg.Authenticate(ctx, c.ClientID, "sgs_"+strings.Repeat("A", 43))
	if errUnknown != registry.ErrInvalidCredentials || errWrong != registry.ErrInvalidCredentials {
		t.Fatalf("unknown: %v; wrong: %v", errUnknown, errWrong)
	}
	rec, err := a.reg.Authenticate(ctx, c.ClientID, c.ClientSecret)
	if err != nil || rec.ID != c.ClientID {
		t.Fatalf("right secret: %v", err)
	}
}

func TestConcurrentCreates(t *testing.T) {
	a := newTestAPI(t)
	const writers, each = 16, 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	ids := map[string]bool{}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				req := newRequest(http.MethodPost, "http://admin.test/scopegate/clients", fmt.Sprintf(`{"client_name":"w%d-%d"}`, w, i))
				res := a.serve(req)
				if res.Status != http.StatusCreated {
					t.Errorf("create: %d %s", res.Status, res.Body)
					continue
				}
				var c created
				res.decode(t, &c)
				mu.Lock()
				ids[c.ClientID] = true
				mu.Unlock()
			}
		}()
	}
	// Meanwhile, eight writers race for one name: exactly one wins.
	statuses := make(chan int, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- a.serve(newRequest(http.MethodPost, "http://admin.test/scopegate/clients", `{"client_name":"Contested"}`)).Status
		}()
	}
	wg.Wait()
	close(statuses)
	wins, conflicts := 0, 0
	for s := range statuses {
		switch s {
		case http.StatusCreated:
			wins++
		case http.StatusConflict:
			conflicts++
		}
	}
	if len(ids) != writers*each || wins != 1 || conflicts != 7 {
		t.Fatalf("%d distinct clients, %d wins, %d conflicts", len(ids), wins, conflicts)
	}
	if n, _ := a.store.CountClients(context.Background()); n != writers*each+1 {
		t.Fatalf("%d clients stored", n)
	}
}

// fakeKeys is a KeyManager for tests.
type fakeKeys struct {
	keys    []token.KeyInfo
	err     error
	panicky any
}

// oneKey describes a key by its kid alone, at a fixed date.
func oneKey(kid string) []token.KeyInfo {
	return []token.KeyInfo{{KeyID: kid, Algorithm: "ES256", CreatedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Status: "active", Use: token.UseAll}}
}

// keyListBody is the JSON answer listing oneKey(kid).
func keyListBody(kid string) string {
	return `{"keys":[{"kid":"` + kid + `","alg":"ES256","created_at":"2026-03-01T00:00:00Z","revoked":false,"status":"active","use":"all"}]}` + "\n"
}

func (k *fakeKeys) Keys(context.Context) ([]token.KeyInfo, error) {
	if k.panicky != nil {
		panic(k.panicky)
	}
	return k.keys, k.err
}

func (k *fakeKeys) RotateKeys(context.Context) ([]token.KeyInfo, error) {
	return oneKey("k2"), k.err
}

// RevokeKey knows k1 and k2; k2 stands for the operator's file key.
func (k *fakeKeys) RevokeKey(_ context.Context, kid string) ([]token.KeyInfo, error) {
	switch {
	case k.err != nil:
		return nil, k.err
	case kid == "k2":
		return nil, &KeyConflictError{Reason: "the key comes from signing_key_file; replace the file and reload"}
	case kid != "k1":
		return nil, ErrKeyNotFound
	}
	return oneKey("k3"), nil
}

// TestRevokeKey: POST /keys/{kid}/revoke answers 200 with the new key set
// and one audit line naming the kid; an unknown kid is 404 and a key the
// configuration does not let go is 409 with the manager's reason, neither
// of them audited.
func TestRevokeKey(t *testing.T) {
	keys := &fakeKeys{}
	a := newTestAPI(t, func(_ *registry.Limits, o *Options) { o.Keys = keys })
	res := a.do(http.MethodPost, "/keys/k1/revoke", "")
	if res.Status != http.StatusOK || string(res.Body) != keyListBody("k3") {
		t.Fatalf("revoke: %d %s", res.Status, res.Body)
	}
	audit := a.logs.FilterMessage("admin change").All()
	if len(audit) != 1 || audit[0].ContextMap()["action"] != "keys.revoke" || audit[0].ContextMap()["kid"] != "k1" {
		t.Fatalf("audit: %+v", audit)
	}
	for _, tt := range []struct {
		path, code, desc string
		status           int
	}{
		{"/keys/nope/revoke", "not_found", "no signing key with this kid", 404},
		{"/keys/%3Cscript%3E/revoke", "not_found", "no signing key with this kid", 404},
		{"/keys/k2/revoke", "conflict", "the key comes from signing_key_file; replace the file and reload", 409},
	} {
		res := a.do(http.MethodPost, tt.path, "")
		code, desc := res.errorCode(t)
		if res.Status != tt.status || code != tt.code || desc != tt.desc {
			t.Errorf("%s: %d %s %q", tt.path, res.Status, code, desc)
		}
	}
	if n := a.logs.FilterMessage("admin change").Len(); n != 1 {
		t.Errorf("%d audit lines, want only the successful revocation's", n)
	}
	res = a.do(http.MethodGet, "/keys/k1/revoke", "")
	if res.Status != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "POST" {
		t.Errorf("GET revoke: %d %q", res.Status, res.Header.Get("Allow"))
	}
	keys.err = errors.New("key store unreadable")
	if res := a.do(http.MethodPost, "/keys/k1/revoke", ""); res.Status != 500 {
		t.Errorf("a manager fault: %d", res.Status)
	}
}

// TestRotateKeysConflict: a rotation the configuration does not allow is a
// 409 with the manager's reason, not a server error.
func TestRotateKeysConflict(t *testing.T) {
	a := newTestAPI(t, func(_ *registry.Limits, o *Options) { o.Keys = &fileKeys{} })
	res := a.do(http.MethodPost, "/keys/rotate", "")
	code, desc := res.errorCode(t)
	if res.Status != http.StatusConflict || code != "conflict" || desc != "replace the file and reload" {
		t.Fatalf("rotate: %d %s %q", res.Status, code, desc)
	}
}

// fileKeys refuses rotation as a key file does.
type fileKeys struct{ fakeKeys }

func (*fileKeys) RotateKeys(context.Context) ([]token.KeyInfo, error) {
	return nil, &KeyConflictError{Reason: "replace the file and reload"}
}

func TestKeys(t *testing.T) {
	keys := &fakeKeys{keys: oneKey("k1")}
	a := newTestAPI(t, func(_ *registry.Limits, o *Options) { o.Keys = keys })

	res := a.do(http.MethodGet, "/keys", "")
	if res.Status != http.StatusOK || string(res.Body) != keyListBody("k1") {
		t.Fatalf("keys: %d %s", res.Status, res.Body)
	}
	res = a.do(http.MethodPost, "/keys/rotate", "")
	if res.Status != http.StatusOK || string(res.Body) != keyListBody("k2") {
		t.Fatalf("rotate: %d %s", res.Status, res.Body)
	}
	audit := a.logs.FilterMessage("admin change").All()
	if len(audit) != 1 || audit[0].ContextMap()["action"] != "keys.rotate" || audit[0].ContextMap()["actor"] != "admin_endpoint" {
		t.Fatalf("audit: %+v", audit)
	}
	if _, ok := audit[0].ContextMap()["client_id"]; ok {
		t.Error("keys.rotate names a client")
	}
	res = a.do(http.MethodPost, "/keys", "")
	if res.Status != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST /keys: %d %q", res.Status, res.Header.Get("Allow"))
	}

	// A key manager fault is a 500 with a generic description; the cause is logged.
	keys.err = errors.New("key store unreadable")
	for _, req := range []struct{ method, path string }{{"GET", "/keys"}, {"POST", "/keys/rotate"}} {
		res = a.do(req.method, req.path, "")
		code, desc := res.errorCode(t)
		if res.Status != 500 || code != "server_error" || desc != "internal server error; the cause is in the server's log" {
			t.Fatalf("%s %s: %d %s", req.method, req.path, res.Status, res.Body)
		}
	}
	if n := a.logs.FilterMessage("admin API request failed").FilterField(zap.Error(keys.err)).Len(); n != 2 {
		t.Fatalf("%d logged faults, want 2", n)
	}

}

func TestPanicBecomes500(t *testing.T) {
	keys := &fakeKeys{panicky: "index out of range"}
	a := newTestAPI(t, func(_ *registry.Limits, o *Options) { o.Keys = keys })
	res := a.do(http.MethodGet, "/keys", "")
	code, desc := res.errorCode(t)
	if res.Status != 500 || code != "server_error" || desc != "internal server error; the cause is in the server's log" {
		t.Fatalf("got %d %s", res.Status, res.Body)
	}
	entries := a.logs.FilterMessage("admin API handler panicked").All()
	if len(entries) != 1 || entries[0].ContextMap()["panic"] != "index out of range" || entries[0].ContextMap()["path"] != "/keys" {
		t.Fatalf("panic log: %+v", entries)
	}

	// http.ErrAbortHandler still aborts the response.
	keys.panicky = http.ErrAbortHandler
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler", v)
		}
	}()
	a.do(http.MethodGet, "/keys", "")
	t.Fatal("ErrAbortHandler was swallowed")
}

// TestStoreFailure: with the store gone, requests get a generic 500, the
// cause is logged, and the data on disk is unchanged.
func TestStoreFailure(t *testing.T) {
	a := newTestAPI(t)
	c := a.create(`{"client_name":"a","scope":"x"}`)
	if err := a.store.Close(); err != nil {
		t.Fatal(err)
	}
	for _, req := range []struct{ method, path, body string }{
		{"GET", "/clients/" + c.ClientID, ""},
		{"GET", "/clients", ""},
		{"POST", "/clients", `{"client_name":"b"}`},
		{"PATCH", "/clients/" + c.ClientID, `{"scope":"y"}`},
		{"POST", "/clients/" + c.ClientID + "/secrets", ""},
		{"DELETE", "/clients/" + c.ClientID, ""},
	} {
		res := a.do(req.method, req.path, req.body)
		code, desc := res.errorCode(t)
		if res.Status != 500 || code != "server_error" || desc != "internal server error; the cause is in the server's log" {
			t.Errorf("%s %s: %d %s", req.method, req.path, res.Status, res.Body)
		}
	}
	if n := a.logs.FilterMessage("admin API request failed").Len(); n != 6 {
		t.Errorf("%d faults logged, want 6", n)
	}
	if n := a.logs.FilterMessage("admin change").Len(); n != 1 {
		t.Errorf("%d audit lines, want only the create", n)
	}

	reopened, err := storage.Open(a.dbPath, storage.BoltOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer reopened.Close()
	rec, err := reopened.GetClient(context.Background(), c.ClientID)
	if err != nil || strings.Join(rec.Scopes, " ") != "x" || !rec.UpdatedAt.Equal(c.UpdatedAt) || len(rec.Secrets) != 1 {
		t.Fatalf("after the failures: %+v %v", rec, err)
	}
	if n, _ := reopened.CountClients(context.Background()); n != 1 {
		t.Fatalf("%d clients on disk", n)
	}
}

// BenchmarkCreateParallel creates clients through the handler from 64
// concurrent writers (DESIGN §8: at least 1,000 creates per second).
func BenchmarkCreateParallel(b *testing.B) {
	dir := b.TempDir()
	bolt, err := storage.Open(dir+"/scopegate.db", storage.BoltOptions{})
	if err != nil {
		b.Fatal(err)
	}
	store, err := storage.NewCached(bolt, 10000)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	h := NewHandler(registry.New(store, registry.Limits{MaxClients: -1}), Options{})
	var mu sync.Mutex
	n := 0
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			n++
			name := fmt.Sprintf(`{"client_name":"bench-%d"}`, n)
			mu.Unlock()
			req := newRequest(http.MethodPost, "http://admin.test/clients", name)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				b.Errorf("create: %d %s", rec.Code, rec.Body)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "creates/s")
}
