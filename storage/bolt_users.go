package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// CreateUser stores a new user; see Store. As CreateClient, it encodes
// before the transaction and shares a Batch with concurrent writers.
func (b *Bolt) CreateUser(ctx context.Context, u User, maxUsers int) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: create user: %w", err)
	}
	if err := CheckUserIdentity(u); err != nil {
		return fmt.Errorf("storage: create user: %w", err)
	}
	value, err := MarshalUser(u)
	if err != nil {
		return fmt.Errorf("storage: create user %q: encode: %w", u.ID, err)
	}
	err = b.batch(func(tx *bolt.Tx) error {
		return userKind.create(tx, u.ID, u.Username, value, maxUsers)
	})
	if err != nil {
		return fmt.Errorf("storage: create user %q: %w", u.ID, err)
	}
	return nil
}

// GetUser returns the user with that ID; see Store.
func (b *Bolt) GetUser(ctx context.Context, id string) (User, error) {
	if err := ctx.Err(); err != nil {
		return User{}, fmt.Errorf("storage: get user: %w", err)
	}
	var u User
	err := b.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketUsers).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		var err error
		u, err = UnmarshalUser(v)
		return err
	})
	if err != nil {
		return User{}, fmt.Errorf("storage: get user %q: %w", id, err)
	}
	return u, nil
}

// GetUserByUsername returns the user with that username, ignoring case.
func (b *Bolt) GetUserByUsername(ctx context.Context, username string) (User, error) {
	if err := ctx.Err(); err != nil {
		return User{}, fmt.Errorf("storage: get user by username: %w", err)
	}
	var u User
	err := b.view(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketUsernames).Get([]byte(nameKey(username)))
		if id == nil {
			return ErrNotFound
		}
		v := tx.Bucket(bucketUsers).Get(id)
		if v == nil {
			return fmt.Errorf("username index points at missing user %s", quoteClipped(id))
		}
		var err error
		u, err = UnmarshalUser(v)
		return err
	})
	if err != nil {
		return User{}, fmt.Errorf("storage: get user by username %q: %w", username, err)
	}
	return u, nil
}

// ListUsers returns a page of users in ascending order of ID; see Store.
func (b *Bolt) ListUsers(ctx context.Context, opts ListOptions) ([]User, bool, error) {
	return listNamed(b, ctx, userKind, opts, func(_, v []byte) (User, error) { return UnmarshalUser(v) }, nil)
}

// listNamed returns a page of a named kind's records in ascending order of
// ID, or the one record whose name is opts.Name (names are unique): how
// clients and users are listed. A non-nil keep leaves out the records it
// refuses, as listBucket does.
func listNamed[T any](b *Bolt, ctx context.Context, k namedKind, opts ListOptions, decode func(id, v []byte) (T, error), keep func(T) bool) ([]T, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("storage: list %ss: %w", k.noun, err)
	}
	if opts.Limit < 1 {
		return nil, false, fmt.Errorf("storage: list %ss: limit is %d, want at least 1", k.noun, opts.Limit)
	}
	var (
		page []T
		more bool
	)
	err := b.view(func(tx *bolt.Tx) error {
		records := tx.Bucket(k.records)
		if opts.Name == "" {
			var err error
			page, more, err = listBucket(records, opts, decode, keep)
			return err
		}
		id := tx.Bucket(k.names).Get([]byte(nameKey(opts.Name)))
		if id == nil || (opts.After != "" && string(id) <= opts.After) {
			return nil
		}
		v := records.Get(id)
		if v == nil {
			return fmt.Errorf("%s index points at missing %s %s", k.nameNoun, k.noun, quoteClipped(id))
		}
		r, err := decode(id, v)
		if err != nil {
			return err
		}
		if keep != nil && !keep(r) {
			return nil
		}
		page = []T{r}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("storage: list %ss: %w", k.noun, err)
	}
	return page, more, nil
}

// listBucket decodes a page of a bucket's records after opts.After. A
// non-nil keep leaves out the records it refuses, and the page still fills
// up to opts.Limit: more then means another kept record follows, so a
// cursor never leads to an empty page.
func listBucket[T any](bucket *bolt.Bucket, opts ListOptions, decode func(id, v []byte) (T, error), keep func(T) bool) ([]T, bool, error) {
	cur := bucket.Cursor()
	k, v := cur.First()
	if opts.After != "" {
		after := []byte(opts.After)
		k, v = cur.Seek(after)
		if bytes.Equal(k, after) {
			k, v = cur.Next()
		}
	}
	page := make([]T, 0, min(opts.Limit, 100))
	for ; k != nil; k, v = cur.Next() {
		// Unfiltered, any record after a full page is more, without
		// decoding it.
		if len(page) == opts.Limit && keep == nil {
			return page, true, nil
		}
		r, err := decode(k, v)
		if err != nil {
			return nil, false, fmt.Errorf("key %s: %w", quoteClipped(k), err)
		}
		if keep != nil && !keep(r) {
			continue
		}
		if len(page) == opts.Limit {
			return page, true, nil
		}
		page = append(page, r)
	}
	return page, false, nil
}

// UpdateUser replaces a user atomically; see Store. As UpdateClient, a
// username change moves the index entry in the same transaction, and update
// may run more than once.
func (b *Bolt) UpdateUser(ctx context.Context, id string, update func(User) (User, error)) (User, error) {
	if err := ctx.Err(); err != nil {
		return User{}, fmt.Errorf("storage: update user: %w", err)
	}
	if update == nil {
		return User{}, errors.New("storage: update user: nil update function")
	}
	key := []byte(id)
	var written []byte
	err := b.batch(func(tx *bolt.Tx) error {
		written = nil
		users := tx.Bucket(bucketUsers)
		names := tx.Bucket(bucketUsernames)
		v := users.Get(key)
		if v == nil {
			return ErrNotFound
		}
		old, err := UnmarshalUser(v)
		if err != nil {
			return err
		}
		oldName := nameKey(old.Username)
		next, err := callUpdate(update, old)
		if err != nil {
			return &callbackError{err}
		}
		if next.ID != id {
			return fmt.Errorf("the user id cannot change (to %q)", next.ID)
		}
		if err := CheckUserIdentity(next); err != nil {
			return err
		}
		if newName := nameKey(next.Username); newName != oldName {
			if names.Get([]byte(newName)) != nil {
				return fmt.Errorf("username %q: %w", next.Username, ErrAlreadyExists)
			}
			// Only drop the old entry if it is this user's.
			if bytes.Equal(names.Get([]byte(oldName)), key) {
				if err := names.Delete([]byte(oldName)); err != nil {
					return err
				}
			}
			if err := names.Put([]byte(newName), key); err != nil {
				return err
			}
		}
		value, err := MarshalUser(next)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		if err := users.Put(key, value); err != nil {
			return err
		}
		written = value
		return nil
	})
	if cerr := (*callbackError)(nil); errors.As(err, &cerr) {
		return User{}, cerr.err
	}
	if err != nil {
		return User{}, fmt.Errorf("storage: update user %q: %w", id, err)
	}
	stored, err := UnmarshalUser(written)
	if err != nil {
		return User{}, fmt.Errorf("storage: update user %q: %w", id, err)
	}
	return stored, nil
}

// DeleteUser removes a user with its username index entry and its
// sessions; see Store.
func (b *Bolt) DeleteUser(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: delete user: %w", err)
	}
	key := []byte(id)
	err := b.batch(func(tx *bolt.Tx) error {
		users := tx.Bucket(bucketUsers)
		names := tx.Bucket(bucketUsernames)
		meta := tx.Bucket(bucketMeta)
		v := users.Get(key)
		if v == nil {
			return ErrNotFound
		}
		u, err := UnmarshalUser(v)
		if err != nil {
			return err
		}
		count, err := readUserCount(meta)
		if err != nil {
			return err
		}
		if count == 0 {
			return errors.New("user count is 0 while a user exists")
		}
		// Only drop the index entry if it is this user's: never let a
		// damaged record free another user's name.
		name := []byte(nameKey(u.Username))
		if bytes.Equal(names.Get(name), key) {
			if err := names.Delete(name); err != nil {
				return err
			}
		}
		if err := users.Delete(key); err != nil {
			return err
		}
		// In the same transaction: a deleted user's sessions end at once.
		if _, err := boltDeleteUserSessions(tx, id); err != nil {
			return err
		}
		// And their consents, pending requests and codes.
		if err := boltDeleteUserAuthz(tx, id); err != nil {
			return err
		}
		if err := boltDeleteFamiliesOf(tx, func(f RefreshFamily) bool { return f.UserID == id }); err != nil {
			return fmt.Errorf("refresh token families: %w", err)
		}
		return putUserCount(meta, count-1)
	})
	if err != nil {
		return fmt.Errorf("storage: delete user %q: %w", id, err)
	}
	return nil
}

// CountUsers returns how many users exist, from a stored counter.
func (b *Bolt) CountUsers(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("storage: count users: %w", err)
	}
	var n uint64
	err := b.view(func(tx *bolt.Tx) error {
		var err error
		n, err = readUserCount(tx.Bucket(bucketMeta))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("storage: count users: %w", err)
	}
	return int(n), nil
}

// CreateRole stores a new role; see Store.
func (b *Bolt) CreateRole(ctx context.Context, r Role) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: create role: %w", err)
	}
	if err := CheckRoleIdentity(r); err != nil {
		return fmt.Errorf("storage: create role: %w", err)
	}
	value, err := MarshalRole(r)
	if err != nil {
		return fmt.Errorf("storage: create role %q: encode: %w", r.Name, err)
	}
	err = b.batch(func(tx *bolt.Tx) error {
		roles := tx.Bucket(bucketRoles)
		if roles.Get([]byte(r.Name)) != nil {
			return fmt.Errorf("role name: %w", ErrAlreadyExists)
		}
		return roles.Put([]byte(r.Name), value)
	})
	if err != nil {
		return fmt.Errorf("storage: create role %q: %w", r.Name, err)
	}
	return nil
}

// GetRole returns the role with that name; see Store.
func (b *Bolt) GetRole(ctx context.Context, name string) (Role, error) {
	if err := ctx.Err(); err != nil {
		return Role{}, fmt.Errorf("storage: get role: %w", err)
	}
	var r Role
	err := b.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRoles).Get([]byte(name))
		if v == nil {
			return ErrNotFound
		}
		var err error
		r, err = UnmarshalRole(v)
		return err
	})
	if err != nil {
		return Role{}, fmt.Errorf("storage: get role %q: %w", name, err)
	}
	return r, nil
}

// ListRoles returns a page of roles in ascending order of name; see Store.
func (b *Bolt) ListRoles(ctx context.Context, opts ListOptions) ([]Role, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("storage: list roles: %w", err)
	}
	if opts.Limit < 1 {
		return nil, false, fmt.Errorf("storage: list roles: limit is %d, want at least 1", opts.Limit)
	}
	var (
		page []Role
		more bool
	)
	err := b.view(func(tx *bolt.Tx) error {
		roles := tx.Bucket(bucketRoles)
		if opts.Name != "" {
			v := roles.Get([]byte(opts.Name))
			if v == nil || (opts.After != "" && opts.Name <= opts.After) {
				return nil
			}
			r, err := UnmarshalRole(v)
			if err != nil {
				return err
			}
			page = []Role{r}
			return nil
		}
		var err error
		page, more, err = listBucket(roles, opts, func(_, v []byte) (Role, error) { return UnmarshalRole(v) }, nil)
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("storage: list roles: %w", err)
	}
	return page, more, nil
}

// UpdateRole replaces a role atomically; see Store.
func (b *Bolt) UpdateRole(ctx context.Context, name string, update func(Role) (Role, error)) (Role, error) {
	if err := ctx.Err(); err != nil {
		return Role{}, fmt.Errorf("storage: update role: %w", err)
	}
	if update == nil {
		return Role{}, errors.New("storage: update role: nil update function")
	}
	key := []byte(name)
	var written []byte
	err := b.batch(func(tx *bolt.Tx) error {
		written = nil
		roles := tx.Bucket(bucketRoles)
		v := roles.Get(key)
		if v == nil {
			return ErrNotFound
		}
		old, err := UnmarshalRole(v)
		if err != nil {
			return err
		}
		next, err := callUpdate(update, old)
		if err != nil {
			return &callbackError{err}
		}
		if next.Name != name {
			return fmt.Errorf("the role name cannot change (to %q)", next.Name)
		}
		value, err := MarshalRole(next)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		if err := roles.Put(key, value); err != nil {
			return err
		}
		written = value
		return nil
	})
	if cerr := (*callbackError)(nil); errors.As(err, &cerr) {
		return Role{}, cerr.err
	}
	if err != nil {
		return Role{}, fmt.Errorf("storage: update role %q: %w", name, err)
	}
	stored, err := UnmarshalRole(written)
	if err != nil {
		return Role{}, fmt.Errorf("storage: update role %q: %w", name, err)
	}
	return stored, nil
}

// DeleteRole removes a role; see Store.
func (b *Bolt) DeleteRole(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: delete role: %w", err)
	}
	err := b.batch(func(tx *bolt.Tx) error {
		roles := tx.Bucket(bucketRoles)
		if roles.Get([]byte(name)) == nil {
			return ErrNotFound
		}
		return roles.Delete([]byte(name))
	})
	if err != nil {
		return fmt.Errorf("storage: delete role %q: %w", name, err)
	}
	return nil
}

// checkUserIndexes reports every disagreement between the users bucket and
// the user count and username index derived from it, and any user or role
// record that does not decode.
func checkUserIndexes(tx *bolt.Tx, note func(error)) error {
	users := tx.Bucket(bucketUsers)
	names := tx.Bucket(bucketUsernames)
	roles := tx.Bucket(bucketRoles)
	meta := tx.Bucket(bucketMeta)
	if users == nil || names == nil || roles == nil || meta == nil {
		note(errors.New("a user bucket is missing"))
		return nil
	}
	var n uint64
	err := users.ForEach(func(id, v []byte) error {
		n++
		u, err := UnmarshalUser(v)
		if err != nil {
			note(fmt.Errorf("user %s: %w", quoteClipped(id), err))
			return nil
		}
		if u.ID != string(id) {
			note(fmt.Errorf("user %s is stored with id %s", quoteClipped(id), quoteClipped([]byte(u.ID))))
		}
		if got := names.Get([]byte(nameKey(u.Username))); string(got) != string(id) {
			note(fmt.Errorf("user %s: its username %s is indexed to %s", quoteClipped(id), quoteClipped([]byte(u.Username)), quoteClipped(got)))
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = names.ForEach(func(k, id []byte) error {
		if users.Get(id) == nil {
			note(fmt.Errorf("username index entry %s points at missing user %s", quoteClipped(k), quoteClipped(id)))
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = roles.ForEach(func(name, v []byte) error {
		if r, err := UnmarshalRole(v); err != nil {
			note(fmt.Errorf("role %s: %w", quoteClipped(name), err))
		} else if r.Name != string(name) {
			note(fmt.Errorf("role %s is stored with name %s", quoteClipped(name), quoteClipped([]byte(r.Name))))
		}
		return nil
	})
	if err != nil {
		return err
	}
	count, err := readUserCount(meta)
	if err != nil {
		note(err)
	} else if count != n {
		note(fmt.Errorf("user count is %d, but %d users are stored", count, n))
	}
	return nil
}
