package etcd

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

func testKeys() []storage.SigningKey {
	return []storage.SigningKey{
		{ID: "kid-1", Algorithm: "ES256", PrivateKey: []byte("PRIVATE-KEY-BYTES-ONE"), CreatedAt: t0, ActiveAt: t0},
		{ID: "kid-2", Algorithm: "EdDSA", PrivateKey: []byte("PRIVATE-KEY-BYTES-TWO"), CreatedAt: t0.Add(time.Hour), ActiveAt: t0.Add(time.Hour)},
	}
}

func storeKeys(t *testing.T, s *Store) {
	t.Helper()
	if _, err := s.UpdateSigningKeys(t.Context(), func([]storage.SigningKey) ([]storage.SigningKey, error) {
		return testKeys(), nil
	}); err != nil {
		t.Fatalf("UpdateSigningKeys: %v", err)
	}
}

func TestSigningKeysSealedInEtcd(t *testing.T) {
	prefix := testPrefix(t)
	a := openStore(t, prefix, "gw-a")
	b := openStore(t, prefix, "gw-b")
	ctx := t.Context()
	storeKeys(t, a)
	raw := rawClient(t)
	resp, err := raw.Get(ctx, a.keysKey())
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("raw get of the key set = %v, %v", resp, err)
	}
	value := resp.Kvs[0].Value
	for _, k := range testKeys() {
		if bytes.Contains(value, k.PrivateKey) || bytes.Contains(value, []byte(base64.StdEncoding.EncodeToString(k.PrivateKey))) {
			t.Fatalf("etcd holds the private key of %s in the clear", k.ID)
		}
	}
	// Sealing twice gives different bytes: a fresh nonce each time.
	again, _ := a.sealKeys(testKeys())
	if bytes.Equal(again, value) {
		t.Fatal("sealing the same keys twice gave the same bytes")
	}
	eventually(t, time.Second, "B unseals the keys A stored", func() bool {
		got, err := b.SigningKeys(ctx)
		return err == nil && len(got) == 2 && bytes.Equal(got[1].PrivateKey, testKeys()[1].PrivateKey)
	})

	t.Run("moved to another key id", func(t *testing.T) {
		var set storedKeySet
		if err := json.Unmarshal(value, &set); err != nil {
			t.Fatal(err)
		}
		set.Keys[0].SealedPrivateKey, set.Keys[1].SealedPrivateKey = set.Keys[1].SealedPrivateKey, set.Keys[0].SealedPrivateKey
		moved, _ := json.Marshal(set)
		if _, err := raw.Put(ctx, a.keysKey(), string(moved)); err != nil {
			t.Fatal(err)
		}
		for name, s := range map[string]*Store{"A": a, "B": b} {
			eventually(t, time.Second, name+" refuses the swapped keys", func() bool {
				_, err := s.SigningKeys(ctx)
				return errors.Is(err, ErrSealBroken) && strings.Contains(err.Error(), `"kid-1"`)
			})
		}
		// An unreadable set is never overwritten by a rotation (it could be
		// a gateway with the wrong key); the operator removes it.
		if _, err := a.UpdateSigningKeys(ctx, func(k []storage.SigningKey) ([]storage.SigningKey, error) { return k, nil }); !errors.Is(err, ErrSealBroken) {
			t.Fatalf("UpdateSigningKeys over a broken set: error = %v, want ErrSealBroken", err)
		}
		if _, err := raw.Delete(ctx, a.keysKey()); err != nil {
			t.Fatal(err)
		}
		storeKeys(t, a)
	})

	t.Run("wrong sealing key", func(t *testing.T) {
		other, err := NewSealer(bytes.Repeat([]byte{0x17}, SealKeySize))
		if err != nil {
			t.Fatal(err)
		}
		c := openStore(t, prefix, "gw-c", func(o *Options) { o.Sealer = other })
		_, err = c.SigningKeys(ctx)
		if !errors.Is(err, ErrWrongSealKey) {
			t.Fatalf("SigningKeys under another sealing key: error = %v, want ErrWrongSealKey", err)
		}
		if !strings.Contains(err.Error(), other.Fingerprint()) {
			t.Fatalf("error %q does not name this sealer's fingerprint", err)
		}
		// Nor does it replace the set that it cannot read.
		if _, err := c.UpdateSigningKeys(ctx, func([]storage.SigningKey) ([]storage.SigningKey, error) { return nil, nil }); !errors.Is(err, ErrWrongSealKey) {
			t.Fatalf("UpdateSigningKeys under another sealing key: error = %v, want ErrWrongSealKey", err)
		}
		if got, err := a.SigningKeys(ctx); err != nil || len(got) != 2 {
			t.Fatalf("SigningKeys through A = %d keys, %v; want the 2 stored", len(got), err)
		}
		t.Logf("wrong key: %v", err)
	})

	t.Run("no sealer", func(t *testing.T) {
		c := openStore(t, prefix, "gw-d", func(o *Options) { o.Sealer = nil })
		if _, err := c.SigningKeys(ctx); !errors.Is(err, ErrNoSealer) {
			t.Fatalf("SigningKeys without a sealer: error = %v, want ErrNoSealer", err)
		}
		_, err := c.UpdateSigningKeys(ctx, func([]storage.SigningKey) ([]storage.SigningKey, error) {
			return testKeys(), nil
		})
		if !errors.Is(err, ErrNoSealer) {
			t.Fatalf("UpdateSigningKeys without a sealer: error = %v, want ErrNoSealer", err)
		}
		// Clients still work without one.
		if err := c.CreateClient(ctx, client("client-x", "X"), 0); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSealer(t *testing.T) {
	s, err := NewSealer(testSealKey)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal("signing-key", "kid-1", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Open("signing-key", "kid-1", sealed); err != nil || string(got) != "secret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	tests := []struct {
		name    string
		purpose string
		id      string
		change  func([]byte) []byte
		want    error
	}{
		{"other id", "signing-key", "kid-2", nil, ErrSealBroken},
		{"other purpose", "client-secret", "kid-1", nil, ErrSealBroken},
		{"flipped bit", "signing-key", "kid-1", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, ErrSealBroken},
		{"truncated", "signing-key", "kid-1", func(b []byte) []byte { return b[:10] }, ErrSealBroken},
		{"other fingerprint", "signing-key", "kid-1", func(b []byte) []byte { b[1] ^= 1; return b }, ErrWrongSealKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := bytes.Clone(sealed)
			if tt.change != nil {
				in = tt.change(in)
			}
			if _, err := s.Open(tt.purpose, tt.id, in); !errors.Is(err, tt.want) {
				t.Fatalf("Open error = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := NewSealer(make([]byte, 16)); err == nil {
		t.Fatal("NewSealer accepted a 16-byte key")
	}
}

func TestSealerFromFileAndEnv(t *testing.T) {
	key := bytes.Repeat([]byte{0xa7}, SealKeySize)
	want, _ := NewSealer(key)
	dir := t.TempDir()
	write := func(name string, content []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := map[string][]byte{
		"raw":    key,
		"hex":    []byte(hex.EncodeToString(key) + "\n"),
		"base64": []byte("  " + base64.StdEncoding.EncodeToString(key) + "\n"),
	}
	for name, content := range good {
		t.Run("file "+name, func(t *testing.T) {
			s, err := SealerFromFile(write(name, content))
			if err != nil || s.Fingerprint() != want.Fingerprint() {
				t.Fatalf("SealerFromFile = %v, %v; want the key's sealer", s, err)
			}
		})
		if name != "raw" {
			t.Run("env "+name, func(t *testing.T) {
				t.Setenv("SCOPEGATE_TEST_SEAL_KEY", string(content))
				s, err := SealerFromEnv("SCOPEGATE_TEST_SEAL_KEY")
				if err != nil || s.Fingerprint() != want.Fingerprint() {
					t.Fatalf("SealerFromEnv = %v, %v; want the key's sealer", s, err)
				}
			})
		}
	}
	secretText := "correct horse battery staple, not a key"
	bad := map[string]string{
		"text":         secretText,
		"short base64": base64.StdEncoding.EncodeToString([]byte(secretText[:20])),
		"short hex":    hex.EncodeToString(key[:31]) + "zz",
	}
	for name, content := range bad {
		t.Run("bad "+name, func(t *testing.T) {
			_, err := SealerFromFile(write("bad", []byte(content)))
			if err == nil {
				t.Fatal("SealerFromFile accepted it")
			}
			t.Setenv("SCOPEGATE_TEST_SEAL_KEY", content)
			_, envErr := SealerFromEnv("SCOPEGATE_TEST_SEAL_KEY")
			if envErr == nil {
				t.Fatal("SealerFromEnv accepted it")
			}
			for _, e := range []error{err, envErr} {
				if strings.Contains(e.Error(), content) || strings.Contains(e.Error(), secretText[:10]) {
					t.Fatalf("error echoes the key material: %v", e)
				}
			}
		})
	}
	if _, err := SealerFromFile(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "sealing key file") {
		t.Fatalf("SealerFromFile of a missing file: %v", err)
	}
	if _, err := SealerFromEnv("SCOPEGATE_TEST_UNSET_VARIABLE"); err == nil || !strings.Contains(err.Error(), "not set") {
		t.Fatalf("SealerFromEnv of an unset variable: %v", err)
	}
}

// A revocation's lease ends with its token: etcd deletes it, and the
// replica forgets it, without anyone pruning.
func TestRevocationLeaseExpires(t *testing.T) {
	s := openStore(t, testPrefix(t), "gw-a")
	ctx := t.Context()
	now := time.Now()
	short := storage.Revocation{JTI: "jti-short", ClientID: "client-a", ExpiresAt: now.Add(time.Second)}
	long := storage.Revocation{JTI: "jti-long", ClientID: "client-a", ExpiresAt: now.Add(time.Hour)}
	for _, r := range []storage.Revocation{short, long} {
		if err := s.Revoke(ctx, r); err != nil {
			t.Fatalf("Revoke(%s): %v", r.JTI, err)
		}
	}
	raw := rawClient(t)
	resp, err := raw.Get(ctx, s.revocationKey(short.JTI))
	if err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].Lease == 0 {
		t.Fatalf("raw revocation = %v, %v; want a key under a lease", resp, err)
	}
	ttl, err := raw.TimeToLive(ctx, clientLeaseID(resp.Kvs[0].Lease))
	if err != nil || ttl.TTL <= 0 || ttl.TTL > int64((time.Second+2*leaseStep)/time.Second) {
		t.Fatalf("lease TTL = %+v, %v; want the time to the token's expiry, rounded up to a step", ttl, err)
	}
	eventually(t, 15*time.Second, "the short revocation's lease ends and the replica forgets it", func() bool {
		all, err := s.Revocations(ctx, time.Time{})
		return err == nil && len(all) == 1 && all[0].JTI == long.JTI
	})
	if resp, err := raw.Get(ctx, s.revocationKey(short.JTI)); err != nil || len(resp.Kvs) != 0 {
		t.Fatalf("raw revocation after its lease = %v, %v; want none", resp, err)
	}
}

func TestOpenOptions(t *testing.T) {
	for _, gw := range []string{"", "a/b"} {
		if _, err := Open(t.Context(), Options{Endpoints: []string{testEndpoint}, GatewayID: gw}); err == nil {
			t.Errorf("Open with gateway id %q succeeded", gw)
		}
	}
	t.Run("newer schema refused", func(t *testing.T) {
		prefix := testPrefix(t)
		if _, err := rawClient(t).Put(t.Context(), prefix+"/meta/schema", "2"); err != nil {
			t.Fatal(err)
		}
		_, err := Open(t.Context(), Options{Endpoints: []string{testEndpoint}, Prefix: prefix, GatewayID: "gw"})
		if err == nil || !strings.Contains(err.Error(), "upgrade Scopegate") {
			t.Fatalf("Open of a newer schema: %v", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		start := time.Now()
		_, err := Open(t.Context(), Options{Endpoints: []string{"127.0.0.1:1"}, GatewayID: "gw", DialTimeout: 300 * time.Millisecond})
		if err == nil {
			t.Fatal("Open of an unreachable etcd succeeded")
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("Open took %v to fail", time.Since(start))
		}
	})
}
