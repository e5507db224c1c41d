// Package storagetest is the conformance suite that every storage.Store
// implementation passes. A backend's tests call Run with a function that
// opens a new, empty store:
//
//	func TestBolt(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Store {
//			s, err := storage.Open(filepath.Join(t.TempDir(), "s.db"), storage.BoltOptions{})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// The records the suite stores use canonical values (UTC times without a
// monotonic reading, compact JSON, nil for absent lists), and it compares what
// comes back with reflect.DeepEqual: a store must give back exactly what it
// was given.
package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// Run runs every conformance test as a named subtest. open is called once
// per subtest and must return a new, empty store; open may register cleanups
// of its own (a consistency check, say), which run before Run closes the
// store.
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s storage.Store)
	}{
		{"CreateGet", testCreateGet},
		{"DuplicateID", testDuplicateID},
		{"DuplicateNameOtherCase", testDuplicateName},
		{"MaxClients", testMaxClients},
		{"MaxClientsConcurrent", testMaxClientsConcurrent},
		{"ListPagination", testList},
		{"ListRegistered", testListRegistered},
		{"Update", testUpdate},
		{"UpdateConcurrent", testUpdateConcurrent},
		{"Delete", testDelete},
		{"Count", testCount},
		{"SigningKeys", testSigningKeys},
		{"Revocations", testRevocations},
		{"Usage", testUsage},
		{"RecordsAreCopied", testRecordsAreCopied},
		{"Users", testUsers},
		{"MaxUsersConcurrent", testMaxUsersConcurrent},
		{"UserList", testUserList},
		{"UserUpdate", testUserUpdate},
		{"UserUpdateConcurrent", testUserUpdateConcurrent},
		{"UserDelete", testUserDelete},
		{"Roles", testRoles},
		{"Sessions", testSessions},
		{"SessionLimit", testSessionLimit},
		{"PruneSessions", testPruneSessions},
		{"DeleteUserEndsSessions", testDeleteUserEndsSessions},
		{"AuthRequests", testAuthRequests},
		{"PruneAuthRequests", testPruneAuthRequests},
		{"AuthCodes", testAuthCodes},
		{"RedeemAuthCodeConcurrent", testRedeemConcurrent},
		{"PruneAuthCodes", testPruneAuthCodes},
		{"Consents", testConsents},
		{"DeleteUserEndsAuthz", testDeleteUserEndsAuthz},
		{"DeleteClientEndsConsents", testDeleteClientEndsConsents},
		{"RefreshFamilies", testRefreshFamilies},
		{"RotateRefreshConcurrent", testRotateRefreshConcurrent},
		{"PruneRefreshFamilies", testPruneRefreshFamilies},
		{"DeleteEndsRefreshFamilies", testDeleteEndsRefreshFamilies},
		{"ClientPeople", testClientPeople},
		{"ConcurrentReadersAndWriters", testConcurrent},
		{"CanceledContext", testCanceledContext},
		{"Close", testClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s storage.Store
			// Registered before open's own cleanups, so it runs after them.
			t.Cleanup(func() {
				if s == nil {
					return
				}
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			s = open(t)
			if s == nil {
				t.Fatal("open returned a nil store")
			}
			tt.run(t, s)
		})
	}
}

// t0 is the suite's reference time: UTC, nanoseconds set, no monotonic
// reading, so that it survives any faithful encoding unchanged.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)

// errAbort is what update functions in the suite fail with.
var errAbort = errors.New("storagetest: update aborted")

// fullClient returns a client with every field set.
func fullClient(id, name string) storage.Client {
	return storage.Client{
		ID:   id,
		Name: name,
		Secrets: []storage.Secret{
			{ID: "sec-1", Hash: []byte{0x00, 0x01, 0xfe, 0xff}, CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)},
			{ID: "sec-2", Hash: []byte("second-hash"), CreatedAt: t0.Add(time.Minute)},
		},
		GrantTypes:   []string{"client_credentials"},
		Scopes:       []string{"orders:read", "orders:write"},
		Audience:     []string{"https://api.example.com"},
		RedirectURIs: []string{"https://app.example.com/callback"},
		IPAllowlist: []netip.Prefix{
			netip.MustParsePrefix("10.0.0.0/8"),
			netip.MustParsePrefix("192.0.2.7/32"),
			netip.MustParsePrefix("2001:db8::/32"),
		},
		Features:            []string{"introspect"},
		RequireScopeRequest: true,
		AccessTokenTTL:      10 * time.Minute,
		Claims:              json.RawMessage(`{"tenant":"acme"}`),
		Metadata:            json.RawMessage(`{"team":"billing","tags":["a","b"]}`),
		CreatedAt:           t0,
		UpdatedAt:           t0.Add(time.Second),
		TokensRevokedAt:     t0.Add(time.Hour),
	}
}

// minimalClient returns a client with only its identity and creation time.
func minimalClient(id, name string) storage.Client {
	return storage.Client{ID: id, Name: name, CreatedAt: t0, UpdatedAt: t0}
}

// mustCreate creates c with no client limit.
func mustCreate(t *testing.T, s storage.Store, c storage.Client) {
	t.Helper()
	if err := s.CreateClient(t.Context(), c, 0); err != nil {
		t.Fatalf("CreateClient(%q): %v", c.ID, err)
	}
}

// mustGet returns the stored client.
func mustGet(t *testing.T, s storage.Store, id string) storage.Client {
	t.Helper()
	c, err := s.GetClient(t.Context(), id)
	if err != nil {
		t.Fatalf("GetClient(%q): %v", id, err)
	}
	return c
}

// wantClient fails unless the stored client equals want.
func wantClient(t *testing.T, s storage.Store, want storage.Client) {
	t.Helper()
	equalClient(t, fmt.Sprintf("GetClient(%q)", want.ID), mustGet(t, s, want.ID), want)
}

// equalClient fails unless got equals want.
func equalClient(t *testing.T, what string, got, want storage.Client) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// wantMissing fails unless the client does not exist.
func wantMissing(t *testing.T, s storage.Store, id string) {
	t.Helper()
	if _, err := s.GetClient(t.Context(), id); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetClient(%q) error = %v, want ErrNotFound", id, err)
	}
}

// wantCount fails unless the store counts want clients.
func wantCount(t *testing.T, s storage.Store, want int) {
	t.Helper()
	n, err := s.CountClients(t.Context())
	if err != nil {
		t.Fatalf("CountClients: %v", err)
	}
	if n != want {
		t.Fatalf("CountClients = %d, want %d", n, want)
	}
}

// listAll pages through every client with the given page size.
func listAll(t *testing.T, s storage.Store, limit int) []storage.Client {
	t.Helper()
	return listPages(t, s, storage.ListOptions{Limit: limit})
}

// listPages pages through every client that opts selects, following After
// from each page's last client as a cursor does.
func listPages(t *testing.T, s storage.Store, opts storage.ListOptions) []storage.Client {
	t.Helper()
	var all []storage.Client
	limit := opts.Limit
	for range 10000 {
		page, more, err := s.ListClients(t.Context(), opts)
		if err != nil {
			t.Fatalf("ListClients(%+v): %v", opts, err)
		}
		if len(page) > limit {
			t.Fatalf("ListClients(%+v) returned %d clients", opts, len(page))
		}
		all = append(all, page...)
		if !more {
			return all
		}
		if len(page) == 0 {
			t.Fatalf("ListClients(%+v) returned an empty page with more = true", opts)
		}
		opts.After = page[len(page)-1].ID
	}
	t.Fatal("ListClients never reported the last page")
	return nil
}

// ids returns the IDs of clients, in order.
func ids(clients []storage.Client) []string {
	out := make([]string, 0, len(clients))
	for _, c := range clients {
		out = append(out, c.ID)
	}
	return out
}

// ctxCanceled returns a context that is already cancelled.
func ctxCanceled(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}
