package registry

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestDecodeNewUser(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       string // the error, or "" for accepted
		pw, hash   bool   // which credential an accepted body holds
	}{
		{name: "no credential", body: `{"username":"ann"}`},
		{name: "password", body: `{"username":"ann","password":"violet-lantern-harbor"}`, pw: true},
		{name: "empty password is present", body: `{"username":"ann","password":""}`, pw: true},
		{name: "hash", body: `{"username":"ann","password_hash":"$2b$04$x"}`, hash: true},
		{name: "null password is absent", body: `{"username":"ann","password":null}`},
		{name: "both", body: `{"username":"ann","password":"a","password_hash":"b"}`, want: "password_hash: cannot be sent with password; send one or the other"},
		{name: "password not a string", body: `{"username":"ann","password":["x"]}`, want: "password: must be a string"},
		{name: "duplicate password", body: `{"username":"ann","password":"a","password":"b"}`, want: "password: appears more than once"},
		{name: "read-only", body: `{"username":"ann","has_password":true}`, want: "has_password: is read-only"},
		{name: "other hash field", body: `{"username":"ann","secret_hash":"x"}`, want: "secret_hash: is read-only"},
		{name: "unknown", body: `{"username":"ann","pasword":"x"}`, want: "pasword: is not a known field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := DecodeNewUser([]byte(tc.body))
			if tc.want != "" {
				if err == nil || err.Error() != tc.want {
					t.Fatalf("error %v, want %q", err, tc.want)
				}
				checkValidationError(t, err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.Username != "ann" || (n.Password != nil) != tc.pw || (n.PasswordHash != nil) != tc.hash {
				t.Fatalf("decoded %+v", n)
			}
		})
	}
}

func TestDecodePasswordChange(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{name: "password", body: `{"password":"violet-lantern-harbor"}`},
		{name: "hash", body: `{"password_hash":"$2b$04$x"}`},
		{name: "neither", body: `{}`, want: "password: is required (or password_hash, to import a hash from another system)"},
		{name: "null", body: `{"password":null}`, want: "password: is required (or password_hash, to import a hash from another system)"},
		{name: "both", body: `{"password":"a","password_hash":"b"}`, want: "password_hash: cannot be sent with password; send one or the other"},
		{name: "metadata", body: `{"password":"a","email":"a@example.com"}`, want: "email: is not a known field"},
		{name: "not an object", body: `"violet-lantern-harbor"`, want: "body: must be a JSON object"},
		{name: "trailing", body: `{"password":"a"} {}`, want: "body: must hold one JSON object and nothing after it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodePasswordChange([]byte(tc.body))
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestCreateNewUser: a user is created with the credential its body
// holds, in one write; a refused credential stores nothing.
func TestCreateNewUser(t *testing.T) {
	r, _, _ := newUserRegistry(t, Limits{})
	ctx := context.Background()
	const pw = "granite-willow-copper"
	bc, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	hash := string(bc)
	u, err := r.CreateNewUser(ctx, NewUser{UserMetadata: UserMetadata{Username: "ann"}, PasswordHash: &hash})
	if err != nil || !u.HasPassword {
		t.Fatalf("create with a hash: %+v %v", u, err)
	}
	if _, err := r.SignIn(ctx, "ann", pw); err != nil {
		t.Fatalf("the imported hash does not sign in: %v", err)
	}
	pwCopy := pw
	if u, err := r.CreateNewUser(ctx, NewUser{UserMetadata: UserMetadata{Username: "ben"}, Password: &pwCopy}); err != nil || !u.HasPassword {
		t.Fatalf("create with a password: %+v %v", u, err)
	}

	empty, bad := "", "$2b$04$short"
	for _, tc := range []struct {
		name string
		n    NewUser
		want string
	}{
		{"empty password", NewUser{UserMetadata: UserMetadata{Username: "cat"}, Password: &empty}, "password: is too short: at least 8 characters"},
		{"malformed hash", NewUser{UserMetadata: UserMetadata{Username: "cat"}, PasswordHash: &bad}, "password_hash: must be an argon2id PHC string or a bcrypt hash within bounds (malformed password hash: a bcrypt hash is 60 characters)"},
		{"bad username with a hash", NewUser{UserMetadata: UserMetadata{Username: "c"}, PasswordHash: &hash}, "username: must be 3 to 64 characters: ASCII letters, digits and . _ - @"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.CreateNewUser(ctx, tc.n)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	page, err := r.ListUsers(ctx, UserQuery{})
	if err != nil || len(page.Users) != 2 {
		t.Fatalf("refused creates stored users: %d, %v", len(page.Users), err)
	}
}

// FuzzDecodePasswordBodies feeds arbitrary bytes to the two decoders that
// read passwords: nothing may panic, every refusal is a short printable
// *ValidationError that never repeats a password or hash from the body,
// and an accepted body holds at most one credential (exactly one for a
// change).
func FuzzDecodePasswordBodies(f *testing.F) {
	for _, seed := range []string{
		`{"username":"ann","password":"violet-lantern-harbor"}`,
		`{"username":"ann","password_hash":"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"}`,
		`{"password":"violet-lantern-harbor"}`, `{"password_hash":"$2b$04$x"}`,
		`{"password":"a","password_hash":"b"}`, `{"password":"a","password":"b"}`,
		`{"password":1}`, `{"password":"\ud800"}`, `{"password":"word","word":1}`, `{}`, `[]`, `null`, ``, "{\"password\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		values := credentialValues(data, "password", "password_hash")
		checkRefusal := func(err error) {
			checkValidationError(t, err)
			for _, v := range values {
				if strings.Contains(err.Error(), v) {
					t.Fatalf("error %q repeats a credential", err)
				}
			}
		}
		n, err := DecodeNewUser(data)
		if err != nil {
			checkRefusal(err)
		} else if n.Password != nil && n.PasswordHash != nil {
			t.Fatalf("accepted both credentials")
		}
		c, err := DecodePasswordChange(data)
		if err != nil {
			checkRefusal(err)
		} else if (c.Password == nil) == (c.PasswordHash == nil) {
			t.Fatalf("accepted a change with %v password and %v hash", c.Password != nil, c.PasswordHash != nil)
		}
		if c.PasswordHash != nil {
			if _, err := importedHash(*c.PasswordHash); err != nil {
				checkRefusal(err)
				var ve *ValidationError
				if !errors.As(err, &ve) || ve.Field != "password_hash" {
					t.Fatalf("hash refused as %v", err)
				}
			}
		}
	})
}

// credentialValues returns the string values of the body's members named
// keys that a refusal must never repeat: those of at least 4 bytes that are
// not part of a name a refusal may rightly hold, a member name of the body
// or a field name the decoders know (the value "word" is in the name
// "password", and {"password":"word","word":1} is refused naming "word").
func credentialValues(data []byte, keys ...string) []string {
	var loose map[string]any
	_ = json.Unmarshal(data, &loose)
	names := slices.Collect(maps.Keys(loose))
	for _, fs := range []fieldSet{userFields, newUserFields, passwordChangeFields, ownPasswordFields} {
		names = slices.AppendSeq(names, maps.Keys(fs.types))
		names = slices.AppendSeq(names, maps.Keys(fs.readOnly))
	}
	names = append(names, "body")
	var values []string
	for _, k := range keys {
		s, ok := loose[k].(string)
		if ok && len(s) >= 4 && !slices.ContainsFunc(names, func(name string) bool { return strings.Contains(name, s) }) {
			values = append(values, s)
		}
	}
	return values
}
