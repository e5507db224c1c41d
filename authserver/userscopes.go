package authserver

import (
	"context"
	"errors"
	"sync"

	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/storage"
)

// UserScopeSets remembers, per user, the union of the scopes of the user's
// roles as a set: what the user may delegate to an app. A guarded request
// with a token issued for a person then costs cache lookups of the user and
// their roles and no set building.
//
// An entry is tied to the slices it was built from, as ClientScopeSets'
// are: the user's Roles and each role's Scopes, as the store's cache hands
// them out. A changed user or role is evicted from that cache and comes
// back with new slices, so an entry is used only while every record it was
// built from is the one cached.
type UserScopeSets struct {
	mu      sync.RWMutex
	entries map[string]userScopeSet
	max     int
}

type userScopeSet struct {
	roles []string   // the user's Roles
	seen  []seenRole // each of those roles as it was read
	set   scope.Set
}

// seenRole is a role as an entry was built from it.
type seenRole struct {
	found  bool
	scopes []string
}

// NewUserScopeSets holds at most max users' sets.
func NewUserScopeSets(max int) *UserScopeSets {
	return &UserScopeSets{entries: make(map[string]userScopeSet), max: max}
}

// of returns what u's roles grant, reading the roles from store (cached).
// A role that no longer exists grants nothing.
func (us *UserScopeSets) of(ctx context.Context, store storage.Store, u storage.User) (scope.Set, error) {
	us.mu.RLock()
	e, ok := us.entries[u.ID]
	us.mu.RUnlock()
	if ok && sameSlice(e.roles, u.Roles) {
		fresh, err := e.current(ctx, store)
		if err != nil {
			return scope.Set{}, err
		}
		if fresh {
			return e.set, nil
		}
	}
	e = userScopeSet{roles: u.Roles, seen: make([]seenRole, len(u.Roles))}
	var all []string
	for i, name := range u.Roles {
		role, err := store.GetRole(ctx, name)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return scope.Set{}, err
		}
		e.seen[i] = seenRole{found: true, scopes: role.Scopes}
		all = append(all, role.Scopes...)
	}
	e.set = scope.NewSet(all)
	us.mu.Lock()
	if len(us.entries) >= us.max {
		clear(us.entries)
	}
	us.entries[u.ID] = e
	us.mu.Unlock()
	return e.set, nil
}

// current reports whether every role the entry was built from is still the
// record the store hands out.
func (e userScopeSet) current(ctx context.Context, store storage.Store) (bool, error) {
	for i, name := range e.roles {
		role, err := store.GetRole(ctx, name)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			if e.seen[i].found {
				return false, nil
			}
		case err != nil:
			return false, err
		case !e.seen[i].found || !sameSlice(e.seen[i].scopes, role.Scopes):
			return false, nil
		}
	}
	return true, nil
}
