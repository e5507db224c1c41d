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
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The authorization code flow's records are kept under
//
//	P/auth-requests/<id>            a storage.AuthRequest, under a lease that ends with it
//	P/auth-codes/<hash>             a storage.AuthCode, under a lease that ends with it
//	P/consents/<user>/<client>      a storage.Consent; <user> and <client> path-escaped
//
// Requests and codes are forgotten by etcd when their lease ends (leases
// shared by end time with revocations and sessions); the prunes delete
// what has expired sooner than its lease step. Writes to an existing one
// are a compare-and-swap on its ModRevision that keeps the lease
// (WithIgnoreLease): a redemption is one, so of two redemptions exactly one
// commits. Consents have no lease: a withdrawn one keeps its cutoff.
// Nothing here is sealed: a code is stored as its hash, and the rest holds
// no secret.

func (s *Store) authRequestKey(id string) string { return s.prefix + "auth-requests/" + id }
func (s *Store) authCodeKey(id string) string    { return s.prefix + "auth-codes/" + id }
func (s *Store) userConsentsPrefix(userID string) string {
	return s.prefix + "consents/" + url.PathEscape(userID) + "/"
}
func (s *Store) consentKey(userID, clientID string) string {
	return s.userConsentsPrefix(userID) + url.PathEscape(clientID)
}

// consentPair reads the pair back from what follows "consents/" in a key.
func consentPair(rest string) (userID, clientID string, ok bool) {
	user, client, found := strings.Cut(rest, "/")
	if !found {
		return "", "", false
	}
	userID, err := url.PathUnescape(user)
	if err != nil {
		return "", "", false
	}
	clientID, err = url.PathUnescape(client)
	if err != nil {
		return "", "", false
	}
	return userID, clientID, true
}

// CreateAuthRequest stores a pending request under a lease; see
// storage.Store.
func (s *Store) CreateAuthRequest(ctx context.Context, r storage.AuthRequest) error {
	if err := storage.CheckAuthRequestIdentity(r); err != nil {
		return fmt.Errorf("storage: create authorization request: %w", err)
	}
	return s.createLeased(ctx, "authorization request", s.authRequestKey(r.ID), r.ID, r.ExpiresAt, func() ([]byte, error) {
		return storage.MarshalAuthRequest(r)
	})
}

// CreateAuthCode stores an issued code under a lease; see storage.Store.
func (s *Store) CreateAuthCode(ctx context.Context, c storage.AuthCode) error {
	if err := storage.CheckAuthCodeIdentity(c); err != nil {
		return fmt.Errorf("storage: create authorization code: %w", err)
	}
	return s.createLeased(ctx, "authorization code", s.authCodeKey(c.ID), c.ID, c.ExpiresAt, func() ([]byte, error) {
		return storage.MarshalAuthCode(c)
	})
}

// createLeased puts a new record under key, with a lease that ends no
// sooner than expires, comparing CreateRevision == 0.
func (s *Store) createLeased(ctx context.Context, noun, key, id string, expires time.Time, encode func() ([]byte, error)) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("storage: create %s: %w", noun, err)
	}
	value, err := encode()
	if err != nil {
		return fmt.Errorf("storage: create %s: %w", noun, err)
	}
	err = s.write(ctx, func(ctx context.Context) error {
		return s.underLease(ctx, expires, func(lease clientv3.LeaseID) error {
			return s.cas(ctx, func(v *view) (plan, error) {
				p := plan{keys: []string{key}}
				if v.get(key).ok {
					return p, fmt.Errorf("id: %w", storage.ErrAlreadyExists)
				}
				p.cmps = []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(key), "=", 0)}
				p.ops = []clientv3.Op{clientv3.OpPut(key, string(value), clientv3.WithLease(lease))}
				return p, nil
			})
		})
	})
	if err != nil {
		return fmt.Errorf("storage: create %s %q: %w", noun, id, err)
	}
	return nil
}

// GetAuthRequest returns the request, from the replica or, when it has
// none yet, from etcd (personRecord).
func (s *Store) GetAuthRequest(ctx context.Context, id string) (storage.AuthRequest, error) {
	return personRecord[storage.AuthRequest](s, ctx, s.authRequestKey(id), func() string { return fmt.Sprintf("get authorization request %q", id) })
}

// UpdateAuthRequest replaces the request by compare-and-swap on its
// ModRevision, keeping its lease.
func (s *Store) UpdateAuthRequest(ctx context.Context, id string, update func(storage.AuthRequest) (storage.AuthRequest, error)) (storage.AuthRequest, error) {
	return updateLeased(s, ctx, leasedKind[storage.AuthRequest]{
		what: "authorization request", clone: storage.CloneAuthRequest,
		check: storage.CheckAuthRequestUpdate, encode: storage.MarshalAuthRequest,
	}, id, s.authRequestKey(id), update)
}

// DeleteAuthRequest deletes the request, comparing the ModRevision it read.
func (s *Store) DeleteAuthRequest(ctx context.Context, id string) error {
	return s.deleteOne(ctx, fmt.Sprintf("delete authorization request %q", id), s.authRequestKey(id))
}

// RedeemAuthCode marks the code used by compare-and-swap on its
// ModRevision: of concurrent redemptions, on any gateways, one commits and
// the others read the used code afresh and get ErrCodeReused.
func (s *Store) RedeemAuthCode(ctx context.Context, id string, now time.Time, jtis ...string) (storage.AuthCode, error) {
	if err := s.usable(ctx); err != nil {
		return storage.AuthCode{}, fmt.Errorf("storage: redeem authorization code: %w", err)
	}
	var result storage.AuthCode
	err := s.rewriteCode(ctx, id, func(c storage.AuthCode) (storage.AuthCode, error) {
		var err error
		result, err = storage.Redeemed(c, now, jtis)
		return result, err
	})
	if err != nil {
		return result, fmt.Errorf("storage: redeem authorization code %q: %w", id, err)
	}
	return result, nil
}

// rewriteCode replaces the code with what change returns, by
// compare-and-swap on its ModRevision, keeping its lease. An error from
// change is decided on a value read from etcd, never from the replica
// alone (see commit), so a replica a moment behind cannot call a code
// unused.
func (s *Store) rewriteCode(ctx context.Context, id string, change func(storage.AuthCode) (storage.AuthCode, error)) error {
	key := s.authCodeKey(id)
	return s.writeCAS(ctx, func(v *view) (plan, error) {
		p := plan{keys: []string{key}}
		cur, err := v.existing(key)
		if err != nil {
			return p, err
		}
		next, err := change(cur.decoded.(storage.AuthCode))
		if err != nil {
			return p, err
		}
		value, err := storage.MarshalAuthCode(next)
		if err != nil {
			return p, fmt.Errorf("encode: %w", err)
		}
		p.cmps = []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", cur.kv.ModRevision)}
		p.ops = []clientv3.Op{clientv3.OpPut(key, string(value), clientv3.WithIgnoreLease())}
		return p, nil
	})
}

// PruneAuthRequests deletes the requests expired at now.
func (s *Store) PruneAuthRequests(ctx context.Context, now time.Time) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("storage: prune authorization requests: %w", err)
	}
	doomed := s.authKeysWhere(s.authRequestKey(""), func(d any) bool { return !d.(storage.AuthRequest).Live(now) })
	if err := s.deleteKeys(ctx, doomed); err != nil {
		return fmt.Errorf("storage: prune authorization requests: %w", err)
	}
	return nil
}

// PruneAuthCodes deletes the codes expired at now.
func (s *Store) PruneAuthCodes(ctx context.Context, now time.Time) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("storage: prune authorization codes: %w", err)
	}
	doomed := s.authKeysWhere(s.authCodeKey(""), func(d any) bool { return !now.Before(d.(storage.AuthCode).ExpiresAt) })
	if err := s.deleteKeys(ctx, doomed); err != nil {
		return fmt.Errorf("storage: prune authorization codes: %w", err)
	}
	return nil
}

// authKeysWhere returns the keys under prefix, in the replica, whose
// decoded value matches.
func (s *Store) authKeysWhere(prefix string, match func(decoded any) bool) []string {
	var keys []string
	s.replica.Range(prefix, replica.PrefixEnd(prefix), func(e *replica.Entry) bool {
		if e.Err == nil && e.Decoded != nil && match(e.Decoded) {
			keys = append(keys, e.Key)
		}
		return true
	})
	return keys
}

// deleteKeys deletes keys, sessionChunk to a transaction (etcd caps a
// transaction's operations). A key deleted meanwhile is no error.
func (s *Store) deleteKeys(ctx context.Context, keys []string) error {
	return s.write(ctx, func(ctx context.Context) error {
		for len(keys) > 0 {
			chunk := keys[:min(sessionChunk, len(keys))]
			keys = keys[len(chunk):]
			ops := make([]clientv3.Op, len(chunk))
			for i, k := range chunk {
				ops[i] = clientv3.OpDelete(k)
			}
			resp, err := s.cli.Load().Txn(ctx).Then(ops...).Commit()
			if err != nil {
				return err
			}
			if err := s.waitApplied(ctx, resp); err != nil {
				return err
			}
		}
		return nil
	})
}

// deleteUserAuthz deletes the user's pending requests and codes. DeleteUser
// runs it before the user's own transaction, which deletes the consents
// (one prefix). A request or code made for the user between the two is
// useless: signing in, consenting and redeeming each need the user.
func (s *Store) deleteUserAuthz(ctx context.Context, userID string) error {
	doomed := s.authKeysWhere(s.authRequestKey(""), func(d any) bool { return d.(storage.AuthRequest).UserID == userID })
	doomed = append(doomed, s.authKeysWhere(s.authCodeKey(""), func(d any) bool { return d.(storage.AuthCode).UserID == userID })...)
	return s.deleteKeys(ctx, doomed)
}

// clientConsentKeys returns the keys of the consents given to the client,
// from the replica: a walk of every consent, for the rare client deletion.
func (s *Store) clientConsentKeys(clientID string) []string {
	return s.authKeysWhere(s.prefix+"consents/", func(d any) bool { return d.(storage.Consent).ClientID == clientID })
}

// GetConsent returns the consent of the pair, from the replica or, when it
// has none yet, from etcd (personRecord).
func (s *Store) GetConsent(ctx context.Context, userID, clientID string) (storage.Consent, error) {
	return personRecord[storage.Consent](s, ctx, s.consentKey(userID, clientID), func() string {
		return fmt.Sprintf("get consent of user %q to client %q", userID, clientID)
	})
}

// PutConsent creates or replaces the consent by compare-and-swap on its
// ModRevision (0 for a new one).
func (s *Store) PutConsent(ctx context.Context, userID, clientID string, update func(storage.Consent) (storage.Consent, error)) (storage.Consent, error) {
	if err := s.usable(ctx); err != nil {
		return storage.Consent{}, fmt.Errorf("storage: put consent: %w", err)
	}
	if err := storage.CheckConsentIdentity(userID, clientID); err != nil {
		return storage.Consent{}, fmt.Errorf("storage: put consent: %w", err)
	}
	if update == nil {
		return storage.Consent{}, errors.New("storage: put consent: nil update function")
	}
	var stored storage.Consent
	err := s.rewriteConsent(ctx, userID, clientID, func(old storage.Consent, found bool) (storage.Consent, error) {
		next, err := update(old.Clone())
		if err != nil {
			return next, &callbackError{err}
		}
		if err := storage.CheckConsentUpdate(old, next); err != nil {
			return next, err
		}
		stored = next
		return next, nil
	})
	if cerr := (*callbackError)(nil); errors.As(err, &cerr) {
		return storage.Consent{}, cerr.err
	}
	if err != nil {
		return storage.Consent{}, fmt.Errorf("storage: put consent of user %q to client %q: %w", userID, clientID, err)
	}
	return stored, nil
}

// WithdrawConsent withdraws a standing consent by compare-and-swap.
func (s *Store) WithdrawConsent(ctx context.Context, userID, clientID string, at time.Time) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("storage: withdraw consent: %w", err)
	}
	err := s.rewriteConsent(ctx, userID, clientID, func(old storage.Consent, found bool) (storage.Consent, error) {
		if !found || !old.Granted() {
			return old, storage.ErrNotFound
		}
		return old.Withdrawn(at), nil
	})
	if err != nil {
		return fmt.Errorf("storage: withdraw consent of user %q to client %q: %w", userID, clientID, err)
	}
	return nil
}

// rewriteConsent puts what change returns for the pair, comparing the
// ModRevision it read. change gets a zero consent of the pair, and found
// false, when none is stored.
func (s *Store) rewriteConsent(ctx context.Context, userID, clientID string, change func(storage.Consent, bool) (storage.Consent, error)) error {
	key := s.consentKey(userID, clientID)
	return s.writeCAS(ctx, func(v *view) (plan, error) {
		p := plan{keys: []string{key}}
		cur := v.get(key)
		if cur.err != nil {
			return p, cur.err
		}
		old := storage.Consent{UserID: userID, ClientID: clientID}
		if cur.ok {
			old = cur.decoded.(storage.Consent)
		}
		next, err := change(old, cur.ok)
		if err != nil {
			return p, err
		}
		value, err := storage.MarshalConsent(next)
		if err != nil {
			return p, fmt.Errorf("encode: %w", err)
		}
		p.cmps = []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", cur.modRevision())}
		p.ops = []clientv3.Op{clientv3.OpPut(key, string(value))}
		return p, nil
	})
}

// ListUserConsents returns the person's consents from the replica, by
// client ID.
func (s *Store) ListUserConsents(ctx context.Context, userID string) ([]storage.Consent, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("storage: list consents: %w", err)
	}
	var (
		held []storage.Consent
		err  error
	)
	from := s.userConsentsPrefix(userID)
	s.replica.Range(from, replica.PrefixEnd(from), func(e *replica.Entry) bool {
		if e.Err != nil {
			err = fmt.Errorf("%s: %w", e.Key, e.Err)
			return false
		}
		held = append(held, e.Decoded.(storage.Consent))
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("storage: list consents of user %q: %w", userID, err)
	}
	storage.SortConsents(held)
	return held, nil
}

// LiveAuthRecords returns the requests and codes live at now, from the
// replica.
func (s *Store) LiveAuthRecords(ctx context.Context, now time.Time) ([]storage.AuthRequest, []storage.AuthCode, error) {
	if err := s.usable(ctx); err != nil {
		return nil, nil, fmt.Errorf("storage: list authorization records: %w", err)
	}
	var (
		requests []storage.AuthRequest
		codes    []storage.AuthCode
		err      error
	)
	walk := func(prefix string, keep func(any)) {
		s.replica.Range(prefix, replica.PrefixEnd(prefix), func(e *replica.Entry) bool {
			if e.Err != nil {
				err = fmt.Errorf("%s: %w", e.Key, e.Err)
				return false
			}
			keep(e.Decoded)
			return true
		})
	}
	walk(s.authRequestKey(""), func(d any) {
		if r := d.(storage.AuthRequest); r.Live(now) {
			requests = append(requests, r)
		}
	})
	walk(s.authCodeKey(""), func(d any) {
		if c := d.(storage.AuthCode); now.Before(c.ExpiresAt) {
			codes = append(codes, c)
		}
	})
	if err != nil {
		return nil, nil, fmt.Errorf("storage: list authorization records: %w", err)
	}
	return requests, codes, nil
}
