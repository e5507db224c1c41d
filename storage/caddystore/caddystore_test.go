package caddystore

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// provision loads a storage JSON as the scopegate app does.
func provision(t *testing.T, raw string) (Backend, error) {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	return Load(ctx, json.RawMessage(raw))
}

func TestUnmarshalCaddyfile(t *testing.T) {
	cases := []struct{ name, input, want string }{
		{"a path", "storage /var/lib/sg.db", `{"backend":"bolt","path":"/var/lib/sg.db"}`},
		{"bolt with a path", "storage bolt /var/lib/sg.db", `{"backend":"bolt","path":"/var/lib/sg.db"}`},
		{"bolt block", "storage bolt {\n path ./sg.db\n lock_timeout 2s\n}", `{"backend":"bolt","lock_timeout":2000000000,"path":"./sg.db"}`},
		{"bolt alone", "storage bolt", `{"backend":"bolt"}`},
		{"a relative path named like a backend", "storage ./etcd", `{"backend":"bolt","path":"./etcd"}`},
		{"etcd", "storage etcd {\n endpoints http://a:2379 http://b:2379\n sealing_key_env SG_SEAL\n max_stale 30s\n}",
			`{"backend":"etcd","endpoints":["http://a:2379","http://b:2379"],"max_stale":30000000000,"sealing_key_env":"SG_SEAL"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := caddyfile.NewTestDispenser(tc.input)
			d.Next()
			got, err := UnmarshalCaddyfile(d)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("got %s\nwant %s", got, tc.want)
			}
		})
	}
	errorCases := []struct{ name, input, wantErr string }{
		{"no argument", "storage", "wrong argument count"},
		{"a path with a block", "storage /x.db {\n path y\n}", "not a backend"},
		{"unknown bolt option", "storage bolt {\n colour red\n}", `unknown storage bolt option "colour"`},
		{"unknown etcd option", "storage etcd {\n leader me\n}", `unknown storage etcd option "leader"`},
		{"unknown tls option", "storage etcd {\n tls {\n insecure yes\n }\n}", `unknown storage etcd tls option "insecure"`},
		{"bad duration", "storage etcd {\n max_stale soon\n}", "max_stale: invalid duration"},
		{"endpoints without a URL", "storage etcd {\n endpoints\n}", "wrong argument count"},
		{"argument after etcd", "storage etcd now", "wrong argument count"},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			d := caddyfile.NewTestDispenser(tc.input)
			d.Next()
			_, err := UnmarshalCaddyfile(d)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestEtcdProvision(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "sealing.key")
	key := hex.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SG_TEST_ETCD_PASSWORD", "pa55")
	t.Setenv("SG_TEST_SEAL", key)

	b, err := provision(t, `{"backend":"etcd","endpoints":["http://127.0.0.1:2379"],"username":"sg",
		"password":"{env.SG_TEST_ETCD_PASSWORD}","sealing_key_file":"`+keyFile+`"}`)
	if err != nil {
		t.Fatal(err)
	}
	e := b.(*Etcd)
	if e.Password != "pa55" {
		t.Error("the password placeholder was not replaced")
	}
	host, _ := os.Hostname()
	if e.GatewayID != host || e.Prefix != "/scopegate" || e.StaleLimit() != defaultMaxStale {
		t.Errorf("defaults: gateway %q prefix %q max_stale %v", e.GatewayID, e.Prefix, e.StaleLimit())
	}
	if strings.Contains(e.Describe(), "pa55") || strings.Contains(e.PoolKey(), "pa55") {
		t.Error("the password shows in Describe or PoolKey")
	}

	errorCases := []struct{ name, raw, wantErr string }{
		{"no endpoints", `{"backend":"etcd","sealing_key_env":"SG_TEST_SEAL"}`, "at least one endpoint"},
		{"no sealing key", `{"backend":"etcd","endpoints":["http://e:2379"]}`, "exactly one of sealing_key_file and sealing_key_env"},
		{"two sealing keys", `{"backend":"etcd","endpoints":["http://e:2379"],"sealing_key_env":"SG_TEST_SEAL","sealing_key_file":"` + keyFile + `"}`, "exactly one"},
		{"missing key file", `{"backend":"etcd","endpoints":["http://e:2379"],"sealing_key_file":"` + filepath.Join(dir, "none") + `"}`, "sealing key"},
		{"unset key variable", `{"backend":"etcd","endpoints":["http://e:2379"],"sealing_key_env":"SG_TEST_NO_SUCH_VARIABLE"}`, "SG_TEST_NO_SUCH_VARIABLE"},
		{"endpoint without a scheme", `{"backend":"etcd","endpoints":["e:2379"],"sealing_key_env":"SG_TEST_SEAL"}`, "want an http:// or https:// URL"},
		{"gateway id with a slash", `{"backend":"etcd","endpoints":["http://e:2379"],"gateway_id":"a/b","sealing_key_env":"SG_TEST_SEAL"}`, "must not contain '/'"},
		{"password without username", `{"backend":"etcd","endpoints":["http://e:2379"],"password":"x","sealing_key_env":"SG_TEST_SEAL"}`, "without username"},
		{"negative max_stale", `{"backend":"etcd","endpoints":["http://e:2379"],"max_stale":-1,"sealing_key_env":"SG_TEST_SEAL"}`, "must not be negative"},
		{"missing CA file", `{"backend":"etcd","endpoints":["https://e:2379"],"sealing_key_env":"SG_TEST_SEAL","tls":{"ca":"` + filepath.Join(dir, "ca.pem") + `"}}`, "ca.pem"},
		{"CA file without PEM", `{"backend":"etcd","endpoints":["https://e:2379"],"sealing_key_env":"SG_TEST_SEAL","tls":{"ca":"` + keyFile + `"}}`, "holds no PEM certificate"},
		{"cert without key", `{"backend":"etcd","endpoints":["https://e:2379"],"sealing_key_env":"SG_TEST_SEAL","tls":{"cert":"` + keyFile + `"}}`, "cert and key go together"},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := provision(t, tc.raw)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), key) {
				t.Fatal("the error quotes the sealing key")
			}
		})
	}
}

func TestBoltProvision(t *testing.T) {
	for _, raw := range []string{"", `"/srv/sg.db"`} {
		b, err := provision(t, raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := b.(*Bolt); !ok {
			t.Fatalf("storage %q: got a %T, want bolt", raw, b)
		}
	}
	if b, _ := provision(t, `"/srv/sg.db"`); b.(*Bolt).Path != "/srv/sg.db" {
		t.Fatal("a JSON string is not read as the bolt path")
	}
	b, err := provision(t, `{"backend":"bolt","path":"relative.db"}`)
	if err != nil {
		t.Fatal(err)
	}
	bolt := b.(*Bolt)
	if !filepath.IsAbs(bolt.Path) || bolt.StaleLimit() != 0 || bolt.LockTimeout != caddy.Duration(defaultLockTimeout) {
		t.Fatalf("got %+v", bolt)
	}
	if _, err := provision(t, `{"backend":"bolt","lock_timeout":-1}`); err == nil {
		t.Fatal("a negative lock_timeout was accepted")
	}
}
