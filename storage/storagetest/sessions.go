package storagetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// session returns a session of the user, created at t0+offset, with every
// field set.
func session(id, userID string, offset time.Duration) storage.Session {
	return storage.Session{
		ID:          id,
		UserID:      userID,
		CreatedAt:   t0.Add(offset),
		LastSeenAt:  t0.Add(offset),
		ExpiresAt:   t0.Add(offset + 12*time.Hour),
		IdleTimeout: 30 * time.Minute,
		Persistent:  true,
		Address:     "192.0.2.1",
		UserAgent:   "Mozilla/5.0",
	}
}

func mustCreateSession(t *testing.T, s storage.Store, sess storage.Session, maxPerUser int) {
	t.Helper()
	if err := s.CreateSession(t.Context(), sess, maxPerUser); err != nil {
		t.Fatalf("CreateSession(%q): %v", sess.ID, err)
	}
}

func wantSessionIDs(t *testing.T, s storage.Store, userID string, want ...string) {
	t.Helper()
	held, err := s.ListUserSessions(t.Context(), userID)
	if err != nil {
		t.Fatalf("ListUserSessions(%q): %v", userID, err)
	}
	got := make([]string, 0, len(held))
	for _, h := range held {
		got = append(got, h.ID)
	}
	if want == nil {
		want = []string{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("sessions of %q = %v, want %v", userID, got, want)
	}
}

func wantNoSession(t *testing.T, s storage.Store, id string) {
	t.Helper()
	if _, err := s.GetSession(t.Context(), id); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetSession(%q) = %v, want ErrNotFound", id, err)
	}
}

// testSessions: create, get back exactly, a taken ID refused, touch only
// moves forward, delete, and a missing session is ErrNotFound everywhere.
func testSessions(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a := session("sess-a", "user/1", 0)
	mustCreateSession(t, s, a, 0)
	got, err := s.GetSession(ctx, a.ID)
	if err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("GetSession = %+v, %v; want %+v", got, err, a)
	}
	if err := s.CreateSession(ctx, session("sess-a", "user-2", time.Hour), 0); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("CreateSession of a taken ID = %v, want ErrAlreadyExists", err)
	}
	if err := s.CreateSession(ctx, storage.Session{ID: "x"}, 0); err == nil || errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("CreateSession without a user ID = %v, want an error", err)
	}

	later := a.LastSeenAt.Add(5 * time.Minute)
	if err := s.TouchSession(ctx, a.ID, later); err != nil {
		t.Fatalf("TouchSession: %v", err)
	}
	if err := s.TouchSession(ctx, a.ID, a.LastSeenAt); err != nil {
		t.Fatalf("TouchSession with an earlier time: %v", err)
	}
	got, _ = s.GetSession(ctx, a.ID)
	if want := a; true {
		want.LastSeenAt = later
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("after touches, GetSession = %+v, want %+v", got, want)
		}
	}
	if err := s.TouchSession(ctx, "missing", later); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("TouchSession(missing) = %v, want ErrNotFound", err)
	}

	b := session("sess-b", "user/1", time.Minute)
	mustCreateSession(t, s, b, 0)
	mustCreateSession(t, s, session("sess-other", "user/10", 0), 0)
	wantSessionIDs(t, s, "user/1", "sess-a", "sess-b")
	wantSessionIDs(t, s, "user", []string(nil)...)

	if err := s.DeleteSession(ctx, a.ID); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	if err := s.DeleteSession(ctx, a.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("DeleteSession again = %v, want ErrNotFound", err)
	}
	wantNoSession(t, s, a.ID)
	wantSessionIDs(t, s, "user/1", "sess-b")

	n, err := s.DeleteUserSessions(ctx, "user/1")
	if err != nil || n != 1 {
		t.Fatalf("DeleteUserSessions = %d, %v; want 1", n, err)
	}
	wantNoSession(t, s, b.ID)
	wantSessionIDs(t, s, "user/1", []string(nil)...)
	wantSessionIDs(t, s, "user/10", "sess-other")
	if n, err := s.DeleteUserSessions(ctx, "user/1"); err != nil || n != 0 {
		t.Fatalf("DeleteUserSessions again = %d, %v; want 0", n, err)
	}
}

// testSessionLimit: a create at the limit ends the least recently seen
// sessions, never refuses; other users' sessions are untouched.
func testSessionLimit(t *testing.T, s storage.Store) {
	ctx := t.Context()
	for i := range 3 {
		mustCreateSession(t, s, session(fmt.Sprintf("s%d", i), "u", time.Duration(i)*time.Minute), 3)
	}
	mustCreateSession(t, s, session("other", "v", 0), 3)
	// s0 is the oldest but was seen last: s1 is the one to end.
	if err := s.TouchSession(ctx, "s0", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	mustCreateSession(t, s, session("s3", "u", 4*time.Minute), 3)
	wantSessionIDs(t, s, "u", "s0", "s2", "s3")
	wantNoSession(t, s, "s1")

	// Lowering the limit ends as many as it takes.
	mustCreateSession(t, s, session("s4", "u", 5*time.Minute), 2)
	wantSessionIDs(t, s, "u", "s0", "s4")
	// No limit.
	for i := 5; i < 8; i++ {
		mustCreateSession(t, s, session(fmt.Sprintf("s%d", i), "u", time.Duration(i+1)*time.Minute), 0)
	}
	wantSessionIDs(t, s, "u", "s0", "s4", "s5", "s6", "s7")
	wantSessionIDs(t, s, "v", "other")
}

// testPruneSessions: past ExpiresAt and idle past LastSeenAt+IdleTimeout
// are removed, live ones stay.
func testPruneSessions(t *testing.T, s storage.Store) {
	ctx := t.Context()
	live := session("live", "u", 0)
	live.LastSeenAt = t0.Add(11 * time.Hour)
	idle := session("idle", "u", 0) // idle since t0 + 30 min
	expired := session("expired", "v", 0)
	expired.LastSeenAt = t0.Add(11*time.Hour + 10*time.Minute)
	expired.ExpiresAt = t0.Add(11*time.Hour + 20*time.Minute)
	for _, sess := range []storage.Session{live, idle, expired} {
		mustCreateSession(t, s, sess, 0)
	}
	if err := s.PruneSessions(ctx, t0.Add(11*time.Hour+20*time.Minute)); err != nil {
		t.Fatalf("PruneSessions: %v", err)
	}
	wantSessionIDs(t, s, "u", "live")
	wantSessionIDs(t, s, "v", []string(nil)...)
	wantNoSession(t, s, "idle")
	wantNoSession(t, s, "expired")
	if _, err := s.GetSession(ctx, "live"); err != nil {
		t.Fatalf("GetSession(live) after prune: %v", err)
	}
}

// testDeleteUserEndsSessions: deleting a user deletes its sessions, and
// only its own.
func testDeleteUserEndsSessions(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, minimalUser("u1", "ada"))
	mustCreateUser(t, s, minimalUser("u2", "grace"))
	mustCreateSession(t, s, session("a1", "u1", 0), 0)
	mustCreateSession(t, s, session("a2", "u1", time.Minute), 0)
	mustCreateSession(t, s, session("b1", "u2", 0), 0)
	if err := s.DeleteUser(ctx, "u1"); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	wantNoSession(t, s, "a1")
	wantNoSession(t, s, "a2")
	wantSessionIDs(t, s, "u1", []string(nil)...)
	wantSessionIDs(t, s, "u2", "b1")
}
