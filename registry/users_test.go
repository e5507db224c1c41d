package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/scopegate/scopegate/password"
	"github.com/scopegate/scopegate/storage"
)

// cheapParams keep password hashing fast under the race detector.
var cheapParams = password.Params{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 32, SaltLen: 16}

// countingStore counts user updates, to show that a change reaches each
// user through the store's own atomic update.
type countingStore struct {
	storage.Store
	userUpdates atomic.Int64
}

func (s *countingStore) UpdateUser(ctx context.Context, id string, update func(storage.User) (storage.User, error)) (storage.User, error) {
	s.userUpdates.Add(1)
	return s.Store.UpdateUser(ctx, id, update)
}

// newUserRegistry returns a Registry over a fresh store with cheap password
// parameters and a test clock.
func newUserRegistry(t testing.TB, limits Limits) (*Registry, *countingStore, *testClock) {
	t.Helper()
	if limits.Passwords == nil {
		limits.Passwords = newHasher(t, cheapParams)
	}
	store := &countingStore{Store: newTestStore(t)}
	clock := newTestClock()
	r := New(store, limits)
	r.Now = clock.Now
	return r, store, clock
}

func newHasher(t testing.TB, p password.Params) *password.Hasher {
	t.Helper()
	h, err := password.NewHasher(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mustCreateRole(t testing.TB, r *Registry, name string, scopes ...string) Role {
	t.Helper()
	role, err := r.CreateRole(context.Background(), RoleMetadata{Name: name, Scopes: scopes})
	if err != nil {
		t.Fatalf("create role %s: %v", name, err)
	}
	return role
}

func mustCreateUser(t testing.TB, r *Registry, body, pw string) User {
	t.Helper()
	m, err := DecodeUserMetadata([]byte(body))
	if err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	u, err := r.CreateUser(context.Background(), m, pw)
	if err != nil {
		t.Fatalf("create user %s: %v", body, err)
	}
	return u
}

func TestCreateUser(t *testing.T) {
	r, store, clock := newUserRegistry(t, Limits{})
	ctx := context.Background()
	mustCreateRole(t, r, "editor", "read", "write")
	u := mustCreateUser(t, r, `{"username":"Alice.Smith","email":"alice@example.com","email_verified":true,"name":"Alice Smith","given_name":"Alice","family_name":"Smith","preferred_username":"alice","roles":["editor"]}`, "violet-harbour-92")
	if len(u.UserID) != 26 || u.Username != "Alice.Smith" || !u.HasPassword || !u.CreatedAt.Equal(clock.Now()) || len(u.Roles) != 1 {
		t.Fatalf("created %+v", u)
	}
	got, err := r.GetUser(ctx, u.UserID)
	if err != nil {
		t.Fatal(err)
	}
	view, _ := json.Marshal(got)
	for _, leak := range []string{"argon2", "violet", "password_hash"} {
		if strings.Contains(string(view), leak) {
			t.Fatalf("the user's view %s holds %q", view, leak)
		}
	}
	stored, _ := store.GetUser(ctx, u.UserID)
	if !strings.HasPrefix(stored.PasswordHash, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("stored hash %q is not argon2id of the registry's parameters", stored.PasswordHash)
	}

	noPassword := mustCreateUser(t, r, `{"username":"bob"}`, "")
	if noPassword.HasPassword || noPassword.Roles == nil {
		t.Fatalf("user without password: %+v (roles must be [] not null)", noPassword)
	}
	if _, err := r.GetUser(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetUser of an unknown ID: %v", err)
	}
}

func TestCreateUserRefuses(t *testing.T) {
	r, store, _ := newUserRegistry(t, Limits{})
	mustCreateRole(t, r, "editor", "read")
	ctx := context.Background()
	for _, tc := range []struct {
		name, field string
		m           UserMetadata
		pw          string
	}{
		{"no username", "username", UserMetadata{}, ""},
		{"username of 2", "username", UserMetadata{Username: "ab"}, ""},
		{"username of 65", "username", UserMetadata{Username: strings.Repeat("a", 65)}, ""},
		{"username with a space", "username", UserMetadata{Username: "alice smith"}, ""},
		{"username not ASCII", "username", UserMetadata{Username: "ålice"}, ""},
		{"username Cyrillic look-alike", "username", UserMetadata{Username: "аlice"}, ""},
		{"username markup", "username", UserMetadata{Username: "<script>"}, ""},
		{"username with NUL", "username", UserMetadata{Username: "ali\x00ce"}, ""},
		{"email with a display name", "email", UserMetadata{Username: "alice", Email: "Alice <alice@example.com>"}, ""},
		{"email in angle brackets", "email", UserMetadata{Username: "alice", Email: "<alice@example.com>"}, ""},
		{"email without at", "email", UserMetadata{Username: "alice", Email: "alice.example.com"}, ""},
		{"email with CRLF", "email", UserMetadata{Username: "alice", Email: "alice@example.com\r\nBcc: x@y.z"}, ""},
		{"email too long", "email", UserMetadata{Username: "alice", Email: strings.Repeat("a", 250) + "@x.io"}, ""},
		{"name with a control character", "name", UserMetadata{Username: "alice", Name: "Alice\x1b[31m"}, ""},
		{"name too long", "name", UserMetadata{Username: "alice", Name: strings.Repeat("é", 256)}, ""},
		{"given_name with a bidi override", "given_name", UserMetadata{Username: "alice", GivenName: "Al\u202eice"}, ""},
		{"family_name with a trailing space", "family_name", UserMetadata{Username: "alice", FamilyName: "Smith "}, ""},
		{"preferred_username too long", "preferred_username", UserMetadata{Username: "alice", PreferredUsername: strings.Repeat("x", 256)}, ""},
		{"unknown role", "roles", UserMetadata{Username: "alice", Roles: []string{"admin"}}, ""},
		{"repeated role", "roles", UserMetadata{Username: "alice", Roles: []string{"editor", "editor"}}, ""},
		{"role name with a quote", "roles", UserMetadata{Username: "alice", Roles: []string{`a"b`}}, ""},
		{"too many roles", "roles", UserMetadata{Username: "alice", Roles: make([]string, 101)}, ""},
		{"short password", "password", UserMetadata{Username: "alice"}, "Zq9!kw7"},
		{"common password", "password", UserMetadata{Username: "alice"}, "Iloveyou"},
		{"password is the username", "password", UserMetadata{Username: "alice.smith"}, "ALICE.SMITH"},
		{"password is the email", "password", UserMetadata{Username: "alice", Email: "alice@example.com"}, "alice@example.com"},
		{"password not UTF-8", "password", UserMetadata{Username: "alice"}, "abcdefgh\xff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.CreateUser(ctx, tc.m, tc.pw)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Fatalf("CreateUser = %v, want a *ValidationError for %s", err, tc.field)
			}
			checkValidationError(t, err)
			for _, v := range []string{tc.pw, tc.m.Email, tc.m.Name} {
				if len(v) > 3 && strings.Contains(err.Error(), v) {
					t.Fatalf("error %q repeats the input", err)
				}
			}
		})
	}
	if n, _ := store.CountUsers(ctx); n != 0 {
		t.Fatalf("%d users stored after refusals", n)
	}
}

func TestUsernameTakenIgnoringCaseAndUserLimit(t *testing.T) {
	r, _, _ := newUserRegistry(t, Limits{MaxUsers: 2})
	ctx := context.Background()
	mustCreateUser(t, r, `{"username":"alice"}`, "")
	_, err := r.CreateUser(ctx, UserMetadata{Username: "ALICE"}, "")
	if !errors.Is(err, ErrUsernameTaken) || !errors.Is(err, storage.ErrAlreadyExists) || errors.Is(err, ErrNameTaken) {
		t.Fatalf("taken username: %v, want ErrUsernameTaken", err)
	}
	mustCreateUser(t, r, `{"username":"bob"}`, "")
	if _, err := r.CreateUser(ctx, UserMetadata{Username: "carol"}, ""); !errors.Is(err, ErrLimitExceeded) {
		t.Fatalf("third user with MaxUsers 2: %v, want ErrLimitExceeded", err)
	}
	bob, _ := r.ListUsers(ctx, UserQuery{Username: "bob"})
	if _, err := r.PatchUser(ctx, bob.Users[0].UserID, []byte(`{"username":"Alice"}`)); !errors.Is(err, ErrUsernameTaken) {
		t.Fatalf("renaming to a taken username: %v, want ErrUsernameTaken", err)
	}
}

func TestDecodeUserMetadataRefuses(t *testing.T) {
	for _, tc := range []struct{ name, body, field string }{
		{"unknown field", `{"username":"alice","admin":true}`, "admin"},
		{"user_id", `{"username":"alice","user_id":"x"}`, "user_id"},
		{"password", `{"username":"alice","password":"violet-harbour-92"}`, "password"},
		{"password_hash", `{"username":"alice","password_hash":"$2a$"}`, "password_hash"},
		{"has_password", `{"username":"alice","has_password":true}`, "has_password"},
		{"last_login_at", `{"username":"alice","last_login_at":"2026-01-01T00:00:00Z"}`, "last_login_at"},
		{"roles not an array", `{"username":"alice","roles":"editor"}`, "roles"},
		{"disabled not a boolean", `{"username":"alice","disabled":"yes"}`, "disabled"},
		{"duplicate member", `{"username":"alice","username":"bob"}`, "username"},
		{"not an object", `["alice"]`, "body"},
		{"trailing data", `{"username":"alice"} {}`, "body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeUserMetadata([]byte(tc.body))
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Fatalf("DecodeUserMetadata = %v, want a *ValidationError for %s", err, tc.field)
			}
			if strings.Contains(err.Error(), "violet") {
				t.Fatalf("error %q repeats the password", err)
			}
		})
	}
}

func TestListUsers(t *testing.T) {
	r, _, _ := newUserRegistry(t, Limits{})
	ctx := context.Background()
	for _, name := range []string{"ann", "ben", "cat", "dan", "eve"} {
		mustCreateUser(t, r, `{"username":"`+name+`"}`, "")
	}
	var seen []string
	q := UserQuery{Limit: 2}
	for pages := 0; ; pages++ {
		page, err := r.ListUsers(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range page.Users {
			seen = append(seen, u.Username)
		}
		if page.NextCursor == "" {
			break
		}
		if pages > 5 {
			t.Fatal("listing does not end")
		}
		q.Cursor = page.NextCursor
	}
	if len(seen) != 5 {
		t.Fatalf("pages held %v, want the 5 users once each", seen)
	}
	page, err := r.ListUsers(ctx, UserQuery{Username: "DAN"})
	if err != nil || len(page.Users) != 1 || page.Users[0].Username != "dan" {
		t.Fatalf("filter by username ignoring case: %+v, %v", page, err)
	}

	clientCursor := r.sealCursor("someclientid")
	for _, tc := range []struct {
		name string
		q    UserQuery
		want error
	}{
		{"forged cursor", UserQuery{Cursor: "Zm9yZ2Vk"}, ErrInvalidCursor},
		{"a client list's cursor", UserQuery{Cursor: clientCursor}, ErrInvalidCursor},
		{"a role list's cursor", UserQuery{Cursor: r.sealCursor(roleCursorPrefix + "editor")}, ErrInvalidCursor},
		{"limit too high", UserQuery{Limit: MaxListLimit + 1}, ErrInvalidLimit},
		{"negative limit", UserQuery{Limit: -1}, ErrInvalidLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := r.ListUsers(ctx, tc.q); !errors.Is(err, tc.want) {
				t.Fatalf("ListUsers = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestPatchUser(t *testing.T) {
	r, store, clock := newUserRegistry(t, Limits{})
	ctx := context.Background()
	mustCreateRole(t, r, "editor", "read")
	mustCreateRole(t, r, "viewer", "read")
	u := mustCreateUser(t, r, `{"username":"alice","name":"Alice","email":"a@example.com","roles":["editor"]}`, "violet-harbour-92")
	clock.Add(time.Minute)

	got, err := r.PatchUser(ctx, u.UserID, []byte(`{"email":"alice@example.org","name":null,"roles":["editor","viewer"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got.Email != "alice@example.org" || got.Name != "" || len(got.Roles) != 2 || !got.HasPassword || !got.UpdatedAt.Equal(clock.Now()) || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Fatalf("patched %+v", got)
	}

	for _, tc := range []struct{ name, patch, field string }{
		{"password", `{"password":"another-long-one"}`, "password"},
		{"user_id", `{"user_id":null}`, "user_id"},
		{"unknown role", `{"roles":["admin"]}`, "roles"},
		{"bad email", `{"email":"Alice <a@example.com>"}`, "email"},
		{"username removed", `{"username":null}`, "username"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.PatchUser(ctx, u.UserID, []byte(tc.patch))
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Fatalf("PatchUser = %v, want a *ValidationError for %s", err, tc.field)
			}
		})
	}

	// A role deleted behind the registry's back stays on the user, and does
	// not stop other fields from being patched.
	if err := store.DeleteRole(ctx, "viewer"); err != nil {
		t.Fatal(err)
	}
	if got, err = r.PatchUser(ctx, u.UserID, []byte(`{"name":"Alice S."}`)); err != nil || got.Name != "Alice S." {
		t.Fatalf("patch of a user holding a deleted role: %+v, %v", got, err)
	}
	if _, err := r.PatchUser(ctx, "nobody", []byte(`{"name":"x"}`)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("patch of an unknown user: %v", err)
	}
}

func TestSetUserPasswordAndDisabled(t *testing.T) {
	r, _, _ := newUserRegistry(t, Limits{})
	ctx := context.Background()
	u := mustCreateUser(t, r, `{"username":"alice","email":"alice@example.com"}`, "")
	if _, err := r.SetUserPassword(ctx, u.UserID, "Alice@Example.com"); !isFieldError(err, "password") {
		t.Fatalf("password equal to the email: %v", err)
	}
	got, err := r.SetUserPassword(ctx, u.UserID, "violet-harbour-92")
	if err != nil || !got.HasPassword {
		t.Fatalf("SetUserPassword = %+v, %v", got, err)
	}
	if _, err := r.SignIn(ctx, "alice", "violet-harbour-92"); err != nil {
		t.Fatalf("sign-in with the new password: %v", err)
	}
	if _, err := r.SetUserPassword(ctx, u.UserID, "quiet-meadow-17"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SignIn(ctx, "alice", "violet-harbour-92"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("the old password still works: %v", err)
	}
	if got, err := r.SetUserDisabled(ctx, u.UserID, true); err != nil || !got.Disabled {
		t.Fatalf("SetUserDisabled = %+v, %v", got, err)
	}
	if _, err := r.SignIn(ctx, "alice", "quiet-meadow-17"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("a disabled user signed in: %v", err)
	}
	if _, err := r.SetUserDisabled(ctx, u.UserID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SignIn(ctx, "alice", "quiet-meadow-17"); err != nil {
		t.Fatalf("an enabled user cannot sign in: %v", err)
	}
	if _, err := r.SetUserPassword(ctx, "nobody", "quiet-meadow-17"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("password of an unknown user: %v", err)
	}
}

func isFieldError(err error, field string) bool {
	var ve *ValidationError
	return errors.As(err, &ve) && ve.Field == field
}

// TestSignInFailuresAreAlike checks that every failed sign-in gives the
// same error after exactly one hash computation of the current
// parameters, whatever failed: the answer and its cost say nothing about
// whether the username exists, has a password or is disabled.
func TestSignInFailuresAreAlike(t *testing.T) {
	r, _, _ := newUserRegistry(t, Limits{})
	ctx := context.Background()
	h := r.limits.Passwords
	mustCreateUser(t, r, `{"username":"alice"}`, "violet-harbour-92")
	mustCreateUser(t, r, `{"username":"nopass"}`, "")
	d := mustCreateUser(t, r, `{"username":"dora"}`, "violet-harbour-92")
	if _, err := r.SetUserDisabled(ctx, d.UserID, true); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, username, pw string }{
		{"unknown username", "mallory", "violet-harbour-92"},
		{"wrong password", "alice", "violet-harbour-93"},
		{"empty password", "alice", ""},
		{"user without a password", "nopass", "violet-harbour-92"},
		{"disabled user, right password", "dora", "violet-harbour-92"},
		{"disabled user, wrong password", "dora", "wrong"},
		{"username that cannot exist", "<script>\r\n", "violet-harbour-92"},
		{"huge username", strings.Repeat("a", 1<<16), "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.Computations()
			u, err := r.SignIn(ctx, tc.username, tc.pw)
			if err != ErrBadCredentials || u.ID != "" {
				t.Fatalf("SignIn = %+v, %v; want exactly ErrBadCredentials", u, err)
			}
			if n := h.Computations() - before; n != 1 {
				t.Fatalf("%d hash computations, want 1 as for any sign-in", n)
			}
		})
	}
}

func TestSignInRecordsLastLogin(t *testing.T) {
	r, _, clock := newUserRegistry(t, Limits{})
	ctx := context.Background()
	created := mustCreateUser(t, r, `{"username":"Alice"}`, "violet-harbour-92")
	if !created.LastLoginAt.IsZero() {
		t.Fatal("a new user has a last login")
	}
	clock.Add(time.Hour)
	u, err := r.SignIn(ctx, "aLiCe", "violet-harbour-92")
	if err != nil {
		t.Fatalf("SignIn with the username in another case: %v", err)
	}
	if u.ID != created.UserID || !u.LastLoginAt.Equal(clock.Now()) {
		t.Fatalf("signed in as %+v", u)
	}
	got, _ := r.GetUser(ctx, created.UserID)
	if !got.LastLoginAt.Equal(clock.Now()) {
		t.Fatalf("stored last_login_at %v, want %v", got.LastLoginAt, clock.Now())
	}
}

// TestSignInRehashes checks that a hash of older parameters, or an
// imported bcrypt hash, is replaced at a successful sign-in by one of the
// current parameters, and that the password keeps working.
func TestSignInRehashes(t *testing.T) {
	ctx := context.Background()
	old, store, _ := newUserRegistry(t, Limits{})
	u := mustCreateUser(t, old, `{"username":"alice"}`, "violet-harbour-92")
	b := mustCreateUser(t, old, `{"username":"bob"}`, "")
	bcryptHash, err := bcrypt.GenerateFromPassword([]byte("quiet-meadow-17"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.ImportPasswordHash(ctx, b.UserID, string(bcryptHash)); err != nil {
		t.Fatalf("import a bcrypt hash: %v", err)
	}

	stronger := cheapParams
	stronger.Time = 2
	current := New(store, Limits{Passwords: newHasher(t, stronger)})
	for _, tc := range []struct{ id, username, pw string }{
		{u.UserID, "alice", "violet-harbour-92"},
		{b.UserID, "bob", "quiet-meadow-17"},
	} {
		t.Run(tc.username, func(t *testing.T) {
			if _, err := current.SignIn(ctx, tc.username, tc.pw+"x"); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("wrong password: %v", err)
			}
			before, _ := store.GetUser(ctx, tc.id)
			if _, err := current.SignIn(ctx, tc.username, tc.pw); err != nil {
				t.Fatal(err)
			}
			after, _ := store.GetUser(ctx, tc.id)
			if after.PasswordHash == before.PasswordHash || !strings.HasPrefix(after.PasswordHash, "$argon2id$v=19$m=64,t=2,p=1$") {
				t.Fatalf("hash after sign-in %q, want a new argon2id hash with t=2", after.PasswordHash)
			}
			if _, err := current.SignIn(ctx, tc.username, tc.pw); err != nil {
				t.Fatalf("sign-in after the rehash: %v", err)
			}
		})
	}
}

func TestImportPasswordHashRefuses(t *testing.T) {
	r, store, _ := newUserRegistry(t, Limits{})
	ctx := context.Background()
	u := mustCreateUser(t, r, `{"username":"alice"}`, "")
	good, _ := bcrypt.GenerateFromPassword([]byte("x"), bcrypt.MinCost)
	for _, tc := range []struct{ name, hash string }{
		{"plain text", "violet-harbour-92"},
		{"empty", ""},
		{"md5 crypt", "$1$saltsalt$2vnaRpHa6Jxjz5n83ok8Z0"},
		{"sha512 crypt", "$6$salt$IxDD3jeSOb5eB1CX5LBsqZFVkJdido3OUILO5Ifz5iwMuTS4XMS130MTSuDDl3aCI6WouIL9AjRbLCelDCy.g."},
		{"argon2i", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"},
		{"argon2id with 4 TiB of memory", "$argon2id$v=19$m=4294967295,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"},
		{"argon2id with t=1000", "$argon2id$v=19$m=19456,t=1000,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"},
		{"bcrypt of cost 31", "$2b$31$" + string(good[7:])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.ImportPasswordHash(ctx, u.UserID, tc.hash)
			if !isFieldError(err, "password_hash") {
				t.Fatalf("ImportPasswordHash = %v, want a *ValidationError for password_hash", err)
			}
			if len(tc.hash) > 8 && strings.Contains(err.Error(), tc.hash[4:]) {
				t.Fatalf("error %q repeats the hash", err)
			}
			if s, _ := store.GetUser(ctx, u.UserID); s.PasswordHash != "" {
				t.Fatal("a refused hash was stored")
			}
		})
	}
}

func TestUserScopesAreTheUnionOfRoles(t *testing.T) {
	r, store, _ := newUserRegistry(t, Limits{})
	ctx := context.Background()
	mustCreateRole(t, r, "reader", "read", "list")
	mustCreateRole(t, r, "writer", "write", "read")
	mustCreateRole(t, r, "admin", "full")
	u := mustCreateUser(t, r, `{"username":"alice","roles":["reader","writer"]}`, "")
	nobody := mustCreateUser(t, r, `{"username":"bob"}`, "")

	set, err := r.UserScopes(ctx, u.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 3 || !set.Has("read") || !set.Has("list") || !set.Has("write") || set.Has("full") {
		t.Fatalf("scopes %q, want read, list and write", set)
	}
	if set, err := r.UserScopes(ctx, nobody.UserID); err != nil || set.Len() != 0 {
		t.Fatalf("a user without roles has scopes %q, %v", set, err)
	}
	// A role that no longer exists contributes nothing.
	if err := store.DeleteRole(ctx, "writer"); err != nil {
		t.Fatal(err)
	}
	if set, _ := r.UserScopes(ctx, u.UserID); set.Len() != 2 || set.Has("write") {
		t.Fatalf("scopes after the role was deleted %q, want read and list", set)
	}
	// A scope taken off a role is off the user at once.
	if _, err := r.PatchRole(ctx, "reader", []byte(`{"scopes":["read"]}`)); err != nil {
		t.Fatal(err)
	}
	if set, _ := r.UserScopes(ctx, u.UserID); set.String() != "read" {
		t.Fatalf("scopes after a scope was taken off the role %q, want read", set)
	}
	if _, err := r.UserScopes(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("scopes of an unknown user: %v", err)
	}
}

func TestDeleteUser(t *testing.T) {
	r, _, _ := newUserRegistry(t, Limits{})
	ctx := context.Background()
	u := mustCreateUser(t, r, `{"username":"alice"}`, "violet-harbour-92")
	if err := r.DeleteUser(ctx, u.UserID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SignIn(ctx, "alice", "violet-harbour-92"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("a deleted user signed in: %v", err)
	}
	if err := r.DeleteUser(ctx, u.UserID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting twice: %v", err)
	}
	mustCreateUser(t, r, `{"username":"ALICE"}`, "")
}

// Disabling a user or replacing their password ends their sessions at
// once; other changes, and a sign-in's own re-hash, leave them.
func TestUserChangesThatEndSessions(t *testing.T) {
	r, store, _ := newUserRegistry(t, Limits{})
	ctx := context.Background()
	u := mustCreateUser(t, r, `{"username":"alice"}`, "violet-harbour-92")
	sessions := func() int {
		t.Helper()
		list, err := store.ListUserSessions(ctx, u.UserID)
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	signIn := func() {
		t.Helper()
		now := time.Now()
		s := storage.Session{ID: fmt.Sprintf("s%d", now.UnixNano()), UserID: u.UserID, CreatedAt: now,
			LastSeenAt: now, ExpiresAt: now.Add(time.Hour), IdleTimeout: time.Hour}
		if err := store.CreateSession(ctx, s, 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name   string
		change func() error
		ends   bool
	}{
		{"patch the email", func() error { _, err := r.PatchUser(ctx, u.UserID, []byte(`{"email":"a@example.com"}`)); return err }, false},
		{"disable", func() error { _, err := r.SetUserDisabled(ctx, u.UserID, true); return err }, true},
		{"enable", func() error { _, err := r.SetUserDisabled(ctx, u.UserID, false); return err }, false},
		{"disable by patch", func() error { _, err := r.PatchUser(ctx, u.UserID, []byte(`{"disabled":true}`)); return err }, true},
		{"enable by patch", func() error { _, err := r.PatchUser(ctx, u.UserID, []byte(`{"disabled":false}`)); return err }, false},
		{"set the password", func() error { _, err := r.SetUserPassword(ctx, u.UserID, "amber-lantern-417"); return err }, true},
		{"sign in", func() error { _, err := r.SignIn(ctx, "alice", "amber-lantern-417"); return err }, false},
	} {
		signIn()
		before := sessions()
		if err := c.change(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if after := sessions(); (after == 0) != c.ends || !c.ends && after != before {
			t.Fatalf("%s: %d sessions before, %d after; want them ended: %v", c.name, before, after, c.ends)
		}
	}
}
