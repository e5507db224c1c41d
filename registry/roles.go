package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/storage"
)

// ErrRoleTaken: a role of that name exists. It wraps
// storage.ErrAlreadyExists.
var ErrRoleTaken = fmt.Errorf("role name is taken: %w", storage.ErrAlreadyExists)

// maxDescriptionRunes bounds a role's description.
const maxDescriptionRunes = 1024

// RoleMetadata holds a role's writable fields, as the admin API reads them.
type RoleMetadata struct {
	// Name is required, unique and compared exactly; it has a scope token's
	// syntax (RFC 6749 §3.3), so that it can appear in a scope-like list.
	Name string `json:"name"`
	// Description is free text for people, at most 1024 characters.
	Description string `json:"description,omitempty"`
	// Scopes are the scopes the role grants, each a valid scope token, each
	// once.
	Scopes []string `json:"scopes,omitempty"`
}

// Role is the public view of a role.
type Role struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Scopes      []string  `json:"scopes"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// roleFields are a role's writable and read-only request fields.
var roleFields = fieldSet{
	types: map[string]string{
		"name":        "a string",
		"description": "a string",
		"scopes":      "an array of strings",
	},
	readOnly: map[string]bool{
		"created_at": true,
		"updated_at": true,
	},
}

// DecodeRoleMetadata reads a request body as strictly as DecodeMetadata
// reads a client's.
func DecodeRoleMetadata(data []byte) (RoleMetadata, error) {
	var m RoleMetadata
	if err := roleFields.decode(data, &m); err != nil {
		return RoleMetadata{}, err
	}
	return m, nil
}

// checkRoleName enforces a role name: one scope token.
func checkRoleName(name string) error {
	if name == "" {
		return &ValidationError{Field: "name", Reason: "is required"}
	}
	if err := scope.ParseToken(name); err != nil {
		return &ValidationError{Field: "name", Reason: "must be a scope token: " + err.Error()}
	}
	return nil
}

// normalizeRole validates m and returns a record holding its fields.
func (r *Registry) normalizeRole(m RoleMetadata) (storage.Role, error) {
	if err := checkRoleName(m.Name); err != nil {
		return storage.Role{}, err
	}
	if err := checkText("description", m.Description, maxDescriptionRunes); err != nil {
		return storage.Role{}, err
	}
	if len(m.Scopes) > r.limits.MaxScopes {
		return storage.Role{}, &ValidationError{Field: "scopes", Reason: "holds more than " + strconv.Itoa(r.limits.MaxScopes) + " scopes (max_scopes)"}
	}
	for i, s := range m.Scopes {
		if err := scope.ParseToken(s); err != nil {
			return storage.Role{}, &ValidationError{Field: "scopes", Reason: "entry " + strconv.Itoa(i) + ": " + err.Error()}
		}
		if slices.Contains(m.Scopes[:i], s) {
			return storage.Role{}, &ValidationError{Field: "scopes", Reason: "entry " + strconv.Itoa(i) + " repeats an earlier entry"}
		}
	}
	return storage.Role{Name: m.Name, Description: m.Description, Scopes: cloneOrNil(m.Scopes)}, nil
}

// CreateRole validates m and stores a new role.
func (r *Registry) CreateRole(ctx context.Context, m RoleMetadata) (Role, error) {
	rec, err := r.normalizeRole(m)
	if err != nil {
		return Role{}, err
	}
	now := r.now()
	rec.CreatedAt, rec.UpdatedAt = now, now
	if err := r.store.CreateRole(ctx, rec); err != nil {
		return Role{}, storeErrorAs("create role", err, ErrRoleTaken)
	}
	return roleView(rec), nil
}

// GetRole returns the role of that name.
func (r *Registry) GetRole(ctx context.Context, name string) (Role, error) {
	rec, err := r.store.GetRole(ctx, name)
	if err != nil {
		return Role{}, storeErrorAs("get role", err, ErrRoleTaken)
	}
	return roleView(rec), nil
}

// RoleQuery selects a page of roles.
type RoleQuery struct {
	// Limit is the page size: 0 means DefaultListLimit; at most MaxListLimit.
	Limit int
	// Cursor is a previous page's NextCursor; empty starts at the beginning.
	Cursor string
}

// RolePage is one page of roles, in ascending order of name.
type RolePage struct {
	Roles []Role `json:"roles"`
	// NextCursor fetches the next page; empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// roleCursorPrefix marks the names in role list cursors.
const roleCursorPrefix = "role\x00"

// ListRoles returns a page of roles, with cursors like List's.
func (r *Registry) ListRoles(ctx context.Context, q RoleQuery) (RolePage, error) {
	const op = "list roles"
	limit, err := pageLimit(op, q.Limit)
	if err != nil {
		return RolePage{}, err
	}
	after, err := r.openKindCursor(op, roleCursorPrefix, q.Cursor)
	if err != nil {
		return RolePage{}, err
	}
	recs, more, err := r.store.ListRoles(ctx, storage.ListOptions{After: after, Limit: limit})
	if err != nil {
		return RolePage{}, fmt.Errorf("%s: %w", op, err)
	}
	page := RolePage{Roles: make([]Role, 0, len(recs))}
	for _, rec := range recs {
		page.Roles = append(page.Roles, roleView(rec))
	}
	if more && len(recs) > 0 {
		page.NextCursor = r.sealCursor(roleCursorPrefix + recs[len(recs)-1].Name)
	}
	return page, nil
}

// PatchRole applies an RFC 7396 JSON merge patch to the role's metadata and
// validates the result. The name cannot change: users and configuration
// refer to roles by name, so a rename is a new role.
func (r *Registry) PatchRole(ctx context.Context, name string, mergePatch []byte) (Role, error) {
	if err := roleFields.checkPatch(mergePatch); err != nil {
		return Role{}, err
	}
	now := r.now()
	stored, err := r.store.UpdateRole(ctx, name, func(old storage.Role) (storage.Role, error) {
		current, err := json.Marshal(RoleMetadata{Name: old.Name, Description: old.Description, Scopes: old.Scopes})
		if err != nil {
			return storage.Role{}, fmt.Errorf("encode current role: %w", err)
		}
		merged, err := applyMergePatch(current, mergePatch)
		if err != nil {
			return storage.Role{}, err
		}
		m, err := DecodeRoleMetadata(merged)
		if err != nil {
			return storage.Role{}, err
		}
		if m.Name != old.Name {
			return storage.Role{}, &ValidationError{Field: "name", Reason: "cannot change; create a role of the new name instead"}
		}
		rec, err := r.normalizeRole(m)
		if err != nil {
			return storage.Role{}, err
		}
		rec.CreatedAt = old.CreatedAt
		rec.UpdatedAt = nextVersion(old.UpdatedAt, now)
		return rec, nil
	})
	if err != nil {
		return Role{}, storeErrorAs("patch role", err, ErrRoleTaken)
	}
	return roleView(stored), nil
}

// DeleteRole removes the role, then removes it from every user holding it,
// each through its own atomic update so that a shared store (and every
// gateway watching it) sees each change. The role goes first: from then
// on no user can be given it, and UserScopes ignores it on users the scan
// has not reached yet.
func (r *Registry) DeleteRole(ctx context.Context, name string) error {
	if err := r.store.DeleteRole(ctx, name); err != nil {
		return storeErrorAs("delete role", err, ErrRoleTaken)
	}
	if err := r.removeRoleFromUsers(ctx, name); err != nil {
		return fmt.Errorf("delete role: %w", err)
	}
	return nil
}

// removeRoleFromUsers takes the role off every user that holds it.
func (r *Registry) removeRoleFromUsers(ctx context.Context, name string) error {
	after := ""
	for {
		users, more, err := r.store.ListUsers(ctx, storage.ListOptions{After: after, Limit: MaxListLimit})
		if err != nil {
			return fmt.Errorf("list users: %w", err)
		}
		for _, u := range users {
			if !slices.Contains(u.Roles, name) {
				continue
			}
			_, err := r.updateUser(ctx, "remove role", u.ID, func(u *storage.User, _ time.Time) error {
				u.Roles = slices.DeleteFunc(u.Roles, func(held string) bool { return held == name })
				return nil
			})
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return err
			}
		}
		if !more || len(users) == 0 {
			return nil
		}
		after = users[len(users)-1].ID
	}
}

// roleView builds the public view of a stored role.
func roleView(rec storage.Role) Role {
	return Role{
		Name:        rec.Name,
		Description: rec.Description,
		Scopes:      cloneOrEmpty(rec.Scopes),
		CreatedAt:   rec.CreatedAt,
		UpdatedAt:   rec.UpdatedAt,
	}
}
