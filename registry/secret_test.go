package registry

import (
	"context"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	r, store, clock := newTestRegistry(t, Limits{})
	c, secret := mustCreate(t, r, `{"client_name":"a"}`)
	_, expiring, _, err := r.RotateSecret(ctx, c.ClientID, RotateOptions{GracePeriod: time.Hour, ExpiresIn: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("right secrets", func(t *testing.T) {
		for _, s := range []string{secret, expiring} {
			rec, err := r.Authenticate(ctx, c.ClientID, s)
			if err != nil || rec.ID != c.ClientID || rec.Name != "a" {
				t.Fatalf("got %q %v", rec.ID, err)
			}
		}
	})

	cases := []struct {
		name, id, secret string
	}{
		{"wrong secret", c.ClientID, "sgs_" + strings.Repeat("A", 43)},
		{"empty secret", c.ClientID, ""},
		{"secret with a changed letter", c.ClientID, secret[:len(secret)-1] + flip(secret[len(secret)-1])},
		{"secret without prefix", c.ClientID, strings.TrimPrefix(secret, "sgs_")},
		{"unknown id", "aaaaaaaaaaaaaaaaaaaaaaaaaa", secret},
		{"empty id", "", secret},
		{"id in another case", strings.ToUpper(c.ClientID), secret},
		{"huge id", strings.Repeat("a", 100000), secret},
		{"the hash as secret", c.ClientID, string(hashSecret(secret))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := r.Authenticate(ctx, tc.id, tc.secret)
			if err != ErrInvalidCredentials {
				t.Fatalf("got %v, want exactly ErrInvalidCredentials", err)
			}
			if rec.ID != "" || rec.Secrets != nil {
				t.Fatalf("a failed authentication returned a record: %+v", rec)
			}
		})
	}

	t.Run("a huge id is not looked up", func(t *testing.T) {
		before := store.gets.Load()
		_, _ = r.Authenticate(ctx, strings.Repeat("a", 256), secret)
		if store.gets.Load() != before {
			t.Fatal("the store was read")
		}
	})

	t.Run("expired secret", func(t *testing.T) {
		clock.Add(time.Hour)
		if _, err := r.Authenticate(ctx, c.ClientID, secret); err != ErrInvalidCredentials {
			t.Fatalf("secret past its grace: %v", err)
		}
		if _, err := r.Authenticate(ctx, c.ClientID, expiring); err != nil {
			t.Fatalf("secret still live: %v", err)
		}
		clock.Add(time.Hour)
		if _, err := r.Authenticate(ctx, c.ClientID, expiring); err != ErrInvalidCredentials {
			t.Fatalf("secret past its expiry: %v", err)
		}
	})
}

func flip(b byte) string {
	if b == 'A' {
		return "B"
	}
	return "A"
}

// TestAuthenticateSameWork checks that an unknown ID and a wrong secret do
// the same work: one hash, and a compare against as many stored hashes as a
// client with one secret has.
func TestAuthenticateSameWork(t *testing.T) {
	ctx := context.Background()
	r, _, _ := newTestRegistry(t, Limits{})
	c, _ := mustCreate(t, r, `{"client_name":"a"}`)
	rec, err := r.Lookup(ctx, c.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.dummySecrets) != len(rec.Secrets) || len(r.dummySecrets[0].Hash) != len(rec.Secrets[0].Hash) {
		t.Fatalf("dummy secrets %d×%d bytes, client %d×%d", len(r.dummySecrets), len(r.dummySecrets[0].Hash), len(rec.Secrets), len(rec.Secrets[0].Hash))
	}
	_, errUnknown := r.Authenticate(ctx, "bbbbbbbbbbbbbbbbbbbbbbbbbb", "sgs_x")
	_, errWrong := r.Authenticate(ctx, c.ClientID, "sgs_x")
	if errUnknown != errWrong || errUnknown.Error() != "invalid client credentials" {
		t.Fatalf("unknown id: %v; wrong secret: %v", errUnknown, errWrong)
	}
}

func TestHashSecret(t *testing.T) {
	// SHA-256("abc"), FIPS 180-2 appendix B.1.
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := hex.EncodeToString(hashSecret("abc")); got != want {
		t.Fatalf("hash %s, want %s", got, want)
	}
}

func TestSecretErrorsNeverCarryTheSecret(t *testing.T) {
	ctx := context.Background()
	r, store, _ := newTestRegistry(t, Limits{})
	c, secret := mustCreate(t, r, `{"client_name":"a"}`)
	store.fail = errors.New("disk full")
	_, err := r.Authenticate(ctx, c.ClientID, secret)
	if err == nil || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), strings.TrimPrefix(secret, "sgs_")) {
		t.Fatalf("error %v", err)
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	r, _, _ := newTestRegistry(b, Limits{})
	c, secret := mustCreate(b, r, `{"client_name":"a"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Authenticate(ctx, c.ClientID, secret); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAuthenticateUnknown(b *testing.B) {
	ctx := context.Background()
	r, _, _ := newTestRegistry(b, Limits{})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Authenticate(ctx, "aaaaaaaaaaaaaaaaaaaaaaaaaa", "sgs_x"); err != ErrInvalidCredentials {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticateStore runs Authenticate over the bbolt store behind
// its LRU cache, as the token endpoint does: a known client (cached) and an
// unknown one (read from the store once, then remembered as unknown).
func BenchmarkAuthenticateStore(b *testing.B) {
	ctx := context.Background()
	bolt, err := storage.Open(filepath.Join(b.TempDir(), "scopegate.db"), storage.BoltOptions{})
	if err != nil {
		b.Fatal(err)
	}
	store, err := storage.NewCached(bolt, 100)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	r := New(store, Limits{})
	c, secret := mustCreate(b, r, `{"client_name":"a"}`)
	b.Run("known", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Authenticate(ctx, c.ClientID, secret); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unknown", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Authenticate(ctx, "aaaaaaaaaaaaaaaaaaaaaaaaaa", secret); err != ErrInvalidCredentials {
				b.Fatal(err)
			}
		}
	})
}
