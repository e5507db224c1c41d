// Package session keeps the sessions of people signed in to the gateway's
// pages: it makes the secret value a cookie carries, stores a record of
// the session under a hash of that value (storage.Session), and answers,
// on every request that carries the cookie, whether the session is live.
//
// The value is 32 bytes from crypto/rand, base64url without padding. The
// store never holds it: a session's ID is the base64url SHA-256 of the
// value, so a copy of the store (a backup, a replica) lets nobody resume
// a session. A plain hash, not a slow one, is enough: the value has 256
// bits of entropy, nothing to guess.
//
// Start always makes a new value: a session is never resumed under a
// value someone else chose (fixation). Setting the cookie, and ending the
// old session at sign-in, is the sign-in page's part.
//
// The package does not import Caddy.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/scopegate/scopegate/storage"
)

// ErrNoSession is what Lookup answers for a value that leads to no live
// session, whatever the reason: malformed, unknown, idle, past its
// lifetime, or its user deleted or disabled. One answer, so that a caller
// cannot tell (nor tell an attacker) which.
var ErrNoSession = errors.New("session: no live session")

// Defaults of Config.
const (
	DefaultIdleTimeout        = 30 * time.Minute
	DefaultLifetime           = 12 * time.Hour
	DefaultPersistentLifetime = 30 * 24 * time.Hour
	DefaultMaxPerUser         = 10
)

// Bounds of Config.
const (
	// MinIdleTimeout: below it a person reading a page would be signed
	// out, and touches (at most one per minute) could not keep up.
	MinIdleTimeout = time.Minute
	// MaxPersistentLifetime is the longest a browser keeps a cookie
	// (RFC 6265bis caps Max-Age and Expires at 400 days).
	MaxPersistentLifetime = 400 * 24 * time.Hour
	// maxMetaBytes bounds Meta.UserAgent and Meta.Address as stored.
	maxMetaBytes = 256
	// minTouchInterval is the least time between two recorded uses of a
	// session.
	minTouchInterval = time.Minute
)

// valueBytes is the entropy of a session value; valueLen its encoded
// length.
const valueBytes = 32

var valueLen = base64.RawURLEncoding.EncodedLen(valueBytes)

// Config sets a Manager's lifetimes and limits. Zero fields take the
// defaults (withDefaults); Validate checks the bounds.
type Config struct {
	// IdleTimeout ends a browser session that has not been used for this
	// long. Default 30 minutes; at least one minute and at most Lifetime.
	IdleTimeout time.Duration
	// Lifetime is a browser session's absolute end after sign-in, however
	// active it is. Default 12 hours.
	Lifetime time.Duration
	// PersistentLifetime is the absolute end of a "keep me signed in"
	// session. Default 30 days; at least Lifetime, at most 400 days.
	PersistentLifetime time.Duration
	// MaxPerUser is how many sessions one user may hold; a new one ends
	// the least recently used. Default 10; at least 1.
	MaxPerUser int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// withDefaults returns cfg with zero fields set to the defaults.
func (cfg Config) withDefaults() Config {
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = DefaultLifetime
	}
	if cfg.PersistentLifetime == 0 {
		cfg.PersistentLifetime = DefaultPersistentLifetime
	}
	if cfg.MaxPerUser == 0 {
		cfg.MaxPerUser = DefaultMaxPerUser
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

// Validate checks the bounds of cfg once the defaults are applied, and
// names the field at fault.
func (cfg Config) Validate() error {
	cfg = cfg.withDefaults()
	switch {
	case cfg.IdleTimeout < MinIdleTimeout:
		return fmt.Errorf("session: idle timeout %v is below the minimum %v", cfg.IdleTimeout, MinIdleTimeout)
	case cfg.Lifetime < cfg.IdleTimeout:
		return fmt.Errorf("session: lifetime %v is shorter than the idle timeout %v", cfg.Lifetime, cfg.IdleTimeout)
	case cfg.PersistentLifetime < cfg.Lifetime:
		return fmt.Errorf("session: persistent lifetime %v is shorter than the lifetime %v", cfg.PersistentLifetime, cfg.Lifetime)
	case cfg.PersistentLifetime > MaxPersistentLifetime:
		return fmt.Errorf("session: persistent lifetime %v is above the maximum %v that browsers keep a cookie", cfg.PersistentLifetime, MaxPersistentLifetime)
	case cfg.MaxPerUser < 1:
		return fmt.Errorf("session: max sessions per user is %d, want at least 1", cfg.MaxPerUser)
	}
	return nil
}

// Meta describes where a session starts, for admins and for the person's
// list of sessions. Both are cut to 256 bytes.
type Meta struct {
	Address   string
	UserAgent string
}

// Manager starts, looks up and ends sessions in a store. Wrap the store
// in storage.Cached so that lookups are served from memory. It is safe
// for concurrent use.
type Manager struct {
	store storage.Store
	cfg   Config
	// touchEvery is the least time between two recorded uses of a
	// session: a burst of requests is not a burst of writes.
	touchEvery time.Duration
	// touchPausedUntil (Unix nanoseconds) holds touches back for
	// touchEvery after one failed: a store that cannot write now (etcd
	// without a leader waits out its write timeout) must not hold up
	// every signed-in request, one after the other.
	touchPausedUntil atomic.Int64
}

// NewManager returns a Manager of sessions kept in store, with cfg's zero
// fields set to the defaults. It fails when cfg is out of bounds
// (Validate).
func NewManager(store storage.Store, cfg Config) (*Manager, error) {
	if store == nil {
		return nil, errors.New("session: nil store")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Manager{
		store:      store,
		cfg:        cfg,
		touchEvery: max(cfg.IdleTimeout/10, minTouchInterval),
	}, nil
}

// Config returns the manager's configuration, defaults applied.
func (m *Manager) Config() Config { return m.cfg }

// now returns the clock's time in UTC without a monotonic reading, as
// stored.
func (m *Manager) now() time.Time { return m.cfg.Now().UTC() }

// Start begins a session for the user and returns the value for the
// cookie, which nothing else keeps, and the stored record. A persistent
// session ("keep me signed in") lasts PersistentLifetime.
func (m *Manager) Start(ctx context.Context, userID string, persistent bool, meta Meta) (value string, s storage.Session, err error) {
	if userID == "" {
		return "", storage.Session{}, errors.New("session: start: empty user id")
	}
	var raw [valueBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", storage.Session{}, fmt.Errorf("session: start: %w", err)
	}
	value = base64.RawURLEncoding.EncodeToString(raw[:])
	now := m.now()
	s = storage.Session{
		ID:          ID(value),
		UserID:      userID,
		CreatedAt:   now,
		LastSeenAt:  now,
		ExpiresAt:   now.Add(m.cfg.Lifetime),
		IdleTimeout: m.cfg.IdleTimeout,
		Persistent:  persistent,
		Address:     clip(meta.Address),
		UserAgent:   clip(meta.UserAgent),
	}
	if persistent {
		// A persistent cookie outlives the browser: a person who chose
		// "keep me signed in" comes back after days, and an idle end of
		// minutes would undo their choice. The absolute end still bounds
		// it, and IdleTimeout is set rather than zero so the record says
		// what applies.
		s.ExpiresAt = now.Add(m.cfg.PersistentLifetime)
		s.IdleTimeout = m.cfg.PersistentLifetime
	}
	if err := m.store.CreateSession(ctx, s, m.cfg.MaxPerUser); err != nil {
		return "", storage.Session{}, fmt.Errorf("session: start for user %q: %w", userID, err)
	}
	return value, s, nil
}

// Lookup returns the live session that value names, or ErrNoSession. It
// records the use (TouchSession) at most once per max(IdleTimeout/10, 1
// minute); a failure to record it does not fail the lookup, since the
// session was found live. Other errors (a store that cannot be read now)
// are returned wrapped, for a 503 rather than a sign-in page.
func (m *Manager) Lookup(ctx context.Context, value string) (storage.Session, error) {
	if !ValidValue(value) {
		return storage.Session{}, ErrNoSession
	}
	id := ID(value)
	s, err := m.store.GetSession(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Session{}, ErrNoSession
	}
	if err != nil {
		return storage.Session{}, fmt.Errorf("session: lookup: %w", err)
	}
	now := m.now()
	if !s.Live(now) {
		return storage.Session{}, ErrNoSession
	}
	u, err := m.store.GetUser(ctx, s.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Session{}, ErrNoSession
	}
	if err != nil {
		return storage.Session{}, fmt.Errorf("session: lookup: %w", err)
	}
	if u.Disabled {
		return storage.Session{}, ErrNoSession
	}
	if m.touch(ctx, id, s.LastSeenAt, now) {
		s.LastSeenAt = now
	}
	return s, nil
}

// touch records a use of the session at now if the last recorded one is
// touchEvery old, and reports whether it did. A failure pauses touches
// for touchEvery; the lookup goes on.
func (m *Manager) touch(ctx context.Context, id string, lastSeen, now time.Time) bool {
	if now.Sub(lastSeen) < m.touchEvery || now.UnixNano() < m.touchPausedUntil.Load() {
		return false
	}
	if err := m.store.TouchSession(ctx, id, now); err != nil {
		m.touchPausedUntil.Store(now.Add(m.touchEvery).UnixNano())
		return false
	}
	return true
}

// End ends the session that value names. It is idempotent: a malformed,
// unknown or ended value is not an error.
func (m *Manager) End(ctx context.Context, value string) error {
	if !ValidValue(value) {
		return nil
	}
	err := m.store.DeleteSession(ctx, ID(value))
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("session: end: %w", err)
	}
	return nil
}

// EndByID ends the user's session with that ID (as admins and the
// person's own list name it). It fails with storage.ErrNotFound when no
// session of that user has that ID: another user's session is not found.
func (m *Manager) EndByID(ctx context.Context, userID, id string) error {
	s, err := m.store.GetSession(ctx, id)
	if err == nil && s.UserID != userID {
		err = fmt.Errorf("session %q of user %q: %w", id, userID, storage.ErrNotFound)
	}
	if err == nil {
		err = m.store.DeleteSession(ctx, id)
	}
	if err != nil {
		return fmt.Errorf("session: end: %w", err)
	}
	return nil
}

// EndUser ends every session of the user (sign out everywhere; a password
// change) and returns how many there were.
func (m *Manager) EndUser(ctx context.Context, userID string) (int, error) {
	n, err := m.store.DeleteUserSessions(ctx, userID)
	if err != nil {
		return n, fmt.Errorf("session: end sessions of user %q: %w", userID, err)
	}
	return n, nil
}

// List returns the user's live sessions, oldest first.
func (m *Manager) List(ctx context.Context, userID string) ([]storage.Session, error) {
	held, err := m.store.ListUserSessions(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("session: list sessions of user %q: %w", userID, err)
	}
	now := m.now()
	live := held[:0:0]
	for _, s := range held {
		if s.Live(now) {
			live = append(live, s)
		}
	}
	return live, nil
}

// Prune deletes the sessions that have ended, from the store. Run it now
// and then (every few minutes): ended sessions are refused without it,
// but stay stored.
func (m *Manager) Prune(ctx context.Context) error {
	if err := m.store.PruneSessions(ctx, m.now()); err != nil {
		return fmt.Errorf("session: prune: %w", err)
	}
	return nil
}

// ValidValue reports whether value has the form of a session value: 43
// characters of the base64url alphabet, the canonical encoding of 32
// bytes. It is checked before anything is hashed or looked up, so a
// cookie of any other shape costs nothing.
func ValidValue(value string) bool {
	if len(value) != valueLen {
		return false
	}
	for i := 0; i < len(value); i++ {
		if base64URLValue(value[i]) < 0 {
			return false
		}
	}
	// 43 characters carry 258 bits: the last one's two low bits are
	// padding and must be zero, or two values would name one byte string.
	return base64URLValue(value[len(value)-1])&3 == 0
}

// base64URLValue returns the 6-bit value of a base64url character, or -1.
func base64URLValue(c byte) int {
	switch {
	case 'A' <= c && c <= 'Z':
		return int(c - 'A')
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 26
	case '0' <= c && c <= '9':
		return int(c-'0') + 52
	case c == '-':
		return 62
	case c == '_':
		return 63
	}
	return -1
}

// ID returns the public name of the session that value names: the
// unpadded base64url SHA-256 of value. It is what the store keeps and
// admins see; value itself cannot be recovered from it.
func ID(value string) string {
	// Hash from a stack copy when it fits: a lookup then allocates only
	// the ID itself.
	var buf [valueBytes * 2]byte
	b := append(buf[:0], value...)
	sum := sha256.Sum256(b)
	var id [43]byte // base64.RawURLEncoding.EncodedLen(sha256.Size)
	base64.RawURLEncoding.Encode(id[:], sum[:])
	return string(id[:])
}

// clip cuts s to maxMetaBytes without splitting a character, and replaces
// invalid UTF-8, so that what admins are shown is text.
func clip(s string) string {
	if len(s) > maxMetaBytes {
		cut := maxMetaBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
		// The replacement may have grown it past the bound again.
		if len(s) > maxMetaBytes {
			return clip(s)
		}
	}
	return s
}
