package registry

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/scopegate/scopegate/grant"
	"github.com/scopegate/scopegate/storage"
)

// FuzzDecodeMetadata feeds arbitrary bytes to the strict decoder, the
// validation and the merge patch. Nothing may panic, every refusal must be a
// *ValidationError with a printable message, and what is accepted must come
// back unchanged through the API's own JSON.
func FuzzDecodeMetadata(f *testing.F) {
	for _, seed := range []string{
		`{"client_name":"a"}`,
		`{"client_name":"a","scope":"x y","ip_allowlist":["10.0.0.0/8","::1"],"access_token_ttl":"15m","claims":{"t":1},"metadata":{"a":[1,{"b":null}]}}`,
		`{"client_name":"a","client_id":"x"}`,
		`{"client_name":"a","client_name":"b"}`,
		`{"client_name":"a","access_token_ttl":900,"require_scope_request":false,"features":["owner"]}`,
		`[]`, `null`, ``, `{"a":`, "{\"client_name\":\"\xff\"}",
		`{"client_name":"a","token_endpoint_auth_method":"none","redirect_uris":["http://127.0.0.1/cb"],"skip_consent":true}`,
		`{"client_name":"a","token_endpoint_auth_method":"none","grant_types":["client_credentials"],"require_pkce":false}`,
		`{"client_name":"a","token_endpoint_auth_method":"client_secret_post","grant_types":["authorization_code"],"redirect_uris":["com.example.app:/cb"],"require_pkce":false}`,
		`{"token_endpoint_auth_method":null,"require_pkce":null,"skip_consent":null}`,
		`{"client_name":"a","features":["login_client"]}`,
		`{"client_name":"a","features":["login_client","metadata"]}`,
		`{"client_name":"a","features":["direct_access","direct_read_access","access_issuer","metadata"]}`,
		`{"client_name":"a","features":["<b>x</b>","Owner"]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, _, _ := newTestRegistry(t, Limits{})
		ctx := context.Background()
		m, err := DecodeMetadata(data)
		if err != nil {
			checkValidationError(t, err)
			return
		}
		rec, err := r.normalize(m)
		if err != nil {
			checkValidationError(t, err)
			return
		}
		checkGrantRules(t, rec)
		checkFeatureRules(t, rec)
		doc, err := metadataJSON(rec)
		if err != nil {
			t.Fatalf("encode accepted metadata: %v", err)
		}
		m2, err := DecodeMetadata(doc)
		if err != nil {
			t.Fatalf("own JSON %s refused: %v", doc, err)
		}
		rec2, err := r.normalize(m2)
		if err != nil {
			t.Fatalf("own JSON %s invalid: %v", doc, err)
		}
		doc2, _ := metadataJSON(rec2)
		if string(doc) != string(doc2) {
			t.Fatalf("round trip changed\n%s\ninto\n%s", doc, doc2)
		}

		// The same bytes as a merge patch on a stored client.
		c, _, err := r.Create(ctx, Metadata{ClientName: "base", Scope: "s", Claims: []byte(`{"k":{"v":1}}`)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Patch(ctx, c.ClientID, data); err != nil {
			checkValidationError(t, err)
		}
	})
}

// checkGrantRules checks the rules of the authorization code grant on an
// accepted client: a public client uses only public grants, with PKCE and
// no features; a redirecting grant has a redirect URI.
func checkGrantRules(t *testing.T, rec storage.Client) {
	t.Helper()
	if rec.Public() {
		for _, g := range rec.GrantTypes {
			if !slices.Contains(grant.PublicGrants, g) {
				t.Fatalf("public client accepted with grant %q", g)
			}
		}
		if rec.PKCEOptional || len(rec.Features) > 0 || len(rec.Secrets) > 0 {
			t.Fatalf("public client accepted as %+v", rec)
		}
	}
	for _, g := range rec.GrantTypes {
		if slices.Contains(grant.RedirectGrants, g) && len(rec.RedirectURIs) == 0 {
			t.Fatalf("grant %q accepted without a redirect URI", g)
		}
	}
}

// checkFeatureRules checks the rules of features on an accepted client:
// login_client stands alone.
func checkFeatureRules(t *testing.T, rec storage.Client) {
	t.Helper()
	if slices.Contains(rec.Features, FeatureLoginClient) && len(rec.Features) > 1 {
		t.Fatalf("login_client accepted with %v", rec.Features)
	}
}

func checkValidationError(t *testing.T, err error) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
	}
	if strings.ContainsAny(err.Error(), "<>") {
		t.Fatalf("error message %q echoes markup", err.Error())
	}
	for _, c := range err.Error() {
		if !unicode.IsPrint(c) {
			t.Fatalf("error message %q holds a non-printable character", err.Error())
		}
	}
	if len(err.Error()) > 300 {
		t.Fatalf("error message of %d bytes", len(err.Error()))
	}
}

// FuzzCursor checks that no input crashes openCursor, and that the only
// cursors it accepts are the ones sealCursor makes.
func FuzzCursor(f *testing.F) {
	r := New(newTestStore(f), Limits{})
	for _, seed := range []string{"", "Zm9yZ2Vk", r.sealCursor("abc"), "A", "====", "\x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, cursor string) {
		id, err := r.openCursor(cursor)
		if err != nil {
			if !errors.Is(err, ErrInvalidCursor) {
				t.Fatalf("error %v", err)
			}
		} else if r.sealCursor(id) != cursor {
			t.Fatalf("accepted cursor %q is not the sealed form of %q", cursor, id)
		}
		if len(cursor) > 0 && len(cursor) < 500 {
			got, err := r.openCursor(r.sealCursor(cursor))
			if err != nil || got != cursor {
				t.Fatalf("sealed %q opened as %q, %v", cursor, got, err)
			}
		}
	})
}

// FuzzDecodeUserMetadata feeds arbitrary bytes to the user decoder, the
// user rules and PatchUser. Nothing may panic, every refusal is a
// *ValidationError with a short printable message, and accepted metadata
// comes back unchanged through its own JSON.
func FuzzDecodeUserMetadata(f *testing.F) {
	for _, seed := range []string{
		`{"username":"alice"}`,
		`{"username":"a.b_c-d@e","email":"a@example.com","email_verified":true,"name":"Ä","given_name":"A","family_name":"B","preferred_username":"ab","roles":["editor"],"disabled":true}`,
		`{"username":"alice","password":"violet-harbour-92"}`,
		`{"username":"alice","email":"Alice <a@example.com>"}`,
		`{"username":"alice","roles":["editor","editor"]}`,
		`{"username":"alice","roles":"editor"}`,
		`[]`, `null`, ``, "{\"username\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, _, _ := newUserRegistry(t, Limits{})
		ctx := context.Background()
		mustCreateRole(t, r, "editor", "read")
		m, err := DecodeUserMetadata(data)
		if err == nil {
			_, err = r.normalizeUser(ctx, m, nil)
		}
		if err != nil {
			checkValidationError(t, err)
		} else {
			doc, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			again, err := DecodeUserMetadata(doc)
			if err != nil || !reflect.DeepEqual(again, m) {
				t.Fatalf("own JSON %s read back as %+v, %v", doc, again, err)
			}
		}
		u, err := r.CreateUser(ctx, UserMetadata{Username: "base", Roles: []string{"editor"}}, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.PatchUser(ctx, u.UserID, data); err != nil {
			var ve *ValidationError
			if errors.As(err, &ve) {
				checkValidationError(t, err)
			} else if !errors.Is(err, ErrUsernameTaken) {
				t.Fatalf("patch refused with %v", err)
			}
		}
	})
}

// FuzzDecodeRoleMetadata does the same for roles and PatchRole.
func FuzzDecodeRoleMetadata(f *testing.F) {
	for _, seed := range []string{
		`{"name":"editor"}`,
		`{"name":"billing:admin","description":"Runs billing","scopes":["a","b:c"]}`,
		`{"name":"a b"}`, `{"name":"r","scopes":["a","a"]}`, `{"name":"r","created_at":1}`,
		`[]`, `null`, ``, "{\"name\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, _, _ := newUserRegistry(t, Limits{})
		ctx := context.Background()
		m, err := DecodeRoleMetadata(data)
		if err == nil {
			_, err = r.normalizeRole(m)
		}
		if err != nil {
			checkValidationError(t, err)
		}
		mustCreateRole(t, r, "base", "read")
		if _, err := r.PatchRole(ctx, "base", data); err != nil {
			checkValidationError(t, err)
		}
	})
}
