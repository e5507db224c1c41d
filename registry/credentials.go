package registry

import (
	"context"
	"maps"
)

// NewUser is what an admin sends to create a user: the metadata and at
// most one credential, a password (checked by the policy) or a hash
// imported from another system. Neither is ever part of a User.
type NewUser struct {
	UserMetadata
	// Password, when set, must meet the password policy.
	Password *string `json:"password,omitempty"`
	// PasswordHash, when set, is an argon2id PHC string or a bcrypt hash,
	// as ImportPasswordHash takes it.
	PasswordHash *string `json:"password_hash,omitempty"`
}

// PasswordChange is what an admin sends to set a user's password: exactly
// one of a password (checked by the policy) or a hash to import.
type PasswordChange struct {
	Password     *string `json:"password,omitempty"`
	PasswordHash *string `json:"password_hash,omitempty"`
}

// credentialTypes are the credential fields of NewUser and PasswordChange.
var credentialTypes = map[string]string{
	"password":      "a string",
	"password_hash": "a string",
}

// newUserFields are userFields plus the credential fields, which only a
// create request may carry.
var newUserFields = func() fieldSet {
	fs := fieldSet{types: maps.Clone(userFields.types), readOnly: maps.Clone(userFields.readOnly)}
	maps.Copy(fs.types, credentialTypes)
	delete(fs.readOnly, "password")
	return fs
}()

// passwordChangeFields are the fields of a PasswordChange.
var passwordChangeFields = fieldSet{types: credentialTypes}

// errTwoCredentials refuses a body holding both a password and a hash.
var errTwoCredentials = &ValidationError{Field: "password_hash", Reason: "cannot be sent with password; send one or the other"}

// DecodeNewUser reads a create request as strictly as DecodeUserMetadata
// reads metadata, with the credential fields allowed. Its errors name
// fields and never repeat a value, so that no password reaches a message.
func DecodeNewUser(data []byte) (NewUser, error) {
	var n NewUser
	if err := newUserFields.decode(data, &n); err != nil {
		return NewUser{}, err
	}
	if n.Password != nil && n.PasswordHash != nil {
		return NewUser{}, errTwoCredentials
	}
	return n, nil
}

// DecodePasswordChange reads a password change strictly: one JSON object
// holding exactly one of password and password_hash, each a string.
func DecodePasswordChange(data []byte) (PasswordChange, error) {
	var c PasswordChange
	if err := passwordChangeFields.decode(data, &c); err != nil {
		return PasswordChange{}, err
	}
	switch {
	case c.Password != nil && c.PasswordHash != nil:
		return PasswordChange{}, errTwoCredentials
	case c.Password == nil && c.PasswordHash == nil:
		return PasswordChange{}, &ValidationError{Field: "password", Reason: "is required (or password_hash, to import a hash from another system)"}
	}
	return c, nil
}

// CreateNewUser creates the user n describes, with its password or
// imported hash if it has one, in one write: a user never exists without
// the credential the request gave.
func (r *Registry) CreateNewUser(ctx context.Context, n NewUser) (User, error) {
	if n.PasswordHash == nil {
		pw := ""
		if n.Password != nil {
			if *n.Password == "" {
				// An explicit empty password is a short one, not "none".
				return User{}, r.checkPassword("", n.Username, n.Email)
			}
			pw = *n.Password
		}
		return r.CreateUser(ctx, n.UserMetadata, pw)
	}
	stored, err := importedHash(*n.PasswordHash)
	if err != nil {
		return User{}, err
	}
	rec, err := r.normalizeUser(ctx, n.UserMetadata, nil)
	if err != nil {
		return User{}, err
	}
	rec.PasswordHash = stored
	return r.storeNewUser(ctx, rec)
}

// ChangePassword sets the user's password (SetUserPassword) or imports a
// hash (ImportPasswordHash), as c holds.
func (r *Registry) ChangePassword(ctx context.Context, id string, c PasswordChange) (User, error) {
	if c.PasswordHash != nil {
		return r.ImportPasswordHash(ctx, id, *c.PasswordHash)
	}
	return r.SetUserPassword(ctx, id, *c.Password)
}
