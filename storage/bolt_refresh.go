package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Refresh token families in bbolt (schema version 6): refresh_families,
// keyed by family ID. A user's or client's families are found by a walk,
// in the deletion's own transaction, as a user's codes are: deletions and
// the admin API's listing are rare, and pruning keeps the bucket to the
// families still live. A refresh reads and rewrites one record by its ID.

// CreateRefreshFamily stores a new family; see Store.
func (b *Bolt) CreateRefreshFamily(ctx context.Context, f RefreshFamily) error {
	return b.createAuthRecord(ctx, "refresh token family", bucketRefreshFamilies, f.ID, func() ([]byte, error) {
		if err := CheckRefreshFamilyIdentity(f); err != nil {
			return nil, err
		}
		return MarshalRefreshFamily(f)
	})
}

// GetRefreshFamily returns the family; see Store.
func (b *Bolt) GetRefreshFamily(ctx context.Context, id string) (RefreshFamily, error) {
	if err := ctx.Err(); err != nil {
		return RefreshFamily{}, fmt.Errorf("storage: get refresh token family: %w", err)
	}
	var f RefreshFamily
	err := b.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRefreshFamilies).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		var err error
		f, err = UnmarshalRefreshFamily(v)
		return err
	})
	if err != nil {
		return RefreshFamily{}, fmt.Errorf("storage: get refresh token family %q: %w", id, err)
	}
	return f, nil
}

// UpdateRefreshFamily replaces the family atomically; see Store.
func (b *Bolt) UpdateRefreshFamily(ctx context.Context, id string, update func(RefreshFamily) (RefreshFamily, error)) (RefreshFamily, error) {
	if err := ctx.Err(); err != nil {
		return RefreshFamily{}, fmt.Errorf("storage: update refresh token family: %w", err)
	}
	if update == nil {
		return RefreshFamily{}, errors.New("storage: update refresh token family: nil update function")
	}
	var stored RefreshFamily
	err := b.batch(func(tx *bolt.Tx) error {
		families := tx.Bucket(bucketRefreshFamilies)
		v := families.Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		old, err := UnmarshalRefreshFamily(v)
		if err != nil {
			return err
		}
		next, err := update(old.Clone())
		if err != nil {
			return &callbackError{err}
		}
		if err := CheckRefreshFamilyUpdate(old, next); err != nil {
			return err
		}
		value, err := MarshalRefreshFamily(next)
		if err != nil {
			return err
		}
		stored = next
		return families.Put([]byte(id), value)
	})
	if err != nil {
		return RefreshFamily{}, updateError("refresh token family", id, err)
	}
	return stored, nil
}

// DeleteRefreshFamily removes the family; see Store.
func (b *Bolt) DeleteRefreshFamily(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: delete refresh token family: %w", err)
	}
	err := b.batch(func(tx *bolt.Tx) error {
		families := tx.Bucket(bucketRefreshFamilies)
		if families.Get([]byte(id)) == nil {
			return ErrNotFound
		}
		return families.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("storage: delete refresh token family %q: %w", id, err)
	}
	return nil
}

// ListUserRefreshFamilies returns the person's families; see Store.
func (b *Bolt) ListUserRefreshFamilies(ctx context.Context, userID string) ([]RefreshFamily, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: list refresh token families: %w", err)
	}
	var held []RefreshFamily
	err := b.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRefreshFamilies).ForEach(func(k, v []byte) error {
			f, err := UnmarshalRefreshFamily(v)
			if err != nil {
				return fmt.Errorf("refresh token family %s: %w", quoteClipped(k), err)
			}
			if f.UserID == userID {
				held = append(held, f)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("storage: list refresh token families of user %q: %w", userID, err)
	}
	SortRefreshFamilies(held)
	return held, nil
}

// PruneRefreshFamilies deletes the families past their end; see Store.
func (b *Bolt) PruneRefreshFamilies(ctx context.Context, now time.Time) error {
	return b.pruneAuthRecords(ctx, "refresh token families", bucketRefreshFamilies, func(v []byte) (bool, error) {
		f, err := UnmarshalRefreshFamily(v)
		return !now.Before(f.ExpiresAt), err
	})
}

// boltDeleteFamiliesOf deletes the families for which match holds;
// DeleteUser and DeleteClient call it in their own transaction.
func boltDeleteFamiliesOf(tx *bolt.Tx, match func(RefreshFamily) bool) error {
	return deleteWhere(tx.Bucket(bucketRefreshFamilies), func(v []byte) (bool, error) {
		f, err := UnmarshalRefreshFamily(v)
		return err == nil && match(f), err
	})
}

// checkRefreshFamilies reports every family that does not decode or is
// filed under another key than its own.
func checkRefreshFamilies(tx *bolt.Tx, note func(error)) error {
	families := tx.Bucket(bucketRefreshFamilies)
	if families == nil {
		note(errors.New("the refresh_families bucket is missing"))
		return nil
	}
	return families.ForEach(func(k, v []byte) error {
		f, err := UnmarshalRefreshFamily(v)
		if err == nil && f.ID != string(k) {
			err = fmt.Errorf("stored with id %s", quoteClipped([]byte(f.ID)))
		}
		if err != nil {
			note(fmt.Errorf("refresh token family %s: %w", quoteClipped(k), err))
		}
		return nil
	})
}

// ClientPeople counts each client's people in one read transaction over
// the consents and the refresh token families; see Store.
func (b *Bolt) ClientPeople(ctx context.Context, now time.Time) (map[string]int, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: count people per client: %w", err)
	}
	var tally PeopleTally
	err := b.view(func(tx *bolt.Tx) error {
		if err := boltTallyConsents(tx, &tally); err != nil {
			return err
		}
		return tx.Bucket(bucketRefreshFamilies).ForEach(func(k, v []byte) error {
			f, err := UnmarshalRefreshFamily(v)
			if err != nil {
				return fmt.Errorf("refresh token family %s: %w", quoteClipped(k), err)
			}
			tally.Family(f, now)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("storage: count people per client: %w", err)
	}
	return tally.Counts(), nil
}

// boltTallyConsents adds every stored consent to tally.
func boltTallyConsents(tx *bolt.Tx, tally *PeopleTally) error {
	consents := tx.Bucket(bucketConsents)
	return consents.ForEachBucket(func(userID []byte) error {
		return consents.Bucket(userID).ForEach(func(k, v []byte) error {
			c, err := UnmarshalConsent(v)
			if err != nil {
				return fmt.Errorf("consent of user %s to client %s: %w", quoteClipped(userID), quoteClipped(k), err)
			}
			tally.Consent(c)
			return nil
		})
	})
}
