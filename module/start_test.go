package module

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/storage"
)

// provisionOnly provisions an app on path as Caddy does for `caddy validate`
// (Provision and Validate, never Start) and returns it with its config's
// cancel function.
func provisionOnly(t *testing.T, path string) (*App, context.CancelFunc) {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	a := &App{Issuer: "https://gw.example", StorageRaw: boltAt(path, 100*time.Millisecond)}
	if err := a.Provision(ctx); err != nil {
		cancel()
		t.Fatalf("provision: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = a.Cleanup()
	})
	a.logger = zap.NewNop()
	if err := a.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	return a, cancel
}

// TestProvisionLeavesTheStoreAlone is what `caddy validate` needs while a
// gateway runs: provisioning a config neither waits for nor takes the
// store's lock, and creates no file; only Start opens the store, and a
// store locked by someone else then fails Start with the lock's message.
func TestProvisionLeavesTheStoreAlone(t *testing.T) {
	t.Run("store locked by a running gateway", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "scopegate.db")
		held, err := storage.Open(path, storage.BoltOptions{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()

		a, _ := provisionOnly(t, path)
		err = a.Start()
		if err == nil || !strings.Contains(err.Error(), "is locked by another process") {
			t.Fatalf("Start on a locked store: %v, want the lock's error", err)
		}
	})
	t.Run("store not created", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "state")
		provisionOnly(t, filepath.Join(dir, "scopegate.db"))
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("provisioning made the store's directory (stat: %v)", err)
		}
	})
}

// TestHandlersWaitForStart covers the moment when Caddy has started the http
// app but not yet the scopegate app (apps start in no set order): a request
// then waits for the store instead of failing, and is answered with 503 when
// the config is cancelled because it never starts.
func TestHandlersWaitForStart(t *testing.T) {
	jwksRequest := func(ctx context.Context) *http.Request {
		return httptest.NewRequest(http.MethodGet, "http://gw.example/.well-known/jwks.json", nil).WithContext(ctx)
	}
	serve := func(iss *Issuer, r *http.Request) (int, error) {
		rec := httptest.NewRecorder()
		err := iss.ServeHTTP(rec, r, passThrough)
		return rec.Code, err
	}
	newIssuer := func(t *testing.T, a *App) *Issuer {
		iss := new(Issuer)
		if err := iss.setup(a.server, zap.NewNop()); err != nil {
			t.Fatal(err)
		}
		return iss
	}
	wantStatus := func(t *testing.T, err error, want int) {
		t.Helper()
		var herr caddyhttp.HandlerError
		if !errors.As(err, &herr) || herr.StatusCode != want {
			t.Fatalf("error %v, want a %d handler error", err, want)
		}
	}

	t.Run("a request before Start is served once the store is open", func(t *testing.T) {
		a, _ := provisionOnly(t, filepath.Join(t.TempDir(), "scopegate.db"))
		iss := newIssuer(t, a)
		type result struct {
			status int
			err    error
		}
		done := make(chan result, 1)
		go func() {
			status, err := serve(iss, jwksRequest(context.Background()))
			done <- result{status, err}
		}()
		if err := a.Start(); err != nil {
			t.Fatal(err)
		}
		select {
		case res := <-done:
			if res.err != nil || res.status != http.StatusOK {
				t.Fatalf("status %d, error %v", res.status, res.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the request was not answered after Start")
		}
	})
	t.Run("a config that never starts answers 503", func(t *testing.T) {
		a, cancel := provisionOnly(t, filepath.Join(t.TempDir(), "scopegate.db"))
		iss := newIssuer(t, a)
		done := make(chan error, 1)
		go func() {
			_, err := serve(iss, jwksRequest(context.Background()))
			done <- err
		}()
		cancel()
		select {
		case err := <-done:
			wantStatus(t, err, http.StatusServiceUnavailable)
		case <-time.After(10 * time.Second):
			t.Fatal("the request still waits after the config was cancelled")
		}
		guard := newTestGuard(t, a, "orders:read")
		rec := httptest.NewRecorder()
		wantStatus(t, guard.ServeHTTP(rec, guardedRequest("a.b.c"), passThrough), http.StatusServiceUnavailable)
	})
	t.Run("a request that goes away stops waiting", func(t *testing.T) {
		a, _ := provisionOnly(t, filepath.Join(t.TempDir(), "scopegate.db"))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := serve(newIssuer(t, a), jwksRequest(ctx))
		wantStatus(t, err, http.StatusServiceUnavailable)
	})
}
