package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/registry"
)

func TestLifecycle(t *testing.T) {
	a := newTestAPI(t)
	ctx := context.Background()

	// Create.
	res := a.do(http.MethodPost, "/clients", `{"client_name":"Billing Service","scope":"orders:read orders:write",
		"ip_allowlist":["10.0.0.0/8","2001:db8::1"],"features":["introspect"],"metadata":{"team":"billing"}}`)
	if res.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	var c created
	res.decode(t, &c)
	id, firstSecret := c.ClientID, c.ClientSecret
	if !strings.HasPrefix(firstSecret, "sgs_") || len(firstSecret) != 47 || len(c.Secrets) != 1 || c.SecretID != c.Secrets[0].ID {
		t.Fatalf("create returned %s", res.Body)
	}
	if got := resolve(t, "/scopegate/clients", res.Header.Get("Location")); got != "/scopegate/clients/"+id {
		t.Fatalf("Location %q resolves to %q", res.Header.Get("Location"), got)
	}

	// Get: the exact document, without the secret.
	res = a.do(http.MethodGet, "/clients/"+id, "")
	want := fmt.Sprintf(`{"client_id":%q,"client_name":"Billing Service","grant_types":["client_credentials"],`+
		`"scope":"orders:read orders:write","ip_allowlist":["10.0.0.0/8","2001:db8::1/128"],"features":["introspect"],`+
		`"require_scope_request":true,"disabled":false,"metadata":{"team":"billing"},`+
		`"token_endpoint_auth_method":"client_secret_basic","client_type":"confidential","skip_consent":false,"require_pkce":true,"registered":false,`+
		`"created_at":"2026-03-01T12:00:00Z","updated_at":"2026-03-01T12:00:00Z",`+
		`"secrets":[{"id":%q,"created_at":"2026-03-01T12:00:00Z"}],`+
		`"usage":{"tokens_issued":0,"requests_allowed":0,"requests_denied":0,"people":0}}`+"\n", id, c.SecretID)
	if res.Status != http.StatusOK || string(res.Body) != want {
		t.Fatalf("get: %d\n got %s\nwant %s", res.Status, res.Body, want)
	}

	// List, two at a time, and by name ignoring case.
	ids := []string{id}
	for i := range 4 {
		ids = append(ids, a.create(fmt.Sprintf(`{"client_name":"svc-%d"}`, i)).ClientID)
	}
	slices.Sort(ids)
	var listed []string
	cursor := ""
	for pages := 1; ; pages++ {
		res := a.do(http.MethodGet, "/clients?limit=2&cursor="+cursor, "")
		var page struct {
			Clients    []created `json:"clients"`
			NextCursor *string   `json:"next_cursor"`
		}
		res.decode(t, &page)
		if res.Status != http.StatusOK || len(page.Clients) > 2 {
			t.Fatalf("list page %d: %d %s", pages, res.Status, res.Body)
		}
		for _, pc := range page.Clients {
			if pc.ClientSecret != "" || strings.Contains(string(res.Body), "hash") {
				t.Fatalf("list leaks secrets: %s", res.Body)
			}
			listed = append(listed, pc.ClientID)
		}
		if page.NextCursor == nil {
			if pages != 3 {
				t.Fatalf("%d pages, want 3", pages)
			}
			break
		}
		cursor = *page.NextCursor
	}
	if !slices.Equal(listed, ids) {
		t.Fatalf("listed %v, want %v", listed, ids)
	}
	res = a.do(http.MethodGet, "/clients?name=billing%20SERVICE", "")
	var byName struct {
		Clients []created `json:"clients"`
	}
	res.decode(t, &byName)
	if len(byName.Clients) != 1 || byName.Clients[0].ClientID != id || strings.Contains(string(res.Body), "next_cursor") {
		t.Fatalf("list by name: %s", res.Body)
	}

	// Patch: a merge patch, null resets, objects merge.
	a.clock.Add(time.Minute)
	res = a.do(http.MethodPatch, "/clients/"+id,
		`{"scope":"orders:read","metadata":{"team":null,"owner":"ops"},"ip_allowlist":null,"access_token_ttl":"20m"}`,
		"Content-Type", "application/merge-patch+json")
	var patched registry.Client
	res.decode(t, &patched)
	if res.Status != http.StatusOK || patched.Scope != "orders:read" || string(patched.Metadata) != `{"owner":"ops"}` ||
		patched.IPAllowlist != nil || patched.AccessTokenTTL != registry.Duration(20*time.Minute) ||
		!slices.Equal(patched.Features, []string{"introspect"}) || patched.ClientName != "Billing Service" ||
		!patched.UpdatedAt.Equal(a.clock.Now()) || !patched.CreatedAt.Equal(c.CreatedAt) {
		t.Fatalf("patch: %d %s", res.Status, res.Body)
	}
	if strings.Contains(string(res.Body), `"ip_allowlist"`) || !strings.Contains(string(res.Body), `"access_token_ttl":"20m0s"`) {
		t.Fatalf("patch body: %s", res.Body)
	}

	// Put: the whole metadata; what is absent returns to its default.
	a.clock.Add(time.Minute)
	res = a.do(http.MethodPut, "/clients/"+id, `{"client_name":"Billing Service","scope":"orders:read","require_scope_request":false}`)
	var replaced registry.Client
	res.decode(t, &replaced)
	if res.Status != http.StatusOK || replaced.Features != nil || replaced.Metadata != nil || replaced.AccessTokenTTL != 0 ||
		replaced.RequireScopeRequest || len(replaced.Secrets) != 1 || !replaced.UpdatedAt.Equal(a.clock.Now()) {
		t.Fatalf("put: %d %s", res.Status, res.Body)
	}

	// Rotate with a grace period: both secrets work until it ends.
	a.clock.Add(time.Minute)
	res = a.do(http.MethodPost, "/clients/"+id+"/secrets", `{"grace_period":"1h"}`)
	if res.Status != http.StatusCreated {
		t.Fatalf("rotate: %d %s", res.Status, res.Body)
	}
	var rotated created
	res.decode(t, &rotated)
	secondSecret := rotated.ClientSecret
	if !strings.HasPrefix(secondSecret, "sgs_") || secondSecret == firstSecret || rotated.ClientID != id || len(rotated.Secrets) != 2 ||
		rotated.Secrets[1].ID != rotated.SecretID || !rotated.Secrets[0].ExpiresAt.Equal(a.clock.Now().Add(time.Hour)) {
		t.Fatalf("rotate returned %s", res.Body)
	}
	if got := resolve(t, "/scopegate/clients/"+id+"/secrets", res.Header.Get("Location")); got != "/scopegate/clients/"+id+"/secrets/"+rotated.SecretID {
		t.Fatalf("rotate Location resolves to %q", got)
	}
	a.clock.Add(time.Hour - time.Second)
	for _, s := range []string{firstSecret, secondSecret} {
		if _, err := a.reg.Authenticate(ctx, id, s); err != nil {
			t.Fatalf("during the grace period: %v", err)
		}
	}
	a.clock.Add(time.Second)
	if _, err := a.reg.Authenticate(ctx, id, firstSecret); !errors.Is(err, registry.ErrInvalidCredentials) {
		t.Fatalf("old secret after the grace period: %v", err)
	}
	if _, err := a.reg.Authenticate(ctx, id, secondSecret); err != nil {
		t.Fatalf("new secret after the grace period: %v", err)
	}
	var afterGrace registry.Client
	a.do(http.MethodGet, "/clients/"+id, "").decode(t, &afterGrace)
	if len(afterGrace.Secrets) != 1 || afterGrace.Secrets[0].ID != rotated.SecretID {
		t.Fatalf("secrets after the grace period: %+v", afterGrace.Secrets)
	}

	// Retire: rotate once more, then retire the older secret; the last one stays.
	res = a.do(http.MethodPost, "/clients/"+id+"/secrets", `{"grace_period":3600}`)
	var third created
	res.decode(t, &third)
	res = a.do(http.MethodDelete, "/clients/"+id+"/secrets/"+rotated.SecretID, "")
	var retired registry.Client
	res.decode(t, &retired)
	if res.Status != http.StatusOK || len(retired.Secrets) != 1 || retired.Secrets[0].ID != third.SecretID {
		t.Fatalf("retire: %d %s", res.Status, res.Body)
	}
	if _, err := a.reg.Authenticate(ctx, id, secondSecret); !errors.Is(err, registry.ErrInvalidCredentials) {
		t.Fatalf("retired secret: %v", err)
	}

	// Revoke: the moment is recorded.
	a.clock.Add(time.Minute)
	res = a.do(http.MethodPost, "/clients/"+id+"/revoke", "")
	var revoked registry.Client
	res.decode(t, &revoked)
	if res.Status != http.StatusOK || !revoked.TokensRevokedAt.Equal(a.clock.Now()) {
		t.Fatalf("revoke: %d %s", res.Status, res.Body)
	}

	// Disable and enable.
	for _, step := range []struct {
		path string
		want bool
	}{{"/disable", true}, {"/enable", false}} {
		res = a.do(http.MethodPost, "/clients/"+id+step.path, "")
		var got registry.Client
		res.decode(t, &got)
		if res.Status != http.StatusOK || got.Disabled != step.want {
			t.Fatalf("%s: %d %s", step.path, res.Status, res.Body)
		}
	}

	// Delete.
	res = a.do(http.MethodDelete, "/clients/"+id, "")
	if res.Status != http.StatusNoContent || len(res.Body) != 0 {
		t.Fatalf("delete: %d %q", res.Status, res.Body)
	}
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		res = a.do(method, "/clients/"+id, "")
		if code, _ := res.errorCode(t); res.Status != http.StatusNotFound || code != "not_found" {
			t.Fatalf("%s after delete: %d %s", method, res.Status, res.Body)
		}
	}
	if _, err := a.reg.Authenticate(ctx, id, third.ClientSecret); !errors.Is(err, registry.ErrInvalidCredentials) {
		t.Fatalf("authenticate after delete: %v", err)
	}
}

// TestListRegistered: GET /clients?registered= tells the clients that
// registered themselves from the administrators', a full page at a time
// with a cursor, and combines with name.
func TestListRegistered(t *testing.T) {
	a := newTestAPI(t)
	var registered, made []string
	for i := range 3 {
		c, _, err := a.reg.Register(t.Context(), registry.Metadata{ClientName: "mcp", TokenEndpointAuthMethod: "none",
			GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{"http://127.0.0.1/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		registered = append(registered, c.ClientID)
		made = append(made, a.create(fmt.Sprintf(`{"client_name":"svc-%d"}`, i)).ClientID)
	}
	slices.Sort(registered)
	slices.Sort(made)
	type page struct {
		Clients []struct {
			ClientID   string `json:"client_id"`
			Registered bool   `json:"registered"`
		} `json:"clients"`
		NextCursor string `json:"next_cursor"`
	}
	for value, want := range map[string][]string{"true": registered, "false": made} {
		t.Run(value, func(t *testing.T) {
			var listed []string
			path := "/clients?limit=2&registered=" + value
			for pages := 1; ; pages++ {
				res := a.do(http.MethodGet, path, "")
				var p page
				res.decode(t, &p)
				if res.Status != http.StatusOK || (pages == 1 && len(p.Clients) != 2) {
					t.Fatalf("page %d: %d %s", pages, res.Status, res.Body)
				}
				for _, c := range p.Clients {
					if fmt.Sprint(c.Registered) != value {
						t.Fatalf("registered=%s listed %s with registered %v", value, c.ClientID, c.Registered)
					}
					listed = append(listed, c.ClientID)
				}
				if p.NextCursor == "" {
					break
				}
				path = "/clients?limit=2&registered=" + value + "&cursor=" + p.NextCursor
			}
			if !slices.Equal(listed, want) {
				t.Fatalf("listed %v, want %v", listed, want)
			}
		})
	}
	t.Run("with name", func(t *testing.T) {
		for query, want := range map[string]int{"name=SVC-1&registered=false": 1, "name=svc-1&registered=true": 0} {
			var p page
			res := a.do(http.MethodGet, "/clients?"+query, "")
			res.decode(t, &p)
			if res.Status != http.StatusOK || len(p.Clients) != want {
				t.Errorf("%s: %d %s, want %d clients", query, res.Status, res.Body, want)
			}
		}
	})
	t.Run("empty is absent", func(t *testing.T) {
		var p page
		res := a.do(http.MethodGet, "/clients?registered=", "")
		res.decode(t, &p)
		if res.Status != http.StatusOK || len(p.Clients) != 6 {
			t.Fatalf("registered= listed %d clients: %d %s", len(p.Clients), res.Status, res.Body)
		}
	})
}

func TestMountPoints(t *testing.T) {
	a := newTestAPI(t)
	for _, mount := range []string{"", "/manage", "/a/b"} {
		t.Run("mount "+mount, func(t *testing.T) {
			h := http.StripPrefix(mount, NewHandler(a.reg, Options{}))
			a := *a
			a.t = t
			a.handler = h
			req := func(method, path, body string) response {
				r := newRequest(method, "http://admin.test"+mount+path, body)
				return a.serve(r)
			}
			res := req(http.MethodPost, "/clients", `{"client_name":"mounted at `+mount+`/"}`)
			if res.Status != http.StatusCreated {
				t.Fatalf("create: %d %s", res.Status, res.Body)
			}
			var c created
			res.decode(t, &c)
			loc := resolve(t, mount+"/clients", res.Header.Get("Location"))
			if loc != mount+"/clients/"+c.ClientID {
				t.Fatalf("Location resolves to %q", loc)
			}
			if res := req(http.MethodGet, strings.TrimPrefix(loc, mount), ""); res.Status != http.StatusOK {
				t.Fatalf("following Location: %d %s", res.Status, res.Body)
			}
		})
	}
}

func TestMaxClients(t *testing.T) {
	a := newTestAPI(t, func(l *registry.Limits, _ *Options) { l.MaxClients = 2 })
	a.create(`{"client_name":"a"}`)
	a.create(`{"client_name":"b"}`)
	before := a.snapshot()
	res := a.do(http.MethodPost, "/clients", `{"client_name":"c"}`)
	code, desc := res.errorCode(t)
	if res.Status != http.StatusUnprocessableEntity || code != "limit_exceeded" ||
		desc != "the registry holds max_clients clients already; delete one or raise max_clients" {
		t.Fatalf("got %d %s", res.Status, res.Body)
	}
	if a.snapshot() != before {
		t.Fatal("a refused create changed the store")
	}
	if n, _ := a.store.CountClients(context.Background()); n != 2 {
		t.Fatalf("%d clients", n)
	}
}

func TestTooManySecrets(t *testing.T) {
	a := newTestAPI(t)
	c := a.create(`{"client_name":"a"}`)
	for range 4 {
		if res := a.do(http.MethodPost, "/clients/"+c.ClientID+"/secrets", `{"grace_period":"1h"}`); res.Status != http.StatusCreated {
			t.Fatalf("rotate: %d %s", res.Status, res.Body)
		}
	}
	before := a.snapshot()
	res := a.do(http.MethodPost, "/clients/"+c.ClientID+"/secrets", `{"grace_period":"1h"}`)
	code, desc := res.errorCode(t)
	if res.Status != http.StatusUnprocessableEntity || code != "limit_exceeded" ||
		desc != "a client holds at most 5 live secrets; retire one, or rotate with a shorter grace_period" {
		t.Fatalf("got %d %s", res.Status, res.Body)
	}
	if a.snapshot() != before {
		t.Fatal("a refused rotation changed the store")
	}
}
