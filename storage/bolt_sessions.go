package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// CreateSession stores a new session, ending the user's least recently
// seen ones past maxPerUser in the same transaction; see Store.
func (b *Bolt) CreateSession(ctx context.Context, s Session, maxPerUser int) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: create session: %w", err)
	}
	if err := CheckSessionIdentity(s); err != nil {
		return fmt.Errorf("storage: create session: %w", err)
	}
	value, err := MarshalSession(s)
	if err != nil {
		return fmt.Errorf("storage: create session: encode: %w", err)
	}
	err = b.batch(func(tx *bolt.Tx) error {
		sessions := tx.Bucket(bucketSessions)
		if sessions.Get([]byte(s.ID)) != nil {
			return fmt.Errorf("session id: %w", ErrAlreadyExists)
		}
		held, err := boltUserSessions(tx, s.UserID)
		if err != nil {
			return err
		}
		for _, old := range SessionsToEnd(held, maxPerUser) {
			if err := boltDeleteSession(tx, old.ID, old.UserID); err != nil {
				return err
			}
		}
		index, err := tx.Bucket(bucketUserSessions).CreateBucketIfNotExists([]byte(s.UserID))
		if err != nil {
			return err
		}
		if err := index.Put([]byte(s.ID), nil); err != nil {
			return err
		}
		return sessions.Put([]byte(s.ID), value)
	})
	if err != nil {
		// The ID is a hash of the secret cookie value, but naming it is
		// safe: it is what admins see.
		return fmt.Errorf("storage: create session %q: %w", s.ID, err)
	}
	return nil
}

// GetSession returns the session with that ID; see Store.
func (b *Bolt) GetSession(ctx context.Context, id string) (Session, error) {
	if err := ctx.Err(); err != nil {
		return Session{}, fmt.Errorf("storage: get session: %w", err)
	}
	var s Session
	err := b.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSessions).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		var err error
		s, err = UnmarshalSession(v)
		return err
	})
	if err != nil {
		return Session{}, fmt.Errorf("storage: get session %q: %w", id, err)
	}
	return s, nil
}

// TouchSession moves the session's LastSeenAt forward to seen; see Store.
func (b *Bolt) TouchSession(ctx context.Context, id string, seen time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: touch session: %w", err)
	}
	err := b.batch(func(tx *bolt.Tx) error {
		sessions := tx.Bucket(bucketSessions)
		v := sessions.Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		s, err := UnmarshalSession(v)
		if err != nil {
			return err
		}
		if !seen.After(s.LastSeenAt) {
			return nil
		}
		s.LastSeenAt = seen
		value, err := MarshalSession(s)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		return sessions.Put([]byte(id), value)
	})
	if err != nil {
		return fmt.Errorf("storage: touch session %q: %w", id, err)
	}
	return nil
}

// DeleteSession ends a session; see Store.
func (b *Bolt) DeleteSession(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: delete session: %w", err)
	}
	err := b.batch(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSessions).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		s, err := UnmarshalSession(v)
		if err != nil {
			return err
		}
		return boltDeleteSession(tx, id, s.UserID)
	})
	if err != nil {
		return fmt.Errorf("storage: delete session %q: %w", id, err)
	}
	return nil
}

// ListUserSessions returns the user's sessions, oldest first; see Store.
func (b *Bolt) ListUserSessions(ctx context.Context, userID string) ([]Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: list sessions: %w", err)
	}
	var held []Session
	err := b.view(func(tx *bolt.Tx) error {
		var err error
		held, err = boltUserSessions(tx, userID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("storage: list sessions of user %q: %w", userID, err)
	}
	SortSessions(held)
	return held, nil
}

// DeleteUserSessions ends every session of the user; see Store.
func (b *Bolt) DeleteUserSessions(ctx context.Context, userID string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("storage: delete sessions: %w", err)
	}
	var n int
	err := b.batch(func(tx *bolt.Tx) error {
		var err error
		n, err = boltDeleteUserSessions(tx, userID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("storage: delete sessions of user %q: %w", userID, err)
	}
	return n, nil
}

// PruneSessions deletes the sessions that ended at now; see Store. It
// walks every session: it runs now and then, never on a request.
func (b *Bolt) PruneSessions(ctx context.Context, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: prune sessions: %w", err)
	}
	err := b.batch(func(tx *bolt.Tx) error {
		var ended []Session
		err := tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
			s, err := UnmarshalSession(v)
			if err != nil {
				return fmt.Errorf("session %s: %w", quoteClipped(k), err)
			}
			if !s.Live(now) {
				ended = append(ended, s)
			}
			return nil
		})
		if err != nil {
			return err
		}
		// Deleting while iterating a bucket skips keys in bbolt.
		for _, s := range ended {
			if err := boltDeleteSession(tx, s.ID, s.UserID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: prune sessions: %w", err)
	}
	return nil
}

// boltUserSessions decodes every session in the user's index.
func boltUserSessions(tx *bolt.Tx, userID string) ([]Session, error) {
	index := tx.Bucket(bucketUserSessions).Bucket([]byte(userID))
	if index == nil {
		return nil, nil
	}
	sessions := tx.Bucket(bucketSessions)
	var held []Session
	err := index.ForEach(func(id, _ []byte) error {
		v := sessions.Get(id)
		if v == nil {
			return fmt.Errorf("session index of user %s points at missing session %s", quoteClipped([]byte(userID)), quoteClipped(id))
		}
		s, err := UnmarshalSession(v)
		if err != nil {
			return fmt.Errorf("session %s: %w", quoteClipped(id), err)
		}
		held = append(held, s)
		return nil
	})
	return held, err
}

// boltDeleteSession deletes a session and its index entry, and the user's
// index bucket when it was the last.
func boltDeleteSession(tx *bolt.Tx, id, userID string) error {
	if err := tx.Bucket(bucketSessions).Delete([]byte(id)); err != nil {
		return err
	}
	byUser := tx.Bucket(bucketUserSessions)
	index := byUser.Bucket([]byte(userID))
	if index == nil {
		return nil
	}
	if err := index.Delete([]byte(id)); err != nil {
		return err
	}
	if k, _ := index.Cursor().First(); k == nil {
		return byUser.DeleteBucket([]byte(userID))
	}
	return nil
}

// boltDeleteUserSessions deletes every session of the user and the
// user's index, and returns how many there were. DeleteUser calls it in
// its own transaction.
func boltDeleteUserSessions(tx *bolt.Tx, userID string) (int, error) {
	byUser := tx.Bucket(bucketUserSessions)
	index := byUser.Bucket([]byte(userID))
	if index == nil {
		return 0, nil
	}
	sessions := tx.Bucket(bucketSessions)
	n := 0
	err := index.ForEach(func(id, _ []byte) error {
		n++
		return sessions.Delete(id)
	})
	if err != nil {
		return 0, err
	}
	return n, byUser.DeleteBucket([]byte(userID))
}

// checkSessionIndexes reports every disagreement between the sessions
// bucket and the per-user index.
func checkSessionIndexes(tx *bolt.Tx, note func(error)) error {
	sessions, byUser := tx.Bucket(bucketSessions), tx.Bucket(bucketUserSessions)
	if sessions == nil || byUser == nil {
		note(errors.New("a session bucket is missing"))
		return nil
	}
	err := sessions.ForEach(func(id, v []byte) error {
		s, err := UnmarshalSession(v)
		if err != nil {
			note(fmt.Errorf("session %s: %w", quoteClipped(id), err))
			return nil
		}
		index := byUser.Bucket([]byte(s.UserID))
		if s.ID != string(id) || index == nil || index.Get(id) == nil {
			note(fmt.Errorf("session %s is not indexed under its user %s", quoteClipped(id), quoteClipped([]byte(s.UserID))))
		}
		return nil
	})
	if err != nil {
		return err
	}
	return byUser.ForEachBucket(func(userID []byte) error {
		return byUser.Bucket(userID).ForEach(func(id, _ []byte) error {
			if sessions.Get(id) == nil {
				note(fmt.Errorf("session index of user %s points at missing session %s", quoteClipped(userID), quoteClipped(id)))
			}
			return nil
		})
	})
}
