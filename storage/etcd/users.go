package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/storage/replica"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// sealPurposePasswordHash is the purpose a user's password hash is sealed
// for, bound to the user's ID: a sealed hash copied onto another user does
// not open.
const sealPurposePasswordHash = "password-hash"

// recordUser tags the etcd form of a user, as storage.MarshalUser's first
// byte tags the bbolt form; a later layout takes a new tag.
const recordUser = 0x01

// storedUser is a user as etcd holds it: the record without its password
// hash, which is kept only sealed. The outer PasswordHash shadows the
// embedded one in JSON and is always empty, so the clear hash is never
// encoded.
type storedUser struct {
	storage.User
	PasswordHash       string `json:"password_hash,omitempty"`
	SealedPasswordHash []byte `json:"sealed_password_hash,omitempty"`
}

// sealUser returns the etcd form of u. A user with a password hash needs a
// Sealer (ErrNoSealer): etcd never holds a hash in the clear, as an offline
// guessing attack on a leaked backup is what the hash would then be open to.
func (s *Store) sealUser(u storage.User) ([]byte, error) {
	st := storedUser{User: u}
	st.User.PasswordHash = ""
	if u.PasswordHash != "" {
		if s.sealer == nil {
			return nil, fmt.Errorf("user %q has a password hash: %w", u.ID, ErrNoSealer)
		}
		sealed, err := s.sealer.Seal(sealPurposePasswordHash, u.ID, []byte(u.PasswordHash))
		if err != nil {
			return nil, fmt.Errorf("seal the password hash of user %q: %w", u.ID, err)
		}
		st.SealedPasswordHash = sealed
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	return append([]byte{recordUser}, raw...), nil
}

// openUser decodes what sealUser returned, unsealing the password hash.
func (s *Store) openUser(value []byte) (storage.User, error) {
	if len(value) == 0 || value[0] != recordUser {
		return storage.User{}, errors.New("user record: unknown form (written by a newer build?)")
	}
	var st storedUser
	if err := json.Unmarshal(value[1:], &st); err != nil {
		return storage.User{}, fmt.Errorf("decode user record: %w", err)
	}
	u := st.User
	if len(st.SealedPasswordHash) > 0 {
		if s.sealer == nil {
			return storage.User{}, fmt.Errorf("user %q has a sealed password hash: %w", u.ID, ErrNoSealer)
		}
		hash, err := s.sealer.Open(sealPurposePasswordHash, u.ID, st.SealedPasswordHash)
		if err != nil {
			return storage.User{}, fmt.Errorf("password hash of user %q: %w", u.ID, err)
		}
		u.PasswordHash = string(hash)
	}
	return u, nil
}

// Keys of users and roles. Organizations, when they come, get keys of
// their own (orgs/<id>) and a username index per organization
// (org-usernames/<org id>/<name key>); user IDs stay globally unique, so
// users/<id> needs no organization in its key.
func (s *Store) userKey(id string) string { return s.prefix + "users/" + id }
func (s *Store) usernameKey(name string) string {
	return s.prefix + "usernames/" + storage.NameKey(name)
}
func (s *Store) userCountKey() string       { return s.prefix + "meta/user-count" }
func (s *Store) roleKey(name string) string { return s.prefix + "roles/" + name }

// CreateUser stores a new user; see storage.Store. One transaction checks
// that the ID and the username key are free and that the user count is the
// one read, and writes all three, as CreateClient does.
func (s *Store) CreateUser(ctx context.Context, u storage.User, maxUsers int) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("storage: create user: %w", err)
	}
	if err := storage.CheckUserIdentity(u); err != nil {
		return fmt.Errorf("storage: create user: %w", err)
	}
	value, err := s.sealUser(u)
	if err != nil {
		return fmt.Errorf("storage: create user %q: encode: %w", u.ID, err)
	}
	err = s.createNamed(ctx, named{noun: "user", nameNoun: "username", countKey: s.userCountKey()},
		s.userKey(u.ID), s.usernameKey(u.Username), u.ID, u.Username, value, maxUsers)
	if err != nil {
		return fmt.Errorf("storage: create user %q: %w", u.ID, err)
	}
	return nil
}

// replicaUser returns the decoded user under key.
func (s *Store) replicaUser(key string) (storage.User, error) {
	e, ok := s.replica.Get(key)
	if !ok {
		return storage.User{}, storage.ErrNotFound
	}
	return entryUser(e)
}

func entryUser(e *replica.Entry) (storage.User, error) {
	if e.Err != nil {
		return storage.User{}, e.Err
	}
	return e.Decoded.(storage.User), nil
}

// GetUser returns the user with that ID from the replica, shared
// read-only.
func (s *Store) GetUser(ctx context.Context, id string) (storage.User, error) {
	if err := s.usable(ctx); err != nil {
		return storage.User{}, fmt.Errorf("storage: get user: %w", err)
	}
	u, err := s.replicaUser(s.userKey(id))
	if err != nil {
		return storage.User{}, fmt.Errorf("storage: get user %q: %w", id, err)
	}
	return u, nil
}

// GetUserByUsername returns the user with that username, ignoring case,
// from the replica.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (storage.User, error) {
	if err := s.usable(ctx); err != nil {
		return storage.User{}, fmt.Errorf("storage: get user by username: %w", err)
	}
	e, ok := s.replica.Get(s.usernameKey(username))
	if !ok {
		return storage.User{}, fmt.Errorf("storage: get user by username %q: %w", username, storage.ErrNotFound)
	}
	u, err := s.replicaUser(s.userKey(string(e.Value)))
	if err != nil {
		return storage.User{}, fmt.Errorf("storage: get user by username %q: index points at user %q: %w", username, e.Value, err)
	}
	return u, nil
}

// ListUsers returns a page of users in ascending order of ID, from the
// replica.
func (s *Store) ListUsers(ctx context.Context, opts storage.ListOptions) ([]storage.User, bool, error) {
	if err := s.usable(ctx); err != nil {
		return nil, false, fmt.Errorf("storage: list users: %w", err)
	}
	if opts.Limit < 1 {
		return nil, false, fmt.Errorf("storage: list users: limit is %d, want at least 1", opts.Limit)
	}
	if opts.Name != "" {
		e, ok := s.replica.Get(s.usernameKey(opts.Name))
		if !ok {
			return nil, false, nil
		}
		id := string(e.Value)
		if opts.After != "" && id <= opts.After {
			return nil, false, nil
		}
		u, err := s.replicaUser(s.userKey(id))
		if err != nil {
			return nil, false, fmt.Errorf("storage: list users: username index entry points at user %q: %w", id, err)
		}
		return []storage.User{u}, false, nil
	}
	page, more, err := rangePage(s, s.userKey(""), opts, entryUser)
	if err != nil {
		return nil, false, fmt.Errorf("storage: list users: %w", err)
	}
	return page, more, nil
}

// rangePage decodes a page of the replica's records under prefix, after
// opts.After.
func rangePage[T any](s *Store, prefix string, opts storage.ListOptions, decode func(*replica.Entry) (T, error)) ([]T, bool, error) {
	start := prefix + opts.After
	var (
		page = make([]T, 0, min(opts.Limit, 100))
		more bool
		err  error
	)
	s.replica.Range(start, replica.PrefixEnd(prefix), func(e *replica.Entry) bool {
		if opts.After != "" && e.Key == start {
			return true
		}
		if len(page) == opts.Limit {
			more = true
			return false
		}
		var r T
		if r, err = decode(e); err != nil {
			err = fmt.Errorf("key %q: %w", e.Key, err)
			return false
		}
		page = append(page, r)
		return true
	})
	if err != nil {
		return nil, false, err
	}
	return page, more, nil
}

// UpdateUser replaces a user; see storage.Store. Each attempt hands update
// a private copy and compares the user's ModRevision; a username change
// also compares that the new username key is free and moves the index
// entry, as UpdateClient does for names.
func (s *Store) UpdateUser(ctx context.Context, id string, update func(storage.User) (storage.User, error)) (storage.User, error) {
	if err := s.usable(ctx); err != nil {
		return storage.User{}, fmt.Errorf("storage: update user: %w", err)
	}
	if update == nil {
		return storage.User{}, errors.New("storage: update user: nil update function")
	}
	idKey := s.userKey(id)
	var written []byte
	err := s.writeCAS(ctx, func(v *view) (plan, error) {
		written = nil
		p := plan{keys: []string{idKey}}
		cur, err := v.existing(idKey)
		if err != nil {
			return p, err
		}
		// The replica's value is shared: update gets its own copy.
		old := cur.decoded.(storage.User).Clone()
		oldName := s.usernameKey(old.Username)
		next, err := update(old)
		if err != nil {
			return p, &callbackError{err}
		}
		if next.ID != id {
			return p, fmt.Errorf("the user id cannot change (to %q)", next.ID)
		}
		if err := storage.CheckUserIdentity(next); err != nil {
			return p, err
		}
		value, err := s.sealUser(next)
		if err != nil {
			return p, fmt.Errorf("encode: %w", err)
		}
		p.cmps = []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(idKey), "=", cur.kv.ModRevision)}
		p.ops = []clientv3.Op{clientv3.OpPut(idKey, string(value))}
		if err := rename(v, &p, id, oldName, s.usernameKey(next.Username)); err != nil {
			return p, fmt.Errorf("username %q: %w", next.Username, err)
		}
		written = value
		return p, nil
	})
	if cerr := (*callbackError)(nil); errors.As(err, &cerr) {
		return storage.User{}, cerr.err
	}
	if err != nil {
		return storage.User{}, fmt.Errorf("storage: update user %q: %w", id, err)
	}
	stored, err := s.openUser(written)
	if err != nil {
		return storage.User{}, fmt.Errorf("storage: update user %q: %w", id, err)
	}
	return stored, nil
}

// DeleteUser removes a user, its username index entry and its sessions,
// and counts one user less, in one transaction.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("storage: delete user: %w", err)
	}
	idKey, countKey := s.userKey(id), s.userCountKey()
	// The user's sessions go in the same transaction as the user, as long
	// as they fit in one (sessionChunk); a user with more loses the rest
	// first. Either way none outlives the user: the session manager also
	// refuses a session whose user is gone.
	// Their pending authorization requests and codes go first, in
	// transactions of their own; their consents, one prefix, go with the
	// user.
	if err := s.deleteUserAuthz(ctx, id); err != nil {
		return fmt.Errorf("storage: delete user %q: authorization records: %w", id, err)
	}
	if err := s.deleteFamiliesOf(ctx, func(f storage.RefreshFamily) bool { return f.UserID == id }); err != nil {
		return fmt.Errorf("storage: delete user %q: refresh token families: %w", id, err)
	}
	if s.replica.Count(s.userSessionsPrefix(id), replica.PrefixEnd(s.userSessionsPrefix(id))) > sessionChunk {
		if _, err := s.DeleteUserSessions(ctx, id); err != nil {
			return fmt.Errorf("storage: delete user %q: %w", id, err)
		}
	}
	err := s.countCAS(ctx, countKey, func(v *view) (plan, error) {
		p := plan{keys: []string{idKey, countKey}}
		cur, err := v.existing(idKey)
		if err != nil {
			return p, err
		}
		count := v.get(countKey)
		n, err := countOf(count)
		if err != nil {
			return p, err
		}
		if n <= 0 {
			return p, fmt.Errorf("user count is %d while a user exists", n)
		}
		nameKey := s.usernameKey(cur.decoded.(storage.User).Username)
		p.keys = append(p.keys, nameKey)
		p.cmps = []clientv3.Cmp{
			clientv3.Compare(clientv3.ModRevision(idKey), "=", cur.kv.ModRevision),
			clientv3.Compare(clientv3.ModRevision(countKey), "=", count.modRevision()),
		}
		p.ops = []clientv3.Op{
			clientv3.OpDelete(idKey),
			clientv3.OpPut(countKey, strconv.FormatInt(n-1, 10)),
		}
		if name := v.get(nameKey); name.ok && string(name.kv.Value) == id {
			p.cmps = append(p.cmps, clientv3.Compare(clientv3.ModRevision(nameKey), "=", name.kv.ModRevision))
			p.ops = append(p.ops, clientv3.OpDelete(nameKey))
		}
		held, err := s.heldSessions(v, id)
		if err != nil {
			return p, err
		}
		for _, sess := range held {
			s.planSessionDelete(v, &p, sess)
		}
		p.ops = append(p.ops,
			clientv3.OpDelete(s.userSessionsPrefix(id), clientv3.WithPrefix()),
			clientv3.OpDelete(s.userConsentsPrefix(id), clientv3.WithPrefix()))
		return p, nil
	})
	if err != nil {
		return fmt.Errorf("storage: delete user %q: %w", id, err)
	}
	return nil
}

// CountUsers returns how many users the replica holds.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	if err := s.usable(ctx); err != nil {
		return 0, fmt.Errorf("storage: count users: %w", err)
	}
	from := s.userKey("")
	return s.replica.Count(from, replica.PrefixEnd(from)), nil
}

// CreateRole stores a new role: one transaction that compares the role
// key's CreateRevision with 0.
func (s *Store) CreateRole(ctx context.Context, r storage.Role) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("storage: create role: %w", err)
	}
	if err := storage.CheckRoleIdentity(r); err != nil {
		return fmt.Errorf("storage: create role: %w", err)
	}
	value, err := storage.MarshalRole(r)
	if err != nil {
		return fmt.Errorf("storage: create role %q: encode: %w", r.Name, err)
	}
	key := s.roleKey(r.Name)
	err = s.writeCAS(ctx, func(v *view) (plan, error) {
		p := plan{keys: []string{key}}
		if v.get(key).ok {
			return p, fmt.Errorf("role name: %w", storage.ErrAlreadyExists)
		}
		p.cmps = []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(key), "=", 0)}
		p.ops = []clientv3.Op{clientv3.OpPut(key, string(value))}
		return p, nil
	})
	if err != nil {
		return fmt.Errorf("storage: create role %q: %w", r.Name, err)
	}
	return nil
}

func entryRole(e *replica.Entry) (storage.Role, error) {
	if e.Err != nil {
		return storage.Role{}, e.Err
	}
	return e.Decoded.(storage.Role), nil
}

// GetRole returns the role with that name from the replica.
func (s *Store) GetRole(ctx context.Context, name string) (storage.Role, error) {
	if err := s.usable(ctx); err != nil {
		return storage.Role{}, fmt.Errorf("storage: get role: %w", err)
	}
	e, ok := s.replica.Get(s.roleKey(name))
	if !ok {
		return storage.Role{}, fmt.Errorf("storage: get role %q: %w", name, storage.ErrNotFound)
	}
	r, err := entryRole(e)
	if err != nil {
		return storage.Role{}, fmt.Errorf("storage: get role %q: %w", name, err)
	}
	return r, nil
}

// ListRoles returns a page of roles in ascending order of name, from the
// replica.
func (s *Store) ListRoles(ctx context.Context, opts storage.ListOptions) ([]storage.Role, bool, error) {
	if err := s.usable(ctx); err != nil {
		return nil, false, fmt.Errorf("storage: list roles: %w", err)
	}
	if opts.Limit < 1 {
		return nil, false, fmt.Errorf("storage: list roles: limit is %d, want at least 1", opts.Limit)
	}
	if opts.Name != "" {
		e, ok := s.replica.Get(s.roleKey(opts.Name))
		if !ok || (opts.After != "" && opts.Name <= opts.After) {
			return nil, false, nil
		}
		r, err := entryRole(e)
		if err != nil {
			return nil, false, fmt.Errorf("storage: list roles: %w", err)
		}
		return []storage.Role{r}, false, nil
	}
	page, more, err := rangePage(s, s.roleKey(""), opts, entryRole)
	if err != nil {
		return nil, false, fmt.Errorf("storage: list roles: %w", err)
	}
	return page, more, nil
}

// UpdateRole replaces a role; each attempt compares its ModRevision.
func (s *Store) UpdateRole(ctx context.Context, name string, update func(storage.Role) (storage.Role, error)) (storage.Role, error) {
	if err := s.usable(ctx); err != nil {
		return storage.Role{}, fmt.Errorf("storage: update role: %w", err)
	}
	if update == nil {
		return storage.Role{}, errors.New("storage: update role: nil update function")
	}
	key := s.roleKey(name)
	var written []byte
	err := s.writeCAS(ctx, func(v *view) (plan, error) {
		written = nil
		p := plan{keys: []string{key}}
		cur := v.get(key)
		if !cur.ok {
			return p, storage.ErrNotFound
		}
		old, err := storage.UnmarshalRole(cur.kv.Value)
		if err != nil {
			return p, err
		}
		next, err := update(old)
		if err != nil {
			return p, &callbackError{err}
		}
		if next.Name != name {
			return p, fmt.Errorf("the role name cannot change (to %q)", next.Name)
		}
		value, err := storage.MarshalRole(next)
		if err != nil {
			return p, fmt.Errorf("encode: %w", err)
		}
		p.cmps = []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", cur.kv.ModRevision)}
		p.ops = []clientv3.Op{clientv3.OpPut(key, string(value))}
		written = value
		return p, nil
	})
	if cerr := (*callbackError)(nil); errors.As(err, &cerr) {
		return storage.Role{}, cerr.err
	}
	if err != nil {
		return storage.Role{}, fmt.Errorf("storage: update role %q: %w", name, err)
	}
	stored, err := storage.UnmarshalRole(written)
	if err != nil {
		return storage.Role{}, fmt.Errorf("storage: update role %q: %w", name, err)
	}
	return stored, nil
}

// DeleteRole removes a role, comparing the ModRevision it read.
func (s *Store) DeleteRole(ctx context.Context, name string) error {
	return s.deleteOne(ctx, fmt.Sprintf("delete role %q", name), s.roleKey(name))
}
