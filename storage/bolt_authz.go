package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The authorization code flow's records in bbolt (schema version 5):
// auth_requests and auth_codes keyed by ID, consents with one nested
// bucket per user ID keyed by client ID. A user's consents are one bucket
// to drop; requests and codes are short-lived and pruned, so a user's are
// found by walking them rather than kept in an index.

// CreateAuthRequest stores a pending authorization request; see Store.
func (b *Bolt) CreateAuthRequest(ctx context.Context, r AuthRequest) error {
	return b.createAuthRecord(ctx, "authorization request", bucketAuthRequests, r.ID, func() ([]byte, error) {
		if err := CheckAuthRequestIdentity(r); err != nil {
			return nil, err
		}
		return MarshalAuthRequest(r)
	})
}

// CreateAuthCode stores an issued code; see Store.
func (b *Bolt) CreateAuthCode(ctx context.Context, c AuthCode) error {
	return b.createAuthRecord(ctx, "authorization code", bucketAuthCodes, c.ID, func() ([]byte, error) {
		if err := CheckAuthCodeIdentity(c); err != nil {
			return nil, err
		}
		return MarshalAuthCode(c)
	})
}

// createAuthRecord puts a new record under id in bucket, refusing a taken
// ID. The code's ID is a hash, and a request's is no secret, so both may
// be named in errors.
func (b *Bolt) createAuthRecord(ctx context.Context, noun string, bucket []byte, id string, encode func() ([]byte, error)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: create %s: %w", noun, err)
	}
	value, err := encode()
	if err != nil {
		return fmt.Errorf("storage: create %s: %w", noun, err)
	}
	err = b.batch(func(tx *bolt.Tx) error {
		records := tx.Bucket(bucket)
		if records.Get([]byte(id)) != nil {
			return fmt.Errorf("id: %w", ErrAlreadyExists)
		}
		return records.Put([]byte(id), value)
	})
	if err != nil {
		return fmt.Errorf("storage: create %s %q: %w", noun, id, err)
	}
	return nil
}

// GetAuthRequest returns the request; see Store.
func (b *Bolt) GetAuthRequest(ctx context.Context, id string) (AuthRequest, error) {
	if err := ctx.Err(); err != nil {
		return AuthRequest{}, fmt.Errorf("storage: get authorization request: %w", err)
	}
	var r AuthRequest
	err := b.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketAuthRequests).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		var err error
		r, err = UnmarshalAuthRequest(v)
		return err
	})
	if err != nil {
		return AuthRequest{}, fmt.Errorf("storage: get authorization request %q: %w", id, err)
	}
	return r, nil
}

// UpdateAuthRequest replaces the request atomically; see Store.
func (b *Bolt) UpdateAuthRequest(ctx context.Context, id string, update func(AuthRequest) (AuthRequest, error)) (AuthRequest, error) {
	if err := ctx.Err(); err != nil {
		return AuthRequest{}, fmt.Errorf("storage: update authorization request: %w", err)
	}
	var stored AuthRequest
	err := b.batch(func(tx *bolt.Tx) error {
		requests := tx.Bucket(bucketAuthRequests)
		v := requests.Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		old, err := UnmarshalAuthRequest(v)
		if err != nil {
			return err
		}
		next, err := update(CloneAuthRequest(old))
		if err != nil {
			return &callbackError{err}
		}
		if err := CheckAuthRequestUpdate(old, next); err != nil {
			return err
		}
		value, err := MarshalAuthRequest(next)
		if err != nil {
			return err
		}
		stored = next
		return requests.Put([]byte(id), value)
	})
	if err != nil {
		return AuthRequest{}, updateError("authorization request", id, err)
	}
	return stored, nil
}

// DeleteAuthRequest removes the request; see Store.
func (b *Bolt) DeleteAuthRequest(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: delete authorization request: %w", err)
	}
	err := b.batch(func(tx *bolt.Tx) error {
		requests := tx.Bucket(bucketAuthRequests)
		if requests.Get([]byte(id)) == nil {
			return ErrNotFound
		}
		return requests.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("storage: delete authorization request %q: %w", id, err)
	}
	return nil
}

// PruneAuthRequests deletes the expired requests; see Store.
func (b *Bolt) PruneAuthRequests(ctx context.Context, now time.Time) error {
	return b.pruneAuthRecords(ctx, "authorization requests", bucketAuthRequests, func(v []byte) (bool, error) {
		r, err := UnmarshalAuthRequest(v)
		return !r.Live(now), err
	})
}

// PruneAuthCodes deletes the expired codes; see Store.
func (b *Bolt) PruneAuthCodes(ctx context.Context, now time.Time) error {
	return b.pruneAuthRecords(ctx, "authorization codes", bucketAuthCodes, func(v []byte) (bool, error) {
		c, err := UnmarshalAuthCode(v)
		return !now.Before(c.ExpiresAt), err
	})
}

func (b *Bolt) pruneAuthRecords(ctx context.Context, noun string, bucket []byte, ended func([]byte) (bool, error)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: prune %s: %w", noun, err)
	}
	err := b.batch(func(tx *bolt.Tx) error {
		return deleteWhere(tx.Bucket(bucket), ended)
	})
	if err != nil {
		return fmt.Errorf("storage: prune %s: %w", noun, err)
	}
	return nil
}

// deleteWhere deletes every record of records for which match holds.
func deleteWhere(records *bolt.Bucket, match func([]byte) (bool, error)) error {
	var doomed [][]byte
	err := records.ForEach(func(k, v []byte) error {
		hit, err := match(v)
		if err != nil {
			return fmt.Errorf("record %s: %w", quoteClipped(k), err)
		}
		if hit {
			// Keys are only valid during the transaction; Delete needs
			// them after the walk, which must not delete as it goes
			// (bbolt skips keys then).
			doomed = append(doomed, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range doomed {
		if err := records.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// RedeemAuthCode marks the code used, atomically; see Store.
func (b *Bolt) RedeemAuthCode(ctx context.Context, id string, now time.Time, jtis ...string) (AuthCode, error) {
	if err := ctx.Err(); err != nil {
		return AuthCode{}, fmt.Errorf("storage: redeem authorization code: %w", err)
	}
	var result AuthCode
	err := b.batch(func(tx *bolt.Tx) error {
		return b.rewriteCode(tx, id, func(c AuthCode) (AuthCode, error) {
			var err error
			result, err = Redeemed(c, now, jtis)
			return result, err
		})
	})
	if err != nil {
		return result, fmt.Errorf("storage: redeem authorization code %q: %w", id, err)
	}
	return result, nil
}

// rewriteCode replaces the code with what change returns; an error from
// change writes nothing.
func (b *Bolt) rewriteCode(tx *bolt.Tx, id string, change func(AuthCode) (AuthCode, error)) error {
	codes := tx.Bucket(bucketAuthCodes)
	v := codes.Get([]byte(id))
	if v == nil {
		return ErrNotFound
	}
	c, err := UnmarshalAuthCode(v)
	if err != nil {
		return err
	}
	next, err := change(c)
	if err != nil {
		return err
	}
	value, err := MarshalAuthCode(next)
	if err != nil {
		return err
	}
	return codes.Put([]byte(id), value)
}

// GetConsent returns the consent of the pair; see Store.
func (b *Bolt) GetConsent(ctx context.Context, userID, clientID string) (Consent, error) {
	if err := ctx.Err(); err != nil {
		return Consent{}, fmt.Errorf("storage: get consent: %w", err)
	}
	var c Consent
	err := b.view(func(tx *bolt.Tx) error {
		var err error
		c, err = boltConsent(tx, userID, clientID)
		return err
	})
	if err != nil {
		return Consent{}, fmt.Errorf("storage: get consent of user %q to client %q: %w", userID, clientID, err)
	}
	return c, nil
}

// PutConsent creates or replaces the consent atomically; see Store.
func (b *Bolt) PutConsent(ctx context.Context, userID, clientID string, update func(Consent) (Consent, error)) (Consent, error) {
	if err := ctx.Err(); err != nil {
		return Consent{}, fmt.Errorf("storage: put consent: %w", err)
	}
	if err := CheckConsentIdentity(userID, clientID); err != nil {
		return Consent{}, fmt.Errorf("storage: put consent: %w", err)
	}
	var stored Consent
	err := b.batch(func(tx *bolt.Tx) error {
		old, err := boltConsent(tx, userID, clientID)
		if errors.Is(err, ErrNotFound) {
			old, err = Consent{UserID: userID, ClientID: clientID}, nil
		}
		if err != nil {
			return err
		}
		next, err := update(old.Clone())
		if err != nil {
			return &callbackError{err}
		}
		if err := CheckConsentUpdate(old, next); err != nil {
			return err
		}
		stored = next
		return boltPutConsent(tx, next)
	})
	if err != nil {
		return Consent{}, updateError(fmt.Sprintf("consent of user %q to client", userID), clientID, err)
	}
	return stored, nil
}

// WithdrawConsent withdraws a standing consent; see Store.
func (b *Bolt) WithdrawConsent(ctx context.Context, userID, clientID string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: withdraw consent: %w", err)
	}
	err := b.batch(func(tx *bolt.Tx) error {
		c, err := boltConsent(tx, userID, clientID)
		if err != nil {
			return err
		}
		if !c.Granted() {
			return ErrNotFound
		}
		return boltPutConsent(tx, c.Withdrawn(at))
	})
	if err != nil {
		return fmt.Errorf("storage: withdraw consent of user %q to client %q: %w", userID, clientID, err)
	}
	return nil
}

// ListUserConsents returns the person's consents; see Store.
func (b *Bolt) ListUserConsents(ctx context.Context, userID string) ([]Consent, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: list consents: %w", err)
	}
	var held []Consent
	err := b.view(func(tx *bolt.Tx) error {
		byClient := tx.Bucket(bucketConsents).Bucket([]byte(userID))
		if byClient == nil {
			return nil
		}
		return byClient.ForEach(func(k, v []byte) error {
			c, err := UnmarshalConsent(v)
			if err != nil {
				return fmt.Errorf("consent to client %s: %w", quoteClipped(k), err)
			}
			held = append(held, c)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("storage: list consents of user %q: %w", userID, err)
	}
	SortConsents(held)
	return held, nil
}

func boltConsent(tx *bolt.Tx, userID, clientID string) (Consent, error) {
	byClient := tx.Bucket(bucketConsents).Bucket([]byte(userID))
	if byClient == nil {
		return Consent{}, ErrNotFound
	}
	v := byClient.Get([]byte(clientID))
	if v == nil {
		return Consent{}, ErrNotFound
	}
	return UnmarshalConsent(v)
}

func boltPutConsent(tx *bolt.Tx, c Consent) error {
	value, err := MarshalConsent(c)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	byClient, err := tx.Bucket(bucketConsents).CreateBucketIfNotExists([]byte(c.UserID))
	if err != nil {
		return err
	}
	return byClient.Put([]byte(c.ClientID), value)
}

// boltDeleteUserAuthz deletes the user's consents, authorization requests
// and codes; DeleteUser calls it in its own transaction.
func boltDeleteUserAuthz(tx *bolt.Tx, userID string) error {
	consents := tx.Bucket(bucketConsents)
	if consents.Bucket([]byte(userID)) != nil {
		if err := consents.DeleteBucket([]byte(userID)); err != nil {
			return err
		}
	}
	err := deleteWhere(tx.Bucket(bucketAuthRequests), func(v []byte) (bool, error) {
		r, err := UnmarshalAuthRequest(v)
		return r.UserID == userID, err
	})
	if err != nil {
		return fmt.Errorf("authorization requests: %w", err)
	}
	err = deleteWhere(tx.Bucket(bucketAuthCodes), func(v []byte) (bool, error) {
		c, err := UnmarshalAuthCode(v)
		return c.UserID == userID, err
	})
	if err != nil {
		return fmt.Errorf("authorization codes: %w", err)
	}
	return nil
}

// boltDeleteClientConsents deletes the consents given to the client, one
// look-up per user who gave any: DeleteClient calls it in its own
// transaction. Client deletions are rare admin writes.
func boltDeleteClientConsents(tx *bolt.Tx, clientID string) error {
	consents := tx.Bucket(bucketConsents)
	var emptied [][]byte
	err := consents.ForEachBucket(func(userID []byte) error {
		byClient := consents.Bucket(userID)
		if byClient.Get([]byte(clientID)) == nil {
			return nil
		}
		if err := byClient.Delete([]byte(clientID)); err != nil {
			return err
		}
		if k, _ := byClient.Cursor().First(); k == nil {
			emptied = append(emptied, append([]byte(nil), userID...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, userID := range emptied {
		if err := consents.DeleteBucket(userID); err != nil {
			return err
		}
	}
	return nil
}

// updateError is the error of an update: the update function's own as it
// is, anything else wrapped with what was updated.
func updateError(noun, id string, err error) error {
	if cerr := (*callbackError)(nil); errors.As(err, &cerr) {
		return cerr.err
	}
	return fmt.Errorf("storage: update %s %q: %w", noun, id, err)
}

// LiveAuthRecords returns the requests and codes live at now; see Store.
func (b *Bolt) LiveAuthRecords(ctx context.Context, now time.Time) ([]AuthRequest, []AuthCode, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("storage: list authorization records: %w", err)
	}
	var (
		requests []AuthRequest
		codes    []AuthCode
	)
	err := b.view(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketAuthRequests).ForEach(func(k, v []byte) error {
			r, err := UnmarshalAuthRequest(v)
			if err != nil {
				return fmt.Errorf("authorization request %s: %w", quoteClipped(k), err)
			}
			if r.Live(now) {
				requests = append(requests, r)
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketAuthCodes).ForEach(func(k, v []byte) error {
			c, err := UnmarshalAuthCode(v)
			if err != nil {
				return fmt.Errorf("authorization code %s: %w", quoteClipped(k), err)
			}
			if now.Before(c.ExpiresAt) {
				codes = append(codes, c)
			}
			return nil
		})
	})
	if err != nil {
		return nil, nil, fmt.Errorf("storage: list authorization records: %w", err)
	}
	return requests, codes, nil
}

// checkAuthzRecords reports every authorization record that does not
// decode or is filed under another key than its own.
func checkAuthzRecords(tx *bolt.Tx, note func(error)) error {
	requests, codes, consents := tx.Bucket(bucketAuthRequests), tx.Bucket(bucketAuthCodes), tx.Bucket(bucketConsents)
	if requests == nil || codes == nil || consents == nil {
		note(errors.New("an authorization bucket is missing"))
		return nil
	}
	err := requests.ForEach(func(k, v []byte) error {
		r, err := UnmarshalAuthRequest(v)
		if err == nil && r.ID != string(k) {
			err = fmt.Errorf("stored with id %s", quoteClipped([]byte(r.ID)))
		}
		if err != nil {
			note(fmt.Errorf("authorization request %s: %w", quoteClipped(k), err))
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = codes.ForEach(func(k, v []byte) error {
		c, err := UnmarshalAuthCode(v)
		if err == nil && c.ID != string(k) {
			err = fmt.Errorf("stored with id %s", quoteClipped([]byte(c.ID)))
		}
		if err != nil {
			note(fmt.Errorf("authorization code %s: %w", quoteClipped(k), err))
		}
		return nil
	})
	if err != nil {
		return err
	}
	return consents.ForEachBucket(func(userID []byte) error {
		return consents.Bucket(userID).ForEach(func(clientID, v []byte) error {
			c, err := UnmarshalConsent(v)
			if err == nil && (c.UserID != string(userID) || c.ClientID != string(clientID)) {
				err = fmt.Errorf("stored for user %s and client %s", quoteClipped([]byte(c.UserID)), quoteClipped([]byte(c.ClientID)))
			}
			if err != nil {
				note(fmt.Errorf("consent of user %s to client %s: %w", quoteClipped(userID), quoteClipped(clientID), err))
			}
			return nil
		})
	})
}
