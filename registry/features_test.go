package registry

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// operator is the context of a change made by the operator (Caddy's admin
// endpoint).
var operator = WithCaller(context.Background(), Caller{Operator: true})

// TestFeatureRules: the rules of the features field, each with its exact
// message. A feature that is not known is named when its text is a plain
// name, and never when it holds markup, control characters or is long.
func TestFeatureRules(t *testing.T) {
	const known = "(owner, client_read, introspect, direct_access, direct_read_access, login_client, access_issuer, metadata)"
	cases := []struct {
		name, body, want string
	}{
		{"login_client with owner", `{"client_name":"a","features":["login_client","owner"]}`,
			"features: clients with the login_client feature cannot have any other features"},
		{"login_client after another", `{"client_name":"a","features":["direct_read_access","login_client"]}`,
			"features: clients with the login_client feature cannot have any other features"},
		{"login_client with introspect", `{"client_name":"a","features":["introspect","login_client"]}`,
			"features: clients with the login_client feature cannot have any other features"},
		{"unknown feature named", `{"client_name":"a","features":["owner","root"]}`,
			`features: entry 1 ("root") is not a known feature ` + known},
		{"unknown feature with markup", `{"client_name":"a","features":["<script>alert(1)</script>"]}`,
			"features: entry 0 is not a known feature " + known},
		{"unknown feature with a line break", `{"client_name":"a","features":["owner\r\nX-Admin: 1"]}`,
			"features: entry 0 is not a known feature " + known},
		{"unknown feature too long", `{"client_name":"a","features":["` + strings.Repeat("a", 65) + `"]}`,
			"features: entry 0 is not a known feature " + known},
		{"feature in another case", `{"client_name":"a","features":["Owner"]}`,
			`features: entry 0 ("Owner") is not a known feature ` + known},
		{"public client with a feature", `{"client_name":"a","token_endpoint_auth_method":"none","redirect_uris":["http://127.0.0.1/cb"],"features":["direct_read_access"]}`,
			"features: must be empty for a public client (token_endpoint_auth_method none), which cannot authenticate to use them"},
		{"public login client", `{"client_name":"a","token_endpoint_auth_method":"none","redirect_uris":["http://127.0.0.1/cb"],"features":["login_client"]}`,
			"features: must be empty for a public client (token_endpoint_auth_method none), which cannot authenticate to use them"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _, _ := newTestRegistry(t, Limits{})
			m, err := DecodeMetadata([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = r.Create(operator, m)
			var ve *ValidationError
			if !errors.As(err, &ve) || err.Error() != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("login_client alone", func(t *testing.T) {
		r, _, _ := newTestRegistry(t, Limits{})
		c, _ := mustCreate(t, r, `{"client_name":"a","features":["login_client"]}`)
		if len(c.Features) != 1 || c.Features[0] != FeatureLoginClient {
			t.Fatalf("features %v", c.Features)
		}
	})
}

// TestMetadataFeatureOnlyByOperator: the metadata feature is assigned by the
// operator alone, on create, replace and patch; a change that keeps it on a
// client that has it, or takes it away, is anyone's.
func TestMetadataFeatureOnlyByOperator(t *testing.T) {
	const refused = "features: only the operator (Caddy's admin endpoint) may assign the metadata feature"
	remote := WithCaller(context.Background(), Caller{})
	wantRefused := func(t *testing.T, err error) {
		t.Helper()
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Error() != refused {
			t.Fatalf("got %v, want %q", err, refused)
		}
	}
	r, _, _ := newTestRegistry(t, Limits{})
	metaOnly := Metadata{ClientName: "meta", Features: []string{FeatureMetadata}}

	t.Run("create", func(t *testing.T) {
		_, _, err := r.Create(remote, metaOnly)
		wantRefused(t, err)
		_, _, err = r.Create(context.Background(), Metadata{ClientName: "meta2", Features: []string{FeatureDirectAccess, FeatureMetadata}})
		wantRefused(t, err)
	})
	held, _, err := r.Create(operator, metaOnly)
	if err != nil {
		t.Fatalf("the operator creates: %v", err)
	}
	plain, _ := mustCreate(t, r, `{"client_name":"plain","features":["direct_access"]}`)
	ctx := context.Background()

	t.Run("replace or patch that adds it", func(t *testing.T) {
		_, err := r.Replace(remote, plain.ClientID, Metadata{ClientName: "plain", Features: []string{FeatureDirectAccess, FeatureMetadata}})
		wantRefused(t, err)
		_, err = r.Patch(remote, plain.ClientID, []byte(`{"features":["metadata","direct_access"]}`))
		wantRefused(t, err)
		if got, _ := r.Get(ctx, plain.ClientID); len(got.Features) != 1 {
			t.Fatalf("the refused change was stored: %v", got.Features)
		}
	})
	t.Run("changes that keep it", func(t *testing.T) {
		if _, err := r.Patch(remote, held.ClientID, []byte(`{"client_name":"meta-renamed"}`)); err != nil {
			t.Fatalf("patch of another field: %v", err)
		}
		if _, err := r.Replace(remote, held.ClientID, Metadata{ClientName: "meta", Features: []string{FeatureMetadata, FeatureDirectAccess}}); err != nil {
			t.Fatalf("replace keeping it: %v", err)
		}
	})
	t.Run("taking it away", func(t *testing.T) {
		c, err := r.Patch(remote, held.ClientID, []byte(`{"features":["direct_access"]}`))
		if err != nil || len(c.Features) != 1 {
			t.Fatalf("got %v, %v", c.Features, err)
		}
	})
	t.Run("the operator adds it", func(t *testing.T) {
		c, err := r.Patch(operator, plain.ClientID, []byte(`{"features":["direct_access","metadata"]}`))
		if err != nil || len(c.Features) != 2 {
			t.Fatalf("got %v, %v", c.Features, err)
		}
	})
}

// TestRegisterNeverGrantsFeatures: a client that registers itself (RFC
// 7591) gets no feature, whatever it asks for and whoever's context the
// call carries.
func TestRegisterNeverGrantsFeatures(t *testing.T) {
	r, _, _ := newTestRegistry(t, Limits{})
	all := r.Limits().Features
	for _, ctx := range []context.Context{context.Background(), operator} {
		for _, features := range [][]string{all, {FeatureLoginClient}, {FeatureMetadata}, {FeatureOwner}} {
			c, _, err := r.Register(ctx, Metadata{ClientName: "mcp", Features: features,
				GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{"https://app.example/cb"}})
			if err != nil || len(c.Features) != 0 {
				t.Fatalf("register with %v: features %v, %v", features, c.Features, err)
			}
			stored, err := r.Lookup(context.Background(), c.ClientID)
			if err != nil || len(stored.Features) != 0 {
				t.Fatalf("stored features %v, %v", stored.Features, err)
			}
		}
	}
}

// TestClientCaller: a remote client keeps users' updated_at when it holds
// the metadata feature, and is never the operator.
func TestClientCaller(t *testing.T) {
	cases := []struct {
		features []string
		want     Caller
	}{
		{nil, Caller{}},
		{[]string{FeatureOwner}, Caller{}},
		{[]string{FeatureDirectAccess, FeatureMetadata}, Caller{KeepsUpdatedAt: true}},
	}
	for _, tc := range cases {
		if got := ClientCaller(tc.features); got != tc.want {
			t.Errorf("ClientCaller(%v) = %+v, want %+v", tc.features, got, tc.want)
		}
	}
	if got := CallerFrom(context.Background()); got != (Caller{}) {
		t.Errorf("no caller: %+v, want the zero Caller (not the operator)", got)
	}
	if got := CallerFrom(operator); !got.Operator {
		t.Errorf("operator: %+v", got)
	}
}

// TestKeepsUpdatedAt: every change to a user made for a caller that keeps
// updated_at leaves it as it was (and makes the change); the same change
// for another caller moves it.
func TestKeepsUpdatedAt(t *testing.T) {
	r, _, clock := newUserRegistry(t, Limits{})
	mustCreateRole(t, r, "viewer", "read")
	u, err := r.CreateUser(context.Background(), UserMetadata{Username: "ada"}, "")
	if err != nil {
		t.Fatal(err)
	}
	keep := WithCaller(context.Background(), Caller{KeepsUpdatedAt: true})
	imported, err := bcrypt.GenerateFromPassword([]byte("difference engine"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	changes := []struct {
		name   string
		change func(ctx context.Context) (User, error)
	}{
		{"patch", func(ctx context.Context) (User, error) {
			return r.PatchUser(ctx, u.UserID, []byte(`{"name":"Ada","roles":["viewer"]}`))
		}},
		{"set password", func(ctx context.Context) (User, error) {
			return r.SetUserPassword(ctx, u.UserID, "analytical engine 1843")
		}},
		{"import hash", func(ctx context.Context) (User, error) {
			return r.ImportPasswordHash(ctx, u.UserID, string(imported))
		}},
		{"disable", func(ctx context.Context) (User, error) { return r.SetUserDisabled(ctx, u.UserID, true) }},
		{"enable", func(ctx context.Context) (User, error) { return r.SetUserDisabled(ctx, u.UserID, false) }},
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			before, err := r.GetUser(context.Background(), u.UserID)
			if err != nil {
				t.Fatal(err)
			}
			clock.Add(time.Minute)
			kept, err := c.change(keep)
			if err != nil || !kept.UpdatedAt.Equal(before.UpdatedAt) {
				t.Fatalf("kept: updated_at %v, %v; want %v", kept.UpdatedAt, err, before.UpdatedAt)
			}
			if stored, _ := r.GetUser(context.Background(), u.UserID); !stored.UpdatedAt.Equal(before.UpdatedAt) {
				t.Fatalf("stored updated_at %v, want %v", stored.UpdatedAt, before.UpdatedAt)
			}
			clock.Add(time.Minute)
			moved, err := c.change(context.Background())
			if err != nil || !moved.UpdatedAt.After(before.UpdatedAt) {
				t.Fatalf("moved: updated_at %v, %v; want after %v", moved.UpdatedAt, err, before.UpdatedAt)
			}
		})
	}
	if got, _ := r.GetUser(context.Background(), u.UserID); got.Name != "Ada" || !got.HasPassword || len(got.Roles) != 1 {
		t.Fatalf("the changes were not made: %+v", got)
	}
}
