package registry

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/storage"
)

var (
	clientIDPattern = regexp.MustCompile(`^[a-z2-7]{26}$`)
	secretPattern   = regexp.MustCompile(`^sgs_[A-Za-z0-9_-]{43}$`)
	secretIDPattern = regexp.MustCompile(`^[a-z2-7]{16}$`)
)

func TestCreate(t *testing.T) {
	ctx := context.Background()
	r, store, clock := newTestRegistry(t, Limits{})
	c, secret := mustCreate(t, r, `{"client_name":"Billing","scope":"orders:read orders:write","ip_allowlist":["10.0.0.0/8","2001:db8::1"],"metadata":{"team":"billing"}}`)

	if !clientIDPattern.MatchString(c.ClientID) {
		t.Errorf("client ID %q is not 26 lowercase base32 characters", c.ClientID)
	}
	if !secretPattern.MatchString(secret) {
		t.Errorf("secret %q is not sgs_ and 43 base64url characters", secret)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(secret, "sgs_"))
	if err != nil || len(raw) != 32 {
		t.Errorf("secret holds %d bytes (%v), want 32", len(raw), err)
	}
	now := clock.Now()
	if c.ClientName != "Billing" || c.Scope != "orders:read orders:write" ||
		strings.Join(c.IPAllowlist, ",") != "10.0.0.0/8,2001:db8::1/128" ||
		string(c.Metadata) != `{"team":"billing"}` || !c.RequireScopeRequest || c.Disabled ||
		!c.CreatedAt.Equal(now) || !c.UpdatedAt.Equal(now) {
		t.Errorf("created client: %+v", c)
	}
	if len(c.Secrets) != 1 || !secretIDPattern.MatchString(c.Secrets[0].ID) || !c.Secrets[0].CreatedAt.Equal(now) || !c.Secrets[0].ExpiresAt.IsZero() {
		t.Errorf("secrets: %+v", c.Secrets)
	}

	// Only the hash is stored; neither the secret nor its random part appears.
	rec := store.fileBytes(t)
	if bytes.Contains(rec, []byte(secret)) || bytes.Contains(rec, []byte(strings.TrimPrefix(secret, "sgs_"))) {
		t.Fatal("the stored record holds the secret")
	}
	stored, err := r.Lookup(ctx, c.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if got := stored.Secrets[0].Hash; !bytes.Equal(got, hashSecret(secret)) {
		t.Errorf("stored hash %x, want SHA-256 of the secret", got)
	}

	// The public view never carries a hash or the secret.
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("hash")) || bytes.Contains(out, []byte(secret)) {
		t.Errorf("public view leaks: %s", out)
	}

	got, err := r.Get(ctx, c.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	gotJSON, _ := json.Marshal(got)
	if string(gotJSON) != string(out) {
		t.Errorf("get returned\n%s\ncreate returned\n%s", gotJSON, out)
	}
}

func TestCreateIDsAndSecretsDiffer(t *testing.T) {
	r, _, _ := newTestRegistry(t, Limits{})
	ids, secrets := map[string]bool{}, map[string]bool{}
	for i := range 50 {
		c, s := mustCreate(t, r, fmt.Sprintf(`{"client_name":"c%d"}`, i))
		if ids[c.ClientID] || secrets[s] {
			t.Fatalf("repeated ID or secret after %d creates", i)
		}
		ids[c.ClientID], secrets[s] = true, true
	}
}

func TestNameTakenIgnoringCase(t *testing.T) {
	ctx := context.Background()
	r, store, _ := newTestRegistry(t, Limits{})
	a, _ := mustCreate(t, r, `{"client_name":"Billing Service"}`)
	b, _ := mustCreate(t, r, `{"client_name":"Other"}`)
	before := store.snapshot(t)

	_, _, err := r.Create(ctx, Metadata{ClientName: "billing SERVICE"})
	if !errors.Is(err, ErrNameTaken) || !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("create: got %v, want ErrNameTaken", err)
	}
	if _, err := r.Replace(ctx, b.ClientID, Metadata{ClientName: "BILLING service"}); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("replace: got %v, want ErrNameTaken", err)
	}
	if _, err := r.Patch(ctx, b.ClientID, []byte(`{"client_name":"billing service"}`)); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("patch: got %v, want ErrNameTaken", err)
	}
	if store.snapshot(t) != before {
		t.Fatal("refused writes changed the store")
	}
	// A client may change the case of its own name.
	if c, err := r.Patch(ctx, a.ClientID, []byte(`{"client_name":"BILLING SERVICE"}`)); err != nil || c.ClientName != "BILLING SERVICE" {
		t.Fatalf("renaming in place: %v %q", err, c.ClientName)
	}
}

func TestMaxClients(t *testing.T) {
	ctx := context.Background()
	r, store, _ := newTestRegistry(t, Limits{MaxClients: 2})
	mustCreate(t, r, `{"client_name":"a"}`)
	mustCreate(t, r, `{"client_name":"b"}`)
	_, _, err := r.Create(ctx, Metadata{ClientName: "c"})
	if !errors.Is(err, ErrLimitExceeded) {
		t.Fatalf("got %v, want ErrLimitExceeded", err)
	}
	if n, _ := store.CountClients(ctx); n != 2 {
		t.Fatalf("%d clients stored, want 2", n)
	}
}

func TestGetAndDeleteUnknown(t *testing.T) {
	ctx := context.Background()
	r, _, _ := newTestRegistry(t, Limits{})
	for name, err := range map[string]error{
		"get":     func() error { _, err := r.Get(ctx, "nope"); return err }(),
		"lookup":  func() error { _, err := r.Lookup(ctx, "nope"); return err }(),
		"delete":  r.Delete(ctx, "nope"),
		"replace": func() error { _, err := r.Replace(ctx, "nope", Metadata{ClientName: "a"}); return err }(),
		"patch":   func() error { _, err := r.Patch(ctx, "nope", []byte(`{}`)); return err }(),
		"rotate":  func() error { _, _, _, err := r.RotateSecret(ctx, "nope", RotateOptions{}); return err }(),
		"retire":  func() error { _, err := r.RetireSecret(ctx, "nope", "x"); return err }(),
		"revoke":  func() error { _, err := r.RevokeTokens(ctx, "nope"); return err }(),
		"disable": func() error { _, err := r.SetDisabled(ctx, "nope", true); return err }(),
	} {
		t.Run(name, func(t *testing.T) {
			if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrSecretNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	r, _, _ := newTestRegistry(t, Limits{})
	c, secret := mustCreate(t, r, `{"client_name":"a"}`)
	if err := r.Delete(ctx, c.ClientID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get(ctx, c.ClientID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if _, err := r.Authenticate(ctx, c.ClientID, secret); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("authenticate after delete: %v", err)
	}
	// The name is free again.
	mustCreate(t, r, `{"client_name":"A"}`)
}

func TestReplace(t *testing.T) {
	ctx := context.Background()
	r, _, clock := newTestRegistry(t, Limits{})
	c, secret := mustCreate(t, r, `{"client_name":"a","scope":"x y","features":["introspect"],"disabled":true,"require_scope_request":false,"metadata":{"k":1}}`)
	clock.Add(time.Minute)
	got, err := r.Replace(ctx, c.ClientID, Metadata{ClientName: "b", Scope: "z"})
	if err != nil {
		t.Fatal(err)
	}
	// Every absent field is back to its default; identity and secrets stay.
	if got.ClientID != c.ClientID || got.ClientName != "b" || got.Scope != "z" || got.Features != nil ||
		got.Disabled || !got.RequireScopeRequest || got.Metadata != nil ||
		!got.CreatedAt.Equal(c.CreatedAt) || !got.UpdatedAt.Equal(clock.Now()) ||
		len(got.Secrets) != 1 || got.Secrets[0].ID != c.Secrets[0].ID {
		t.Fatalf("after replace: %+v", got)
	}
	if _, err := r.Authenticate(ctx, c.ClientID, secret); err != nil {
		t.Fatalf("secret lost by replace: %v", err)
	}
	// A refused replace changes nothing.
	before, _ := r.Get(ctx, c.ClientID)
	var ve *ValidationError
	if _, err := r.Replace(ctx, c.ClientID, Metadata{ClientName: "b", Features: []string{"root"}}); !errors.As(err, &ve) {
		t.Fatalf("got %v, want a ValidationError", err)
	}
	after, _ := r.Get(ctx, c.ClientID)
	if !jsonEqual(t, before, after) {
		t.Fatal("a refused replace changed the client")
	}
}

func jsonEqual(t *testing.T, a, b any) bool {
	t.Helper()
	x, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(x, y)
}

func TestPatch(t *testing.T) {
	const base = `{"client_name":"svc","scope":"a b","audience":["https://api"],"ip_allowlist":["10.0.0.0/8"],
		"require_scope_request":false,"access_token_ttl":"20m","claims":{"tenant":"t1","tier":{"level":2,"name":"gold"}},
		"metadata":{"team":"x","n":12345678901234567890}}`
	cases := []struct {
		name  string
		patch string
		want  string // the writable fields afterwards, as metadataJSON writes them
	}{
		{"empty patch changes nothing", `{}`,
			`{"client_name":"svc","grant_types":["client_credentials"],"scope":"a b","audience":["https://api"],"ip_allowlist":["10.0.0.0/8"],"require_scope_request":false,"access_token_ttl":"20m0s","claims":{"tenant":"t1","tier":{"level":2,"name":"gold"}},"metadata":{"team":"x","n":12345678901234567890},"token_endpoint_auth_method":"client_secret_basic","require_pkce":true}`},
		{"set one field", `{"scope":"c"}`,
			`{"client_name":"svc","grant_types":["client_credentials"],"scope":"c","audience":["https://api"],"ip_allowlist":["10.0.0.0/8"],"require_scope_request":false,"access_token_ttl":"20m0s","claims":{"tenant":"t1","tier":{"level":2,"name":"gold"}},"metadata":{"team":"x","n":12345678901234567890},"token_endpoint_auth_method":"client_secret_basic","require_pkce":true}`},
		{"null resets to defaults", `{"ip_allowlist":null,"require_scope_request":null,"access_token_ttl":null,"audience":null,"scope":null}`,
			`{"client_name":"svc","grant_types":["client_credentials"],"require_scope_request":true,"claims":{"tenant":"t1","tier":{"level":2,"name":"gold"}},"metadata":{"team":"x","n":12345678901234567890},"token_endpoint_auth_method":"client_secret_basic","require_pkce":true}`},
		{"objects merge recursively", `{"claims":{"tier":{"level":3,"name":null},"region":"eu"},"metadata":{"team":null}}`,
			`{"client_name":"svc","grant_types":["client_credentials"],"scope":"a b","audience":["https://api"],"ip_allowlist":["10.0.0.0/8"],"require_scope_request":false,"access_token_ttl":"20m0s","claims":{"tenant":"t1","tier":{"level":3},"region":"eu"},"metadata":{"n":12345678901234567890},"token_endpoint_auth_method":"client_secret_basic","require_pkce":true}`},
		{"arrays are replaced whole", `{"audience":["https://b","https://c"],"metadata":null}`,
			`{"client_name":"svc","grant_types":["client_credentials"],"scope":"a b","audience":["https://b","https://c"],"ip_allowlist":["10.0.0.0/8"],"require_scope_request":false,"access_token_ttl":"20m0s","claims":{"tenant":"t1","tier":{"level":2,"name":"gold"}},"token_endpoint_auth_method":"client_secret_basic","require_pkce":true}`},
		{"disable", `{"disabled":true}`,
			`{"client_name":"svc","grant_types":["client_credentials"],"scope":"a b","audience":["https://api"],"ip_allowlist":["10.0.0.0/8"],"require_scope_request":false,"access_token_ttl":"20m0s","claims":{"tenant":"t1","tier":{"level":2,"name":"gold"}},"disabled":true,"metadata":{"team":"x","n":12345678901234567890},"token_endpoint_auth_method":"client_secret_basic","require_pkce":true}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			r, _, clock := newTestRegistry(t, Limits{})
			c, _ := mustCreate(t, r, base)
			clock.Add(time.Second)
			got, err := r.Patch(ctx, c.ClientID, []byte(tc.patch))
			if err != nil {
				t.Fatal(err)
			}
			rec, err := r.Lookup(ctx, c.ClientID)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := metadataJSON(rec)
			if err != nil {
				t.Fatal(err)
			}
			if string(doc) != tc.want {
				t.Fatalf("after patch\n got %s\nwant %s", doc, tc.want)
			}
			if !got.UpdatedAt.Equal(clock.Now()) || !got.CreatedAt.Equal(c.CreatedAt) || got.Secrets[0].ID != c.Secrets[0].ID {
				t.Errorf("timestamps or secrets changed wrongly: %+v", got)
			}
		})
	}
}

func TestPatchRefuses(t *testing.T) {
	cases := []struct {
		name  string
		patch string
		want  string
	}{
		{"client_id", `{"client_id":"other"}`, "client_id: is read-only"},
		{"client_id null", `{"client_id":null}`, "client_id: is read-only"},
		{"secrets", `{"secrets":[]}`, "secrets: is read-only"},
		{"a hash", `{"secret_hash":"AAAA"}`, "secret_hash: is read-only"},
		{"unknown field", `{"colour":"red"}`, "colour: is not a known field"},
		{"not an object", `["scope"]`, "body: must be a JSON object"},
		{"null document", `null`, "body: must be a JSON object"},
		{"malformed", `{"scope":`, "body: is not valid JSON"},
		{"trailing data", `{} {}`, "body: must hold one JSON object and nothing after it"},
		{"wrong type", `{"scope":5}`, "scope: must be a string of space-separated scope tokens"},
		{"name removed", `{"client_name":null}`, "client_name: is required"},
		{"bad CIDR", `{"ip_allowlist":["10.0.0.0/33"]}`, "ip_allowlist: entry 0: prefix length out of range"},
		{"claims made a string", `{"claims":"x"}`, "claims: must be a JSON object"},
		{"reserved claim merged in", `{"claims":{"aud":"x"}}`, `claims: must not set the registered claim "aud"`},
		{"duplicate member", `{"scope":"a","scope":"b"}`, "scope: appears more than once"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			r, store, _ := newTestRegistry(t, Limits{})
			c, _ := mustCreate(t, r, `{"client_name":"svc","scope":"a","claims":{"tenant":"t"}}`)
			before := store.snapshot(t)
			_, err := r.Patch(ctx, c.ClientID, []byte(tc.patch))
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Error() != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if store.snapshot(t) != before {
				t.Fatal("a refused patch changed the store")
			}
		})
	}
}

func TestUpdatedAtMovesForward(t *testing.T) {
	ctx := context.Background()
	r, _, clock := newTestRegistry(t, Limits{})
	c, _ := mustCreate(t, r, `{"client_name":"a"}`)
	prev := c.UpdatedAt
	step := func(name string, write func() (Client, error)) {
		t.Helper()
		got, err := write()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !got.UpdatedAt.After(prev) {
			t.Fatalf("%s: UpdatedAt %v not after %v", name, got.UpdatedAt, prev)
		}
		if !got.CreatedAt.Equal(c.CreatedAt) {
			t.Fatalf("%s: CreatedAt changed", name)
		}
		prev = got.UpdatedAt
	}
	// The clock does not move: every write still gets a new version.
	step("disable", func() (Client, error) { return r.SetDisabled(ctx, c.ClientID, true) })
	step("enable", func() (Client, error) { return r.SetDisabled(ctx, c.ClientID, false) })
	step("patch", func() (Client, error) { return r.Patch(ctx, c.ClientID, []byte(`{}`)) })
	// The clock steps back an hour.
	clock.Add(-time.Hour)
	step("revoke", func() (Client, error) { return r.RevokeTokens(ctx, c.ClientID) })
	step("replace", func() (Client, error) { return r.Replace(ctx, c.ClientID, Metadata{ClientName: "a"}) })
	if want := c.UpdatedAt.Add(5 * time.Nanosecond); !prev.Equal(want) {
		t.Fatalf("UpdatedAt %v, want %v", prev, want)
	}
	clock.Add(2 * time.Hour)
	step("rotate", func() (Client, error) {
		c, _, _, err := r.RotateSecret(ctx, c.ClientID, RotateOptions{})
		return c, err
	})
	if !prev.Equal(clock.Now()) {
		t.Fatalf("UpdatedAt %v, want the clock's %v", prev, clock.Now())
	}
}

func TestRotateSecretWithGrace(t *testing.T) {
	ctx := context.Background()
	r, store, clock := newTestRegistry(t, Limits{})
	c, oldSecret := mustCreate(t, r, `{"client_name":"a"}`)
	created := clock.Now()
	clock.Add(time.Minute)

	got, newSecret, secretID, err := r.RotateSecret(ctx, c.ClientID, RotateOptions{GracePeriod: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !secretPattern.MatchString(newSecret) || newSecret == oldSecret || !secretIDPattern.MatchString(secretID) {
		t.Fatalf("rotate returned secret %q id %q", newSecret, secretID)
	}
	rotated := clock.Now()
	want := []SecretInfo{
		{ID: c.Secrets[0].ID, CreatedAt: created, ExpiresAt: rotated.Add(time.Hour)},
		{ID: secretID, CreatedAt: rotated},
	}
	if !jsonEqual(t, got.Secrets, want) {
		t.Fatalf("secrets %+v, want %+v", got.Secrets, want)
	}
	if bytes.Contains(store.fileBytes(t), []byte(strings.TrimPrefix(newSecret, "sgs_"))) {
		t.Fatal("the new secret is stored in plain text")
	}

	// Both work during the grace period, up to its last instant.
	clock.Add(time.Hour - time.Nanosecond)
	for _, s := range []string{oldSecret, newSecret} {
		if _, err := r.Authenticate(ctx, c.ClientID, s); err != nil {
			t.Fatalf("during grace: %v", err)
		}
	}
	// Then only the new one.
	clock.Add(time.Nanosecond)
	if _, err := r.Authenticate(ctx, c.ClientID, oldSecret); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("old secret after grace: %v", err)
	}
	if _, err := r.Authenticate(ctx, c.ClientID, newSecret); err != nil {
		t.Fatalf("new secret after grace: %v", err)
	}
	// The expired secret is hidden at once and pruned at the next write.
	view, _ := r.Get(ctx, c.ClientID)
	if len(view.Secrets) != 1 || view.Secrets[0].ID != secretID {
		t.Fatalf("secrets after grace: %+v", view.Secrets)
	}
	if rec, _ := r.Lookup(ctx, c.ClientID); len(rec.Secrets) != 2 {
		t.Fatalf("pruned before a write: %d secrets", len(rec.Secrets))
	}
	if _, err := r.SetDisabled(ctx, c.ClientID, false); err != nil {
		t.Fatal(err)
	}
	if rec, _ := r.Lookup(ctx, c.ClientID); len(rec.Secrets) != 1 || rec.Secrets[0].ID != secretID {
		t.Fatalf("not pruned by a write: %+v", rec.Secrets)
	}
}

func TestRotateSecret(t *testing.T) {
	ctx := context.Background()

	t.Run("without grace the old secret stops at once", func(t *testing.T) {
		r, _, _ := newTestRegistry(t, Limits{})
		c, oldSecret := mustCreate(t, r, `{"client_name":"a"}`)
		got, newSecret, id, err := r.RotateSecret(ctx, c.ClientID, RotateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Secrets) != 1 || got.Secrets[0].ID != id {
			t.Fatalf("secrets %+v", got.Secrets)
		}
		if _, err := r.Authenticate(ctx, c.ClientID, oldSecret); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("old secret: %v", err)
		}
		if _, err := r.Authenticate(ctx, c.ClientID, newSecret); err != nil {
			t.Fatalf("new secret: %v", err)
		}
	})

	t.Run("a new secret can expire", func(t *testing.T) {
		r, _, clock := newTestRegistry(t, Limits{})
		c, _ := mustCreate(t, r, `{"client_name":"a"}`)
		got, secret, _, err := r.RotateSecret(ctx, c.ClientID, RotateOptions{ExpiresIn: 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if !got.Secrets[0].ExpiresAt.Equal(clock.Now().Add(24 * time.Hour)) {
			t.Fatalf("expires_at %v", got.Secrets[0].ExpiresAt)
		}
		clock.Add(24 * time.Hour)
		if _, err := r.Authenticate(ctx, c.ClientID, secret); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("expired secret: %v", err)
		}
	})

	t.Run("grace never extends an earlier expiry", func(t *testing.T) {
		r, _, clock := newTestRegistry(t, Limits{})
		c, _ := mustCreate(t, r, `{"client_name":"a"}`)
		first, _, firstID, err := r.RotateSecret(ctx, c.ClientID, RotateOptions{ExpiresIn: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		expiry := first.Secrets[0].ExpiresAt
		got, _, _, err := r.RotateSecret(ctx, c.ClientID, RotateOptions{GracePeriod: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if got.Secrets[0].ID != firstID || !got.Secrets[0].ExpiresAt.Equal(expiry) || !expiry.Equal(clock.Now().Add(time.Minute)) {
			t.Fatalf("secrets %+v", got.Secrets)
		}
	})

	t.Run("at most five live secrets", func(t *testing.T) {
		r, store, _ := newTestRegistry(t, Limits{})
		c, _ := mustCreate(t, r, `{"client_name":"a"}`)
		for i := range 4 {
			if _, _, _, err := r.RotateSecret(ctx, c.ClientID, RotateOptions{GracePeriod: time.Hour}); err != nil {
				t.Fatalf("rotation %d: %v", i+1, err)
			}
		}
		before := store.snapshot(t)
		_, secret, id, err := r.RotateSecret(ctx, c.ClientID, RotateOptions{GracePeriod: time.Hour})
		if !errors.Is(err, ErrTooManySecrets) || secret != "" || id != "" {
			t.Fatalf("sixth secret: %v %q %q", err, secret, id)
		}
		if store.snapshot(t) != before {
			t.Fatal("a refused rotation changed the store")
		}
		// Without grace the rotation replaces them all.
		got, _, _, err := r.RotateSecret(ctx, c.ClientID, RotateOptions{})
		if err != nil || len(got.Secrets) != 1 {
			t.Fatalf("rotation without grace: %v, %d secrets", err, len(got.Secrets))
		}
	})

	t.Run("negative options", func(t *testing.T) {
		r, _, _ := newTestRegistry(t, Limits{})
		c, _ := mustCreate(t, r, `{"client_name":"a"}`)
		for opts, want := range map[RotateOptions]string{
			{GracePeriod: -time.Second}: "grace_period: must not be negative",
			{ExpiresIn: -time.Second}:   "expires_in: must not be negative",
		} {
			_, _, _, err := r.RotateSecret(ctx, c.ClientID, opts)
			var ve *ValidationError
			if !errors.As(err, &ve) || err.Error() != want {
				t.Errorf("%+v: got %v, want %q", opts, err, want)
			}
		}
	})
}

func TestRetireSecret(t *testing.T) {
	ctx := context.Background()
	r, store, clock := newTestRegistry(t, Limits{})
	c, first := mustCreate(t, r, `{"client_name":"a"}`)
	_, second, secondID, err := r.RotateSecret(ctx, c.ClientID, RotateOptions{GracePeriod: time.Hour})
	if err != nil {
		t.Fatal(err)
	}

	before := store.snapshot(t)
	if _, err := r.RetireSecret(ctx, c.ClientID, "unknown"); !errors.Is(err, ErrSecretNotFound) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown secret: %v", err)
	}
	if store.snapshot(t) != before {
		t.Fatal("a refused retire changed the store")
	}

	got, err := r.RetireSecret(ctx, c.ClientID, c.Secrets[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Secrets) != 1 || got.Secrets[0].ID != secondID {
		t.Fatalf("secrets after retire: %+v", got.Secrets)
	}
	if _, err := r.Authenticate(ctx, c.ClientID, first); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("retired secret: %v", err)
	}
	if _, err := r.RetireSecret(ctx, c.ClientID, secondID); !errors.Is(err, ErrLastSecret) {
		t.Fatalf("last secret: %v", err)
	}
	if _, err := r.Authenticate(ctx, c.ClientID, second); err != nil {
		t.Fatalf("the last secret stopped working: %v", err)
	}

	// An expired secret is gone, so it cannot be retired again.
	_, _, thirdID, err := r.RotateSecret(ctx, c.ClientID, RotateOptions{GracePeriod: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Minute)
	if _, err := r.RetireSecret(ctx, c.ClientID, secondID); !errors.Is(err, ErrSecretNotFound) {
		t.Fatalf("expired secret: %v", err)
	}
	if _, err := r.RetireSecret(ctx, c.ClientID, thirdID); !errors.Is(err, ErrLastSecret) {
		t.Fatalf("last live secret beside an expired one: %v", err)
	}
}

func TestRevokeTokens(t *testing.T) {
	ctx := context.Background()
	r, _, clock := newTestRegistry(t, Limits{})
	c, _ := mustCreate(t, r, `{"client_name":"a"}`)
	if !c.TokensRevokedAt.IsZero() {
		t.Fatal("new client has tokens_revoked_at")
	}
	if b, _ := json.Marshal(c); bytes.Contains(b, []byte("tokens_revoked_at")) {
		t.Fatalf("zero tokens_revoked_at is not omitted: %s", b)
	}
	clock.Add(90 * time.Second)
	got, err := r.RevokeTokens(ctx, c.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	first := clock.Now()
	if !got.TokensRevokedAt.Equal(first) {
		t.Fatalf("tokens_revoked_at %v, want %v", got.TokensRevokedAt, first)
	}
	rec, _ := r.Lookup(ctx, c.ClientID)
	if !rec.TokensRevokedAt.Equal(first) {
		t.Fatalf("stored %v", rec.TokensRevokedAt)
	}
	// A clock stepped back never moves the moment back.
	clock.Add(-time.Hour)
	got, err = r.RevokeTokens(ctx, c.ClientID)
	if err != nil || !got.TokensRevokedAt.Equal(first) {
		t.Fatalf("after a clock step back: %v %v", got.TokensRevokedAt, err)
	}
	clock.Add(2 * time.Hour)
	got, _ = r.RevokeTokens(ctx, c.ClientID)
	if !got.TokensRevokedAt.Equal(clock.Now()) {
		t.Fatalf("second revoke: %v", got.TokensRevokedAt)
	}
}

func TestSetDisabled(t *testing.T) {
	ctx := context.Background()
	r, _, _ := newTestRegistry(t, Limits{})
	c, secret := mustCreate(t, r, `{"client_name":"a"}`)
	got, err := r.SetDisabled(ctx, c.ClientID, true)
	if err != nil || !got.Disabled {
		t.Fatalf("disable: %v %v", got.Disabled, err)
	}
	// Authenticate leaves the disabled check to the token endpoint.
	rec, err := r.Authenticate(ctx, c.ClientID, secret)
	if err != nil || !rec.Disabled {
		t.Fatalf("authenticate a disabled client: %v, disabled %v", err, rec.Disabled)
	}
	got, err = r.SetDisabled(ctx, c.ClientID, false)
	if err != nil || got.Disabled {
		t.Fatalf("enable: %v %v", got.Disabled, err)
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	r, _, _ := newTestRegistry(t, Limits{})
	var ids []string
	for i := range 5 {
		c, _ := mustCreate(t, r, fmt.Sprintf(`{"client_name":"Client %d"}`, i))
		ids = append(ids, c.ClientID)
	}

	t.Run("pages of two", func(t *testing.T) {
		var got []string
		cursor := ""
		for pages := 1; ; pages++ {
			page, err := r.List(ctx, ListQuery{Limit: 2, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page.Clients {
				got = append(got, c.ClientID)
			}
			if page.NextCursor == "" {
				if pages != 3 {
					t.Fatalf("%d pages, want 3", pages)
				}
				break
			}
			cursor = page.NextCursor
		}
		want := append([]string(nil), ids...)
		slices.Sort(want)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("listed %v, want %v", got, want)
		}
	})

	t.Run("an exact last page has no cursor", func(t *testing.T) {
		page, err := r.List(ctx, ListQuery{Limit: 5})
		if err != nil || len(page.Clients) != 5 || page.NextCursor != "" {
			t.Fatalf("%d clients, cursor %q, %v", len(page.Clients), page.NextCursor, err)
		}
	})

	t.Run("default limit", func(t *testing.T) {
		page, err := r.List(ctx, ListQuery{})
		if err != nil || len(page.Clients) != 5 {
			t.Fatalf("%d clients, %v", len(page.Clients), err)
		}
	})

	t.Run("name filter ignores case", func(t *testing.T) {
		page, err := r.List(ctx, ListQuery{Name: "cLIENT 3"})
		if err != nil || len(page.Clients) != 1 || page.Clients[0].ClientID != ids[3] || page.NextCursor != "" {
			t.Fatalf("%+v %v", page, err)
		}
		page, err = r.List(ctx, ListQuery{Name: "Client"})
		if err != nil || len(page.Clients) != 0 || page.Clients == nil {
			t.Fatalf("a partial name matched: %+v %v", page, err)
		}
	})

	t.Run("limits", func(t *testing.T) {
		for _, limit := range []int{-1, 1001} {
			if _, err := r.List(ctx, ListQuery{Limit: limit}); !errors.Is(err, ErrInvalidLimit) {
				t.Errorf("limit %d: %v", limit, err)
			}
		}
		if page, err := r.List(ctx, ListQuery{Limit: 1000}); err != nil || len(page.Clients) != 5 {
			t.Errorf("limit 1000: %v", err)
		}
	})

	t.Run("cursors that do not verify", func(t *testing.T) {
		page, err := r.List(ctx, ListQuery{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		good := page.NextCursor
		raw, _ := base64.RawURLEncoding.DecodeString(good)
		edited := append([]byte(nil), raw...)
		edited[len(edited)-1] ^= 1
		other := New(newTestStore(t), Limits{}).sealCursor(page.Clients[0].ClientID)
		for name, cursor := range map[string]string{
			"forged":                "Zm9yZ2Vk",
			"plain id":              page.Clients[0].ClientID,
			"edited id":             base64.RawURLEncoding.EncodeToString(edited),
			"tag only":              base64.RawURLEncoding.EncodeToString(raw[:32]),
			"padded":                good + "=",
			"standard base64":       base64.StdEncoding.EncodeToString(raw),
			"from another registry": other,
			"huge":                  strings.Repeat("A", 5000),
			"control characters":    "\x00\r\n",
		} {
			if _, err := r.List(ctx, ListQuery{Cursor: cursor}); !errors.Is(err, ErrInvalidCursor) {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}

// TestListRegistered: the registered filter reaches the store, so the
// clients that registered themselves and the administrators' each come in
// full pages with cursors, and the filter combines with the name.
func TestListRegistered(t *testing.T) {
	ctx := context.Background()
	r, _, _ := newTestRegistry(t, Limits{})
	var registered, made []string
	for i := range 3 {
		c, _, err := r.Register(ctx, Metadata{ClientName: "mcp", TokenEndpointAuthMethod: "none",
			GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{"http://127.0.0.1/cb"}})
		if err != nil {
			t.Fatalf("registration %d: %v", i, err)
		}
		registered = append(registered, c.ClientID)
		admins, _ := mustCreate(t, r, fmt.Sprintf(`{"client_name":"svc-%d"}`, i))
		made = append(made, admins.ClientID)
	}
	slices.Sort(registered)
	slices.Sort(made)
	yes, no := true, false
	for _, tt := range []struct {
		name       string
		registered *bool
		want       []string
	}{{"registered", &yes, registered}, {"administrators'", &no, made}} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			q := ListQuery{Registered: tt.registered, Limit: 2}
			for pages := 1; ; pages++ {
				page, err := r.List(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if pages == 1 && len(page.Clients) != 2 {
					t.Fatalf("the first page holds %d clients, want 2", len(page.Clients))
				}
				for _, c := range page.Clients {
					got = append(got, c.ClientID)
				}
				if page.NextCursor == "" {
					break
				}
				q.Cursor = page.NextCursor
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("listed %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("with a name", func(t *testing.T) {
		page, err := r.List(ctx, ListQuery{Name: "SVC-1", Registered: &no})
		if err != nil || len(page.Clients) != 1 || page.Clients[0].ClientName != "svc-1" {
			t.Fatalf("an administrator's client by name: %+v %v", page, err)
		}
		page, err = r.List(ctx, ListQuery{Name: "svc-1", Registered: &yes})
		if err != nil || len(page.Clients) != 0 {
			t.Fatalf("an administrator's client listed as registered: %+v %v", page, err)
		}
	})
}

func TestStoreFaults(t *testing.T) {
	ctx := context.Background()
	r, store, _ := newTestRegistry(t, Limits{})
	c, secret := mustCreate(t, r, `{"client_name":"a"}`)
	disk := errors.New("input/output error")
	store.fail = disk
	_, err := r.Authenticate(ctx, c.ClientID, secret)
	if !errors.Is(err, disk) || errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("authenticate on a broken store: %v", err)
	}
	if _, _, err := r.Create(ctx, Metadata{ClientName: "b"}); !errors.Is(err, disk) {
		t.Fatalf("create: %v", err)
	}
	if _, err := r.SetDisabled(ctx, c.ClientID, true); !errors.Is(err, disk) {
		t.Fatalf("update: %v", err)
	}
	if _, err := r.List(ctx, ListQuery{}); !errors.Is(err, disk) {
		t.Fatalf("list: %v", err)
	}
}

func TestConcurrentCreates(t *testing.T) {
	ctx := context.Background()
	r, store, _ := newTestRegistry(t, Limits{MaxClients: 40})
	var wg sync.WaitGroup
	var mu sync.Mutex
	created, limited := 0, 0
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				_, _, err := r.Create(ctx, Metadata{ClientName: fmt.Sprintf("w%d-%d", w, i)})
				mu.Lock()
				switch {
				case err == nil:
					created++
				case errors.Is(err, ErrLimitExceeded):
					limited++
				default:
					t.Errorf("create: %v", err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	n, _ := store.CountClients(ctx)
	if created != 40 || limited != 40 || n != 40 {
		t.Fatalf("created %d, limited %d, stored %d; want 40, 40, 40", created, limited, n)
	}
}
