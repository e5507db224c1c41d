package storage_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// readCounting counts the user, role and session reads that reach the
// store it wraps.
type readCounting struct {
	storage.Store
	users, roles, sessions atomic.Int64
}

func (s *readCounting) GetRole(ctx context.Context, name string) (storage.Role, error) {
	s.roles.Add(1)
	return s.Store.GetRole(ctx, name)
}

func (s *readCounting) GetUser(ctx context.Context, id string) (storage.User, error) {
	s.users.Add(1)
	return s.Store.GetUser(ctx, id)
}

func (s *readCounting) GetSession(ctx context.Context, id string) (storage.Session, error) {
	s.sessions.Add(1)
	return s.Store.GetSession(ctx, id)
}

var sessionT0 = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

func testSession(id, userID string) storage.Session {
	return storage.Session{ID: id, UserID: userID, CreatedAt: sessionT0, LastSeenAt: sessionT0, ExpiresAt: sessionT0.Add(time.Hour), IdleTimeout: 30 * time.Minute}
}

func wantReads(t *testing.T, got *atomic.Int64, want int64, what string) {
	t.Helper()
	if n := got.Load(); n != want {
		t.Fatalf("%s reached the inner store %d times, want %d", what, n, want)
	}
}

// Cached serves users and sessions from memory, remembers unknown IDs, and
// evicts them on every write that goes through it.
func TestCachedUsersAndSessions(t *testing.T) {
	ctx := t.Context()
	inner := &readCounting{Store: openTestBolt(t)}
	cache := newCached(t, inner, 10)
	if err := cache.CreateUser(ctx, storage.User{ID: "u1", Username: "ada"}, 0); err != nil {
		t.Fatal(err)
	}
	if err := cache.CreateSession(ctx, testSession("s1", "u1"), 5); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := cache.GetUser(ctx, "u1"); err != nil {
			t.Fatal(err)
		}
		if _, err := cache.GetSession(ctx, "s1"); err != nil {
			t.Fatal(err)
		}
		if _, err := cache.GetSession(ctx, "random-cookie"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("GetSession(unknown) = %v", err)
		}
		if _, err := cache.GetUser(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("GetUser(unknown) = %v", err)
		}
	}
	wantReads(t, &inner.users, 2, "three reads of a user and of an unknown user")
	wantReads(t, &inner.sessions, 2, "three reads of a session and of an unknown session")

	// A touch is seen at the next read.
	seen := sessionT0.Add(10 * time.Minute)
	if err := cache.TouchSession(ctx, "s1", seen); err != nil {
		t.Fatal(err)
	}
	if s, err := cache.GetSession(ctx, "s1"); err != nil || !s.LastSeenAt.Equal(seen) {
		t.Fatalf("GetSession after a touch = %+v, %v; want LastSeenAt %v", s, err, seen)
	}
	// A create forgets the ID as unknown.
	if err := cache.CreateSession(ctx, testSession("random-cookie", "u1"), 5); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.GetSession(ctx, "random-cookie"); err != nil {
		t.Fatalf("GetSession after its create = %v", err)
	}
	// An update of the user is seen at once.
	if _, err := cache.UpdateUser(ctx, "u1", func(u storage.User) (storage.User, error) {
		u.Disabled = true
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	if u, err := cache.GetUser(ctx, "u1"); err != nil || !u.Disabled {
		t.Fatalf("GetUser after disable = %+v, %v", u, err)
	}

	ends := []struct {
		name string
		end  func() error
	}{
		{"DeleteSession", func() error { return cache.DeleteSession(ctx, "s1") }},
		{"DeleteUserSessions", func() error { _, err := cache.DeleteUserSessions(ctx, "u1"); return err }},
		{"PruneSessions", func() error { return cache.PruneSessions(ctx, sessionT0.Add(2*time.Hour)) }},
		{"DeleteUser", func() error { return cache.DeleteUser(ctx, "u1") }},
		{"CreateSession past the limit", func() error {
			for i := range 3 {
				if err := cache.CreateSession(ctx, testSession(fmt.Sprintf("new-%d", i), "u1"), 1); err != nil {
					return err
				}
			}
			return nil
		}},
	}
	for _, tt := range ends {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "DeleteUser" {
				if _, err := cache.GetUser(ctx, "u1"); err != nil {
					t.Fatal(err)
				}
				defer func() {
					if _, err := cache.GetUser(ctx, "u1"); !errors.Is(err, storage.ErrNotFound) {
						t.Errorf("cached user after DeleteUser = %v, want ErrNotFound", err)
					}
				}()
			}
			// DeleteSession ends "s1", the others every session of u1.
			id := "s1"
			if tt.name != "DeleteSession" {
				id = "s-" + tt.name
			}
			if err := cache.CreateSession(ctx, testSession(id, "u1"), 0); err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
				t.Fatal(err)
			}
			if _, err := cache.GetSession(ctx, id); err != nil {
				t.Fatal(err)
			}
			if err := tt.end(); err != nil {
				t.Fatal(err)
			}
			if _, err := cache.GetSession(ctx, id); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("cached session after %s = %v, want ErrNotFound", tt.name, err)
			}
		})
	}
}

// Changes told by a shared store evict users and sessions too.
func TestCachedInvalidateUsersAndSessions(t *testing.T) {
	ctx := t.Context()
	bolt := openTestBolt(t)
	inner := &readCounting{Store: bolt}
	cache := newCached(t, inner, 10)
	if err := bolt.CreateUser(ctx, storage.User{ID: "u1", Username: "ada"}, 0); err != nil {
		t.Fatal(err)
	}
	if err := bolt.CreateSession(ctx, testSession("s1", "u1"), 0); err != nil {
		t.Fatal(err)
	}
	read := func() {
		if _, err := cache.GetUser(ctx, "u1"); err != nil {
			t.Fatal(err)
		}
		if _, err := cache.GetSession(ctx, "s1"); err != nil {
			t.Fatal(err)
		}
	}
	read()
	cache.Invalidate(storage.Change{UserID: "u1"})
	cache.Invalidate(storage.Change{SessionID: "s1"})
	read()
	wantReads(t, &inner.users, 2, "a user read, evicted and read again")
	wantReads(t, &inner.sessions, 2, "a session read, evicted and read again")
	cache.Invalidate(storage.Change{Reset: true})
	read()
	wantReads(t, &inner.users, 3, "a user read after a reset")
	wantReads(t, &inner.sessions, 3, "a session read after a reset")
}

// A cached session read does no read of the inner store and no allocation.
func TestCachedSessionHitReadsNothing(t *testing.T) {
	ctx := t.Context()
	inner := &readCounting{Store: openTestBolt(t)}
	cache := newCached(t, inner, 10)
	if err := cache.CreateSession(ctx, testSession("s1", "u1"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.GetSession(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := cache.GetSession(ctx, "s1"); err != nil {
			t.Fatal(err)
		}
	})
	wantReads(t, &inner.sessions, 1, "1001 reads of one session")
	if allocs != 0 {
		t.Errorf("a session cache hit allocates %v times, want 0", allocs)
	}
}

func BenchmarkGetSession(b *testing.B) {
	ctx := context.Background()
	inner := &readCounting{Store: openTestBolt(b)}
	const n = 1000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("session-%04d", i)
		if err := inner.CreateSession(ctx, testSession(ids[i], fmt.Sprintf("user-%d", i%100)), 0); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("bolt", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := inner.GetSession(ctx, ids[i%n]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("cached hit", func(b *testing.B) {
		cache, err := storage.NewCached(inner, n)
		if err != nil {
			b.Fatal(err)
		}
		for _, id := range ids {
			if _, err := cache.GetSession(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
		before := inner.sessions.Load()
		i := 0
		for b.Loop() {
			if _, err := cache.GetSession(ctx, ids[i%n]); err != nil {
				b.Fatal(err)
			}
			i++
		}
		if reads := inner.sessions.Load() - before; reads != 0 {
			b.Fatalf("%d inner reads during cached hits, want 0", reads)
		}
	})
	b.Run("cached unknown", func(b *testing.B) {
		cache, err := storage.NewCached(inner, n)
		if err != nil {
			b.Fatal(err)
		}
		unknown := make([]string, n)
		for i := range unknown {
			unknown[i] = fmt.Sprintf("random-cookie-%04d", i)
			_, _ = cache.GetSession(ctx, unknown[i])
		}
		before := inner.sessions.Load()
		i := 0
		for b.Loop() {
			if _, err := cache.GetSession(ctx, unknown[i%n]); !errors.Is(err, storage.ErrNotFound) {
				b.Fatal(err)
			}
			i++
		}
		if reads := inner.sessions.Load() - before; reads != 0 {
			b.Fatalf("%d inner reads during cached unknown IDs, want 0", reads)
		}
	})
}

// Roles are cached by name: read once, evicted by every write through the
// cache and by a shared store's change, unknown names remembered.
func TestCachedRoles(t *testing.T) {
	ctx := t.Context()
	inner := &readCounting{Store: openTestBolt(t)}
	cache := newCached(t, inner, 10)
	if err := cache.CreateRole(ctx, storage.Role{Name: "editor", Scopes: []string{"docs:write"}}); err != nil {
		t.Fatal(err)
	}
	get := func(want ...string) {
		t.Helper()
		r, err := cache.GetRole(ctx, "editor")
		if len(want) == 0 {
			if !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("GetRole = %+v, %v; want ErrNotFound", r, err)
			}
			return
		}
		if err != nil || fmt.Sprint(r.Scopes) != fmt.Sprint(want) {
			t.Fatalf("GetRole = %+v, %v; want scopes %v", r, err, want)
		}
	}
	get("docs:write")
	get("docs:write")
	wantReads(t, &inner.roles, 1, "a role read twice")
	if _, err := cache.UpdateRole(ctx, "editor", func(r storage.Role) (storage.Role, error) {
		r.Scopes = []string{"docs:read"}
		return r, nil
	}); err != nil {
		t.Fatal(err)
	}
	get("docs:read")
	wantReads(t, &inner.roles, 2, "a role read after an update")
	if _, err := inner.Store.UpdateRole(ctx, "editor", func(r storage.Role) (storage.Role, error) {
		r.Scopes = []string{"docs:admin"}
		return r, nil
	}); err != nil {
		t.Fatal(err)
	}
	cache.Invalidate(storage.Change{Role: "editor"}) // another gateway's write, told
	get("docs:admin")
	if err := cache.DeleteRole(ctx, "editor"); err != nil {
		t.Fatal(err)
	}
	get()
	get()
	wantReads(t, &inner.roles, 4, "an unknown role read twice")
}
