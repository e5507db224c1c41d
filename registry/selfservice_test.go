package registry

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

// ownProfileFixture is a registry holding Ann (verified email, an editor)
// and Bob, whose username Ann may try to take.
func ownProfileFixture(t *testing.T) (*Registry, *testClock, User) {
	t.Helper()
	r, _, clock := newUserRegistry(t, Limits{})
	mustCreateRole(t, r, "editor", "read")
	ctx := context.Background()
	ann, err := r.CreateUser(ctx, UserMetadata{
		Username: "ann", Email: "ann@example.com", EmailVerified: true, Name: "Ann", Roles: []string{"editor"},
	}, "violet-lantern-harbor")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateUser(ctx, UserMetadata{Username: "bob"}, ""); err != nil {
		t.Fatal(err)
	}
	return r, clock, ann
}

// A person's patch names only fields the operator allows; every other
// field is refused by name, and the record stays as it was.
func TestPatchOwnProfileFieldRules(t *testing.T) {
	for _, tc := range []struct {
		name, patch, field string
	}{
		{"roles are the operator's", `{"roles":["editor","admin"]}`, "roles"},
		{"disabled is the operator's", `{"disabled":false}`, "disabled"},
		{"email_verified is the operator's", `{"email_verified":true}`, "email_verified"},
		{"username unless allowed", `{"username":"ann2"}`, "username"},
		{"email unless allowed", `{"email":"x@example.com"}`, "email"},
		{"a password never travels here", `{"password":"another-long-one"}`, "password"},
		{"nor a hash", `{"password_hash":"$2b$04$x"}`, "password_hash"},
		{"read-only fields", `{"user_id":"u1"}`, "user_id"},
		{"unknown fields", `{"nickname":"A"}`, "nickname"},
		{"an allowed field with a forbidden one", `{"name":"Ann B","roles":[]}`, "roles"},
		{"a duplicate member", `{"name":"Ann B","name":"Ann C"}`, "name"},
		{"a value of the wrong type", `{"name":1}`, "name"},
		{"a value the user rules refuse", `{"name":"` + strings.Repeat("a", 256) + `"}`, "name"},
		{"a control character", `{"given_name":"A\u0007"}`, "given_name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, clock, ann := ownProfileFixture(t)
			clock.Add(time.Second)
			_, err := r.PatchOwnProfile(context.Background(), ann.UserID, []byte(tc.patch), DefaultSelfServiceFields)
			var ve *ValidationError
			if !errors.As(err, &ve) || !strings.Contains(ve.Error(), tc.field) {
				t.Fatalf("patch %s: %v, want a validation error naming %s", tc.patch, err, tc.field)
			}
			after, _ := r.GetUser(context.Background(), ann.UserID)
			if !after.UpdatedAt.Equal(ann.UpdatedAt) || after.Name != "Ann" || len(after.Roles) != 1 {
				t.Fatalf("a refused patch changed the record: %+v", after)
			}
		})
	}
}

// Allowed fields change and the others stay; a new email address is not
// verified, the same one sent again keeps its verification; a username
// another person holds is refused as taken.
func TestPatchOwnProfileChanges(t *testing.T) {
	r, _, ann := ownProfileFixture(t)
	ctx := context.Background()
	all := SelfServiceFields
	u, err := r.PatchOwnProfile(ctx, ann.UserID, []byte(`{"name":"Ann B","given_name":"Ann","email":"ann@example.com"}`), all)
	if err != nil || u.Name != "Ann B" || u.GivenName != "Ann" || !u.EmailVerified || u.Roles[0] != "editor" {
		t.Fatalf("patch: %+v %v", u, err)
	}
	u, err = r.PatchOwnProfile(ctx, ann.UserID, []byte(`{"email":"ann@example.org"}`), all)
	if err != nil || u.Email != "ann@example.org" || u.EmailVerified {
		t.Fatalf("a new email: %+v %v, want it unverified", u, err)
	}
	u, err = r.PatchOwnProfile(ctx, ann.UserID, []byte(`{"name":null}`), all)
	if err != nil || u.Name != "" {
		t.Fatalf("null resets: %+v %v", u, err)
	}
	if _, err := r.PatchOwnProfile(ctx, ann.UserID, []byte(`{"username":"BOB"}`), all); !errors.Is(err, ErrUsernameTaken) {
		t.Fatalf("taking bob's username: %v, want ErrUsernameTaken", err)
	}
	if _, err := r.PatchOwnProfile(ctx, "nobody", []byte(`{"name":"x"}`), all); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("an unknown user: %v", err)
	}
}

// The operator's list may name only fields a person may ever change, each
// once.
func TestCheckSelfServiceFields(t *testing.T) {
	for _, ok := range [][]string{nil, DefaultSelfServiceFields, SelfServiceFields, {"email"}} {
		if err := CheckSelfServiceFields(ok); err != nil {
			t.Errorf("%v refused: %v", ok, err)
		}
	}
	for _, bad := range [][]string{{"roles"}, {"disabled"}, {"email_verified"}, {"password"}, {"name", "name"}, {""}} {
		if err := CheckSelfServiceFields(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// A password change needs the current password, verified as at sign-in;
// the new one meets the policy; the change ends the person's sessions.
func TestChangeOwnPassword(t *testing.T) {
	r, _, ann := ownProfileFixture(t)
	ctx := context.Background()
	change := func(current, next string) error {
		_, err := r.ChangeOwnPassword(ctx, ann.UserID, OwnPasswordChange{CurrentPassword: current, NewPassword: next})
		return err
	}
	if err := change("wrong-but-long-enough", "a-new-long-passphrase"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("a wrong current password: %v", err)
	}
	var ve *ValidationError
	if err := change("violet-lantern-harbor", "short"); !errors.As(err, &ve) || ve.Field != "new_password" {
		t.Fatalf("a weak new password: %v, want new_password refused", err)
	}
	if _, err := r.SignIn(ctx, "ann", "violet-lantern-harbor"); err != nil {
		t.Fatalf("refused changes changed the password: %v", err)
	}
	if err := r.store.CreateSession(ctx, storage.Session{ID: "s1", UserID: ann.UserID, CreatedAt: r.now(), LastSeenAt: r.now(), ExpiresAt: r.now().Add(time.Hour)}, 0); err != nil {
		t.Fatal(err)
	}
	if err := change("violet-lantern-harbor", "a-new-long-passphrase"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SignIn(ctx, "ann", "violet-lantern-harbor"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("the old password still signs in: %v", err)
	}
	if _, err := r.SignIn(ctx, "ann", "a-new-long-passphrase"); err != nil {
		t.Fatalf("the new password: %v", err)
	}
	if _, err := r.store.GetSession(ctx, "s1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the session outlived the password change: %v", err)
	}
	bob, _ := r.store.GetUserByUsername(ctx, "bob")
	if _, err := r.ChangeOwnPassword(ctx, bob.ID, OwnPasswordChange{CurrentPassword: "anything-at-all", NewPassword: "a-new-long-passphrase"}); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("a person without a password: %v", err)
	}
}

// FuzzSelfServiceBodies feeds arbitrary bytes to the two bodies a person's
// app sends: the profile patch (checked against every field a person may
// ever change) and the password change. Nothing panics, every refusal is a
// short printable *ValidationError that never repeats a password, an
// accepted patch names only self-service fields, and an accepted password
// change holds both passwords.
func FuzzSelfServiceBodies(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Ann B"}`, `{"name":null,"given_name":"Ann","email":"a@example.com","username":"ann"}`,
		`{"roles":["admin"]}`, `{"email_verified":true}`, `{"password_hash":"x"}`, `{"name":"a","name":"b"}`,
		`{"current_password":"violet-lantern-harbor","new_password":"a-new-long-passphrase"}`,
		`{"current_password":"violet-lantern-harbor"}`, `{"current_password":"","new_password":"x"}`,
		`{"current_password":1,"new_password":"x"}`, `{"current_password":"a","current_password":"b","new_password":"c"}`,
		`{"current_password":"word","word":1}`, `{"password":"word"}`, `{"new_password":"current_password"}`, `{}`, `[]`, `null`, ``, "{\"name\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var loose map[string]any
		_ = json.Unmarshal(data, &loose)
		secrets := credentialValues(data, "current_password", "new_password", "password")
		checkRefusal := func(err error) {
			checkValidationError(t, err)
			for _, s := range secrets {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error %q repeats a password", err)
				}
			}
		}
		if err := checkOwnPatch(data, SelfServiceFields); err != nil {
			checkRefusal(err)
		} else {
			for k := range loose {
				if !slices.Contains(SelfServiceFields, k) {
					t.Fatalf("accepted a patch of %q", k)
				}
			}
		}
		c, err := DecodeOwnPasswordChange(data)
		if err != nil {
			checkRefusal(err)
		} else if c.CurrentPassword == "" || c.NewPassword == "" {
			t.Fatalf("accepted a change without both passwords: %s", data)
		}
	})
}

// A member name that reads as read-only (it holds "hash") is named in the
// refusal only when it is a plain name: a control character or markup in
// it is not echoed (FuzzSelfServiceBodies found "\x7fhAsh").
func TestReadOnlyMemberNameNotEchoed(t *testing.T) {
	for _, body := range []string{"{\"\x7fhAsh\":\"\"}", `{"<script>hash":1}`, `{"pass\nword_hash":1}`} {
		for name, err := range map[string]error{
			"patch":    checkOwnPatch([]byte(body), SelfServiceFields),
			"metadata": func() error { _, err := DecodeUserMetadata([]byte(body)); return err }(),
		} {
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != "body" {
				t.Errorf("%s %q: %v, want the body refused without its member name", name, body, err)
			}
		}
	}
}
