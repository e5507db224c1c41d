package storage_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/storage/storagetest"
)

// openTestBolt opens a new store in a temporary directory. On cleanup it
// runs Check, so every test also proves the file is consistent, and closes
// the store.
func openTestBolt(t testing.TB) *storage.Bolt {
	t.Helper()
	path := filepath.Join(t.TempDir(), "scopegate.db")
	b, err := storage.Open(path, storage.BoltOptions{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Check(); err != nil && !errors.Is(err, berrors.ErrDatabaseNotOpen) {
			t.Errorf("Check: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

func TestBoltConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return openTestBolt(t) })
}

func TestCachedConformance(t *testing.T) {
	// Size 2 evicts all the time; size 1000 never does in the suite.
	for _, size := range []int{2, 1000} {
		t.Run(fmt.Sprintf("size %d", size), func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T) storage.Store {
				c, err := storage.NewCached(openTestBolt(t), size)
				if err != nil {
					t.Fatalf("NewCached: %v", err)
				}
				return c
			})
		})
	}
}

func TestOpenCreatesPrivateFileAndDirectory(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "data", "scopegate", "store.db")
	b, err := storage.Open(path, storage.BoltOptions{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer b.Close()
	if b.Path() != path {
		t.Errorf("Path() = %q, want %q", b.Path(), path)
	}
	tests := []struct {
		path string
		want os.FileMode
	}{
		{filepath.Join(root, "data"), os.ModeDir | 0o700},
		{filepath.Join(root, "data", "scopegate"), os.ModeDir | 0o700},
		{path, 0o600},
	}
	for _, tt := range tests {
		info, err := os.Stat(tt.path)
		if err != nil {
			t.Fatalf("Stat(%s): %v", tt.path, err)
		}
		if got := info.Mode(); got != tt.want {
			t.Errorf("mode of %s = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestOpenNarrowsFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	b, err := storage.Open(path, storage.BoltOptions{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	b.Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err = storage.Open(path, storage.BoltOptions{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer b.Close()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Fatalf("mode after reopening a 0644 file = %v, want 0600", got)
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	first, err := storage.Open(path, storage.BoltOptions{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	tests := []struct {
		name    string
		timeout time.Duration
		waited  string
	}{
		{"explicit timeout", 300 * time.Millisecond, "300ms"},
		{"default timeout", 0, "1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			second, err := storage.Open(path, storage.BoltOptions{Timeout: tt.timeout})
			elapsed := time.Since(start)
			if err == nil {
				second.Close()
				t.Fatal("second Open of a locked file succeeded")
			}
			want := fmt.Sprintf("storage: %s is locked by another process (waited %s)", path, tt.waited)
			if err.Error() != want {
				t.Fatalf("error = %q, want %q", err, want)
			}
			if !errors.Is(err, berrors.ErrTimeout) {
				t.Errorf("errors.Is(err, ErrTimeout) = false for %v", err)
			}
			limit := tt.timeout
			if limit == 0 {
				limit = time.Second
			}
			if elapsed < limit-100*time.Millisecond || elapsed > limit+time.Second {
				t.Errorf("second Open returned after %v, want about %v", elapsed, limit)
			}
		})
	}
	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	again, err := storage.Open(path, storage.BoltOptions{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open after the first handle closed: %v", err)
	}
	again.Close()
}

// validStoreBytes returns the bytes of a store holding n clients, and how
// many of them its pages span.
func validStoreBytes(t testing.TB, n int) ([]byte, int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "valid.db")
	b, err := storage.Open(path, storage.BoltOptions{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := storage.BulkLoad(b, manyClients(n), 1000); err != nil {
		t.Fatal(err)
	}
	used, err := storage.PagesSize(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data, int(used)
}

// manyClients returns n distinct clients with realistic records.
func manyClients(n int) []storage.Client {
	clients := make([]storage.Client, n)
	for i := range clients {
		clients[i] = sampleClient(fmt.Sprintf("client-%07d", i), fmt.Sprintf("Client %07d", i))
	}
	return clients
}

func TestOpenCorrupt(t *testing.T) {
	valid, used := validStoreBytes(t, 2000)
	const page = 4096
	rng := rand.New(rand.NewPCG(7, 11))
	garbage := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	withGarbage := func(from, to int) []byte {
		out := append([]byte(nil), valid...)
		copy(out[from:to], garbage(to-from))
		return out
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"garbage", garbage(64 << 10)},
		{"text", []byte(strings.Repeat("not a database\n", 1000))},
		{"truncated to 100 bytes", valid[:100]},
		{"truncated to one page", valid[:page]},
		{"truncated to half", valid[:used/2]},
		{"last page cut off", valid[:used-page]},
		{"meta pages zeroed", append(make([]byte, 2*page), valid[2*page:]...)},
		{"meta pages garbage", withGarbage(0, 2*page)},
		{"data pages garbage", withGarbage(2*page, used)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "store.db")
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			// Twice: a failed Open must release the file lock, or the
			// second attempt would report a lock instead.
			for attempt := range 2 {
				b, err := storage.Open(path, storage.BoltOptions{Timeout: 200 * time.Millisecond})
				if err == nil {
					b.Close()
					t.Fatalf("attempt %d: Open of a corrupt file succeeded", attempt+1)
				}
				t.Logf("attempt %d: %v", attempt+1, err)
				want := fmt.Sprintf("storage: %s is corrupt or unreadable: ", path)
				if !strings.HasPrefix(err.Error(), want) {
					t.Fatalf("attempt %d: error = %q, want it to start with %q", attempt+1, err, want)
				}
			}
		})
	}
}

func TestOpenRefuses(t *testing.T) {
	t.Run("another application's bbolt file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "other.db")
		db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucket([]byte("acme"))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		db.Close()
		_, err = storage.Open(path, storage.BoltOptions{})
		want := fmt.Sprintf(`storage: %s is a bbolt file of another application (it has a bucket "acme")`, path)
		if err == nil || err.Error() != want {
			t.Fatalf("Open error = %v, want %q", err, want)
		}
	})
	t.Run("directory", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := storage.Open(dir, storage.BoltOptions{}); err == nil || !strings.Contains(err.Error(), dir) {
			t.Fatalf("Open of a directory: error = %v, want one naming %s", err, dir)
		}
	})
	t.Run("empty path", func(t *testing.T) {
		if _, err := storage.Open("", storage.BoltOptions{}); err == nil {
			t.Fatal("Open with an empty path succeeded")
		}
	})
	t.Run("negative timeout", func(t *testing.T) {
		if _, err := storage.Open(filepath.Join(t.TempDir(), "s.db"), storage.BoltOptions{Timeout: -time.Second}); err == nil {
			t.Fatal("Open with a negative timeout succeeded")
		}
	})
}

func TestOpenEmptyFileStartsAStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := storage.Open(path, storage.BoltOptions{})
	if err != nil {
		t.Fatalf("Open of an empty file: %v", err)
	}
	defer b.Close()
	if v, err := storage.SchemaVersion(b); err != nil || v != 6 {
		t.Fatalf("schema version = %d, %v; want 6", v, err)
	}
}

func TestSchemaVersion(t *testing.T) {
	tests := []struct {
		name    string
		version string
		wantErr string // a substring; empty: Open succeeds
	}{
		{"current", "6", ""},
		{"version 5, migrated", "5", ""},
		{"version 4, migrated", "4", ""},
		{"version 3, migrated", "3", ""},
		{"older, migrated", "2", ""},
		{"oldest, migrated", "1", ""},
		{"newer", "7", "has schema version 7, and this build reads up to version 6"},
		{"much newer", "4000000000", "has schema version 4000000000"},
		{"zero", "0", `is corrupt or unreadable: unreadable schema version "0"`},
		{"not a number", "one", `is corrupt or unreadable: unreadable schema version "one"`},
		{"empty", "", `is corrupt or unreadable: unreadable schema version ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "store.db")
			b, err := storage.Open(path, storage.BoltOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if v, err := storage.SchemaVersion(b); err != nil || v != 6 {
				t.Fatalf("new store's schema version = %d, %v; want 6", v, err)
			}
			if err := storage.SetSchemaVersion(b, tt.version); err != nil {
				t.Fatal(err)
			}
			b.Close()
			b, err = storage.Open(path, storage.BoltOptions{})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer b.Close()
				if v, err := storage.SchemaVersion(b); err != nil || v != 6 {
					t.Fatalf("schema version after Open = %d, %v; want 6", v, err)
				}
				return
			}
			if err == nil {
				b.Close()
				t.Fatalf("Open of a store with schema version %q succeeded", tt.version)
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Open error = %q, want it to name the path and contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestOpenMissingBucketOrCount(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func(tx *bolt.Tx) error
		wantErr string
	}{
		{"usage bucket", func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("usage")) }, "bucket usage is missing"},
		{"client names bucket", func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("client_names")) }, "bucket client_names is missing"},
		{"client count", func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Delete([]byte("client_count")) }, "client count has 0 bytes, want 8"},
		{"users bucket", func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("users")) }, "bucket users is missing"},
		{"user count", func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Delete([]byte("user_count")) }, "user count has 0 bytes, want 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "store.db")
			b, err := storage.Open(path, storage.BoltOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := storage.Tamper(b, tt.tamper); err != nil {
				t.Fatal(err)
			}
			b.Close()
			_, err = storage.Open(path, storage.BoltOptions{})
			want := fmt.Sprintf("storage: %s is corrupt or unreadable: %s", path, tt.wantErr)
			if err == nil || err.Error() != want {
				t.Fatalf("Open error = %v, want %q", err, want)
			}
		})
	}
}

// A store of schema version 2 has no user buckets nor user count: Open
// lays them out, keeps the clients, and users can be created at once.
func TestMigrateVersion2AddsUsers(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	b, err := storage.Open(path, storage.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateClient(ctx, storage.Client{ID: "client-1", Name: "One"}, 0); err != nil {
		t.Fatal(err)
	}
	err = storage.Tamper(b, func(tx *bolt.Tx) error {
		for _, name := range []string{"users", "usernames", "roles", "sessions", "user_sessions"} {
			if err := tx.DeleteBucket([]byte(name)); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte("meta")).Delete([]byte("user_count"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.SetSchemaVersion(b, "2"); err != nil {
		t.Fatal(err)
	}
	b.Close()
	b, err = storage.Open(path, storage.BoltOptions{})
	if err != nil {
		t.Fatalf("Open of a version 2 store: %v", err)
	}
	defer b.Close()
	if v, err := storage.SchemaVersion(b); err != nil || v != 6 {
		t.Fatalf("schema version after Open = %d, %v; want 6", v, err)
	}
	if _, err := b.GetClient(ctx, "client-1"); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateUser(ctx, storage.User{ID: "user-1", Username: "Ada"}, 1); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateRole(ctx, storage.Role{Name: "admin"}); err != nil {
		t.Fatal(err)
	}
	if n, err := b.CountUsers(ctx); err != nil || n != 1 {
		t.Fatalf("CountUsers = %d, %v; want 1", n, err)
	}
	if err := b.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	b, err := storage.Open(path, storage.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clients := manyClients(3)
	for _, c := range clients {
		if err := b.CreateClient(ctx, c, 0); err != nil {
			t.Fatal(err)
		}
	}
	keys := []storage.SigningKey{{ID: "kid-1", Algorithm: "EdDSA", PrivateKey: []byte{1, 2, 3}, CreatedAt: time.Unix(100, 0).UTC()}}
	if _, err := b.UpdateSigningKeys(ctx, func([]storage.SigningKey) ([]storage.SigningKey, error) { return keys, nil }); err != nil {
		t.Fatal(err)
	}
	revocation := storage.Revocation{JTI: "jti-1", ClientID: clients[0].ID, ExpiresAt: time.Unix(5000, 0).UTC()}
	if err := b.Revoke(ctx, revocation); err != nil {
		t.Fatal(err)
	}
	usage := storage.Usage{TokensIssued: 4, LastTokenAt: time.Unix(200, 0).UTC()}
	if err := b.AddUsage(ctx, map[string]storage.Usage{clients[1].ID: usage}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b, err = storage.Open(path, storage.BoltOptions{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer b.Close()
	if err := b.Check(); err != nil {
		t.Fatalf("Check after reopen: %v", err)
	}
	for _, want := range clients {
		got, err := b.GetClient(ctx, want.ID)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("GetClient(%q) after reopen = %+v, %v; want %+v", want.ID, got, err, want)
		}
	}
	if n, err := b.CountClients(ctx); err != nil || n != len(clients) {
		t.Fatalf("CountClients after reopen = %d, %v; want %d", n, err, len(clients))
	}
	if got, err := b.SigningKeys(ctx); err != nil || !reflect.DeepEqual(got, keys) {
		t.Fatalf("SigningKeys after reopen = %+v, %v; want %+v", got, err, keys)
	}
	if got, err := b.Revocations(ctx, time.Unix(0, 0)); err != nil || !reflect.DeepEqual(got, []storage.Revocation{revocation}) {
		t.Fatalf("Revocations after reopen = %+v, %v", got, err)
	}
	if got, err := b.Usage(ctx, clients[1].ID); err != nil || got != usage {
		t.Fatalf("Usage after reopen = %+v, %v; want %+v", got, err, usage)
	}
}

func TestRevokeKeepsLaterExpiry(t *testing.T) {
	ctx := context.Background()
	b := openTestBolt(t)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	long := storage.Revocation{JTI: "jti", ClientID: "client-a", ExpiresAt: base.Add(time.Hour)}
	short := storage.Revocation{JTI: "jti", ClientID: "client-a", ExpiresAt: base.Add(time.Minute)}
	longer := storage.Revocation{JTI: "jti", ClientID: "client-a", ExpiresAt: base.Add(2 * time.Hour)}
	steps := []struct {
		revoke storage.Revocation
		want   storage.Revocation
	}{
		{long, long},
		{short, long},
		{longer, longer},
	}
	for i, step := range steps {
		if err := b.Revoke(ctx, step.revoke); err != nil {
			t.Fatalf("step %d: Revoke: %v", i, err)
		}
		got, err := b.Revocations(ctx, base)
		if err != nil || !reflect.DeepEqual(got, []storage.Revocation{step.want}) {
			t.Fatalf("step %d: Revocations = %+v, %v; want [%+v]", i, got, err, step.want)
		}
	}
}

func TestCheckFindsDamage(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		tamper  func(tx *bolt.Tx) error
		wantErr string
	}{
		{
			"name index entry missing",
			func(tx *bolt.Tx) error { return tx.Bucket([]byte("client_names")).Delete([]byte("client 0000001")) },
			`client "client-0000001": its name "Client 0000001" is indexed to ""`,
		},
		{
			"name index entry dangling",
			func(tx *bolt.Tx) error {
				return tx.Bucket([]byte("client_names")).Put([]byte("ghost"), []byte("client-ghost"))
			},
			`name index entry "ghost" points at missing client "client-ghost"`,
		},
		{
			"stale name index entry",
			func(tx *bolt.Tx) error {
				return tx.Bucket([]byte("client_names")).Put([]byte("old name"), []byte("client-0000002"))
			},
			`name index entry "old name" points at client "client-0000002", which is named "Client 0000002"`,
		},
		{
			"client count wrong",
			func(tx *bolt.Tx) error {
				return tx.Bucket([]byte("meta")).Put([]byte("client_count"), []byte{0, 0, 0, 0, 0, 0, 0, 9})
			},
			"client count is 9, but 3 clients are stored",
		},
		{
			"undecodable record",
			func(tx *bolt.Tx) error {
				return tx.Bucket([]byte("clients")).Put([]byte("client-0000000"), []byte("{not json"))
			},
			`client "client-0000000": decode stored record`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := storage.Open(filepath.Join(t.TempDir(), "store.db"), storage.BoltOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			for _, c := range manyClients(3) {
				if err := b.CreateClient(ctx, c, 0); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.Check(); err != nil {
				t.Fatalf("Check before the damage: %v", err)
			}
			if err := storage.Tamper(b, tt.tamper); err != nil {
				t.Fatal(err)
			}
			err = b.Check()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), b.Path()) {
				t.Fatalf("Check = %v, want an error naming the path and containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDamagedPageIsAnError(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	b, err := storage.Open(path, storage.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clients := manyClients(2000)
	if err := storage.BulkLoad(b, clients, 1000); err != nil {
		t.Fatal(err)
	}
	leaves, pageSize, err := storage.LeafPages(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(leaves) < 10 {
		t.Fatalf("only %d leaf pages; the test needs a deeper tree", len(leaves))
	}
	b.Close()

	// Overwrite a leaf in the middle of the clients with garbage, header
	// included, as a bad disk block would.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	garbage := make([]byte, pageSize)
	for i := range garbage {
		garbage[i] = byte(i*131 + 7)
	}
	if _, err := f.WriteAt(garbage, int64(leaves[len(leaves)/4])*int64(pageSize)); err != nil {
		t.Fatal(err)
	}
	f.Close()

	b, err = storage.Open(path, storage.BoltOptions{})
	if err != nil {
		// Open may notice the damage itself; then it must say so.
		if !strings.Contains(err.Error(), "is corrupt or unreadable") {
			t.Fatalf("Open: %v", err)
		}
		return
	}
	defer b.Close()
	damaged := 0
	for _, c := range clients {
		if _, err := b.GetClient(ctx, c.ID); err != nil {
			if !strings.Contains(err.Error(), path+" is corrupt or unreadable") {
				t.Fatalf("GetClient(%q): %v, want a corrupt-store error", c.ID, err)
			}
			damaged++
		}
	}
	_, _, listErr := b.ListClients(ctx, storage.ListOptions{Limit: len(clients) + 1})
	if damaged == 0 && listErr == nil {
		t.Fatal("no read noticed the damaged page")
	}
	if err := b.Check(); err == nil {
		t.Fatal("Check passed a store with a damaged page")
	}
	t.Logf("%d of %d reads failed; list: %v", damaged, len(clients), listErr)
}

// A version 3 store (users, no sessions) is migrated at open: the session
// buckets are laid out, its records stay, and sessions work.
func TestMigrateVersion3AddsSessions(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "store.db")
	b, err := storage.Open(path, storage.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateUser(ctx, storage.User{ID: "user-1", Username: "Ada"}, 0); err != nil {
		t.Fatal(err)
	}
	err = storage.Tamper(b, func(tx *bolt.Tx) error {
		for _, name := range []string{"sessions", "user_sessions"} {
			if err := tx.DeleteBucket([]byte(name)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.SetSchemaVersion(b, "3"); err != nil {
		t.Fatal(err)
	}
	b.Close()
	b, err = storage.Open(path, storage.BoltOptions{})
	if err != nil {
		t.Fatalf("Open of a version 3 store: %v", err)
	}
	defer b.Close()
	if v, err := storage.SchemaVersion(b); err != nil || v != 6 {
		t.Fatalf("schema version after Open = %d, %v; want 6", v, err)
	}
	if _, err := b.GetUser(ctx, "user-1"); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	s := storage.Session{ID: "s", UserID: "user-1", CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := b.CreateSession(ctx, s, 1); err != nil {
		t.Fatal(err)
	}
	if err := b.Check(); err != nil {
		t.Fatal(err)
	}
}

// A version 4 store whose session bucket is missing is refused, not
// served half.
func TestOpenRefusesMissingSessionBucket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	b, err := storage.Open(path, storage.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.Tamper(b, func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("user_sessions")) }); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if _, err := storage.Open(path, storage.BoltOptions{}); err == nil || !strings.Contains(err.Error(), "bucket user_sessions is missing") {
		t.Fatalf("Open = %v, want a missing bucket error", err)
	}
}

// A version 4 store (sessions, no authorization records) is migrated at
// open: the new buckets are laid out, its records stay, and consents,
// requests and codes work.
func TestMigrateVersion4AddsAuthz(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "store.db")
	b, err := storage.Open(path, storage.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateUser(ctx, storage.User{ID: "user-1", Username: "Ada"}, 0); err != nil {
		t.Fatal(err)
	}
	err = storage.Tamper(b, func(tx *bolt.Tx) error {
		for _, name := range []string{"auth_requests", "auth_codes", "consents"} {
			if err := tx.DeleteBucket([]byte(name)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.SetSchemaVersion(b, "4"); err != nil {
		t.Fatal(err)
	}
	b.Close()
	b, err = storage.Open(path, storage.BoltOptions{})
	if err != nil {
		t.Fatalf("Open of a version 4 store: %v", err)
	}
	defer b.Close()
	if v, err := storage.SchemaVersion(b); err != nil || v != 6 {
		t.Fatalf("schema version after Open = %d, %v; want 6", v, err)
	}
	if _, err := b.GetUser(ctx, "user-1"); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := b.CreateAuthCode(ctx, storage.AuthCode{ID: "h", ClientID: "c", UserID: "user-1", ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.PutConsent(ctx, "user-1", "c", func(c storage.Consent) (storage.Consent, error) {
		c.Scopes = []string{"openid"}
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.Check(); err != nil {
		t.Fatal(err)
	}
}

// A version 5 store whose consents bucket is missing is refused, not
// served half.
func TestOpenRefusesMissingConsentBucket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	b, err := storage.Open(path, storage.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.Tamper(b, func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("consents")) }); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if _, err := storage.Open(path, storage.BoltOptions{}); err == nil || !strings.Contains(err.Error(), "bucket consents is missing") {
		t.Fatalf("Open = %v, want a missing bucket error", err)
	}
}

// Check reports an authorization record filed under another key, and one
// that does not decode.
func TestCheckFindsMisfiledAuthzRecords(t *testing.T) {
	ctx := t.Context()
	b := openTestBolt(t)
	now := time.Now().UTC()
	if err := b.CreateAuthCode(ctx, storage.AuthCode{ID: "h", ClientID: "c", UserID: "u", ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.PutConsent(ctx, "u", "c", func(c storage.Consent) (storage.Consent, error) {
		c.Scopes = []string{"openid"}
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.Check(); err != nil {
		t.Fatalf("Check of a sound store: %v", err)
	}
	err := storage.Tamper(b, func(tx *bolt.Tx) error {
		code := tx.Bucket([]byte("auth_codes"))
		if err := code.Put([]byte("other-hash"), code.Get([]byte("h"))); err != nil {
			return err
		}
		return tx.Bucket([]byte("consents")).Bucket([]byte("u")).Put([]byte("c2"), []byte("\x01{"))
	})
	if err != nil {
		t.Fatal(err)
	}
	err = b.Check()
	if err == nil || !strings.Contains(err.Error(), `authorization code "other-hash": stored with id "h"`) || !strings.Contains(err.Error(), `consent of user "u" to client "c2"`) {
		t.Fatalf("Check = %v, want both damaged records named", err)
	}
	// Repaired, for openTestBolt's own check at cleanup.
	err = storage.Tamper(b, func(tx *bolt.Tx) error {
		if err := tx.Bucket([]byte("auth_codes")).Delete([]byte("other-hash")); err != nil {
			return err
		}
		return tx.Bucket([]byte("consents")).Bucket([]byte("u")).Delete([]byte("c2"))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A version 5 store (no refresh token families) is migrated at open: the
// new bucket is laid out, its records stay, and families work.
func TestMigrateVersion5AddsRefreshFamilies(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "store.db")
	b, err := storage.Open(path, storage.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateUser(ctx, storage.User{ID: "user-1", Username: "Ada"}, 0); err != nil {
		t.Fatal(err)
	}
	if err := storage.Tamper(b, func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("refresh_families")) }); err != nil {
		t.Fatal(err)
	}
	if err := storage.SetSchemaVersion(b, "5"); err != nil {
		t.Fatal(err)
	}
	b.Close()
	b, err = storage.Open(path, storage.BoltOptions{})
	if err != nil {
		t.Fatalf("Open of a version 5 store: %v", err)
	}
	defer b.Close()
	if v, err := storage.SchemaVersion(b); err != nil || v != 6 {
		t.Fatalf("schema version after Open = %d, %v; want 6", v, err)
	}
	if _, err := b.GetUser(ctx, "user-1"); err != nil {
		t.Fatal(err)
	}
	f := storage.RefreshFamily{ID: "fam", ClientID: "c", UserID: "user-1", ExpiresAt: time.Now().Add(time.Hour), Current: []string{"h"}}
	if err := b.CreateRefreshFamily(ctx, f); err != nil {
		t.Fatal(err)
	}
	if err := b.Check(); err != nil {
		t.Fatal(err)
	}
}

// A version 6 store whose refresh_families bucket is missing is refused,
// not served half.
func TestOpenRefusesMissingRefreshBucket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	b, err := storage.Open(path, storage.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.Tamper(b, func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("refresh_families")) }); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if _, err := storage.Open(path, storage.BoltOptions{}); err == nil || !strings.Contains(err.Error(), "bucket refresh_families is missing") {
		t.Fatalf("Open = %v, want a missing bucket error", err)
	}
}
