package etcd

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/storage/replica"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Sessions are kept under
//
//	P/sessions/<id>                  a storage.Session, in storage.MarshalSession's form
//	P/user-sessions/<user>/<id>      an empty index entry; <user> path-escaped
//
// both under a lease that ends with the session's absolute end
// (ExpiresAt), shared with revocations that end in the same step, so
// etcd forgets them by itself. A session that ends sooner by idling is
// deleted by PruneSessions. A session is not sealed: it holds no secret,
// only a hash of one.

// sessionChunk bounds the sessions one transaction deletes: etcd caps the
// operations of a transaction (128 by default), and each session takes
// one compare and two deletes.
const sessionChunk = 40

func (s *Store) sessionKey(id string) string { return s.prefix + "sessions/" + id }
func (s *Store) userSessionsPrefix(userID string) string {
	return s.prefix + "user-sessions/" + url.PathEscape(userID) + "/"
}
func (s *Store) userSessionKey(userID, id string) string {
	return s.userSessionsPrefix(userID) + id
}

// CreateSession stores a new session under a lease, ending the user's
// least recently seen ones past maxPerUser in the same transaction; see
// storage.Store. Each ended session's ModRevision is compared, so a touch
// that lands meanwhile makes the create choose again.
func (s *Store) CreateSession(ctx context.Context, sess storage.Session, maxPerUser int) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("storage: create session: %w", err)
	}
	if err := storage.CheckSessionIdentity(sess); err != nil {
		return fmt.Errorf("storage: create session: %w", err)
	}
	value, err := storage.MarshalSession(sess)
	if err != nil {
		return fmt.Errorf("storage: create session: encode: %w", err)
	}
	key, index := s.sessionKey(sess.ID), s.userSessionKey(sess.UserID, sess.ID)
	err = s.write(ctx, func(ctx context.Context) error {
		return s.underLease(ctx, sess.ExpiresAt, func(lease clientv3.LeaseID) error {
			return s.cas(ctx, func(v *view) (plan, error) {
				p := plan{keys: []string{key}}
				if v.get(key).ok {
					return p, fmt.Errorf("session id: %w", storage.ErrAlreadyExists)
				}
				held, err := s.heldSessions(v, sess.UserID)
				if err != nil {
					return p, err
				}
				p.cmps = []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(key), "=", 0)}
				for _, old := range storage.SessionsToEnd(held, maxPerUser) {
					s.planSessionDelete(v, &p, old)
				}
				p.ops = append(p.ops,
					clientv3.OpPut(key, string(value), clientv3.WithLease(lease)),
					clientv3.OpPut(index, "", clientv3.WithLease(lease)))
				return p, nil
			})
		})
	})
	if err != nil {
		return fmt.Errorf("storage: create session %q: %w", sess.ID, err)
	}
	return nil
}

// underLease runs fn with a lease that ends no sooner than expires (see
// leaseFor), and once more with a new lease if etcd no longer knows the
// cached one (a replaced cluster).
func (s *Store) underLease(ctx context.Context, expires time.Time, fn func(clientv3.LeaseID) error) error {
	for retried := false; ; retried = true {
		lease, err := s.leaseFor(ctx, expires)
		if err != nil {
			return fmt.Errorf("lease: %w", err)
		}
		err = fn(lease)
		if errors.Is(err, rpctypes.ErrLeaseNotFound) && !retried {
			s.leases.forget(lease)
			continue
		}
		return err
	}
}

// heldSessions returns the user's sessions as v sees them: the index from
// the replica, each session at its freshest.
func (s *Store) heldSessions(v *view, userID string) ([]storage.Session, error) {
	var (
		held []storage.Session
		err  error
	)
	from := s.userSessionsPrefix(userID)
	s.replica.Range(from, replica.PrefixEnd(from), func(e *replica.Entry) bool {
		it := v.get(s.sessionKey(strings.TrimPrefix(e.Key, from)))
		if !it.ok {
			// An index entry whose session is gone: a lease that ended
			// between the two deletes' watch events, or one read afresh.
			return true
		}
		if it.err != nil {
			err = fmt.Errorf("%s: %w", e.Key, it.err)
			return false
		}
		held = append(held, it.decoded.(storage.Session))
		return true
	})
	return held, err
}

// planSessionDelete adds to p the deletion of a session and its index
// entry, if the session is still the one v saw.
func (s *Store) planSessionDelete(v *view, p *plan, sess storage.Session) {
	key := s.sessionKey(sess.ID)
	p.keys = append(p.keys, key)
	p.cmps = append(p.cmps, clientv3.Compare(clientv3.ModRevision(key), "=", v.get(key).modRevision()))
	p.ops = append(p.ops, clientv3.OpDelete(key), clientv3.OpDelete(s.userSessionKey(sess.UserID, sess.ID)))
}

// GetSession returns the session with that ID, from the replica or, when
// it has none yet, from etcd (personRecord).
func (s *Store) GetSession(ctx context.Context, id string) (storage.Session, error) {
	return personRecord[storage.Session](s, ctx, s.sessionKey(id), func() string { return fmt.Sprintf("get session %q", id) })
}

// TouchSession moves LastSeenAt forward, by compare-and-swap on the
// session's ModRevision, keeping its lease.
func (s *Store) TouchSession(ctx context.Context, id string, seen time.Time) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("storage: touch session: %w", err)
	}
	key := s.sessionKey(id)
	err := s.writeCAS(ctx, func(v *view) (plan, error) {
		p := plan{keys: []string{key}}
		cur, err := v.existing(key)
		if err != nil {
			return p, err
		}
		sess := cur.decoded.(storage.Session)
		if !seen.After(sess.LastSeenAt) {
			return p, nil
		}
		sess.LastSeenAt = seen
		value, err := storage.MarshalSession(sess)
		if err != nil {
			return p, fmt.Errorf("encode: %w", err)
		}
		p.cmps = []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", cur.kv.ModRevision)}
		p.ops = []clientv3.Op{clientv3.OpPut(key, string(value), clientv3.WithIgnoreLease())}
		return p, nil
	})
	if err != nil {
		return fmt.Errorf("storage: touch session %q: %w", id, err)
	}
	return nil
}

// DeleteSession deletes a session and its index entry in one transaction.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("storage: delete session: %w", err)
	}
	key := s.sessionKey(id)
	err := s.writeCAS(ctx, func(v *view) (plan, error) {
		p := plan{keys: []string{key}}
		cur, err := v.existing(key)
		if err != nil {
			return p, err
		}
		p.keys = nil
		s.planSessionDelete(v, &p, cur.decoded.(storage.Session))
		return p, nil
	})
	if err != nil {
		return fmt.Errorf("storage: delete session %q: %w", id, err)
	}
	return nil
}

// ListUserSessions returns the user's sessions from the replica, oldest
// first.
func (s *Store) ListUserSessions(ctx context.Context, userID string) ([]storage.Session, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("storage: list sessions: %w", err)
	}
	held, err := s.heldSessions(&view{s: s}, userID)
	if err != nil {
		return nil, fmt.Errorf("storage: list sessions of user %q: %w", userID, err)
	}
	storage.SortSessions(held)
	return held, nil
}

// DeleteUserSessions deletes the user's sessions, sessionChunk at a time,
// and then whatever is left of the user's index.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) (int, error) {
	if err := s.usable(ctx); err != nil {
		return 0, fmt.Errorf("storage: delete sessions: %w", err)
	}
	n := 0
	err := s.write(ctx, func(ctx context.Context) error {
		var err error
		n, err = s.deleteUserSessions(ctx, userID)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("storage: delete sessions of user %q: %w", userID, err)
	}
	return n, nil
}

func (s *Store) deleteUserSessions(ctx context.Context, userID string) (int, error) {
	prefix := s.userSessionsPrefix(userID)
	n := 0
	for {
		var ended int
		err := s.cas(ctx, func(v *view) (plan, error) {
			var p plan
			held, err := s.heldSessions(v, userID)
			if err != nil {
				return p, err
			}
			ended = min(len(held), sessionChunk)
			for _, sess := range held[:ended] {
				s.planSessionDelete(v, &p, sess)
			}
			if ended == len(held) {
				// Index entries left by sessions that are gone.
				p.ops = append(p.ops, clientv3.OpDelete(prefix, clientv3.WithPrefix()))
			}
			return p, nil
		})
		if err != nil && !errors.As(err, new(*notAppliedError)) {
			return n, err
		}
		n += ended
		if ended < sessionChunk {
			return n, nil
		}
	}
}

// PruneSessions deletes the sessions that ended at now (idle ones above
// all: a lease only ends them at ExpiresAt), sessionChunk at a time.
func (s *Store) PruneSessions(ctx context.Context, now time.Time) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("storage: prune sessions: %w", err)
	}
	var ended []storage.Session
	from := s.sessionKey("")
	s.replica.Range(from, replica.PrefixEnd(from), func(e *replica.Entry) bool {
		if sess, ok := e.Decoded.(storage.Session); ok && e.Err == nil && !sess.Live(now) {
			ended = append(ended, sess)
		}
		return true
	})
	err := s.write(ctx, func(ctx context.Context) error {
		for len(ended) > 0 {
			chunk := ended[:min(sessionChunk, len(ended))]
			ended = ended[len(chunk):]
			err := s.cas(ctx, func(v *view) (plan, error) {
				var p plan
				for _, sess := range chunk {
					// Read afresh after a lost race: a touch may have
					// brought it back to life, or a delete ended it.
					cur := v.get(s.sessionKey(sess.ID))
					if !cur.ok || cur.err != nil || cur.decoded.(storage.Session).Live(now) {
						continue
					}
					s.planSessionDelete(v, &p, cur.decoded.(storage.Session))
				}
				return p, nil
			})
			if err != nil && !errors.As(err, new(*notAppliedError)) {
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
