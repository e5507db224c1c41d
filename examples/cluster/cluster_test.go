package cluster

import (
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/scopegate/scopegate"
)

// gateways are the example's Caddyfiles, each with what sets it apart.
var gateways = []struct {
	file, id, admin string
}{
	{"gw1.Caddyfile", "gw1", "localhost:2021"},
	{"gw2.Caddyfile", "gw2", "localhost:2022"},
	{"gw3.Caddyfile", "gw3", "localhost:2023"},
}

// adapted is the part of an adapted config this test reads.
type adapted struct {
	Admin struct {
		Listen string `json:"listen"`
	} `json:"admin"`
	Apps struct {
		Scopegate struct {
			Issuer  string `json:"issuer"`
			Storage struct {
				Backend        string   `json:"backend"`
				Endpoints      []string `json:"endpoints"`
				GatewayID      string   `json:"gateway_id"`
				SealingKeyFile string   `json:"sealing_key_file"`
			} `json:"storage"`
		} `json:"scopegate"`
	} `json:"apps"`
}

// TestCaddyfiles adapts the three gateways' Caddyfiles and validates the
// result as `caddy validate` does (every module provisioned, the sealing key
// read, etcd not contacted), from a directory laid out like the
// repository's root, where the README runs them.
func TestCaddyfiles(t *testing.T) {
	root := t.TempDir()
	keyFile := filepath.Join(root, "examples", "cluster", "sealing.key")
	if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, randomKey(t), 0o600); err != nil {
		t.Fatal(err)
	}

	adapter := caddyconfig.GetAdapter("caddyfile")
	configs := make([][]byte, len(gateways))
	for i, gw := range gateways {
		body, err := os.ReadFile(gw.file)
		if err != nil {
			t.Fatal(err)
		}
		out, warnings, err := adapter.Adapt(body, map[string]any{"filename": gw.file})
		if err != nil {
			t.Fatalf("%s: adapting: %v", gw.file, err)
		}
		if len(warnings) > 0 {
			t.Errorf("%s: warnings: %v", gw.file, warnings)
		}
		var cfg adapted
		if err := json.Unmarshal(out, &cfg); err != nil {
			t.Fatalf("%s: %v", gw.file, err)
		}
		st := cfg.Apps.Scopegate.Storage
		if st.Backend != "etcd" || st.GatewayID != gw.id || len(st.Endpoints) != 1 || st.Endpoints[0] != "http://127.0.0.1:2379" ||
			st.SealingKeyFile != "examples/cluster/sealing.key" {
			t.Errorf("%s: storage %+v, want etcd at http://127.0.0.1:2379 as %s, sealed with examples/cluster/sealing.key", gw.file, st, gw.id)
		}
		if cfg.Admin.Listen != gw.admin {
			t.Errorf("%s: admin endpoint %q, want %q", gw.file, cfg.Admin.Listen, gw.admin)
		}
		// One issuer for all: a token from any gateway is good on every one.
		if cfg.Apps.Scopegate.Issuer != "http://localhost:8080" {
			t.Errorf("%s: issuer %q, want the balancer's http://localhost:8080", gw.file, cfg.Apps.Scopegate.Issuer)
		}
		configs[i] = out
	}

	t.Chdir(root)
	for i, gw := range gateways {
		if err := caddy.Validate(mustConfig(t, configs[i])); err != nil {
			t.Errorf("%s: %v", gw.file, err)
		}
	}

	t.Run("a missing sealing key fails validation", func(t *testing.T) {
		if err := os.Remove(keyFile); err != nil {
			t.Fatal(err)
		}
		err := caddy.Validate(mustConfig(t, configs[0]))
		if err == nil || !strings.Contains(err.Error(), "sealing key") {
			t.Fatalf("got %v, want an error about the sealing key", err)
		}
	})
}

// mustConfig decodes an adapted config.
func mustConfig(t *testing.T, raw []byte) *caddy.Config {
	t.Helper()
	var cfg caddy.Config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	return &cfg
}

// randomKey returns 32 random bytes, as `head -c 32 /dev/urandom` writes.
func randomKey(t *testing.T) []byte {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return key
}
