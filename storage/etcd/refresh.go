package etcd

import (
	"context"
	"fmt"
	"time"

	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/storage/replica"
)

// Refresh token families are kept under
//
//	P/refresh-families/<id>   a storage.RefreshFamily, under a lease that ends with it
//
// etcd forgets a family when its lease ends (leases shared by end time with
// revocations, sessions and codes), at its absolute end, which no rotation
// moves. A rotation is a compare-and-swap on the family's ModRevision that
// keeps the lease, as a code's redemption is: of two uses of one token, on
// any gateways, each sees the other's write. Nothing is sealed: tokens are
// stored as hashes. A user's and a client's families are found by a walk
// of the replica's, for their deletion and the admin API.

func (s *Store) refreshFamilyKey(id string) string { return s.prefix + "refresh-families/" + id }

// CreateRefreshFamily stores a new family under a lease; see
// storage.Store.
func (s *Store) CreateRefreshFamily(ctx context.Context, f storage.RefreshFamily) error {
	if err := storage.CheckRefreshFamilyIdentity(f); err != nil {
		return fmt.Errorf("storage: create refresh token family: %w", err)
	}
	return s.createLeased(ctx, "refresh token family", s.refreshFamilyKey(f.ID), f.ID, f.ExpiresAt, func() ([]byte, error) {
		return storage.MarshalRefreshFamily(f)
	})
}

// GetRefreshFamily returns the family, from the replica or, when it has
// none yet, from etcd (personRecord).
func (s *Store) GetRefreshFamily(ctx context.Context, id string) (storage.RefreshFamily, error) {
	return personRecord[storage.RefreshFamily](s, ctx, s.refreshFamilyKey(id), func() string { return fmt.Sprintf("get refresh token family %q", id) })
}

// UpdateRefreshFamily replaces the family by compare-and-swap on its
// ModRevision, keeping its lease. update's verdict is decided on a value
// read from etcd before it commits (see writeCAS), so a replica a moment
// behind cannot take a rotated token for a current one.
func (s *Store) UpdateRefreshFamily(ctx context.Context, id string, update func(storage.RefreshFamily) (storage.RefreshFamily, error)) (storage.RefreshFamily, error) {
	return updateLeased(s, ctx, leasedKind[storage.RefreshFamily]{
		what: "refresh token family", clone: storage.RefreshFamily.Clone,
		check: storage.CheckRefreshFamilyUpdate, encode: storage.MarshalRefreshFamily,
	}, id, s.refreshFamilyKey(id), update)
}

// DeleteRefreshFamily deletes the family, comparing the ModRevision it
// read.
func (s *Store) DeleteRefreshFamily(ctx context.Context, id string) error {
	return s.deleteOne(ctx, fmt.Sprintf("delete refresh token family %q", id), s.refreshFamilyKey(id))
}

// ListUserRefreshFamilies returns the person's families from the replica.
func (s *Store) ListUserRefreshFamilies(ctx context.Context, userID string) ([]storage.RefreshFamily, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("storage: list refresh token families: %w", err)
	}
	var (
		held []storage.RefreshFamily
		err  error
	)
	from := s.refreshFamilyKey("")
	s.replica.Range(from, replica.PrefixEnd(from), func(e *replica.Entry) bool {
		if e.Err != nil {
			err = fmt.Errorf("%s: %w", e.Key, e.Err)
			return false
		}
		if f := e.Decoded.(storage.RefreshFamily); f.UserID == userID {
			held = append(held, f)
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("storage: list refresh token families of user %q: %w", userID, err)
	}
	storage.SortRefreshFamilies(held)
	return held, nil
}

// PruneRefreshFamilies deletes the families past their end sooner than
// their lease step.
func (s *Store) PruneRefreshFamilies(ctx context.Context, now time.Time) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("storage: prune refresh token families: %w", err)
	}
	doomed := s.familyKeysWhere(func(f storage.RefreshFamily) bool { return !now.Before(f.ExpiresAt) })
	if err := s.deleteKeys(ctx, doomed); err != nil {
		return fmt.Errorf("storage: prune refresh token families: %w", err)
	}
	return nil
}

// familyKeysWhere returns the keys of the families, in the replica, for
// which match holds.
func (s *Store) familyKeysWhere(match func(storage.RefreshFamily) bool) []string {
	return s.authKeysWhere(s.refreshFamilyKey(""), func(d any) bool { return match(d.(storage.RefreshFamily)) })
}

// deleteFamiliesOf deletes the families for which match holds, in
// transactions of their own: DeleteUser and DeleteClient run it before
// their own transaction. A family made between the two is useless: a
// refresh checks the user and authenticates the client.
func (s *Store) deleteFamiliesOf(ctx context.Context, match func(storage.RefreshFamily) bool) error {
	return s.deleteKeys(ctx, s.familyKeysWhere(match))
}

// ClientPeople counts each client's people from the replica, without a
// call to etcd; see storage.Store.
func (s *Store) ClientPeople(ctx context.Context, now time.Time) (map[string]int, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("storage: count people per client: %w", err)
	}
	var (
		tally storage.PeopleTally
		err   error
	)
	each := func(from string, add func(decoded any)) {
		s.replica.Range(from, replica.PrefixEnd(from), func(e *replica.Entry) bool {
			if e.Err != nil {
				err = fmt.Errorf("%s: %w", e.Key, e.Err)
				return false
			}
			add(e.Decoded)
			return true
		})
	}
	each(s.prefix+"consents/", func(d any) { tally.Consent(d.(storage.Consent)) })
	if err == nil {
		each(s.refreshFamilyKey(""), func(d any) { tally.Family(d.(storage.RefreshFamily), now) })
	}
	if err != nil {
		return nil, fmt.Errorf("storage: count people per client: %w", err)
	}
	return tally.Counts(), nil
}
