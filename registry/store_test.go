package registry

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// testStore is the registry's store in tests: the gateway's own bbolt
// backend in a temporary file, so every rule the registry relies on (copies,
// unique names, the client limit, atomic updates, list order) is the one the
// conformance suite holds the real store to. It adds two things a test needs
// that a healthy disk cannot give: every call can be made to fail, as a
// broken disk does, and client reads are counted.
type testStore struct {
	storage.Store
	// fail, when set, is returned by every call.
	fail error
	// gets counts GetClient calls.
	gets atomic.Int64
	// peopleCounts counts ClientPeople calls, each a scan of every grant.
	peopleCounts atomic.Int64
	path         string
}

// newTestStore opens a fresh bbolt store that is closed when the test ends.
func newTestStore(t testing.TB) *testStore {
	t.Helper()
	db, err := storage.Open(filepath.Join(t.TempDir(), "registry.db"), storage.BoltOptions{Timeout: time.Second})
	if err != nil {
		t.Fatalf("opening the test store: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return &testStore{Store: db, path: db.Path()}
}

// fileBytes returns the whole store file, for checks of what is at rest.
func (s *testStore) fileBytes(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(s.path)
	if err != nil {
		t.Fatalf("reading the store file: %v", err)
	}
	return b
}

// snapshot returns every stored client as JSON, to prove that a refused
// request changed nothing.
func (s *testStore) snapshot(t testing.TB) string {
	t.Helper()
	clients, _, err := s.Store.ListClients(context.Background(), storage.ListOptions{Limit: 1 << 20})
	if err != nil {
		t.Fatalf("listing the store: %v", err)
	}
	b, err := json.Marshal(clients)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (s *testStore) CreateClient(ctx context.Context, c storage.Client, maxClients int) error {
	if s.fail != nil {
		return s.fail
	}
	return s.Store.CreateClient(ctx, c, maxClients)
}

func (s *testStore) GetClient(ctx context.Context, id string) (storage.Client, error) {
	s.gets.Add(1)
	if s.fail != nil {
		return storage.Client{}, s.fail
	}
	return s.Store.GetClient(ctx, id)
}

func (s *testStore) ListClients(ctx context.Context, opts storage.ListOptions) ([]storage.Client, bool, error) {
	if s.fail != nil {
		return nil, false, s.fail
	}
	return s.Store.ListClients(ctx, opts)
}

func (s *testStore) UpdateClient(ctx context.Context, id string, update func(storage.Client) (storage.Client, error)) (storage.Client, error) {
	if s.fail != nil {
		return storage.Client{}, s.fail
	}
	return s.Store.UpdateClient(ctx, id, update)
}

func (s *testStore) DeleteClient(ctx context.Context, id string) error {
	if s.fail != nil {
		return s.fail
	}
	return s.Store.DeleteClient(ctx, id)
}

func (s *testStore) CountClients(ctx context.Context) (int, error) {
	if s.fail != nil {
		return 0, s.fail
	}
	return s.Store.CountClients(ctx)
}

func (s *testStore) Usage(ctx context.Context, clientID string) (storage.Usage, error) {
	if s.fail != nil {
		return storage.Usage{}, s.fail
	}
	return s.Store.Usage(ctx, clientID)
}

func (s *testStore) ClientPeople(ctx context.Context, now time.Time) (map[string]int, error) {
	s.peopleCounts.Add(1)
	if s.fail != nil {
		return nil, s.fail
	}
	return s.Store.ClientPeople(ctx, now)
}

var _ storage.Store = (*testStore)(nil)
