package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// startupCaddyfile guards a route whose handler would answer anything that
// got through; Storage and AppExtra let a test break the store or the key.
const startupCaddyfile = `{
	admin 127.0.0.1:{{.AdminPort}}
	auto_https off
	scopegate {
		issuer  http://127.0.0.1:{{.HTTPPort}}
		storage {{.Storage}}
		{{.AppExtra}}
	}
}

http://127.0.0.1:{{.HTTPPort}} {
	scopegate_issuer
	handle /orders/* {
		scopegate_guard orders:read
		respond "unguarded"
	}
}
`

// TestStartupFailsClosed starts the gateway on a store or a signing key that
// is missing, unusable or corrupt. Start-up must fail with a message that
// names what is wrong, the process must exit, and nothing may listen on the
// site's port: no request is ever served unguarded.
func TestStartupFailsClosed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		prepare func(t *testing.T, dir string) (storagePath, appExtra string)
		wantLog []string
	}{
		{
			name: "store path is a directory",
			prepare: func(t *testing.T, dir string) (string, string) {
				p := filepath.Join(dir, "store-dir")
				if err := os.Mkdir(p, 0o700); err != nil {
					t.Fatal(err)
				}
				return p, ""
			},
			wantLog: []string{"scopegate: opening store", "store-dir"},
		},
		{
			name: "store directory cannot be made",
			prepare: func(t *testing.T, dir string) (string, string) {
				parent := filepath.Join(dir, "a-file")
				if err := os.WriteFile(parent, []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
				return filepath.Join(parent, "scopegate.db"), ""
			},
			wantLog: []string{"scopegate: opening store", "a-file"},
		},
		{
			name: "store truncated",
			prepare: func(t *testing.T, dir string) (string, string) {
				p := filepath.Join(dir, "scopegate.db")
				db, err := storage.Open(p, storage.BoltOptions{Timeout: time.Second})
				if err != nil {
					t.Fatal(err)
				}
				for i := range 50 {
					c := storage.Client{ID: fmt.Sprintf("client-%03d", i), Name: fmt.Sprintf("client %d", i), CreatedAt: time.Now(), UpdatedAt: time.Now()}
					if err := db.CreateClient(context.Background(), c, 0); err != nil {
						t.Fatal(err)
					}
				}
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
				info, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(p, info.Size()/2); err != nil {
					t.Fatal(err)
				}
				return p, ""
			},
			wantLog: []string{"scopegate: opening store", "scopegate.db"},
		},
		{
			name: "signing key file missing",
			prepare: func(t *testing.T, dir string) (string, string) {
				return filepath.Join(dir, "scopegate.db"), "signing_key_file " + filepath.Join(dir, "no-such-key.pem")
			},
			wantLog: []string{"signing_key_file", "no-such-key.pem"},
		},
		{
			name: "signing key file empty",
			prepare: func(t *testing.T, dir string) (string, string) {
				p := filepath.Join(dir, "empty.pem")
				if err := os.WriteFile(p, nil, 0o600); err != nil {
					t.Fatal(err)
				}
				return filepath.Join(dir, "scopegate.db"), "signing_key_file " + p
			},
			wantLog: []string{"signing_key_file", "empty.pem"},
		},
		{
			name: "signing key file not a key",
			prepare: func(t *testing.T, dir string) (string, string) {
				p := filepath.Join(dir, "garbage.pem")
				garbage := "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"
				if err := os.WriteFile(p, []byte(garbage), 0o600); err != nil {
					t.Fatal(err)
				}
				return filepath.Join(dir, "scopegate.db"), "signing_key_file " + p
			},
			wantLog: []string{"signing_key_file", "garbage.pem"},
		},
		{
			name: "stored signing key corrupt",
			prepare: func(t *testing.T, dir string) (string, string) {
				// A first start generates the keys; then one is damaged.
				p := filepath.Join(dir, "scopegate.db")
				first := NewGateway(t, startupCaddyfile)
				first.Vars["Storage"] = p
				first.Vars["AppExtra"] = ""
				first.Start()
				first.Stop()
				db, err := storage.Open(p, storage.BoltOptions{Timeout: time.Second})
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				_, err = db.UpdateSigningKeys(context.Background(), func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
					if len(keys) == 0 {
						return nil, fmt.Errorf("the first start stored no key")
					}
					keys[0].PrivateKey = []byte("not a PKCS #8 key")
					return keys, nil
				})
				if err != nil {
					t.Fatal(err)
				}
				return p, ""
			},
			wantLog: []string{"scopegate", "key set: key"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each case has its own gateway
			g := NewGateway(t, startupCaddyfile)
			g.Vars["Storage"], g.Vars["AppExtra"] = tc.prepare(t, g.Dir)
			start := time.Now()
			if err := g.StartErr(); err == nil {
				t.Fatal("the gateway started")
			}
			if !g.Exited(10 * time.Second) {
				t.Fatal("the process still runs after a failed start-up")
			}
			if elapsed := time.Since(start); elapsed > 15*time.Second {
				t.Errorf("took %s to fail", elapsed)
			}
			logs := g.Logs()
			for _, want := range tc.wantLog {
				if !strings.Contains(logs, want) {
					t.Errorf("the output does not say %q:\n%s", want, logs)
				}
			}
			if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", g.HTTPPort), time.Second); err == nil {
				c.Close()
				t.Fatal("something listens on the site's port")
			}
		})
	}
}
