package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// SelfServiceFields are the fields of their own record a person may ever
// be allowed to change through a login_client app, in the order the
// documentation lists them. Roles, disabled, email_verified and the
// password's hash are the operator's: no configuration makes them
// writable by the person.
var SelfServiceFields = []string{"name", "given_name", "family_name", "preferred_username", "email", "username"}

// DefaultSelfServiceFields are the fields a person may change when the
// operator names none: the profile's names, not the username other
// systems may key on nor the email the operator may have verified.
var DefaultSelfServiceFields = []string{"name", "given_name", "family_name", "preferred_username"}

// CheckSelfServiceFields refuses a configured list that names a field not
// in SelfServiceFields, or one twice.
func CheckSelfServiceFields(fields []string) error {
	for i, f := range fields {
		if !slices.Contains(SelfServiceFields, f) {
			return fmt.Errorf("self-service field %q is not one a person may change; the fields are: %s", f, strings.Join(SelfServiceFields, ", "))
		}
		if slices.Contains(fields[:i], f) {
			return fmt.Errorf("self-service field %q is named twice", f)
		}
	}
	return nil
}

// checkOwnPatch refuses a merge patch of a person's own record that is not
// one strict JSON object of user fields (as PatchUser's), or that names a
// field outside allowed: the first such field is named, with the ones the
// person may change.
func checkOwnPatch(mergePatch []byte, allowed []string) error {
	_, keys, err := decodeObject(mergePatch)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := userFields.checkWritable(k); err != nil {
			return err
		}
		if !slices.Contains(allowed, k) {
			return &ValidationError{Field: k, Reason: "cannot be changed by the person; they may change " + strings.Join(allowed, ", ")}
		}
	}
	return nil
}

// PatchOwnProfile applies an RFC 7396 merge patch that the person sends
// for their own record (through a login_client app): only the fields in
// allowed (a subset of SelfServiceFields) may appear; the result is
// validated as PatchUser validates it. A new email address is not yet
// verified, so changing it sets email_verified false; sending the same
// address keeps it.
func (r *Registry) PatchOwnProfile(ctx context.Context, id string, mergePatch []byte, allowed []string) (User, error) {
	if err := checkOwnPatch(mergePatch, allowed); err != nil {
		return User{}, err
	}
	return r.updateUser(ctx, "patch own profile", id, func(u *storage.User, _ time.Time) error {
		m, err := patchedUser(*u, mergePatch)
		if err != nil {
			return err
		}
		if m.Email != u.Email {
			m.EmailVerified = false
		}
		rec, err := userRecord(m)
		if err != nil {
			return err
		}
		setUserMetadata(u, rec)
		return nil
	})
}

// OwnPasswordChange is a person's request to change their own password:
// both fields are required.
type OwnPasswordChange struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// ownPasswordFields are the fields of an OwnPasswordChange.
var ownPasswordFields = fieldSet{types: map[string]string{"current_password": "a string", "new_password": "a string"}}

// DecodeOwnPasswordChange reads a person's password change strictly: one
// JSON object holding current_password and new_password, both non-empty
// strings, and nothing else. Its errors name fields and never repeat a
// value.
func DecodeOwnPasswordChange(data []byte) (OwnPasswordChange, error) {
	var c OwnPasswordChange
	if err := ownPasswordFields.decode(data, &c); err != nil {
		return OwnPasswordChange{}, err
	}
	switch {
	case c.CurrentPassword == "":
		return OwnPasswordChange{}, &ValidationError{Field: "current_password", Reason: "is required"}
	case c.NewPassword == "":
		return OwnPasswordChange{}, &ValidationError{Field: "new_password", Reason: "is required"}
	}
	return c, nil
}

// ChangeOwnPassword sets the person's password to c.NewPassword when
// c.CurrentPassword verifies against their stored hash (the sign-in
// check: one computation of the current parameters, ErrBadCredentials for
// a wrong one or a person without a password); then the password policy
// applies to the new one as everywhere else. The change is made only if
// the stored hash is still the one verified, and, as every password
// change, it ends the person's sessions. Throttling attempts is the
// caller's job; password.ErrBusy means the check was not made.
func (r *Registry) ChangeOwnPassword(ctx context.Context, id string, c OwnPasswordChange) (User, error) {
	current, err := r.store.GetUser(ctx, id)
	if err != nil {
		return User{}, storeErrorAs("change own password", err, ErrUsernameTaken)
	}
	ok, _, err := r.verifyPassword(ctx, current, c.CurrentPassword)
	if err != nil {
		return User{}, fmt.Errorf("change own password: %w", err)
	}
	if !ok || current.Disabled {
		return User{}, ErrBadCredentials
	}
	phc, err := r.hashNewPassword(ctx, c.NewPassword, current)
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			return User{}, &ValidationError{Field: "new_password", Reason: ve.Reason}
		}
		return User{}, err
	}
	return r.updateUser(ctx, "change own password", id, func(u *storage.User, _ time.Time) error {
		if u.PasswordHash != current.PasswordHash {
			return fmt.Errorf("the password changed during the request: %w", ErrUnavailable)
		}
		u.PasswordHash = phc
		return nil
	})
}
