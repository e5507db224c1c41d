package storage_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// FuzzOpen opens arbitrary bytes as a store. Open must fail with an error
// naming the file, or give a store whose every read and write returns
// normally (with an error if the file is damaged): never a panic or a crash.
func FuzzOpen(f *testing.F) {
	// A real store with a few clients, beside the corpus in testdata.
	path := filepath.Join(f.TempDir(), "seed.db")
	seed, err := storage.Open(path, storage.BoltOptions{})
	if err != nil {
		f.Fatal(err)
	}
	if err := storage.BulkLoad(seed, manyClients(5), 5); err != nil {
		f.Fatal(err)
	}
	seed.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)

	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		path := filepath.Join(t.TempDir(), "store.db")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := storage.Open(path, storage.BoltOptions{Timeout: 100 * time.Millisecond})
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("Open error %q does not name the file", err)
			}
			return
		}
		defer s.Close()
		// Errors are allowed here; returning is what is tested.
		_, _ = s.CountClients(ctx)
		_, _, _ = s.ListClients(ctx, storage.ListOptions{Limit: 1000})
		_, _ = s.GetClient(ctx, "client-0000003")
		_, _ = s.SigningKeys(ctx)
		_, _ = s.Revocations(ctx, time.Time{})
		_, _ = s.Usage(ctx, "client-0000003")
		if err := s.Close(); err != nil {
			t.Logf("Close: %v", err)
		}
	})
}
