package module

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/authserver"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/scope"
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
	raw := mintTokenFor(t, a, alice.UserID, app, "orders:read orders:write")
	readRoute, writeRoute := newTestGuard(t, a, "orders:read"), newTestGuard(t, a, "orders:write")

	// request sends the token through g and says whether it reached the
	// upstream, with the X-Scope it carried, or the refusal's error code.
	request := func(g *Guard) (reached bool, scope, refusal string) {
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
	expect := func(step string, g *Guard, wantReached bool, want string) {
		t.Helper()
		reached, scope, refusal := request(g)
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
