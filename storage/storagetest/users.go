package storagetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// fullUser returns a user with every field set.
func fullUser(id, username string) storage.User {
	return storage.User{
		ID:                id,
		Username:          username,
		Email:             username + "@example.com",
		EmailVerified:     true,
		Name:              "Ada Lovelace",
		GivenName:         "Ada",
		FamilyName:        "Lovelace",
		PreferredUsername: "ada",
		Roles:             []string{"admin", "viewer"},
		Disabled:          true,
		PasswordHash:      "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		CreatedAt:         t0,
		UpdatedAt:         t0.Add(time.Second),
		LastLoginAt:       t0.Add(time.Hour),
	}
}

// minimalUser returns a user with only its identity and creation time.
func minimalUser(id, username string) storage.User {
	return storage.User{ID: id, Username: username, CreatedAt: t0, UpdatedAt: t0}
}

func mustCreateUser(t *testing.T, s storage.Store, u storage.User) {
	t.Helper()
	if err := s.CreateUser(t.Context(), u, 0); err != nil {
		t.Fatalf("CreateUser(%q): %v", u.ID, err)
	}
}

func wantUser(t *testing.T, s storage.Store, want storage.User) {
	t.Helper()
	got, err := s.GetUser(t.Context(), want.ID)
	if err != nil {
		t.Fatalf("GetUser(%q): %v", want.ID, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("GetUser(%q):\n got %+v\nwant %+v", want.ID, got, want)
	}
}

func wantUserCount(t *testing.T, s storage.Store, want int) {
	t.Helper()
	n, err := s.CountUsers(t.Context())
	if err != nil {
		t.Fatalf("CountUsers: %v", err)
	}
	if n != want {
		t.Fatalf("CountUsers = %d, want %d", n, want)
	}
}

// testUsers: create, get by ID and by username in any case, duplicate ID
// and username (another case), the limit, count.
func testUsers(t *testing.T, s storage.Store) {
	ctx := t.Context()
	wantUserCount(t, s, 0)
	full := fullUser("user-full", "Ada")
	mustCreateUser(t, s, full)
	wantUser(t, s, full)
	wantUserCount(t, s, 1)
	for _, name := range []string{"Ada", "ada", "ADA"} {
		got, err := s.GetUserByUsername(ctx, name)
		if err != nil || !reflect.DeepEqual(got, full) {
			t.Fatalf("GetUserByUsername(%q) = %+v, %v; want %+v", name, got, err, full)
		}
	}
	if _, err := s.GetUserByUsername(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetUserByUsername(unknown) error = %v, want ErrNotFound", err)
	}
	if _, err := s.GetUser(ctx, "user-none"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetUser(unknown) error = %v, want ErrNotFound", err)
	}
	if err := s.CreateUser(ctx, minimalUser(full.ID, "Other"), 0); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("CreateUser with a taken ID: error = %v, want ErrAlreadyExists", err)
	}
	if err := s.CreateUser(ctx, minimalUser("user-2", "aDA"), 0); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("CreateUser with a taken username in another case: error = %v, want ErrAlreadyExists", err)
	}
	if err := s.CreateUser(ctx, minimalUser("user-3", ""), 0); err == nil {
		t.Fatal("CreateUser with an empty username succeeded")
	}
	wantUserCount(t, s, 1)
	// The limit counts users only, not clients.
	mustCreate(t, s, minimalClient("client-1", "Ada"))
	if err := s.CreateUser(ctx, minimalUser("user-2", "Bob"), 2); err != nil {
		t.Fatalf("CreateUser under the limit: %v", err)
	}
	if err := s.CreateUser(ctx, minimalUser("user-3", "Cy"), 2); !errors.Is(err, storage.ErrLimitExceeded) {
		t.Fatalf("CreateUser past the limit: error = %v, want ErrLimitExceeded", err)
	}
	wantUserCount(t, s, 2)
	wantCount(t, s, 1)
}

// testUserList pages through users and filters by username.
func testUserList(t *testing.T, s storage.Store) {
	ctx := t.Context()
	var want []string
	for i := range 25 {
		u := minimalUser(fmt.Sprintf("user-%02d", i), fmt.Sprintf("Name%02d", i))
		mustCreateUser(t, s, u)
		want = append(want, u.ID)
	}
	for _, limit := range []int{1, 7, 25, 100} {
		var got []string
		opts := storage.ListOptions{Limit: limit}
		for range 100 {
			page, more, err := s.ListUsers(ctx, opts)
			if err != nil {
				t.Fatalf("ListUsers(%+v): %v", opts, err)
			}
			if len(page) > limit {
				t.Fatalf("ListUsers(%+v) returned %d users", opts, len(page))
			}
			for _, u := range page {
				got = append(got, u.ID)
			}
			if !more {
				break
			}
			opts.After = page[len(page)-1].ID
		}
		if !slices.Equal(got, want) {
			t.Fatalf("pages of %d: users %v, want %v", limit, got, want)
		}
	}
	page, more, err := s.ListUsers(ctx, storage.ListOptions{Limit: 10, Name: "NAME07"})
	if err != nil || more || len(page) != 1 || page[0].ID != "user-07" {
		t.Fatalf("ListUsers by username = %+v, %v, %v; want user-07 alone", page, more, err)
	}
	page, _, err = s.ListUsers(ctx, storage.ListOptions{Limit: 10, Name: "NAME07", After: "user-07"})
	if err != nil || len(page) != 0 {
		t.Fatalf("ListUsers by username after its ID = %+v, %v; want none", page, err)
	}
	page, _, err = s.ListUsers(ctx, storage.ListOptions{Limit: 10, Name: "nobody"})
	if err != nil || len(page) != 0 {
		t.Fatalf("ListUsers by unknown username = %+v, %v; want none", page, err)
	}
	if _, _, err := s.ListUsers(ctx, storage.ListOptions{Limit: 0}); err == nil {
		t.Fatal("ListUsers with limit 0 succeeded")
	}
}

// testUserUpdate: a change, a username change that frees the old name, a
// taken username, an aborted update, an ID change, an unknown user.
func testUserUpdate(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, fullUser("user-a", "Alice"))
	mustCreateUser(t, s, minimalUser("user-b", "Bob"))
	got, err := s.UpdateUser(ctx, "user-a", func(u storage.User) (storage.User, error) {
		u.Username = "ALICE2"
		u.Roles = append(u.Roles, "editor")
		u.PasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$bmV3$bmV3aGFzaA"
		u.LastLoginAt = t0.Add(2 * time.Hour)
		return u, nil
	})
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	want := fullUser("user-a", "Alice")
	want.Username = "ALICE2"
	want.Roles = []string{"admin", "viewer", "editor"}
	want.PasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$bmV3$bmV3aGFzaA"
	want.LastLoginAt = t0.Add(2 * time.Hour)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("UpdateUser returned\n %+v\nwant %+v", got, want)
	}
	wantUser(t, s, want)
	if u, err := s.GetUserByUsername(ctx, "alice2"); err != nil || u.ID != "user-a" {
		t.Fatalf("GetUserByUsername(new name) = %+v, %v", u, err)
	}
	if _, err := s.GetUserByUsername(ctx, "alice"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetUserByUsername(old name) error = %v, want ErrNotFound", err)
	}
	// The old name is free again.
	mustCreateUser(t, s, minimalUser("user-c", "alice"))

	if _, err := s.UpdateUser(ctx, "user-b", func(u storage.User) (storage.User, error) {
		u.Username = "alice2"
		return u, nil
	}); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("UpdateUser to a taken username: error = %v, want ErrAlreadyExists", err)
	}
	if _, err := s.UpdateUser(ctx, "user-b", func(u storage.User) (storage.User, error) {
		return u, errAbort
	}); err != errAbort {
		t.Fatalf("UpdateUser aborted: error = %v, want errAbort itself", err)
	}
	if _, err := s.UpdateUser(ctx, "user-b", func(u storage.User) (storage.User, error) {
		u.ID = "user-z"
		return u, nil
	}); err == nil {
		t.Fatal("UpdateUser changed the ID")
	}
	wantUser(t, s, minimalUser("user-b", "Bob"))
	if _, err := s.UpdateUser(ctx, "user-none", func(u storage.User) (storage.User, error) {
		return u, nil
	}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("UpdateUser(unknown) error = %v, want ErrNotFound", err)
	}
}

// testUserUpdateConcurrent: concurrent updates of one user lose none.
func testUserUpdateConcurrent(t *testing.T, s storage.Store) {
	const writers = 16
	base := minimalUser("user-shared", "Shared")
	mustCreateUser(t, s, base)
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			role := fmt.Sprintf("role-%02d", i)
			_, errs[i] = s.UpdateUser(t.Context(), base.ID, func(u storage.User) (storage.User, error) {
				u.Roles = append(u.Roles, role)
				return u, nil
			})
		})
	}
	wg.Wait()
	var want []string
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
		want = append(want, fmt.Sprintf("role-%02d", i))
	}
	u, err := s.GetUser(t.Context(), base.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(slices.Values(u.Roles)); !slices.Equal(got, want) {
		t.Fatalf("after %d concurrent updates, roles = %v, want %v (an update was lost)", writers, got, want)
	}
}

// testUserDelete: a delete frees the ID and the username and counts down.
func testUserDelete(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, fullUser("user-a", "Alice"))
	if err := s.DeleteUser(ctx, "user-a"); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if _, err := s.GetUser(ctx, "user-a"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetUser after delete: error = %v, want ErrNotFound", err)
	}
	if _, err := s.GetUserByUsername(ctx, "alice"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetUserByUsername after delete: error = %v, want ErrNotFound", err)
	}
	wantUserCount(t, s, 0)
	if err := s.DeleteUser(ctx, "user-a"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("DeleteUser again: error = %v, want ErrNotFound", err)
	}
	mustCreateUser(t, s, minimalUser("user-b", "ALICE"))
	wantUserCount(t, s, 1)
}

// testRoles: create, duplicate, get, list with pages and a name filter,
// update, delete.
func testRoles(t *testing.T, s storage.Store) {
	ctx := t.Context()
	admin := storage.Role{Name: "admin", Description: "Everything", Scopes: []string{"full"}, CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateRole(ctx, admin); err != nil {
		t.Fatalf("CreateRole: %v", err)
	}
	if err := s.CreateRole(ctx, storage.Role{Name: "admin", CreatedAt: t0, UpdatedAt: t0}); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("CreateRole with a taken name: error = %v, want ErrAlreadyExists", err)
	}
	// Role names are exact: another case is another role.
	if err := s.CreateRole(ctx, storage.Role{Name: "Admin", CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatalf("CreateRole in another case: %v", err)
	}
	if err := s.CreateRole(ctx, storage.Role{}); err == nil {
		t.Fatal("CreateRole with an empty name succeeded")
	}
	got, err := s.GetRole(ctx, "admin")
	if err != nil || !reflect.DeepEqual(got, admin) {
		t.Fatalf("GetRole = %+v, %v; want %+v", got, err, admin)
	}
	if _, err := s.GetRole(ctx, "none"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetRole(unknown) error = %v, want ErrNotFound", err)
	}
	for i := range 5 {
		if err := s.CreateRole(ctx, storage.Role{Name: fmt.Sprintf("r%d", i), CreatedAt: t0, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	opts := storage.ListOptions{Limit: 2}
	for range 100 {
		page, more, err := s.ListRoles(ctx, opts)
		if err != nil {
			t.Fatalf("ListRoles(%+v): %v", opts, err)
		}
		for _, r := range page {
			names = append(names, r.Name)
		}
		if !more {
			break
		}
		opts.After = page[len(page)-1].Name
	}
	if want := []string{"Admin", "admin", "r0", "r1", "r2", "r3", "r4"}; !slices.Equal(names, want) {
		t.Fatalf("ListRoles pages = %v, want %v", names, want)
	}
	page, _, err := s.ListRoles(ctx, storage.ListOptions{Limit: 5, Name: "r3"})
	if err != nil || len(page) != 1 || page[0].Name != "r3" {
		t.Fatalf("ListRoles by name = %+v, %v; want r3 alone", page, err)
	}

	updated, err := s.UpdateRole(ctx, "admin", func(r storage.Role) (storage.Role, error) {
		r.Scopes = append(r.Scopes, "admin:write")
		r.UpdatedAt = t0.Add(time.Minute)
		return r, nil
	})
	if err != nil {
		t.Fatalf("UpdateRole: %v", err)
	}
	want := admin
	want.Scopes = []string{"full", "admin:write"}
	want.UpdatedAt = t0.Add(time.Minute)
	if !reflect.DeepEqual(updated, want) {
		t.Fatalf("UpdateRole returned %+v, want %+v", updated, want)
	}
	if _, err := s.UpdateRole(ctx, "admin", func(r storage.Role) (storage.Role, error) {
		r.Name = "root"
		return r, nil
	}); err == nil {
		t.Fatal("UpdateRole renamed the role")
	}
	if _, err := s.UpdateRole(ctx, "none", func(r storage.Role) (storage.Role, error) { return r, nil }); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("UpdateRole(unknown) error = %v, want ErrNotFound", err)
	}
	if err := s.DeleteRole(ctx, "admin"); err != nil {
		t.Fatalf("DeleteRole: %v", err)
	}
	if _, err := s.GetRole(ctx, "admin"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetRole after delete: error = %v, want ErrNotFound", err)
	}
	if err := s.DeleteRole(ctx, "admin"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("DeleteRole again: error = %v, want ErrNotFound", err)
	}
}

// testMaxUsersConcurrent: concurrent creates never pass the user limit.
func testMaxUsersConcurrent(t *testing.T, s storage.Store) {
	const (
		creators = 32
		maxUsers = 10
	)
	errs := make([]error, creators)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range creators {
		wg.Go(func() {
			<-start
			errs[i] = s.CreateUser(t.Context(), minimalUser(fmt.Sprintf("user-%02d", i), fmt.Sprintf("User %02d", i)), maxUsers)
		})
	}
	close(start)
	wg.Wait()
	created := 0
	for i, err := range errs {
		switch {
		case err == nil:
			created++
		case errors.Is(err, storage.ErrLimitExceeded):
		default:
			t.Errorf("creator %d: error = %v, want nil or ErrLimitExceeded", i, err)
		}
	}
	if created != maxUsers {
		t.Fatalf("%d creates succeeded, want exactly %d", created, maxUsers)
	}
	wantUserCount(t, s, maxUsers)
}
