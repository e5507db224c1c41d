package authserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/scopegate/scopegate/admin"
	"github.com/scopegate/scopegate/registry"
	"github.com/scopegate/scopegate/storage"
)

// TestAdminClientPeople: the admin API's client view counts the people who
// use the app, over the real registry and bbolt store: a person's consent
// counts one, a second person two, and the first person's withdrawal
// through the admin API takes them away again; GET /clients shows the same
// count, and another client none.
func TestAdminClientPeople(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	api := httptest.NewServer(admin.NewHandler(s.Registry, s.AdminOptions(nil, nil)))
	t.Cleanup(api.Close)
	app, _ := newTestClient(t, s, "orders:read")
	idle, _ := newTestClient(t, s, "orders:write")
	person := func(name string) string {
		t.Helper()
		u, err := s.Registry.CreateUser(ctx, registry.UserMetadata{Username: name}, "")
		if err != nil {
			t.Fatal(err)
		}
		return u.UserID
	}
	consent := func(userID string) {
		t.Helper()
		if _, err := s.Store.PutConsent(ctx, userID, app, func(c storage.Consent) (storage.Consent, error) {
			c.Scopes = []string{"orders:read"}
			return c, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	call := func(method, path string, into any) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, api.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %s", method, path, res.Status)
		}
		if into != nil {
			if err := json.NewDecoder(res.Body).Decode(into); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
		}
	}
	type usage struct {
		People *int `json:"people"`
	}
	type client struct {
		ClientID string `json:"client_id"`
		Usage    usage  `json:"usage"`
	}
	wantPeople := func(when string, want int) {
		t.Helper()
		var one client
		call(http.MethodGet, "/clients/"+app, &one)
		if one.Usage.People == nil || *one.Usage.People != want {
			t.Fatalf("%s: GET /clients/{id} usage.people = %v; want %d", when, one.Usage.People, want)
		}
		var page struct{ Clients []client }
		call(http.MethodGet, "/clients", &page)
		got := map[string]int{}
		for _, c := range page.Clients {
			if c.Usage.People == nil {
				t.Fatalf("%s: GET /clients: %s has no usage.people", when, c.ClientID)
			}
			got[c.ClientID] = *c.Usage.People
		}
		if len(got) != 2 || got[app] != want || got[idle] != 0 {
			t.Fatalf("%s: GET /clients people = %v; want %d for the app, 0 for the other", when, got, want)
		}
	}

	wantPeople("before anyone", 0)
	ivy := person("ivy")
	consent(ivy)
	wantPeople("after a consent", 1)
	consent(ivy)
	wantPeople("after the same person's consent again", 1)
	consent(person("jon"))
	wantPeople("after a second person", 2)
	call(http.MethodDelete, "/users/"+ivy+"/consents/"+app, nil)
	wantPeople("after a withdrawal", 1)
}
