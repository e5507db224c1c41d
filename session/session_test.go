package session_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopegate/scopegate/session"
	"github.com/scopegate/scopegate/storage"
)

var t0 = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

// clock is a settable clock for expiry tests.
type clock struct{ now atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.set(t0)
	return c
}
func (c *clock) set(t time.Time)         { c.now.Store(t.UnixNano()) }
func (c *clock) advance(d time.Duration) { c.now.Add(int64(d)) }
func (c *clock) Now() time.Time          { return time.Unix(0, c.now.Load()) }

// counting wraps a real store and counts the reads and writes that reach
// it; failTouch makes TouchSession fail as an unreachable store would.
type counting struct {
	storage.Store
	sessionReads, userReads, touches atomic.Int64
	failTouch                        atomic.Bool
}

func (c *counting) GetSession(ctx context.Context, id string) (storage.Session, error) {
	c.sessionReads.Add(1)
	return c.Store.GetSession(ctx, id)
}

func (c *counting) GetUser(ctx context.Context, id string) (storage.User, error) {
	c.userReads.Add(1)
	return c.Store.GetUser(ctx, id)
}

func (c *counting) TouchSession(ctx context.Context, id string, seen time.Time) error {
	c.touches.Add(1)
	if c.failTouch.Load() {
		return storage.ErrUnavailable
	}
	return c.Store.TouchSession(ctx, id, seen)
}

// openBolt returns a new real bbolt store holding users "ada" and
// "grace".
func openBolt(t testing.TB) *counting {
	t.Helper()
	b, err := storage.Open(filepath.Join(t.TempDir(), "store.db"), storage.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	for _, id := range []string{"ada", "grace"} {
		if err := b.CreateUser(context.Background(), storage.User{ID: id, Username: id, CreatedAt: t0, UpdatedAt: t0}, 0); err != nil {
			t.Fatal(err)
		}
	}
	return &counting{Store: b}
}

func newManager(t testing.TB, store storage.Store, c *clock, cfg session.Config) *session.Manager {
	t.Helper()
	cfg.Now = c.Now
	m, err := session.NewManager(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestStartStoresOnlyTheHash(t *testing.T) {
	ctx := t.Context()
	store, c := openBolt(t), newClock()
	m := newManager(t, store, c, session.Config{})
	ua := strings.Repeat("é", 200) // 400 bytes
	value, s, err := m.Start(ctx, "ada", false, session.Meta{Address: "192.0.2.7", UserAgent: ua})
	if err != nil {
		t.Fatal(err)
	}
	if !session.ValidValue(value) {
		t.Fatalf("Start gave a value ValidValue refuses: %q", value)
	}
	sum := sha256.Sum256([]byte(value))
	if want := base64.RawURLEncoding.EncodeToString(sum[:]); s.ID != want || session.ID(value) != want {
		t.Fatalf("ID = %q (ID(value) %q), want base64url(SHA-256(value)) %q", s.ID, session.ID(value), want)
	}
	stored, err := store.Store.GetSession(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored != s {
		t.Fatalf("stored %+v, Start returned %+v", stored, s)
	}
	if stored.CreatedAt != t0 || stored.LastSeenAt != t0 || stored.ExpiresAt != t0.Add(12*time.Hour) ||
		stored.IdleTimeout != 30*time.Minute || stored.Persistent || stored.Address != "192.0.2.7" {
		t.Fatalf("browser session = %+v, want the defaults", stored)
	}
	if len(stored.UserAgent) != 256 || !strings.HasPrefix(ua, stored.UserAgent) {
		t.Fatalf("user agent kept %d bytes, want 256 cut on a character boundary", len(stored.UserAgent))
	}
	if strings.Contains(string(mustMarshal(t, stored)), value) {
		t.Fatal("the stored record holds the secret value")
	}

	// Two starts never share a value.
	value2, _, err := m.Start(ctx, "ada", true, session.Meta{})
	if err != nil || value2 == value {
		t.Fatalf("second Start = %q, %v; want a new value", value2, err)
	}
}

func mustMarshal(t *testing.T, s storage.Session) []byte {
	t.Helper()
	b, err := storage.MarshalSession(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPersistentSession(t *testing.T) {
	ctx := t.Context()
	store, c := openBolt(t), newClock()
	m := newManager(t, store, c, session.Config{})
	value, s, err := m.Start(ctx, "ada", true, session.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Persistent || s.ExpiresAt != t0.Add(30*24*time.Hour) || s.IdleTimeout != 30*24*time.Hour {
		t.Fatalf("persistent session = %+v, want 30 days, no idle end before it", s)
	}
	// Unused for a week: still live.
	c.advance(7 * 24 * time.Hour)
	if _, err := m.Lookup(ctx, value); err != nil {
		t.Fatalf("persistent session after a week unused: %v", err)
	}
	c.set(t0.Add(30 * 24 * time.Hour))
	if _, err := m.Lookup(ctx, value); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("persistent session past its lifetime = %v, want ErrNoSession", err)
	}
}

func TestLookupRefuses(t *testing.T) {
	ctx := t.Context()
	store, c := openBolt(t), newClock()
	m := newManager(t, store, c, session.Config{})
	start := func() string {
		c.set(t0)
		value, _, err := m.Start(ctx, "grace", false, session.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		return value
	}
	good := start()
	tests := []struct {
		name  string
		value func() string
	}{
		{"empty", func() string { return "" }},
		{"one short", func() string { return good[:42] }},
		{"one long", func() string { return good + "A" }},
		{"padded", func() string { return good + "=" }},
		{"standard alphabet", func() string { return "+" + good[1:] }},
		{"space", func() string { return " " + good[1:] }},
		{"non-canonical last character", func() string { return good[:42] + "B" }},
		{"unknown", func() string { return strings.Repeat("A", 43) }},
		{"idle", func() string {
			v := start()
			c.advance(30 * time.Minute)
			return v
		}},
		{"past its lifetime though active", func() string {
			v := start()
			for range 12 * 4 {
				c.advance(15 * time.Minute)
				if _, err := m.Lookup(ctx, v); err != nil && c.Now().Before(t0.Add(12*time.Hour)) {
					t.Fatalf("active session at %v: %v", c.Now(), err)
				}
			}
			return v
		}},
		{"user disabled", func() string {
			v := start()
			if _, err := store.UpdateUser(ctx, "grace", func(u storage.User) (storage.User, error) {
				u.Disabled = true
				return u, nil
			}); err != nil {
				t.Fatal(err)
			}
			return v
		}},
		{"user missing", func() string {
			c.set(t0)
			v, _, err := m.Start(ctx, "nobody", false, session.Meta{})
			if err != nil {
				t.Fatal(err)
			}
			return v
		}},
		{"user deleted", func() string {
			c.set(t0)
			v, _, err := m.Start(ctx, "ada", false, session.Meta{})
			if err != nil {
				t.Fatal(err)
			}
			if err := store.DeleteUser(ctx, "ada"); err != nil {
				t.Fatal(err)
			}
			return v
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := m.Lookup(ctx, tt.value())
			if !errors.Is(err, session.ErrNoSession) || s != (storage.Session{}) {
				t.Fatalf("Lookup = %+v, %v; want ErrNoSession", s, err)
			}
		})
	}
}

func TestLookupTouchesAtMostOncePerInterval(t *testing.T) {
	ctx := t.Context()
	store, c := openBolt(t), newClock()
	// Idle 20 minutes: a touch at most every 2 minutes.
	m := newManager(t, store, c, session.Config{IdleTimeout: 20 * time.Minute})
	value, _, err := m.Start(ctx, "ada", false, session.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		c.advance(time.Second)
		if _, err := m.Lookup(ctx, value); err != nil {
			t.Fatal(err)
		}
	}
	if n := store.touches.Load(); n != 0 {
		t.Fatalf("%d touches within 50 s, want none", n)
	}
	c.advance(2 * time.Minute)
	s, err := m.Lookup(ctx, value)
	if err != nil {
		t.Fatal(err)
	}
	if n := store.touches.Load(); n != 1 || s.LastSeenAt != c.Now().UTC() {
		t.Fatalf("after 2 min: %d touches, LastSeenAt %v; want 1 and now", n, s.LastSeenAt)
	}
	// The touch keeps the session alive past the first idle end.
	c.set(t0.Add(20*time.Minute + time.Minute))
	if _, err := m.Lookup(ctx, value); err != nil {
		t.Fatalf("touched session past the first idle end: %v", err)
	}
}

func TestLookupSurvivesAFailedTouch(t *testing.T) {
	ctx := t.Context()
	store, c := openBolt(t), newClock()
	m := newManager(t, store, c, session.Config{})
	value, _, err := m.Start(ctx, "ada", false, session.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	store.failTouch.Store(true)
	c.advance(10 * time.Minute)
	s, err := m.Lookup(ctx, value)
	if err != nil || store.touches.Load() != 1 {
		t.Fatalf("Lookup with a failing touch = %v (%d touches), want the session", err, store.touches.Load())
	}
	if s.LastSeenAt != t0 {
		t.Fatalf("LastSeenAt = %v, want the stored %v: the touch failed", s.LastSeenAt, t0)
	}
	// A store that cannot write is not asked again at every request.
	for range 10 {
		c.advance(time.Second)
		if _, err := m.Lookup(ctx, value); err != nil {
			t.Fatal(err)
		}
	}
	if n := store.touches.Load(); n != 1 {
		t.Fatalf("%d touches after one failed, want no retry within the interval", n)
	}
	// Once the store is back and the pause is over, uses are recorded.
	store.failTouch.Store(false)
	c.advance(3 * time.Minute)
	if s, err := m.Lookup(ctx, value); err != nil || s.LastSeenAt != c.Now().UTC() {
		t.Fatalf("Lookup after the pause = %+v, %v; want it touched", s, err)
	}
}

func TestEnd(t *testing.T) {
	ctx := t.Context()
	store, c := openBolt(t), newClock()
	m := newManager(t, store, c, session.Config{})
	value, s, err := m.Start(ctx, "ada", false, session.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // idempotent
		if err := m.End(ctx, value); err != nil {
			t.Fatalf("End #%d: %v", i+1, err)
		}
	}
	if err := m.End(ctx, "not a value"); err != nil {
		t.Fatalf("End of a malformed value: %v", err)
	}
	if _, err := m.Lookup(ctx, value); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("Lookup after End = %v", err)
	}
	if _, err := store.Store.GetSession(ctx, s.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("stored session after End: %v", err)
	}
}

func TestEndByIDOnlyTheUsersOwn(t *testing.T) {
	ctx := t.Context()
	store, c := openBolt(t), newClock()
	m := newManager(t, store, c, session.Config{})
	value, s, err := m.Start(ctx, "ada", false, session.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.EndByID(ctx, "grace", s.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("EndByID of another user's session = %v, want ErrNotFound", err)
	}
	if _, err := m.Lookup(ctx, value); err != nil {
		t.Fatalf("session after another user's EndByID: %v", err)
	}
	if err := m.EndByID(ctx, "ada", "no-such-id"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("EndByID of an unknown ID = %v, want ErrNotFound", err)
	}
	if err := m.EndByID(ctx, "ada", s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Lookup(ctx, value); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("Lookup after EndByID = %v", err)
	}
}

func TestEndUserListAndPrune(t *testing.T) {
	ctx := t.Context()
	store, c := openBolt(t), newClock()
	m := newManager(t, store, c, session.Config{})
	idle, _, _ := m.Start(ctx, "ada", false, session.Meta{})
	c.advance(20 * time.Minute)
	kept, keptSession, _ := m.Start(ctx, "ada", true, session.Meta{})
	other, _, _ := m.Start(ctx, "grace", false, session.Meta{})
	c.advance(15 * time.Minute) // the first is idle now

	live, err := m.List(ctx, "ada")
	if err != nil || len(live) != 1 || live[0] != keptSession {
		t.Fatalf("List = %+v, %v; want only the live one", live, err)
	}
	if err := m.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Store.GetSession(ctx, session.ID(idle)); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("idle session after Prune: %v", err)
	}
	if n, err := m.EndUser(ctx, "ada"); err != nil || n != 1 {
		t.Fatalf("EndUser = %d, %v; want 1", n, err)
	}
	if _, err := m.Lookup(ctx, kept); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("Lookup after EndUser = %v", err)
	}
	if _, err := m.Lookup(ctx, other); err != nil {
		t.Fatalf("another user's session after EndUser: %v", err)
	}
}

func TestMaxPerUserEndsTheLeastRecentlySeen(t *testing.T) {
	ctx := t.Context()
	store, c := openBolt(t), newClock()
	m := newManager(t, store, c, session.Config{MaxPerUser: 2})
	first, _, _ := m.Start(ctx, "ada", false, session.Meta{})
	c.advance(time.Minute)
	second, _, _ := m.Start(ctx, "ada", false, session.Meta{})
	c.advance(5 * time.Minute)
	if _, err := m.Lookup(ctx, first); err != nil { // touched: now the most recent
		t.Fatal(err)
	}
	if _, _, err := m.Start(ctx, "ada", false, session.Meta{}); err != nil {
		t.Fatalf("a third sign-in at the limit: %v, want it to succeed", err)
	}
	if _, err := m.Lookup(ctx, second); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("least recently seen session = %v, want ended", err)
	}
	if _, err := m.Lookup(ctx, first); err != nil {
		t.Fatalf("recently seen session: %v", err)
	}
}

// A cached lookup reads nothing from the store, and a flood of random
// values reaches the store once each at most, then not at all.
func TestCachedLookupReadsNoStore(t *testing.T) {
	ctx := t.Context()
	store, c := openBolt(t), newClock()
	cached, err := storage.NewCached(store, 100)
	if err != nil {
		t.Fatal(err)
	}
	m := newManager(t, cached, c, session.Config{})
	value, _, err := m.Start(ctx, "ada", false, session.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Lookup(ctx, value); err != nil {
		t.Fatal(err)
	}
	sessions, users := store.sessionReads.Load(), store.userReads.Load()
	for range 100 {
		if _, err := m.Lookup(ctx, value); err != nil {
			t.Fatal(err)
		}
	}
	if s, u := store.sessionReads.Load()-sessions, store.userReads.Load()-users; s != 0 || u != 0 {
		t.Fatalf("100 cached lookups read the store %d (sessions) and %d (users) times, want 0", s, u)
	}

	unknown := strings.Repeat("Q", 43)
	for range 100 {
		if _, err := m.Lookup(ctx, unknown); !errors.Is(err, session.ErrNoSession) {
			t.Fatal(err)
		}
	}
	if s := store.sessionReads.Load() - sessions; s != 1 {
		t.Fatalf("100 lookups of one unknown value read the store %d times, want 1", s)
	}

	// Ending the session through the cache is seen at once.
	if err := m.End(ctx, value); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Lookup(ctx, value); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("Lookup after End through the cache = %v", err)
	}
	// So is disabling the user, and deleting it.
	value, _, _ = m.Start(ctx, "grace", false, session.Meta{})
	if _, err := m.Lookup(ctx, value); err != nil {
		t.Fatal(err)
	}
	if _, err := cached.UpdateUser(ctx, "grace", func(u storage.User) (storage.User, error) {
		u.Disabled = true
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Lookup(ctx, value); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("Lookup after the user was disabled through the cache = %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     session.Config
		wantErr string
	}{
		{"defaults", session.Config{}, ""},
		{"idle below a minute", session.Config{IdleTimeout: time.Second}, "idle timeout 1s is below"},
		{"idle above lifetime", session.Config{IdleTimeout: 13 * time.Hour}, "shorter than the idle timeout"},
		{"persistent below lifetime", session.Config{Lifetime: 48 * time.Hour, PersistentLifetime: 24 * time.Hour}, "persistent lifetime 24h0m0s is shorter"},
		{"persistent above 400 days", session.Config{PersistentLifetime: 401 * 24 * time.Hour}, "above the maximum"},
		{"negative max per user", session.Config{MaxPerUser: -1}, "max sessions per user is -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want %q", err, tt.wantErr)
			}
			if _, err := session.NewManager(openBolt(t), tt.cfg); err == nil {
				t.Fatal("NewManager accepted a config Validate refuses")
			}
		})
	}
}

func FuzzValidValue(f *testing.F) {
	for _, seed := range []string{
		"", strings.Repeat("A", 43), strings.Repeat("_", 43), strings.Repeat("-", 42) + "w",
		strings.Repeat("A", 42) + "B", strings.Repeat("A", 43) + "=", strings.Repeat("+", 43),
		strings.Repeat("é", 22), "\x00",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		if !session.ValidValue(value) {
			return
		}
		raw, err := base64.RawURLEncoding.Strict().DecodeString(value)
		if err != nil || len(raw) != 32 {
			t.Fatalf("ValidValue(%q) but it decodes to %d bytes, %v", value, len(raw), err)
		}
		if again := base64.RawURLEncoding.EncodeToString(raw); again != value {
			t.Fatalf("ValidValue(%q) but it is not canonical (%q)", value, again)
		}
		if id := session.ID(value); len(id) != 43 || !session.ValidValue(id) {
			t.Fatalf("ID(%q) = %q", value, id)
		}
	})
}

func BenchmarkLookupCached(b *testing.B) {
	ctx := context.Background()
	store, c := openBolt(b), newClock()
	cached, err := storage.NewCached(store, 100)
	if err != nil {
		b.Fatal(err)
	}
	m := newManager(b, cached, c, session.Config{})
	value, _, err := m.Start(ctx, "ada", false, session.Meta{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := m.Lookup(ctx, value); err != nil {
		b.Fatal(err)
	}
	reads := store.sessionReads.Load() + store.userReads.Load()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := m.Lookup(ctx, value); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if n := store.sessionReads.Load() + store.userReads.Load() - reads; n != 0 {
		b.Fatalf("%d store reads during cached lookups, want 0", n)
	}
}
