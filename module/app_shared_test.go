package module

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/authserver"
)

// TestStartBeforeTheSharedStoreAnswers starts an app on an etcd store that
// never answers. The start must succeed and report "starting", and neither
// the start nor a round of upkeep may touch the signing keys, which are not
// loaded until the store is listed.
func TestStartBeforeTheSharedStoreAnswers(t *testing.T) {
	// A loopback port that was free a moment ago: nothing listens on it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	_ = l.Close()
	t.Setenv("SG_TEST_SEALING_KEY", hex.EncodeToString(make([]byte, 32)))
	storageJSON, err := json.Marshal(map[string]any{
		"backend": "etcd", "endpoints": []string{endpoint}, "gateway_id": "gw-test",
		"sealing_key_env": "SG_TEST_SEALING_KEY", "dial_timeout": "200ms",
	})
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	a := &App{Issuer: "https://gw.example", StorageRaw: storageJSON}
	if err := a.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = a.Cleanup()
	})
	a.logger = zap.NewNop()
	if err := a.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	a.maintainOnce()
	if got := a.server.Health().Status; got != authserver.HealthStarting {
		t.Errorf("health %q, want %q", got, authserver.HealthStarting)
	}
}
