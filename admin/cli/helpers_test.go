package cli

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/scopegate/scopegate/admin"
	"github.com/scopegate/scopegate/password"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/token"
)

// testKeys is a KeyManager whose rotation moves a fixed set of keys along.
type testKeys struct {
	mu       sync.Mutex
	rotated  int
	revoked  string
	failWith error
}

func (k *testKeys) set() []token.KeyInfo {
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	active := token.KeyInfo{KeyID: "k1", Algorithm: "ES256", CreatedAt: created, ActiveAt: created, Status: "active", Use: token.UseAll}
	next := token.KeyInfo{KeyID: "k2", Algorithm: "ES256", CreatedAt: created, Status: "next", Use: token.UseAll}
	if k.rotated > 0 || k.revoked == "k1" {
		active.Status, active.RetiredAt = "retired", created.Add(time.Hour)
		next.Status, next.ActiveAt = "active", created.Add(time.Hour)
	}
	if k.revoked == "k1" {
		active.Status, active.Revoked = "revoked", true
	}
	return []token.KeyInfo{active, next}
}

func (k *testKeys) Keys(context.Context) ([]token.KeyInfo, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.failWith != nil {
		return nil, k.failWith
	}
	return k.set(), nil
}

func (k *testKeys) RotateKeys(context.Context) ([]token.KeyInfo, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.rotated++
	return k.set(), nil
}

// RevokeKey knows k1; k2 stands for a signing_key_file key.
func (k *testKeys) RevokeKey(_ context.Context, kid string) ([]token.KeyInfo, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch kid {
	case "k1":
		k.revoked = kid
		return k.set(), nil
	case "k2":
		return nil, &admin.KeyConflictError{Reason: "this key comes from signing_key_file; replace the file and reload"}
	}
	return nil, admin.ErrKeyNotFound
}

// testServer is the admin API over a real bbolt store, mounted under
// /scopegate on a loopback HTTP server, as Caddy's admin endpoint mounts it.
type testServer struct {
	reg *registry.Registry
	// store is the registry's store, for records only the gateway's
	// pages write (a person's consent).
	store    storage.Store
	keys     *testKeys
	sessions *testSessions
	consents *testConsents
	grants   *testGrants
	srv      *httptest.Server
	// Addr is host:port, as --address takes it.
	Addr string

	mu       sync.Mutex
	requests []recordedRequest
}

// recordedRequest is what the server saw of one request.
type recordedRequest struct {
	Method, Path, RawQuery, ContentType, Origin string
	Body                                        string
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	bolt, err := storage.Open(filepath.Join(t.TempDir(), "scopegate.db"), storage.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	store, err := storage.NewCached(bolt, 100)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	// Cheap hashing parameters: these tests are about the commands, not
	// the hash's cost.
	hasher, err := password.NewHasher(password.Params{Time: 1, MemoryKiB: 8, Threads: 1, KeyLen: 16, SaltLen: 8}, 0)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{reg: registry.New(store, registry.Limits{Passwords: hasher}), store: store, keys: &testKeys{}, sessions: &testSessions{}, consents: &testConsents{}, grants: &testGrants{}}
	api := http.StripPrefix("/scopegate", admin.NewHandler(ts.reg, admin.Options{Keys: ts.keys, Sessions: ts.sessions, Consents: ts.consents, Grants: ts.grants}))
	ts.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		_, _ = body.ReadFrom(r.Body)
		ts.mu.Lock()
		ts.requests = append(ts.requests, recordedRequest{
			Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
			ContentType: r.Header.Get("Content-Type"), Origin: r.Header.Get("Origin"), Body: body.String(),
		})
		ts.mu.Unlock()
		r.Body = http.NoBody
		if body.Len() > 0 {
			r.Body = io.NopCloser(bytes.NewReader(body.Bytes()))
			r.ContentLength = int64(body.Len())
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.srv.Close)
	ts.Addr = strings.TrimPrefix(ts.srv.URL, "http://")
	return ts
}

// Requests returns the requests seen so far.
func (ts *testServer) Requests() []recordedRequest {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]recordedRequest(nil), ts.requests...)
}

// result is one command run.
type result struct {
	Stdout, Stderr string
	Err            error
}

// run runs `caddy scopegate <args>` in a command tree built as Caddy builds
// it (a root with SilenceUsage), with env as the environment.
func run(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	return runWithInput(t, env, "", args...)
}

// runWithInput runs a command as run does, with stdin as its standard
// input (a pipe, not a terminal).
func runWithInput(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	root := &cobra.Command{Use: "caddy", SilenceUsage: true}
	root.SetIn(strings.NewReader(stdin))
	sg := &cobra.Command{Use: "scopegate client|keys|token ...", Short: "test"}
	build(sg, func(k string) string { return env[k] })
	root.AddCommand(sg)
	var stdout, stderr bytes.Buffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetArgs(append([]string{"scopegate"}, args...))
	err := root.Execute()
	return result{Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
}

// runOK runs a command that must succeed.
func runOK(t *testing.T, args ...string) result {
	t.Helper()
	r := run(t, nil, args...)
	if r.Err != nil {
		t.Fatalf("%v: %v\nstderr: %s", args, r.Err, r.Stderr)
	}
	return r
}

// runFail runs a command that must fail, and checks that it wrote exactly
// one line to stderr and nothing to stdout.
func runFail(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	r := run(t, env, args...)
	if r.Err == nil {
		t.Fatalf("%v succeeded; stdout: %s", args, r.Stdout)
	}
	if r.Stdout != "" {
		t.Errorf("%v wrote to stdout on failure: %q", args, r.Stdout)
	}
	if strings.Count(r.Stderr, "\n") != 1 || !strings.HasSuffix(r.Stderr, "\n") || !strings.HasPrefix(r.Stderr, "scopegate: ") {
		t.Errorf("%v: stderr is not one line starting with \"scopegate: \": %q", args, r.Stderr)
	}
	return r.Stderr
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
