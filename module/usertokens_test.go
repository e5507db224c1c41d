package module

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/authserver"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/scope"
	"github.com/scopegate/scopegate/storage"
	"github.com/scopegate/scopegate/token"
)

// A token an app holds for a person admits, on every request, only what
// the person's roles grant now (with scope_implies) and only while the
// person exists and is enabled: each admin change holds on the next
// request, as a client's do.
func TestGuardHoldsAUsersTokenToTheirRoles(t *testing.T) {
	a := newTestApp(t, func(a *App) { a.ScopeImplies = []scope.Rule{{Grant: "full", Implies: "*"}} })
	ctx := context.Background()
	reg := a.server.Registry
	if _, err := reg.CreateRole(ctx, registry.RoleMetadata{Name: "reader", Scopes: []string{"orders:read"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.CreateRole(ctx, registry.RoleMetadata{Name: "owner", Scopes: []string{"full"}}); err != nil {
		t.Fatal(err)
	}
	alice, err := reg.CreateUser(ctx, registry.UserMetadata{Username: "alice", Roles: []string{"reader"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	app, _ := newTestClient(t, a, "orders:read orders:write")
	consentTo(t, a, alice.UserID, app, "orders:read", "orders:write")
	raw := mintTokenFor(t, a, alice.UserID, app, "orders:read orders:write")
	readRoute, writeRoute := newTestGuard(t, a, "orders:read"), newTestGuard(t, a, "orders:write")

	expect := func(step string, g *Guard, wantReached bool, want string) {
		t.Helper()
		reached, scope, refusal := guardRequest(t, g, raw)
		switch {
		case reached != wantReached:
			t.Fatalf("%s: reached %v (challenge %q), want %v", step, reached, refusal, wantReached)
		case reached && scope != want:
			t.Fatalf("%s: X-Scope %q, want %q", step, scope, want)
		case !reached && !strings.Contains(refusal, want):
			t.Fatalf("%s: challenge %q, want it to hold %q", step, refusal, want)
		}
	}
	patch := func(step, id, body string) {
		t.Helper()
		if _, err := reg.PatchUser(ctx, id, []byte(body)); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}

	expect("reader: the role's scope passes, narrowed", readRoute, true, "orders:read")
	iss := new(Issuer)
	if err := iss.setup(a.server, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	resourceServer, introspectorSecret, err := reg.Create(ctx, registry.Metadata{ClientName: "orders-api", Features: []string{"introspect"}})
	if err != nil {
		t.Fatal(err)
	}
	introspector := resourceServer.ClientID
	form := url.Values{"token": {raw}}
	r := httptest.NewRequest(http.MethodPost, "https://gw.example/oauth2/introspect", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(introspector, introspectorSecret)
	rec := httptest.NewRecorder()
	endpoint(iss, authserver.DefaultIntrospectionPath).ServeHTTP(rec, withClientIP(r))
	if !strings.Contains(rec.Body.String(), `"scope":"orders:read"`) || !strings.Contains(rec.Body.String(), `"sub":"`+alice.UserID+`"`) {
		t.Fatalf("introspection of the person's token: %d %s; want the scopes their roles grant now", rec.Code, rec.Body)
	}
	expect("reader: orders:write is not the role's", writeRoute, false, "insufficient_scope")
	patch("made owner", alice.UserID, `{"roles":["reader","owner"]}`)
	expect("owner: full implies orders:write", writeRoute, true, "orders:read orders:write")
	patch("owner role taken away", alice.UserID, `{"roles":["reader"]}`)
	expect("owner role taken away", writeRoute, false, "insufficient_scope")
	if _, err := reg.PatchRole(ctx, "reader", []byte(`{"scopes":["orders:list"]}`)); err != nil {
		t.Fatal(err)
	}
	expect("orders:read taken from the role", readRoute, false, "insufficient_scope")
	if err := reg.DeleteRole(ctx, "reader"); err != nil {
		t.Fatal(err)
	}
	patch("owner again", alice.UserID, `{"roles":["owner"]}`)
	expect("owner again", readRoute, true, "orders:read orders:write")
	if _, err := reg.SetUserDisabled(ctx, alice.UserID, true); err != nil {
		t.Fatal(err)
	}
	expect("disabled", readRoute, false, "the token's user is disabled")
	if _, err := reg.SetUserDisabled(ctx, alice.UserID, false); err != nil {
		t.Fatal(err)
	}
	expect("enabled again", readRoute, true, "orders:read orders:write")
	if err := reg.DeleteUser(ctx, alice.UserID); err != nil {
		t.Fatal(err)
	}
	expect("deleted", readRoute, false, "the token's user no longer exists")
}

// guardRequest sends raw through g and says whether it reached the
// upstream, with the X-Scope it carried, or the refusal's challenge.
func guardRequest(t *testing.T, g *Guard, raw string) (reached bool, scope, refusal string) {
	t.Helper()
	next := caddyhttp.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) error {
		reached, scope = true, r.Header.Get("X-Scope")
		return nil
	})
	rec := httptest.NewRecorder()
	if err := g.ServeHTTP(rec, guardedRequest(raw), next); err != nil {
		t.Fatalf("guard fault: %v", err)
	}
	if !reached {
		refusal = rec.Header().Get("WWW-Authenticate")
	}
	return reached, scope, refusal
}

// consentTo stores the person's consent to the client for scopes, as the
// consent page does.
func consentTo(tb testing.TB, a *App, userID, clientID string, scopes ...string) {
	tb.Helper()
	_, err := a.server.Store.PutConsent(context.Background(), userID, clientID, func(c storage.Consent) (storage.Consent, error) {
		c.Scopes = scopes
		return c, nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// A token an app holds for a person admits only what the person consented
// to, and only while the consent stands: withdrawing it refuses the token
// on the next request, and consenting again does not revive a token issued
// before the withdrawal. A client that skips consent needs none.
func TestGuardHoldsAUsersTokenToTheirConsent(t *testing.T) {
	a := newTestApp(t)
	ctx := context.Background()
	reg := a.server.Registry
	if _, err := reg.CreateRole(ctx, registry.RoleMetadata{Name: "buyer", Scopes: []string{"orders:read", "orders:write"}}); err != nil {
		t.Fatal(err)
	}
	bob, err := reg.CreateUser(ctx, registry.UserMetadata{Username: "bob", Roles: []string{"buyer"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	app, _ := newTestClient(t, a, "orders:read orders:write")
	readRoute, writeRoute := newTestGuard(t, a, "orders:read"), newTestGuard(t, a, "orders:write")
	raw := mintTokenFor(t, a, bob.UserID, app, "orders:read orders:write")
	expect := func(step string, g *Guard, raw string, wantReached bool, want string) {
		t.Helper()
		reached, scope, refusal := guardRequest(t, g, raw)
		switch {
		case reached != wantReached:
			t.Fatalf("%s: reached %v (challenge %q), want %v", step, reached, refusal, wantReached)
		case reached && scope != want:
			t.Fatalf("%s: X-Scope %q, want %q", step, scope, want)
		case !reached && !strings.Contains(refusal, want):
			t.Fatalf("%s: challenge %q, want it to hold %q", step, refusal, want)
		}
	}

	expect("no consent", readRoute, raw, false, "consent")
	consentTo(t, a, bob.UserID, app, "orders:read")
	expect("consented to orders:read: narrowed to it", readRoute, raw, true, "orders:read")
	expect("orders:write not consented", writeRoute, raw, false, "insufficient_scope")
	withdrawnAt := time.Now()
	if err := a.server.Store.WithdrawConsent(ctx, bob.UserID, app, withdrawnAt); err != nil {
		t.Fatal(err)
	}
	expect("withdrawn", readRoute, raw, false, "consent")
	consentTo(t, a, bob.UserID, app, "orders:read", "orders:write")
	expect("consented again: the old token stays refused", readRoute, raw, false, "withdrew consent")
	later, err := a.server.KeySet().Sign(&token.Claims{
		Issuer: a.Issuer, Subject: bob.UserID, ClientID: app, Audience: token.Audience{a.Issuer},
		IssuedAt: withdrawnAt.Unix() + 1, ExpiresAt: withdrawnAt.Add(10 * time.Minute).Unix(), JWTID: token.NewJTI(),
		Scope: "orders:read orders:write",
	})
	if err != nil {
		t.Fatal(err)
	}
	expect("a token issued after consenting again", writeRoute, later, true, "orders:read orders:write")

	firstParty, _, err := reg.Create(ctx, registry.Metadata{ClientName: "first-party", Scope: "orders:read", SkipConsent: true})
	if err != nil {
		t.Fatal(err)
	}
	expect("skip_consent needs no consent", readRoute, mintTokenFor(t, a, bob.UserID, firstParty.ClientID, "orders:read"), true, "orders:read")
}

// A token an app holds for a person is never a remote admin credential,
// even when its client is an owner and its aud is the admin API alone.
func TestRemoteAdminRefusesATokenHeldForAPerson(t *testing.T) {
	a := newTestApp(t)
	ctx := context.Background()
	owner, _, err := a.server.Registry.Create(ctx, registry.Metadata{ClientName: "owner", Features: []string{"owner"}})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := a.server.Registry.CreateUser(ctx, registry.UserMetadata{Username: "alice"}, "")
	if err != nil {
		t.Fatal(err)
	}
	ra := new(RemoteAdmin)
	if err := ra.setup(a, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	call := func(subject string) *httptest.ResponseRecorder {
		now := time.Now()
		raw, err := a.server.KeySet().Sign(&token.Claims{
			Issuer: a.Issuer, Subject: subject, ClientID: owner.ClientID, Audience: token.Audience{ra.Resource},
			IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Minute).Unix(), JWTID: token.NewJTI(),
		})
		if err != nil {
			t.Fatal(err)
		}
		r := withClientIP(httptest.NewRequest(http.MethodGet, "https://gw.example/users", nil))
		r.Header.Set("Authorization", "Bearer "+raw)
		rec := httptest.NewRecorder()
		if err := ra.ServeHTTP(rec, r, nil); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	if rec := call(owner.ClientID); rec.Code != http.StatusOK {
		t.Fatalf("the owner's own token: %d %s", rec.Code, rec.Body)
	}
	if rec := call(alice.UserID); rec.Code != http.StatusUnauthorized || strings.Contains(rec.Body.String(), "alice") {
		t.Fatalf("a token held for a person: %d %s; want 401", rec.Code, rec.Body)
	}
}

// The guard names the person a token is held for in X-User-Id and
// {scopegate.user_id}; for a client's own token it sends no X-User-Id
// (a forged one is removed) and the placeholder is empty.
func TestGuardNamesThePersonATokenIsHeldFor(t *testing.T) {
	a := newTestApp(t)
	ctx := context.Background()
	if _, err := a.server.Registry.CreateRole(ctx, registry.RoleMetadata{Name: "reader", Scopes: []string{"orders:read"}}); err != nil {
		t.Fatal(err)
	}
	carol, err := a.server.Registry.CreateUser(ctx, registry.UserMetadata{Username: "carol", Roles: []string{"reader"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	app, _ := newTestClient(t, a, "orders:read")
	consentTo(t, a, carol.UserID, app, "orders:read")
	g := newTestGuard(t, a, "orders:read")
	for _, tt := range []struct {
		name, raw, want string
	}{
		{"the client's own token", mintToken(t, a, app, "orders:read"), ""},
		{"a token held for a person", mintTokenFor(t, a, carol.UserID, app, "orders:read"), carol.UserID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := guardedRequest(tt.raw)
			r.Header.Set("X-User-Id", "forged")
			var header []string
			var placeholder any
			next := caddyhttp.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) error {
				header = r.Header.Values("X-User-Id")
				placeholder, _ = r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer).Get("scopegate.user_id")
				return nil
			})
			if err := g.ServeHTTP(httptest.NewRecorder(), r, next); err != nil {
				t.Fatal(err)
			}
			wantHeader := []string{tt.want}
			if tt.want == "" {
				wantHeader = nil
			}
			if !slices.Equal(header, wantHeader) || placeholder != tt.want {
				t.Fatalf("X-User-Id %q, {scopegate.user_id} %v; want %q", header, placeholder, tt.want)
			}
		})
	}
}
