package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scopegate/scopegate/password"
	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/storage"
)

// User errors, checked with errors.Is.
var (
	// ErrUsernameTaken: another user has the same username, ignoring case.
	// It wraps storage.ErrAlreadyExists.
	ErrUsernameTaken = fmt.Errorf("username is taken: %w", storage.ErrAlreadyExists)
	// ErrBadCredentials: sign-in failed. Unknown username, wrong password,
	// a user without a password and a disabled user all give this one
	// error, after the same work.
	ErrBadCredentials = errors.New("invalid username or password")
)

// Bounds of the user rules.
const (
	minUsernameLen = 3
	maxUsernameLen = 64
	// maxEmailLen is RFC 5321's limit on a forward path, less its angle
	// brackets.
	maxEmailLen = 254
	// maxProfileRunes bounds name, given_name, family_name and
	// preferred_username.
	maxProfileRunes = 255
	// maxUserRoles bounds the roles one user holds, and so the store reads
	// that validating or resolving them costs.
	maxUserRoles = 100
)

// UserMetadata holds a user's writable fields, as the admin API reads them
// (profile names follow OpenID Connect Core §5.1). DecodeUserMetadata is
// the strict way to read it from JSON; CreateUser validates it.
type UserMetadata struct {
	// Username is required and unique ignoring case: 3 to 64 ASCII letters,
	// digits and . _ - @.
	Username string `json:"username"`
	// Email is an address without a display name ("a@example.com").
	Email string `json:"email,omitempty"`
	// EmailVerified says the operator has checked that Email is the user's.
	EmailVerified bool `json:"email_verified,omitempty"`
	// Name, GivenName, FamilyName and PreferredUsername are free text of at
	// most 255 printable characters.
	Name              string `json:"name,omitempty"`
	GivenName         string `json:"given_name,omitempty"`
	FamilyName        string `json:"family_name,omitempty"`
	PreferredUsername string `json:"preferred_username,omitempty"`
	// Roles names roles that exist, each once.
	Roles []string `json:"roles,omitempty"`
	// Disabled stops the user from signing in.
	Disabled bool `json:"disabled,omitempty"`
}

// User is the public view of a user: what the admin API returns. It never
// holds a password or its hash.
type User struct {
	UserID            string   `json:"user_id"`
	Username          string   `json:"username"`
	Email             string   `json:"email,omitempty"`
	EmailVerified     bool     `json:"email_verified"`
	Name              string   `json:"name,omitempty"`
	GivenName         string   `json:"given_name,omitempty"`
	FamilyName        string   `json:"family_name,omitempty"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
	Roles             []string `json:"roles"`
	Disabled          bool     `json:"disabled"`
	// HasPassword says whether the user can sign in with a password.
	HasPassword bool      `json:"has_password"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// LastLoginAt is the last successful sign-in; zero (omitted) if none.
	LastLoginAt time.Time `json:"last_login_at,omitzero"`
}

// userFields are a user's writable and read-only request fields. A
// password is read-only here: it is set through SetUserPassword or
// CreateUser's own argument, checked by the policy, and never travels in
// metadata that may be logged or echoed.
var userFields = fieldSet{
	types: map[string]string{
		"username":           "a string",
		"email":              "a string",
		"email_verified":     "a boolean",
		"name":               "a string",
		"given_name":         "a string",
		"family_name":        "a string",
		"preferred_username": "a string",
		"roles":              "an array of strings",
		"disabled":           "a boolean",
	},
	readOnly: map[string]bool{
		"user_id":       true,
		"password":      true,
		"has_password":  true,
		"created_at":    true,
		"updated_at":    true,
		"last_login_at": true,
	},
}

// DecodeUserMetadata reads a request body as strictly as DecodeMetadata
// reads a client's: one JSON object, no duplicate, unknown or read-only
// member, every field of its type; every error a *ValidationError naming
// the field.
func DecodeUserMetadata(data []byte) (UserMetadata, error) {
	var m UserMetadata
	if err := userFields.decode(data, &m); err != nil {
		return UserMetadata{}, err
	}
	return m, nil
}

// normalizeUser validates m and returns a record holding its fields. Roles
// must exist in the store, except those in held: a user keeps a role that
// was deleted while a concurrent write gave it to them, rather than being
// stuck unable to be patched.
func (r *Registry) normalizeUser(ctx context.Context, m UserMetadata, held []string) (storage.User, error) {
	rec, err := userRecord(m)
	if err != nil {
		return storage.User{}, err
	}
	if err := r.checkUserRoles(ctx, m.Roles, held); err != nil {
		return storage.User{}, err
	}
	return rec, nil
}

// userRecord validates every field of m but the roles' existence, which
// needs the store, and returns a record holding them.
func userRecord(m UserMetadata) (storage.User, error) {
	if err := checkUsername(m.Username); err != nil {
		return storage.User{}, err
	}
	if err := checkEmail(m.Email); err != nil {
		return storage.User{}, err
	}
	for _, f := range []struct{ field, value string }{
		{"name", m.Name},
		{"given_name", m.GivenName},
		{"family_name", m.FamilyName},
		{"preferred_username", m.PreferredUsername},
	} {
		if err := checkText(f.field, f.value, maxProfileRunes); err != nil {
			return storage.User{}, err
		}
	}
	return storage.User{
		Username:          m.Username,
		Email:             m.Email,
		EmailVerified:     m.EmailVerified,
		Name:              m.Name,
		GivenName:         m.GivenName,
		FamilyName:        m.FamilyName,
		PreferredUsername: m.PreferredUsername,
		Roles:             cloneOrNil(m.Roles),
		Disabled:          m.Disabled,
	}, nil
}

// usernameRule is checkUsername's rule, as its refusals state it.
const usernameRule = "must be 3 to 64 characters: ASCII letters, digits and . _ - @"

// checkUsername enforces the username's alphabet. It is ASCII on purpose:
// usernames are compared ignoring case by the store's NameKey, and ASCII
// has one case folding, no look-alike letters (Cyrillic а for Latin a) and
// no normalization forms, so two people cannot hold names that look the
// same, and a name typed on any keyboard finds its user. Display names
// belong in name and preferred_username, which take any printable text.
func checkUsername(name string) error {
	if name == "" {
		return &ValidationError{Field: "username", Reason: "is required"}
	}
	if len(name) < minUsernameLen || len(name) > maxUsernameLen {
		return &ValidationError{Field: "username", Reason: usernameRule}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '@'
		if !ok {
			return &ValidationError{Field: "username", Reason: usernameRule}
		}
	}
	return nil
}

// checkEmail accepts an empty email or a bare address as net/mail parses
// it: no display name, no angle brackets, no comment, nothing around it.
func checkEmail(email string) error {
	if email == "" {
		return nil
	}
	const rule = "must be an email address without a display name, at most 254 characters"
	if len(email) > maxEmailLen {
		return &ValidationError{Field: "email", Reason: rule}
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email {
		return &ValidationError{Field: "email", Reason: rule}
	}
	return nil
}

// checkUserRoles checks that roles holds at most maxUserRoles distinct
// names, each of a role that exists or is in held.
func (r *Registry) checkUserRoles(ctx context.Context, roles, held []string) error {
	if len(roles) > maxUserRoles {
		return &ValidationError{Field: "roles", Reason: "holds more than " + strconv.Itoa(maxUserRoles) + " entries"}
	}
	for i, name := range roles {
		if slices.Contains(roles[:i], name) {
			return &ValidationError{Field: "roles", Reason: "entry " + strconv.Itoa(i) + " repeats an earlier entry"}
		}
		if slices.Contains(held, name) {
			continue
		}
		if checkRoleName(name) != nil {
			return &ValidationError{Field: "roles", Reason: "entry " + strconv.Itoa(i) + " is not a role name"}
		}
		_, err := r.store.GetRole(ctx, name)
		if errors.Is(err, storage.ErrNotFound) {
			return &ValidationError{Field: "roles", Reason: "entry " + strconv.Itoa(i) + " is not an existing role"}
		}
		if err != nil {
			return fmt.Errorf("check roles: %w", err)
		}
	}
	return nil
}

// storeMaxUsers is the limit handed to Store.CreateUser (<= 0: none).
func (r *Registry) storeMaxUsers() int {
	return max(r.limits.MaxUsers, 0)
}

// newUserID returns a user ID: 128 random bits in lowercase base32, like a
// client ID, so that one user's ID tells nothing about another's.
func newUserID() string {
	return newClientID()
}

// CreateUser validates m and stores a new user. password may be empty (a
// user who cannot sign in until one is set); otherwise it must meet the
// password policy, with the username and email as related values.
func (r *Registry) CreateUser(ctx context.Context, m UserMetadata, pw string) (User, error) {
	rec, err := r.normalizeUser(ctx, m, nil)
	if err != nil {
		return User{}, err
	}
	if pw != "" {
		if rec.PasswordHash, err = r.hashNewPassword(ctx, pw, rec); err != nil {
			return User{}, err
		}
	}
	return r.storeNewUser(ctx, rec)
}

// storeNewUser gives the validated record rec an ID and its times, and
// stores it within the user limit.
func (r *Registry) storeNewUser(ctx context.Context, rec storage.User) (User, error) {
	now := r.now()
	rec.ID = newUserID()
	rec.CreatedAt = now
	rec.UpdatedAt = now
	if err := r.store.CreateUser(ctx, rec, r.storeMaxUsers()); err != nil {
		return User{}, storeErrorAs("create user", err, ErrUsernameTaken)
	}
	return userView(rec), nil
}

// hashNewPassword applies the policy to pw for user u and hashes it.
func (r *Registry) hashNewPassword(ctx context.Context, pw string, u storage.User) (string, error) {
	if err := r.checkPassword(pw, u.Username, u.Email); err != nil {
		return "", err
	}
	phc, err := r.limits.Passwords.Hash(ctx, pw)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return phc, nil
}

// checkPassword applies the password policy to pw, with the user's
// username and email as related values, as a *ValidationError of the
// password field that names the rule and never the password.
func (r *Registry) checkPassword(pw, username, email string) error {
	if err := r.limits.PasswordPolicy.Check(pw, username, email); err != nil {
		// The policy's messages read "password is …"; the field names it.
		return &ValidationError{Field: "password", Reason: strings.TrimPrefix(err.Error(), "password ")}
	}
	return nil
}

// GetUser returns the user with that ID.
func (r *Registry) GetUser(ctx context.Context, id string) (User, error) {
	u, err := r.store.GetUser(ctx, id)
	if err != nil {
		return User{}, storeErrorAs("get user", err, ErrUsernameTaken)
	}
	return userView(u), nil
}

// UserQuery selects a page of users.
type UserQuery struct {
	// Username keeps only the user with this username, ignoring case.
	Username string
	// Limit is the page size: 0 means DefaultListLimit; at most MaxListLimit.
	Limit int
	// Cursor is a previous page's NextCursor; empty starts at the beginning.
	Cursor string
}

// UserPage is one page of users, in ascending order of user ID.
type UserPage struct {
	Users []User `json:"users"`
	// NextCursor fetches the next page; empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// userCursorPrefix marks the IDs in user list cursors, so that a cursor of
// another list (clients, roles) does not open as a user cursor.
const userCursorPrefix = "user\x00"

// ListUsers returns a page of users, with cursors like List's.
func (r *Registry) ListUsers(ctx context.Context, q UserQuery) (UserPage, error) {
	const op = "list users"
	limit, err := pageLimit(op, q.Limit)
	if err != nil {
		return UserPage{}, err
	}
	after, err := r.openKindCursor(op, userCursorPrefix, q.Cursor)
	if err != nil {
		return UserPage{}, err
	}
	recs, more, err := r.store.ListUsers(ctx, storage.ListOptions{After: after, Limit: limit, Name: q.Username})
	if err != nil {
		return UserPage{}, fmt.Errorf("%s: %w", op, err)
	}
	page := UserPage{Users: make([]User, 0, len(recs))}
	for _, u := range recs {
		page.Users = append(page.Users, userView(u))
	}
	if more && len(recs) > 0 {
		page.NextCursor = r.sealCursor(userCursorPrefix + recs[len(recs)-1].ID)
	}
	return page, nil
}

// openKindCursor opens a cursor sealed with prefix before the key it
// carries; an empty cursor starts at the beginning.
func (r *Registry) openKindCursor(op, prefix, cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	key, err := r.openCursor(cursor)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	after, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return "", fmt.Errorf("%s: %w", op, ErrInvalidCursor)
	}
	return after, nil
}

// PatchUser applies an RFC 7396 JSON merge patch to the user's metadata,
// then validates the result as CreateUser does. null resets a field. A
// patch naming a read-only field (password, user_id, …) is refused.
func (r *Registry) PatchUser(ctx context.Context, id string, mergePatch []byte) (User, error) {
	if err := userFields.checkPatch(mergePatch); err != nil {
		return User{}, err
	}
	// Roles are checked against the store before the atomic update, which
	// must be pure; the update applies the patch again to the record as it
	// then is, and refuses if that would store other roles than the ones
	// checked (a concurrent change: the caller may retry).
	current, err := r.store.GetUser(ctx, id)
	if err != nil {
		return User{}, storeErrorAs("patch user", err, ErrUsernameTaken)
	}
	want, err := patchedUser(current, mergePatch)
	if err != nil {
		return User{}, err
	}
	if _, err := r.normalizeUser(ctx, want, current.Roles); err != nil {
		return User{}, err
	}
	return r.updateUser(ctx, "patch user", id, func(u *storage.User, _ time.Time) error {
		again, err := patchedUser(*u, mergePatch)
		if err != nil {
			return err
		}
		rec, err := userRecord(again)
		if err != nil {
			return err
		}
		if !slices.Equal(rec.Roles, want.Roles) {
			return fmt.Errorf("roles changed during the patch: %w", ErrUnavailable)
		}
		setUserMetadata(u, rec)
		return nil
	})
}

// patchedUser applies mergePatch to u's metadata and decodes the result.
func patchedUser(u storage.User, mergePatch []byte) (UserMetadata, error) {
	current, err := json.Marshal(userMetadata(u))
	if err != nil {
		return UserMetadata{}, fmt.Errorf("encode current user: %w", err)
	}
	merged, err := applyMergePatch(current, mergePatch)
	if err != nil {
		return UserMetadata{}, err
	}
	return DecodeUserMetadata(merged)
}

// DeleteUser removes the user.
func (r *Registry) DeleteUser(ctx context.Context, id string) error {
	if err := r.store.DeleteUser(ctx, id); err != nil {
		return storeErrorAs("delete user", err, ErrUsernameTaken)
	}
	return nil
}

// SetUserPassword checks pw against the password policy (with the user's
// username and email as related values) and makes it the user's password.
func (r *Registry) SetUserPassword(ctx context.Context, id, pw string) (User, error) {
	current, err := r.store.GetUser(ctx, id)
	if err != nil {
		return User{}, storeErrorAs("set password", err, ErrUsernameTaken)
	}
	phc, err := r.hashNewPassword(ctx, pw, current)
	if err != nil {
		return User{}, err
	}
	return r.updateUser(ctx, "set password", id, func(u *storage.User, _ time.Time) error {
		u.PasswordHash = phc
		return nil
	})
}

// ImportPasswordHash sets the user's password from a hash made by another
// system: an argon2id PHC string or a bcrypt hash ($2a$, $2b$, $2y$),
// parsed strictly by password.Parse so that its parameters are bounded. A
// bcrypt hash, or an argon2id hash of other parameters, is replaced at the
// user's next sign-in.
func (r *Registry) ImportPasswordHash(ctx context.Context, id, hash string) (User, error) {
	stored, err := importedHash(hash)
	if err != nil {
		return User{}, err
	}
	return r.updateUser(ctx, "import password hash", id, func(u *storage.User, _ time.Time) error {
		u.PasswordHash = stored
		return nil
	})
}

// importedHash parses a hash made by another system, as ImportPasswordHash
// describes, and returns the form to store.
func importedHash(hash string) (string, error) {
	parsed, err := password.Parse(hash)
	if err != nil {
		return "", &ValidationError{Field: "password_hash", Reason: "must be an argon2id PHC string or a bcrypt hash within bounds (" + err.Error() + ")"}
	}
	return parsed.String(), nil
}

// SetUserDisabled disables or enables the user. A disabled user cannot
// sign in.
func (r *Registry) SetUserDisabled(ctx context.Context, id string, disabled bool) (User, error) {
	return r.updateUser(ctx, "set user disabled", id, func(u *storage.User, _ time.Time) error {
		u.Disabled = disabled
		return nil
	})
}

// SignIn checks a username and password and returns the user's record.
// Unknown username, a user without a password, a wrong password and a
// disabled user all give ErrBadCredentials after one password computation
// of the current parameters, so neither the answer nor its time says which;
// disabled is checked only after the password was right, so it tells
// nothing to someone who does not know the password. On success it records
// LastLoginAt and, when the stored hash is bcrypt or of other parameters,
// replaces it with a hash of the current ones; both are best effort, and a
// store that cannot take them does not fail the sign-in. Throttling
// attempts is the caller's job. password.ErrBusy or a context error means
// the check was not made.
func (r *Registry) SignIn(ctx context.Context, username, pw string) (storage.User, error) {
	u, err := r.lookupUsername(ctx, username, pw)
	if err != nil {
		return storage.User{}, err
	}
	ok, rehash, err := r.verifyPassword(ctx, u, pw)
	if err != nil {
		return storage.User{}, fmt.Errorf("sign in: %w", err)
	}
	if !ok || u.Disabled {
		return storage.User{}, ErrBadCredentials
	}
	return r.recordSignIn(ctx, u, pw, rehash), nil
}

// verifyPassword checks pw against u's stored hash with one password
// computation of the current parameters, whether u has a password, a
// hash that cannot be checked, or a good one: the one check of a person's
// password, for sign-in and for a change that needs the current one.
// rehash says the stored hash should be replaced by one of the current
// parameters.
func (r *Registry) verifyPassword(ctx context.Context, u storage.User, pw string) (ok, rehash bool, err error) {
	if u.PasswordHash == "" {
		return false, false, r.limits.Passwords.VerifyMissing(ctx, pw)
	}
	ok, rehash, err = r.limits.Passwords.Verify(ctx, u.PasswordHash, pw)
	if errors.Is(err, password.ErrMalformedHash) {
		// A hash the store holds but cannot be checked: treat the user as
		// one without a password, doing the same work.
		return false, false, r.limits.Passwords.VerifyMissing(ctx, pw)
	}
	return ok, rehash, err
}

// lookupUsername returns the user of that username; for none it does the
// work of a Verify and returns ErrBadCredentials.
func (r *Registry) lookupUsername(ctx context.Context, username, pw string) (storage.User, error) {
	var u storage.User
	err := storage.ErrNotFound
	if checkUsername(username) == nil {
		u, err = r.store.GetUserByUsername(ctx, username)
	}
	if errors.Is(err, storage.ErrNotFound) {
		if err := r.limits.Passwords.VerifyMissing(ctx, pw); err != nil {
			return storage.User{}, fmt.Errorf("sign in: %w", err)
		}
		return storage.User{}, ErrBadCredentials
	}
	if err != nil {
		return storage.User{}, fmt.Errorf("sign in: %w", err)
	}
	return u, nil
}

// recordSignIn stores LastLoginAt and, when rehash, a new hash of pw. It
// returns the stored record, or u with LastLoginAt set if the store
// refused.
func (r *Registry) recordSignIn(ctx context.Context, u storage.User, pw string, rehash bool) storage.User {
	newHash := ""
	if rehash {
		newHash, _ = r.limits.Passwords.Hash(ctx, pw)
	}
	oldHash := u.PasswordHash
	now := r.now()
	stored, err := r.store.UpdateUser(ctx, u.ID, func(s storage.User) (storage.User, error) {
		s.LastLoginAt = now
		// Only the hash just verified is replaced: a password set
		// meanwhile stays.
		if newHash != "" && s.PasswordHash == oldHash {
			s.PasswordHash = newHash
		}
		return s, nil
	})
	if err != nil {
		u.LastLoginAt = now
		return u
	}
	return stored
}

// UserScopes returns the union of the scopes of the user's roles; roles
// that no longer exist contribute nothing. It applies no scope_implies
// rule: the rules are the server's configuration, and what a role's scope
// implies is decided where a token is checked, as for a client's scopes.
func (r *Registry) UserScopes(ctx context.Context, userID string) (scope.Set, error) {
	u, err := r.store.GetUser(ctx, userID)
	if err != nil {
		return scope.Set{}, storeErrorAs("user scopes", err, ErrUsernameTaken)
	}
	var all []string
	for _, name := range u.Roles {
		role, err := r.store.GetRole(ctx, name)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return scope.Set{}, fmt.Errorf("user scopes: %w", err)
		}
		all = append(all, role.Scopes...)
	}
	return scope.NewSet(all), nil
}

// updateUser changes one user atomically and moves UpdatedAt forward,
// unless the caller keeps it (Caller.KeepsUpdatedAt: a client with
// FeatureMetadata). A change that disables the user or replaces their
// password ends their sessions: whoever held one must prove themselves
// again.
func (r *Registry) updateUser(ctx context.Context, op, id string, change func(u *storage.User, now time.Time) error) (User, error) {
	now := r.now()
	keepUpdatedAt := CallerFrom(ctx).KeepsUpdatedAt
	// before is the record the committed change was made to: a store that
	// runs update again runs it on the newer record, last.
	var before storage.User
	stored, err := r.store.UpdateUser(ctx, id, func(u storage.User) (storage.User, error) {
		before = u
		u = u.Clone()
		if err := change(&u, now); err != nil {
			return storage.User{}, err
		}
		if !keepUpdatedAt {
			u.UpdatedAt = nextVersion(u.UpdatedAt, now)
		}
		return u, nil
	})
	if err != nil {
		return User{}, storeErrorAs(op, err, ErrUsernameTaken)
	}
	if stored.Disabled && !before.Disabled || stored.PasswordHash != before.PasswordHash {
		if _, err := r.store.DeleteUserSessions(ctx, id); err != nil {
			return User{}, storeErrorAs(op+": end sessions", err, ErrUsernameTaken)
		}
	}
	return userView(stored), nil
}

// userMetadata returns the writable fields of u: the document a merge patch
// applies to.
func userMetadata(u storage.User) UserMetadata {
	return UserMetadata{
		Username:          u.Username,
		Email:             u.Email,
		EmailVerified:     u.EmailVerified,
		Name:              u.Name,
		GivenName:         u.GivenName,
		FamilyName:        u.FamilyName,
		PreferredUsername: u.PreferredUsername,
		Roles:             u.Roles,
		Disabled:          u.Disabled,
	}
}

// setUserMetadata copies the writable fields of src into dst.
func setUserMetadata(dst *storage.User, src storage.User) {
	dst.Username = src.Username
	dst.Email = src.Email
	dst.EmailVerified = src.EmailVerified
	dst.Name = src.Name
	dst.GivenName = src.GivenName
	dst.FamilyName = src.FamilyName
	dst.PreferredUsername = src.PreferredUsername
	dst.Roles = slices.Clone(src.Roles)
	dst.Disabled = src.Disabled
}

// userView builds the public view of a stored user.
func userView(u storage.User) User {
	return User{
		UserID:            u.ID,
		Username:          u.Username,
		Email:             u.Email,
		EmailVerified:     u.EmailVerified,
		Name:              u.Name,
		GivenName:         u.GivenName,
		FamilyName:        u.FamilyName,
		PreferredUsername: u.PreferredUsername,
		Roles:             cloneOrEmpty(u.Roles),
		Disabled:          u.Disabled,
		HasPassword:       u.PasswordHash != "",
		CreatedAt:         u.CreatedAt,
		UpdatedAt:         u.UpdatedAt,
		LastLoginAt:       u.LastLoginAt,
	}
}
