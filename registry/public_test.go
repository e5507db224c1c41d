package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPublicClient(t *testing.T) {
	ctx := context.Background()
	r, store, _ := newTestRegistry(t, Limits{})
	c, secret := mustCreate(t, r, `{"client_name":"spa","token_endpoint_auth_method":"none","redirect_uris":["http://127.0.0.1/cb"]}`)
	if secret != "" || len(c.Secrets) != 0 {
		t.Fatalf("a public client got a secret: %q, %+v", secret, c.Secrets)
	}
	if c.ClientType != ClientTypePublic || c.TokenEndpointAuthMethod != "none" || !c.RequirePKCE || c.SkipConsent ||
		!slices.Equal(c.GrantTypes, []string{"authorization_code"}) {
		t.Fatalf("view %+v", c)
	}

	t.Run("rotation refused", func(t *testing.T) {
		before := store.snapshot(t)
		_, s, _, err := r.RotateSecret(ctx, c.ClientID, RotateOptions{})
		if !errors.Is(err, ErrPublicClient) || s != "" {
			t.Fatalf("rotate: %q, %v; want ErrPublicClient", s, err)
		}
		if store.snapshot(t) != before {
			t.Error("a refused rotation changed the store")
		}
	})
	t.Run("a secret never authenticates it", func(t *testing.T) {
		for _, s := range []string{"", "sgs_guess"} {
			if _, err := r.Authenticate(ctx, c.ClientID, s); !errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("Authenticate with %q: %v", s, err)
			}
		}
	})
	t.Run("its ID alone identifies it, and only it", func(t *testing.T) {
		got, err := r.AuthenticatePublic(ctx, c.ClientID)
		if err != nil || got.ID != c.ClientID {
			t.Fatalf("AuthenticatePublic: %+v, %v", got, err)
		}
		conf, _ := mustCreate(t, r, `{"client_name":"web"}`)
		for _, id := range []string{conf.ClientID, "unknown", "", string(make([]byte, 300))} {
			if _, err := r.AuthenticatePublic(ctx, id); !errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("AuthenticatePublic(%.20q): %v", id, err)
			}
		}
	})
	t.Run("PKCE stays required through a patch", func(t *testing.T) {
		_, err := r.Patch(ctx, c.ClientID, []byte(`{"require_pkce":false}`))
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != "require_pkce" {
			t.Fatalf("patch: %v", err)
		}
	})
}

// A confidential client made public loses its secrets, so the one its app
// held stops working; made confidential again, it gets a secret by rotation.
func TestClientTypeChanges(t *testing.T) {
	ctx := context.Background()
	r, _, _ := newTestRegistry(t, Limits{})
	c, secret := mustCreate(t, r, `{"client_name":"web","grant_types":["client_credentials","authorization_code"],"redirect_uris":["https://app/cb"]}`)
	if _, err := r.Patch(ctx, c.ClientID, []byte(`{"token_endpoint_auth_method":"none"}`)); err == nil {
		t.Fatal("made public while it may use client_credentials")
	}
	pub, err := r.Patch(ctx, c.ClientID, []byte(`{"token_endpoint_auth_method":"none","grant_types":["authorization_code"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if pub.ClientType != ClientTypePublic || len(pub.Secrets) != 0 {
		t.Fatalf("after the patch: %+v", pub)
	}
	if _, err := r.Authenticate(ctx, c.ClientID, secret); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("the old secret still authenticates: %v", err)
	}
	conf, err := r.Patch(ctx, c.ClientID, []byte(`{"token_endpoint_auth_method":"client_secret_post","require_pkce":false}`))
	if err != nil {
		t.Fatal(err)
	}
	if conf.ClientType != ClientTypeConfidential || conf.TokenEndpointAuthMethod != "client_secret_post" || conf.RequirePKCE {
		t.Fatalf("after the second patch: %+v", conf)
	}
	_, fresh, _, err := r.RotateSecret(ctx, c.ClientID, RotateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Authenticate(ctx, c.ClientID, fresh); err != nil {
		t.Fatalf("the new secret: %v", err)
	}
}

func TestSkipConsentAndDefaults(t *testing.T) {
	r, _, _ := newTestRegistry(t, Limits{})
	c, _ := mustCreate(t, r, `{"client_name":"first-party","grant_types":["authorization_code"],"redirect_uris":["https://app/cb"],"skip_consent":true}`)
	if !c.SkipConsent || !c.RequirePKCE || c.ClientType != ClientTypeConfidential || c.TokenEndpointAuthMethod != "client_secret_basic" {
		t.Fatalf("view %+v", c)
	}
	plain, _ := mustCreate(t, r, `{"client_name":"svc"}`)
	b, err := json.Marshal(plain)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"token_endpoint_auth_method": "client_secret_basic", "client_type": "confidential", "skip_consent": false, "require_pkce": true} {
		if doc[k] != want {
			t.Errorf("%s = %v, want %v", k, doc[k], want)
		}
	}
}

func TestStripAdminOnly(t *testing.T) {
	ttl := Duration(0)
	yes := true
	m := Metadata{
		ClientName: "app", GrantTypes: []string{"authorization_code"}, Scope: "a", Audience: []string{"https://api"},
		RedirectURIs: []string{"https://app/cb"}, IPAllowlist: []string{"10.0.0.0/8"}, Features: []string{"owner"},
		RequireScopeRequest: &yes, AccessTokenTTL: ttl, Claims: json.RawMessage(`{"t":1}`), Disabled: true,
		Metadata: json.RawMessage(`{"n":1}`), TokenEndpointAuthMethod: "none", SkipConsent: true, RequirePKCE: &yes,
		RefreshTokenTTL: Duration(time.Hour),
	}
	got := StripAdminOnly(m)
	want := m
	want.SkipConsent, want.Features, want.Claims, want.Metadata, want.RefreshTokenTTL = false, nil, nil, nil, 0
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("StripAdminOnly:\n got %+v\nwant %+v", got, want)
	}
	// Every field is either kept or named here: a new admin-only field must
	// be added to StripAdminOnly and to this list.
	stripped := map[string]bool{"SkipConsent": true, "Features": true, "Claims": true, "Metadata": true, "RefreshTokenTTL": true}
	kept := map[string]bool{"ClientName": true, "GrantTypes": true, "Scope": true, "Audience": true, "RedirectURIs": true,
		"IPAllowlist": true, "RequireScopeRequest": true, "AccessTokenTTL": true, "Disabled": true,
		"TokenEndpointAuthMethod": true, "RequirePKCE": true, "PostLogoutRedirectURIs": true,
		// A registering client names its ID token algorithm (OpenID Connect Registration §2).
		"IDTokenSignedResponseAlg": true}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[Metadata]()) {
		if !stripped[f.Name] && !kept[f.Name] {
			t.Errorf("Metadata.%s: decide whether a client may set it itself, in StripAdminOnly and here", f.Name)
		}
	}
}

// TestRegister: a client that registers itself loses the admin-only fields,
// is marked registered, survives an admin's skip_consent, and many copies
// of one app register under the same name without taking an admin's.
func TestRegister(t *testing.T) {
	ctx := context.Background()
	r, _, _ := newTestRegistry(t, Limits{})
	admins, _ := mustCreate(t, r, `{"client_name":"Notes","token_endpoint_auth_method":"none","redirect_uris":["https://notes.example/cb"]}`)
	m := Metadata{
		ClientName: "Notes", TokenEndpointAuthMethod: "none", RedirectURIs: []string{"http://127.0.0.1/cb"},
		GrantTypes: []string{"authorization_code"}, SkipConsent: true, Metadata: json.RawMessage(`{"x":1}`),
	}
	first, secret, err := r.Register(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := r.Register(ctx, m)
	if err != nil {
		t.Fatalf("a second copy of the app: %v", err)
	}
	if secret != "" || !first.Registered || first.SkipConsent || first.Metadata != nil || admins.Registered {
		t.Fatalf("registered %+v (secret %q), admin's %+v", first, secret, admins)
	}
	want := "Notes (" + first.ClientID[:registeredTagLen] + ")"
	if first.ClientName != want || second.ClientName == first.ClientName {
		t.Fatalf("names %q and %q; want %q and another", first.ClientName, second.ClientName, want)
	}
	patched, err := r.Patch(ctx, first.ClientID, []byte(`{"skip_consent":true}`))
	if err != nil || !patched.Registered {
		t.Fatalf("patch: %+v, %v", patched, err)
	}
	rec, err := r.Lookup(ctx, first.ClientID)
	if err != nil || rec.SkipsConsent() {
		t.Fatalf("after an admin set skip_consent: SkipsConsent %v, %v", rec.SkipsConsent(), err)
	}
}

// Clients that register themselves fill the registry only to a tenth short
// of max_clients: the rest is the administrators', who can still create
// clients after a flood of registrations, up to max_clients itself.
func TestRegisterLeavesRoomForAdministrators(t *testing.T) {
	ctx := context.Background()
	r, _, _ := newTestRegistry(t, Limits{MaxClients: 20})
	m := Metadata{ClientName: "Notes", TokenEndpointAuthMethod: "none", RedirectURIs: []string{"http://127.0.0.1/cb"},
		GrantTypes: []string{"authorization_code"}}
	for i := range 18 {
		if _, _, err := r.Register(ctx, m); err != nil {
			t.Fatalf("registration %d of 18: %v", i+1, err)
		}
	}
	if _, _, err := r.Register(ctx, m); !errors.Is(err, ErrLimitExceeded) {
		t.Fatalf("the 19th registration: %v, want ErrLimitExceeded", err)
	}
	for i := range 2 {
		if _, _, err := r.Create(ctx, Metadata{ClientName: fmt.Sprintf("admin-%d", i)}); err != nil {
			t.Fatalf("the administrators' client %d after the registrations: %v", i+1, err)
		}
	}
	if _, _, err := r.Create(ctx, Metadata{ClientName: "admin-over"}); !errors.Is(err, ErrLimitExceeded) {
		t.Fatalf("a client past max_clients: %v, want ErrLimitExceeded", err)
	}
}

// The password grant is for confidential clients only: a public client
// that lists it is refused with a clear reason when created or patched; a
// confidential one may list it.
func TestPasswordGrantConfidentialOnly(t *testing.T) {
	ctx := context.Background()
	r, _, _ := newTestRegistry(t, Limits{})
	var ve *ValidationError
	_, _, err := r.Create(ctx, Metadata{ClientName: "spa", TokenEndpointAuthMethod: "none", GrantTypes: []string{"authorization_code", "password"}, RedirectURIs: []string{"https://spa/cb"}})
	if !errors.As(err, &ve) || ve.Field != "grant_types" || !strings.Contains(ve.Reason, "public client") {
		t.Fatalf("public client with password: %v", err)
	}
	c, _ := mustCreate(t, r, `{"client_name":"legacy","grant_types":["password"]}`)
	if !slices.Equal(c.GrantTypes, []string{"password"}) {
		t.Fatalf("grant_types %v", c.GrantTypes)
	}
	if _, err := r.Patch(ctx, c.ClientID, []byte(`{"token_endpoint_auth_method":"none"}`)); !errors.As(err, &ve) || ve.Field != "grant_types" {
		t.Fatalf("made public while it lists password: %v", err)
	}
}
