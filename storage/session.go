package storage

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Session is a signed-in person's session as stored. The secret value the
// browser holds in its cookie is never stored: ID is derived from it (see
// the session package), so a copy of the store gives no one a session.
type Session struct {
	// ID is the session's public name: the unpadded base64url SHA-256 of
	// the cookie value. Admins see and end sessions by it.
	ID     string `json:"session_id"`
	UserID string `json:"user_id"`
	// CreatedAt is when the person signed in.
	CreatedAt time.Time `json:"created_at"`
	// LastSeenAt is when the session was last used (as recorded: the
	// session manager records it at most once per interval).
	LastSeenAt time.Time `json:"last_seen_at"`
	// ExpiresAt is the absolute end, however active the session is.
	ExpiresAt time.Time `json:"expires_at"`
	// IdleTimeout ends the session at LastSeenAt+IdleTimeout; zero means
	// no idle end.
	IdleTimeout time.Duration `json:"idle_timeout,omitempty"`
	// Persistent: the person chose "keep me signed in".
	Persistent bool `json:"persistent,omitempty"`
	// Address and UserAgent describe where the session started, for
	// admins and for the person's own list of sessions.
	Address   string `json:"address,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
}

// EndsAt returns when the session ends if it is not used again: the
// earlier of its absolute end and its idle end.
func (s Session) EndsAt() time.Time {
	if s.IdleTimeout <= 0 {
		return s.ExpiresAt
	}
	if idle := s.LastSeenAt.Add(s.IdleTimeout); idle.Before(s.ExpiresAt) {
		return idle
	}
	return s.ExpiresAt
}

// Live reports whether the session has not ended at now. The one rule
// both stores prune by and the session manager checks by.
func (s Session) Live(now time.Time) bool {
	return now.Before(s.EndsAt())
}

// MarshalSession returns the stored form of s: a version byte, then JSON,
// as for users.
func MarshalSession(s Session) ([]byte, error) {
	return marshalVersioned(s)
}

// UnmarshalSession decodes what MarshalSession returned.
func UnmarshalSession(data []byte) (Session, error) {
	var s Session
	if err := unmarshalVersioned(data, &s); err != nil {
		return Session{}, fmt.Errorf("session record: %w", err)
	}
	return s, nil
}

// CheckSessionIdentity refuses a session that a backend's indexes could
// not hold: one with an empty ID or user ID.
func CheckSessionIdentity(s Session) error {
	if s.ID == "" {
		return errors.New("empty session id")
	}
	if s.UserID == "" {
		return fmt.Errorf("session %q has an empty user id", s.ID)
	}
	return nil
}

// SessionsToEnd returns the sessions that a new one must end so that the
// user holds at most maxPerUser (maxPerUser <= 0: none): the least
// recently seen first. held is every session the user holds now. One rule
// for both backends.
func SessionsToEnd(held []Session, maxPerUser int) []Session {
	if maxPerUser <= 0 || len(held) < maxPerUser {
		return nil
	}
	byLastSeen := make([]Session, len(held))
	copy(byLastSeen, held)
	sortSessionsBy(byLastSeen, func(s Session) time.Time { return s.LastSeenAt })
	return byLastSeen[:len(held)-maxPerUser+1]
}

// SortSessions orders sessions oldest first (by CreatedAt, then ID), the
// order ListUserSessions returns.
func SortSessions(sessions []Session) {
	sortSessionsBy(sessions, func(s Session) time.Time { return s.CreatedAt })
}

func sortSessionsBy(sessions []Session, at func(Session) time.Time) {
	slices.SortFunc(sessions, func(a, b Session) int {
		if c := at(a).Compare(at(b)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
