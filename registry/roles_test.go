package registry

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

func TestCreateRole(t *testing.T) {
	r, _, clock := newUserRegistry(t, Limits{MaxScopes: 3})
	ctx := context.Background()
	role, err := r.CreateRole(ctx, RoleMetadata{Name: "billing:admin", Description: "Runs billing", Scopes: []string{"invoices:read", "invoices:write"}})
	if err != nil {
		t.Fatal(err)
	}
	if role.Name != "billing:admin" || len(role.Scopes) != 2 || !role.CreatedAt.Equal(clock.Now()) {
		t.Fatalf("created %+v", role)
	}
	if empty := mustCreateRole(t, r, "nothing"); empty.Scopes == nil {
		t.Fatal("a role without scopes lists null, want []")
	}
	if _, err := r.CreateRole(ctx, RoleMetadata{Name: "billing:admin"}); !errors.Is(err, ErrRoleTaken) || !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("taken name: %v, want ErrRoleTaken", err)
	}
	// Role names are compared exactly, as scopes are.
	mustCreateRole(t, r, "Billing:Admin")

	for _, tc := range []struct {
		name, field string
		m           RoleMetadata
	}{
		{"no name", "name", RoleMetadata{}},
		{"name with a space", "name", RoleMetadata{Name: "billing admin"}},
		{"name with a quote", "name", RoleMetadata{Name: `a"b`}},
		{"name with a backslash", "name", RoleMetadata{Name: `a\b`}},
		{"name not ASCII", "name", RoleMetadata{Name: "rôle"}},
		{"name too long", "name", RoleMetadata{Name: strings.Repeat("r", 129)}},
		{"description with a control character", "description", RoleMetadata{Name: "r", Description: "a\x07b"}},
		{"description too long", "description", RoleMetadata{Name: "r", Description: strings.Repeat("d", 1025)}},
		{"empty scope", "scopes", RoleMetadata{Name: "r", Scopes: []string{""}}},
		{"scope with a space", "scopes", RoleMetadata{Name: "r", Scopes: []string{"read write"}}},
		{"scope with CRLF", "scopes", RoleMetadata{Name: "r", Scopes: []string{"read\r\n"}}},
		{"repeated scope", "scopes", RoleMetadata{Name: "r", Scopes: []string{"read", "read"}}},
		{"more scopes than max_scopes", "scopes", RoleMetadata{Name: "r", Scopes: []string{"a", "b", "c", "d"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.CreateRole(ctx, tc.m)
			if !isFieldError(err, tc.field) {
				t.Fatalf("CreateRole = %v, want a *ValidationError for %s", err, tc.field)
			}
			checkValidationError(t, err)
		})
	}
	if _, err := r.GetRole(ctx, "r"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused role was stored: %v", err)
	}
}

func TestDecodeRoleMetadataRefuses(t *testing.T) {
	for _, tc := range []struct{ name, body, field string }{
		{"unknown field", `{"name":"r","users":[]}`, "users"},
		{"created_at", `{"name":"r","created_at":"2026-01-01T00:00:00Z"}`, "created_at"},
		{"scopes as a string", `{"name":"r","scopes":"read write"}`, "scopes"},
		{"duplicate member", `{"name":"r","name":"s"}`, "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeRoleMetadata([]byte(tc.body)); !isFieldError(err, tc.field) {
				t.Fatalf("DecodeRoleMetadata = %v, want a *ValidationError for %s", err, tc.field)
			}
		})
	}
}

func TestPatchRole(t *testing.T) {
	r, _, clock := newUserRegistry(t, Limits{})
	ctx := context.Background()
	created := mustCreateRole(t, r, "editor", "read", "write")
	clock.Add(time.Minute)
	got, err := r.PatchRole(ctx, "editor", []byte(`{"description":"Edits pages","scopes":["read"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got.Description != "Edits pages" || len(got.Scopes) != 1 || !got.UpdatedAt.Equal(clock.Now()) || !got.CreatedAt.Equal(created.CreatedAt) {
		t.Fatalf("patched %+v", got)
	}
	if got, err = r.PatchRole(ctx, "editor", []byte(`{"description":null}`)); err != nil || got.Description != "" {
		t.Fatalf("null description: %+v, %v", got, err)
	}
	for _, tc := range []struct{ name, patch, field string }{
		{"rename", `{"name":"writer"}`, "name"},
		{"name removed", `{"name":null}`, "name"},
		{"read-only field", `{"updated_at":null}`, "updated_at"},
		{"bad scope", `{"scopes":["a b"]}`, "scopes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := r.PatchRole(ctx, "editor", []byte(tc.patch)); !isFieldError(err, tc.field) {
				t.Fatalf("PatchRole = %v, want a *ValidationError for %s", err, tc.field)
			}
		})
	}
	if _, err := r.PatchRole(ctx, "nobody", []byte(`{"description":"x"}`)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("patch of an unknown role: %v", err)
	}
}

// TestDeleteRoleRemovesItFromUsers checks that deleting a role takes it off
// every user that holds it, one store update per such user (so a shared
// store's watchers see each change), and leaves other users alone.
func TestDeleteRoleRemovesItFromUsers(t *testing.T) {
	r, store, clock := newUserRegistry(t, Limits{})
	ctx := context.Background()
	mustCreateRole(t, r, "editor", "write")
	mustCreateRole(t, r, "viewer", "read")
	a := mustCreateUser(t, r, `{"username":"alice","roles":["viewer","editor"]}`, "")
	b := mustCreateUser(t, r, `{"username":"bob","roles":["editor"]}`, "")
	c := mustCreateUser(t, r, `{"username":"carol","roles":["viewer"]}`, "")
	clock.Add(time.Minute)
	updatesBefore := store.userUpdates.Load()

	if err := r.DeleteRole(ctx, "editor"); err != nil {
		t.Fatal(err)
	}
	if n := store.userUpdates.Load() - updatesBefore; n != 2 {
		t.Fatalf("%d user updates, want 2 (one per holder)", n)
	}
	for _, tc := range []struct {
		id    string
		roles string
		moved bool
	}{{a.UserID, "viewer", true}, {b.UserID, "", true}, {c.UserID, "viewer", false}} {
		u, err := r.GetUser(ctx, tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(u.Roles, " ") != tc.roles || u.UpdatedAt.Equal(clock.Now()) != tc.moved {
			t.Fatalf("user %s after the delete: roles %v, updated_at %v", u.Username, u.Roles, u.UpdatedAt)
		}
	}
	if _, err := r.GetRole(ctx, "editor"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the role is still there: %v", err)
	}
	if err := r.DeleteRole(ctx, "editor"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting twice: %v", err)
	}
	if set, _ := r.UserScopes(ctx, b.UserID); set.Len() != 0 {
		t.Fatalf("bob keeps scopes %q", set)
	}
}

func TestListRoles(t *testing.T) {
	r, _, _ := newUserRegistry(t, Limits{})
	ctx := context.Background()
	for _, name := range []string{"e", "d", "c", "b", "a"} {
		mustCreateRole(t, r, name)
	}
	var names []string
	q := RoleQuery{Limit: 2}
	for range 5 {
		page, err := r.ListRoles(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, role := range page.Roles {
			names = append(names, role.Name)
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	if strings.Join(names, "") != "abcde" {
		t.Fatalf("pages listed %v, want a to e in order", names)
	}
	if _, err := r.ListRoles(ctx, RoleQuery{Cursor: r.sealCursor(userCursorPrefix + "x")}); !errors.Is(err, ErrInvalidCursor) {
		t.Fatalf("a user list's cursor: %v, want ErrInvalidCursor", err)
	}
}
